import type { FastifyBaseLogger } from 'fastify';
import type { TicketService } from './service';

/** How often overdue stages are looked for, ms. Escalation is a minutes-scale matter. */
export const DEADLINE_SWEEP_MS = 30_000;

/**
 * Escalates tickets whose running stage is past its deadline, on an interval: a ticket not accepted,
 * dispatched or resolved in time goes one level up (grid → community → street → district centre →
 * a department) with a notice to that level. Time comes from the app's clock, so tests move a
 * ManualClock and call `sweep()`.
 */
export class TicketDeadlineJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number[]> | undefined;

  constructor(
    private readonly service: TicketService,
    private readonly log: FastifyBaseLogger,
    readonly intervalMs = DEADLINE_SWEEP_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.error({ err }, 'ticket deadline sweep failed'));
    }, this.intervalMs);
    // Never the reason the process stays alive.
    this.timer.unref();
  }

  /** One pass; a pass already under way is joined rather than run twice. Returns the ids escalated. */
  sweep(): Promise<number[]> {
    this.running ??= this.service.escalateOverdue().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
