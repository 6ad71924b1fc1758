import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEADLINE_RULES,
  TICKET_STATUSES,
  deadlineAlert,
  formatTicketNumber,
  nextStageWindow,
  stageOf,
  ticketDay,
  type StageContext,
} from '@shared/tickets';

const MIN = 60_000;
const T0 = Date.parse('2026-11-22T02:00:00Z');
const rules = DEFAULT_DEADLINE_RULES;

describe('stages and their windows', () => {
  it('each status runs one stage; closed and cancelled run none', () => {
    expect(Object.fromEntries(TICKET_STATUSES.map((s) => [s, stageOf(s)]))).toEqual({
      received: 'register',
      registered: 'dispatch',
      dispatched: 'accept',
      accepted: 'resolve',
      in_progress: 'resolve',
      resolved: 'verify',
      verified: 'close',
      closed: null,
      returned: 'dispatch',
      escalated: 'dispatch',
      cancelled: null,
    });
  });

  const ctx = (over: Partial<StageContext> = {}): StageContext => ({
    current: { stage: null, startedAt: null, dueAt: null },
    dispatchedAt: null,
    receivedAt: T0,
    closeDueAt: T0 + 1440 * MIN,
    ...over,
  });

  it('an immediate ticket: accept within 10 minutes of dispatch, resolve within 4 hours of it', () => {
    const now = T0 + 30 * MIN;
    expect(nextStageWindow(rules, 'immediate', 'dispatched', 'dispatched', now, ctx())).toEqual({ stage: 'accept', startedAt: now, dueAt: now + 10 * MIN });
    // Accepted 8 minutes after dispatch: the 4 hours still count from dispatch.
    const accepted = nextStageWindow(rules, 'immediate', 'accepted', 'accepted', now + 8 * MIN, ctx({ dispatchedAt: now }));
    expect(accepted).toEqual({ stage: 'resolve', startedAt: now, dueAt: now + 240 * MIN });
    // Starting work keeps that window.
    expect(nextStageWindow(rules, 'immediate', 'in_progress', 'started', now + 20 * MIN, ctx({ dispatchedAt: now, current: accepted }))).toEqual(accepted);
  });

  it('the register stage starts at receipt; scheduled and long-term tickets get longer', () => {
    expect(nextStageWindow(rules, 'immediate', 'received', 'created', T0, ctx())).toEqual({ stage: 'register', startedAt: T0, dueAt: T0 + 10 * MIN });
    expect(nextStageWindow(rules, 'scheduled', 'received', 'created', T0, ctx()).dueAt).toBe(T0 + 60 * MIN);
    expect(nextStageWindow(rules, 'long_term', 'registered', 'registered', T0, ctx()).dueAt).toBe(T0 + 1440 * MIN);
  });

  it('rework after failed verification gets a fresh resolve window; a department reply sets its own date', () => {
    const now = T0 + 600 * MIN;
    expect(nextStageWindow(rules, 'immediate', 'in_progress', 'rework', now, ctx({ dispatchedAt: T0 }))).toEqual({ stage: 'resolve', startedAt: now, dueAt: now + 240 * MIN });
    const dueBy = now + 3 * 24 * 60 * MIN;
    expect(nextStageWindow(rules, 'immediate', 'in_progress', 'department_replied', now, ctx({ replyDueBy: dueBy }))).toEqual({ stage: 'resolve', startedAt: now, dueAt: dueBy });
  });

  it('once verified, what runs is the overall deadline; once closed, nothing', () => {
    const c = ctx();
    expect(nextStageWindow(rules, 'immediate', 'verified', 'verified', T0 + 100 * MIN, c)).toEqual({ stage: 'close', startedAt: T0, dueAt: c.closeDueAt });
    expect(nextStageWindow(rules, 'immediate', 'closed', 'closed', T0 + 101 * MIN, c)).toEqual({ stage: null, startedAt: null, dueAt: null });
  });
});

describe('deadline alert: amber at 80 %, red when overdue', () => {
  // A 10-minute accept window inside a 24-hour overall one.
  const ticket = {
    status: 'dispatched' as const,
    receivedAt: T0,
    stageStartedAt: T0,
    deadline: T0 + 10 * MIN,
    closeDeadline: T0 + 1440 * MIN,
  };

  it('turns amber at exactly 80 % of the stage, stays amber at the deadline, red just after', () => {
    expect(deadlineAlert(ticket, T0)).toBe('ok');
    expect(deadlineAlert(ticket, T0 + 8 * MIN - 1)).toBe('ok');
    expect(deadlineAlert(ticket, T0 + 8 * MIN)).toBe('amber');
    expect(deadlineAlert(ticket, T0 + 10 * MIN)).toBe('amber');
    expect(deadlineAlert(ticket, T0 + 10 * MIN + 1)).toBe('red');
  });

  it('the overall deadline counts too, whichever is worse', () => {
    const fresh = { ...ticket, stageStartedAt: T0 + 1200 * MIN, deadline: T0 + 1500 * MIN };
    expect(deadlineAlert(fresh, T0 + 1200 * MIN)).toBe('amber'); // 83 % of the day gone
    expect(deadlineAlert(fresh, T0 + 1441 * MIN)).toBe('red');
  });

  it('reads ISO strings as the wire carries them; a finished ticket has no alert', () => {
    const wire = { status: 'in_progress' as const, receivedAt: '2026-11-22T02:00:00.000Z', stageStartedAt: '2026-11-22T02:00:00.000Z', deadline: '2026-11-22T06:00:00.000Z', closeDeadline: '2026-11-23T02:00:00.000Z' };
    expect(deadlineAlert(wire, Date.parse('2026-11-22T05:12:00Z'))).toBe('amber');
    expect(deadlineAlert(wire, Date.parse('2026-11-22T06:00:01Z'))).toBe('red');
    expect(deadlineAlert({ ...wire, status: 'closed' }, Date.parse('2026-12-01T00:00:00Z'))).toBe('none');
    expect(deadlineAlert({ ...wire, status: 'cancelled', stageStartedAt: null, deadline: null }, Date.parse('2026-12-01T00:00:00Z'))).toBe('none');
  });
});

describe('ticket numbers', () => {
  it('are dated in China Standard Time', () => {
    expect(ticketDay(T0)).toBe('20261122');
    expect(ticketDay(Date.parse('2026-11-21T16:00:00Z'))).toBe('20261122'); // midnight in Taiyuan
    expect(ticketDay(Date.parse('2026-11-21T15:59:59Z'))).toBe('20261121');
  });

  it('read GD-YYYYMMDD-NNNN', () => {
    expect(formatTicketNumber('20261122', 1)).toBe('GD-20261122-0001');
    expect(formatTicketNumber('20261122', 421)).toBe('GD-20261122-0421');
    expect(formatTicketNumber('20261122', 12345)).toBe('GD-20261122-12345');
  });
});
