import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { DEADLINE_SWEEP_MS, ticketDeadlineJob } from '../../server/modules/tickets/deadline-job';
import type { TicketService } from '../../server/modules/tickets/service';

/** A stand-in for the service that counts passes and lets a test hold one open. */
function fakeService() {
  const calls: (() => void)[] = [];
  const service = {
    escalateOverdue: () => new Promise<number[]>((resolve) => calls.push(() => resolve([calls.length]))),
  } as unknown as TicketService;
  return { service, calls };
}
const log = { error: () => undefined } as unknown as FastifyBaseLogger;

afterEach(() => {
  vi.useRealTimers();
});

describe('the deadline job', () => {
  it('sweeps on its interval until stopped', async () => {
    vi.useFakeTimers();
    const { service, calls } = fakeService();
    const job = ticketDeadlineJob(service, log);
    job.start();
    job.start(); // idempotent
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(DEADLINE_SWEEP_MS - 1);
    expect(calls).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(calls).toHaveLength(1);
    calls[0]!();
    await job.stop();
    vi.advanceTimersByTime(10 * DEADLINE_SWEEP_MS);
    expect(calls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('joins a pass already under way instead of running two at once', async () => {
    const { service, calls } = fakeService();
    const job = ticketDeadlineJob(service, log);
    const a = job.sweep();
    const b = job.sweep();
    expect(calls).toHaveLength(1);
    calls[0]!();
    expect(await a).toEqual([1]);
    expect(await b).toEqual([1]);
    const c = job.sweep();
    expect(calls).toHaveLength(2);
    calls[1]!();
    await c;
  });
});
