import type { FastifyBaseLogger } from 'fastify';
import type { DispatchService } from './dispatch-service';

/** How often unanswered offers are looked for, ms: a few seconds late on a minutes-long timeout. */
export const OFFER_SWEEP_MS = 5_000;

/**
 * Re-offers tickets whose offer went unanswered, on an interval: the offer is closed as expired and
 * the ticket goes to the next nearest free worker, or the dispatcher hears nobody is left. Time
 * comes from the app's clock, so tests move a ManualClock and call `sweep()`.
 */
export class DispatchOfferJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number[]> | undefined;

  constructor(
    private readonly service: DispatchService,
    private readonly log: FastifyBaseLogger,
    readonly intervalMs = OFFER_SWEEP_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.error({ err }, 'dispatch offer sweep failed'));
    }, this.intervalMs);
    // Never the reason the process stays alive.
    this.timer.unref();
  }

  /** One pass; a pass already under way is joined rather than run twice. Returns the tickets re-offered. */
  sweep(): Promise<number[]> {
    this.running ??= this.service.expireOffers().finally(() => {
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
