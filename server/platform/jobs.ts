import type { FastifyBaseLogger } from 'fastify';

/**
 * The one runner for the server's periodic jobs (deadline escalation, offer re-offers, …): runs a
 * pass on an interval, never two passes at once (a pass asked for while one runs joins it), logs a
 * failed pass and carries on, and never keeps the process alive. Time inside a pass comes from the
 * app's clock, so tests move a ManualClock and call `sweep()`.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;

  constructor(
    /** Shown in the log when a pass fails. */
    readonly name: string,
    private readonly pass: () => Promise<T>,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
    readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.error({ err, job: this.name }, `${this.name} failed`));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass now; a pass already under way is joined rather than run twice. */
  sweep(): Promise<T> {
    this.running ??= this.pass().finally(() => {
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
