import type { Db } from '../../platform/db';
import { fixKey, storeFixes, type StoredFix } from './repository';

export type { StoredFix } from './repository';

/** What became of one fix: a new history row, or one already stored (a resend). */
export type WriteResult = 'stored' | 'duplicate';

interface Pending {
  fix: StoredFix;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

export interface WriterOptions {
  /** Flush when this many fixes wait (a statement of ~1,000 rows reaches tens of thousands a second). */
  batchSize?: number;
  /**
   * …or when the oldest has waited this long, ms (default 5). Only while a write slot is free: with
   * every slot busy, fixes wait for the next free one anyway and batches grow with the load.
   */
  maxDelayMs?: number;
  /** Fixes waiting at most; past this `write()` refuses at once (WriterBusyError) instead of growing memory. */
  maxQueue?: number;
  /**
   * Batches written at once (default 2): the next batch starts while the one before it commits, so
   * a fix arriving during a write does not wait for it to end. Results are still given out in batch
   * order. 1 writes one batch at a time.
   */
  inFlight?: number;
}

/** The writer's queue is full: the database is slower than the devices. Retryable. */
export class WriterBusyError extends Error {
  constructor(readonly queued: number) {
    super(`position writer queue full (${queued} fixes waiting)`);
  }
}

/** SQLSTATE classes that one bad row causes (data exception, integrity violation), not the database being away. */
const isRowError = (error: unknown) => /^2[23]/.test(String((error as { code?: unknown })?.code ?? ''));

/**
 * Writes fixes to PostGIS in batches. Each `write()` resolves when its batch has committed — that is
 * when a device may be told its fix is stored — with 'duplicate' when that fix was already stored.
 * Up to `inFlight` batches are written at once (each one statement, its own transaction); their
 * results are given out in the order the batches were formed, so a device's fixes are acknowledged,
 * and reach the live view, in the order they arrived. The queue is bounded. A batch that fails because of one row is split until the row is found, so
 * one bad fix never takes others down with it; a batch that fails because the database is away
 * rejects all its fixes (the devices send them again).
 */
export class PositionWriter {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches being written. */
  private writing = 0;
  /** Settles once the newest batch's results have been given out (the next one waits for it). */
  private delivered: Promise<void> = Promise.resolve();
  private readonly inFlight: number;
  private readonly batchSize: number;
  private readonly maxDelayMs: number;
  readonly maxQueue: number;
  /** Totals, for health and benchmarks. */
  readonly stats = { batches: 0, rows: 0, failures: 0, refused: 0 };

  constructor(
    private readonly db: Db,
    options: WriterOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 5;
    this.maxQueue = options.maxQueue ?? 50_000;
    this.inFlight = Math.max(1, options.inFlight ?? 2);
  }

  /** Fixes waiting to be written (not counting the batch being written). */
  get queued(): number {
    return this.queue.length;
  }

  write(fix: StoredFix): Promise<WriteResult> {
    if (this.queue.length >= this.maxQueue) {
      this.stats.refused++;
      return Promise.reject(new WriterBusyError(this.queue.length));
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ fix, resolve, reject });
      if (this.queue.length >= this.batchSize) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
    });
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // At most `inFlight` batches at once: fixes arriving while all are busy form the next, larger batch.
    while (this.queue.length > 0 && this.writing < this.inFlight) {
      const batch = this.queue.splice(0, this.batchSize * 5);
      this.writing++;
      const before = this.delivered;
      const written = this.writeBatch(batch);
      this.delivered = (async () => {
        let deliver: (() => void) | undefined;
        try {
          deliver = await written;
        } finally {
          // The database is free for the next batch now, even while this one waits for its turn to answer.
          this.writing--;
          if (this.queue.length > 0) queueMicrotask(() => this.kick());
        }
        await before;
        deliver();
      })();
    }
  }

  /** Stores a batch; returns how to give out its results (done in batch order by the caller). */
  private async writeBatch(batch: Pending[]): Promise<() => void> {
    // The same fix twice in one batch: the first one decides, the others are resends.
    const first = new Map<string, Pending>();
    const repeats: [Pending, Pending][] = [];
    for (const p of batch) {
      const key = fixKey(p.fix.workerId, p.fix.time);
      const f = first.get(key);
      if (f) repeats.push([p, f]);
      else first.set(key, p);
    }
    const unique = [...first.values()];
    const outcome = new Map<Pending, WriteResult | { error: unknown }>();
    try {
      await this.storeSplitting(unique, outcome);
    } catch (error) {
      for (const p of unique) if (!outcome.has(p)) outcome.set(p, { error });
    }
    return () => {
      for (const p of unique) {
        const o = outcome.get(p)!;
        if (typeof o === 'string') p.resolve(o);
        else p.reject(o.error);
      }
      for (const [p, f] of repeats) {
        const o = outcome.get(f)!;
        if (typeof o === 'string') p.resolve('duplicate');
        else p.reject(o.error);
      }
    };
  }

  private async storeSplitting(batch: Pending[], outcome: Map<Pending, WriteResult | { error: unknown }>): Promise<void> {
    try {
      const inserted = await storeFixes(this.db, batch.map((p) => p.fix));
      this.stats.batches++;
      this.stats.rows += batch.length;
      for (const p of batch) outcome.set(p, inserted.has(fixKey(p.fix.workerId, p.fix.time)) ? 'stored' : 'duplicate');
    } catch (error) {
      this.stats.failures++;
      if (batch.length > 1 && isRowError(error)) {
        const half = Math.ceil(batch.length / 2);
        await this.storeSplitting(batch.slice(0, half), outcome);
        await this.storeSplitting(batch.slice(half), outcome);
        return;
      }
      for (const p of batch) outcome.set(p, { error });
    }
  }

  /** Waits for everything queued so far to be stored (shutdown, tests). */
  async drainAll(): Promise<void> {
    while (this.queue.length > 0 || this.writing > 0) {
      if (this.queue.length > 0) this.kick();
      await this.delivered;
      // A batch started after `delivered` was read: wait for it on the next turn.
      if (this.writing > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await this.delivered;
  }
}
