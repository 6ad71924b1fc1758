import { sql, type Db } from '../../platform/db';

/** One accepted fix on its way to PostGIS. */
export interface StoredFix {
  workerId: number;
  deviceId: number | null;
  time: number;
  receivedAt: number;
  lon: number;
  lat: number;
  speed: number | null;
  heading: number | null;
  accuracy: number | null;
  battery: number | null;
  flags: number;
}

interface Pending {
  fix: StoredFix;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface WriterOptions {
  /** Flush when this many fixes wait (a statement of ~1,000 rows reaches tens of thousands a second). */
  batchSize?: number;
  /** …or when the oldest has waited this long, ms. */
  maxDelayMs?: number;
}

const nullable = (v: number | null) => (v === null || Number.isNaN(v) ? null : v);

/**
 * Writes fixes to PostGIS in batches: history append (a resent fix hits the primary key and is
 * ignored) plus the "latest" upsert, which only moves forward in time. Each `write()` resolves when
 * its batch has committed — that is when a device may be told its fix is stored.
 */
export class PositionWriter {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly batchSize: number;
  private readonly maxDelayMs: number;
  /** Totals, for health and benchmarks. */
  readonly stats = { batches: 0, rows: 0, failures: 0 };

  constructor(
    private readonly db: Db,
    options: WriterOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 20;
  }

  write(fix: StoredFix): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ fix, resolve, reject });
      if (this.queue.length >= this.batchSize) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.maxDelayMs);
    });
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // One flush at a time: fixes arriving meanwhile form the next, larger batch.
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize * 5);
      try {
        await this.store(batch.map((p) => p.fix));
        this.stats.batches++;
        this.stats.rows += batch.length;
        for (const p of batch) p.resolve();
      } catch (error) {
        this.stats.failures++;
        for (const p of batch) p.reject(error);
      }
    }
  }

  private async store(fixes: StoredFix[]): Promise<void> {
    const col = <K extends keyof StoredFix>(k: K) => fixes.map((f) => f[k]);
    const history = sql`
      INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
      SELECT u.w, to_timestamp(u.t / 1000.0), to_timestamp(u.r / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
             u.s, u.h, u.a, u.b, u.f
        FROM unnest(${col('workerId')}::bigint[], ${col('time')}::float8[], ${col('receivedAt')}::float8[],
                    ${col('lon')}::float8[], ${col('lat')}::float8[], ${fixes.map((f) => nullable(f.speed))}::real[],
                    ${fixes.map((f) => nullable(f.heading))}::real[], ${fixes.map((f) => nullable(f.accuracy))}::real[],
                    ${fixes.map((f) => nullable(f.battery))}::real[], ${col('flags')}::int[])
          AS u(w, t, r, x, y, s, h, a, b, f)
      ON CONFLICT (worker_id, recorded_at) DO NOTHING`;
    // Latest: the newest fix per worker in this batch, and only if newer than what is stored.
    const newest = new Map<number, StoredFix>();
    for (const f of fixes) {
      const prev = newest.get(f.workerId);
      if (!prev || f.time > prev.time) newest.set(f.workerId, f);
    }
    const latest = [...newest.values()];
    const lcol = <K extends keyof StoredFix>(k: K) => latest.map((f) => f[k]);
    const upsert = sql`
      INSERT INTO worker_positions_latest (worker_id, device_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
      SELECT u.w, u.d, to_timestamp(u.t / 1000.0), to_timestamp(u.r / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326),
             u.s, u.h, u.a, u.b, u.f
        FROM unnest(${lcol('workerId')}::bigint[], ${lcol('deviceId')}::bigint[], ${lcol('time')}::float8[],
                    ${lcol('receivedAt')}::float8[], ${lcol('lon')}::float8[], ${lcol('lat')}::float8[],
                    ${latest.map((f) => nullable(f.speed))}::real[], ${latest.map((f) => nullable(f.heading))}::real[],
                    ${latest.map((f) => nullable(f.accuracy))}::real[], ${latest.map((f) => nullable(f.battery))}::real[],
                    ${lcol('flags')}::int[])
          AS u(w, d, t, r, x, y, s, h, a, b, f)
      ON CONFLICT (worker_id) DO UPDATE SET device_id = EXCLUDED.device_id, recorded_at = EXCLUDED.recorded_at,
        received_at = EXCLUDED.received_at, geom = EXCLUDED.geom, speed = EXCLUDED.speed, heading = EXCLUDED.heading,
        accuracy = EXCLUDED.accuracy, battery = EXCLUDED.battery, flags = EXCLUDED.flags
      WHERE worker_positions_latest.recorded_at < EXCLUDED.recorded_at`;
    await this.db.transaction(async (tx) => {
      await tx.query(history);
      await tx.query(upsert);
    });
  }

  /** Waits for everything queued so far to be stored (shutdown, tests). */
  async drainAll(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (!this.flushing) this.kick();
      await this.flushing;
    }
  }
}
