/**
 * The batched position writer with two batches in flight: the next batch is written while the one
 * before it commits, yet results are given out in batch order (a device hears about its fixes, and
 * the wall sees them, in the order they came); two batches of the same workers written at once never
 * deadlock and store every fix once. A slow write is made slow in the database itself (a trigger
 * that sleeps for the workers this file lists), never by a mock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { PositionWriter, type StoredFix, type WriteResult } from '../../server/modules/positions/position-writer';
import { createTestDb } from '../support/db';

let db: Db;
let ids: number[];
const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

const fix = (workerId: number, time: number): StoredFix => ({
  workerId, deviceId: null, time, receivedAt: time, lon: 112.55 + (workerId % 100) * 1e-5, lat: 37.87, speed: 1, heading: null, accuracy: 5, battery: null, flags: 0,
});
const storedCount = async (workerId: number, time: number) =>
  (await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM worker_positions WHERE worker_id = ${workerId} AND recorded_at = to_timestamp(${time / 1000})`)).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDb();
  ids = (await db.query<{ id: number }>(sql`SELECT id FROM workers ORDER BY id LIMIT 400`)).rows.map((r) => Number(r.id));
  await db.exec(`
    CREATE TABLE test_slow_writes (worker_id bigint PRIMARY KEY);
    CREATE FUNCTION test_slow_writes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM test_slow_writes WHERE worker_id = NEW.worker_id) THEN PERFORM pg_sleep(0.6); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_slow_writes BEFORE INSERT ON worker_positions FOR EACH ROW EXECUTE FUNCTION test_slow_writes();`);
});
afterAll(async () => {
  await db.close();
});

describe('the position writer, two batches in flight', () => {
  it('writes the next batch while a slow one commits, and gives out results in batch order', async () => {
    const [slow, w2, w3, w4] = ids as [number, number, number, number];
    await db.query(sql`INSERT INTO test_slow_writes VALUES (${slow})`);
    const writer = new PositionWriter(db, { batchSize: 2, maxDelayMs: 0, inFlight: 2 });
    const order: string[] = [];
    const track = (name: string, p: Promise<WriteResult>) => p.then((r) => (order.push(name), r));
    // Two full batches: each starts at once (batchSize 2).
    const first = [track('slow', writer.write(fix(slow, t0))), track('w2', writer.write(fix(w2, t0)))];
    const second = [track('w3', writer.write(fix(w3, t0))), track('w4', writer.write(fix(w4, t0)))];
    if (db.engine === 'postgres') {
      // The second batch is already committed while the first still sleeps in the database…
      await new Promise((r) => setTimeout(r, 300));
      expect(await storedCount(w3, t0)).toBe(1);
      expect(await storedCount(slow, t0)).toBe(0);
      // …but nobody has been told: the first batch answers first.
      expect(order).toEqual([]);
    }
    // (Embedded PGlite runs one statement at a time, in this thread: there only the order can be seen.)
    expect(await Promise.all([...first, ...second])).toEqual(['stored', 'stored', 'stored', 'stored']);
    expect(order).toEqual(['slow', 'w2', 'w3', 'w4']);
    await writer.drainAll();
    await db.query(sql`DELETE FROM test_slow_writes`);
  });

  it('two batches of the same workers in opposite orders, written at once with resends, never deadlock and store each fix once', async () => {
    // The latest upserts of two workers (a third and two thirds along) are slowed down: two batches
    // that took the workers' rows in opposite orders would each hold one the other needs.
    await db.exec(`
      CREATE TABLE test_slow_latest (worker_id bigint PRIMARY KEY);
      CREATE FUNCTION test_slow_latest() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM test_slow_latest WHERE worker_id = NEW.worker_id) THEN PERFORM pg_sleep(0.2); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_slow_latest BEFORE INSERT OR UPDATE ON worker_positions_latest FOR EACH ROW EXECUTE FUNCTION test_slow_latest();`);
    await db.query(sql`INSERT INTO test_slow_latest VALUES (${ids[130]!}), (${ids[270]!})`);
    const writer = new PositionWriter(db, { batchSize: 400, maxDelayMs: 0, inFlight: 2 });
    const t = t0 + 10_000;
    const results: Promise<WriteResult>[] = [];
    for (let round = 0; round < 5; round++) {
      // Batch A: every worker, ascending, at t + round s; batch B: every worker, descending, at t + round s + 1 ms,
      // plus (from the second round) a resend of the round before.
      const forward = ids.map((id) => writer.write(fix(id, t + round * 1000)));
      const backward = [...ids].reverse().map((id) => writer.write(fix(id, t + round * 1000 + 1)));
      results.push(...forward, ...backward);
      if (round > 0) results.push(...ids.slice(0, 50).map((id) => writer.write(fix(id, t + (round - 1) * 1000))));
    }
    const outcomes = await Promise.all(results);
    await writer.drainAll();
    expect(writer.stats.failures).toBe(0);
    expect(outcomes.filter((o) => o === 'stored').length).toBe(ids.length * 10);
    expect(outcomes.filter((o) => o === 'duplicate').length).toBe(50 * 4);
    const { rows: [n] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM worker_positions WHERE recorded_at >= to_timestamp(${t / 1000}) AND recorded_at < to_timestamp(${(t + 5000) / 1000})`);
    expect(n!.n).toBe(ids.length * 10);
    // The latest row of every worker is its newest fix, whichever batch committed last.
    const { rows: [l] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM worker_positions_latest
       WHERE worker_id = ANY(${ids}::bigint[]) AND recorded_at = to_timestamp(${(t + 4 * 1000 + 1) / 1000})`);
    expect(l!.n).toBe(ids.length);
    await db.exec('DROP TRIGGER test_slow_latest ON worker_positions_latest');
  });
});
