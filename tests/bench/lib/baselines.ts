/**
 * The database side of the ingest benchmark without the HTTP/WebSocket front: the naive way (one
 * history INSERT and one latest upsert per fix, each its own autocommit statement, a few
 * connections) against the server's PositionWriter (unnest batches, one transaction per batch).
 * Both write the same kind of rows to the same tables of the same database, with the same
 * conflict rules, and both are bounded in time.
 */
import pg from 'pg';
import { sql, type Db } from '../../../server/platform/db';
import { PositionWriter, type StoredFix } from '../../../server/modules/positions/position-writer';
import type { CpuWindow } from './cpu';

export interface Workforce {
  ids: number[];
  lon: number[];
  lat: number[];
}

export interface BaselineResult {
  name: string;
  fixes: number;
  seconds: number;
  fixesPerS: number;
  /** Statements (or batches) per second, for the reading. */
  statementsPerS: number;
  detail: string;
  /** Filled in by the caller, which knows which database's backends to count. */
  cpu?: CpuWindow;
}

export interface Window {
  start(): void;
  end(): void;
}
const noWindow: Window = { start: () => undefined, end: () => undefined };

const HISTORY = `
  INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
  VALUES ($1, to_timestamp($2::float8 / 1000.0), to_timestamp($3::float8 / 1000.0), ST_SetSRID(ST_MakePoint($4, $5), 4326),
          $6, NULL, NULL, $7, $8)
  ON CONFLICT (worker_id, recorded_at) DO NOTHING`;
const LATEST = `
  INSERT INTO worker_positions_latest (worker_id, device_id, recorded_at, received_at, geom, speed, heading, accuracy, battery, flags)
  VALUES ($1, $2, to_timestamp($3::float8 / 1000.0), to_timestamp($4::float8 / 1000.0), ST_SetSRID(ST_MakePoint($5, $6), 4326),
          $7, NULL, NULL, $8, $9)
  ON CONFLICT (worker_id) DO UPDATE SET device_id = EXCLUDED.device_id, recorded_at = EXCLUDED.recorded_at,
    received_at = EXCLUDED.received_at, geom = EXCLUDED.geom, speed = EXCLUDED.speed, heading = EXCLUDED.heading,
    accuracy = EXCLUDED.accuracy, battery = EXCLUDED.battery, flags = EXCLUDED.flags
  WHERE worker_positions_latest.recorded_at < EXCLUDED.recorded_at`;

export async function deviceIds(db: Db): Promise<Map<number, number>> {
  const { rows } = await db.query<{ w: number; d: number }>(sql`SELECT worker_id::int AS w, id::int AS d FROM devices WHERE worker_id IS NOT NULL`);
  return new Map(rows.map((r) => [Number(r.w), Number(r.d)]));
}

/**
 * Fix number k of a baseline: worker k mod N, one second later each time round the work force,
 * starting at `base` (each baseline gets its own hour, so no two rows collide).
 */
function fixAt(w: Workforce, devices: Map<number, number>, base: number, k: number): StoredFix {
  const i = k % w.ids.length;
  const id = w.ids[i]!;
  const time = base + Math.floor(k / w.ids.length) * 1000;
  return {
    workerId: id,
    deviceId: devices.get(id) ?? null,
    time,
    receivedAt: time + 150,
    lon: w.lon[i]! + (Math.random() - 0.5) * 1e-3,
    lat: w.lat[i]! + (Math.random() - 0.5) * 1e-3,
    speed: Math.random() * 2,
    heading: null,
    accuracy: null,
    battery: 20 + (id % 80),
    flags: 0,
  };
}

/** One fix at a time per connection: history INSERT, then latest upsert (prepared statements, autocommit). */
export async function naiveInserts(
  target: { url: string } | { db: Db & { pglite?: { query(text: string, params: unknown[]): Promise<unknown> } } },
  w: Workforce,
  devices: Map<number, number>,
  base: number,
  options: { connections: number; seconds: number },
  /** Called when the loop starts and ends, before the connections close (a closed backend's CPU time can no longer be read). */
  window: Window = noWindow,
): Promise<BaselineResult> {
  let k = 0;
  let done = 0;
  const started = performance.now();
  const until = started + options.seconds * 1000;
  const params = (f: StoredFix) => ({
    h: [f.workerId, f.time, f.receivedAt, f.lon, f.lat, f.speed, f.battery, f.flags],
    l: [f.workerId, f.deviceId, f.time, f.receivedAt, f.lon, f.lat, f.speed, f.battery, f.flags],
  });
  if ('url' in target) {
    const clients = await Promise.all(
      Array.from({ length: options.connections }, async () => {
        const c = new pg.Client({ connectionString: target.url });
        await c.connect();
        return c;
      }),
    );
    try {
      window.start();
      await Promise.all(
        clients.map(async (c) => {
          while (performance.now() < until) {
            const p = params(fixAt(w, devices, base, k++));
            await c.query({ name: 'naive_history', text: HISTORY, values: p.h });
            await c.query({ name: 'naive_latest', text: LATEST, values: p.l });
            done++;
          }
        }),
      );
      window.end();
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  } else {
    const pglite = target.db.pglite;
    if (!pglite) throw new Error('naive baseline on PGlite needs the PGlite handle');
    window.start();
    while (performance.now() < until) {
      const p = params(fixAt(w, devices, base, k++));
      await pglite.query(HISTORY, p.h);
      await pglite.query(LATEST, p.l);
      done++;
    }
    window.end();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    name: `naive: 1 INSERT + 1 upsert per fix, ${'url' in target ? options.connections : 1} connection(s)`,
    fixes: done,
    seconds,
    fixesPerS: done / seconds,
    statementsPerS: (2 * done) / seconds,
    detail: 'autocommit: two commits per fix',
  };
}

/** The server's PositionWriter fed as fast as it drains, `outstanding` fixes in flight at most. */
export async function batchedWriter(
  db: Db,
  w: Workforce,
  devices: Map<number, number>,
  base: number,
  options: { seconds: number; outstanding: number },
  window: Window = noWindow,
): Promise<BaselineResult> {
  window.start();
  const writer = new PositionWriter(db);
  const CHUNK = 1000;
  const chunks: Promise<unknown>[] = [];
  let k = 0;
  let issued = 0;
  const started = performance.now();
  const until = started + options.seconds * 1000;
  while (performance.now() < until) {
    if (chunks.length * CHUNK >= options.outstanding) {
      await chunks.shift();
      continue;
    }
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < CHUNK; i++) batch.push(writer.write(fixAt(w, devices, base, k++)));
    issued += CHUNK;
    chunks.push(Promise.all(batch));
    // Let the writer's timer and the pool's sockets run between chunks.
    await new Promise<void>((r) => setImmediate(r));
  }
  await Promise.all(chunks);
  await writer.drainAll();
  window.end();
  const seconds = (performance.now() - started) / 1000;
  return {
    name: 'batched: PositionWriter (unnest, 1 transaction per batch)',
    fixes: issued,
    seconds,
    fixesPerS: issued / seconds,
    statementsPerS: writer.stats.batches / seconds,
    detail: `${writer.stats.batches} batches, ${Math.round(writer.stats.rows / Math.max(1, writer.stats.batches))} fixes each on average`,
  };
}
