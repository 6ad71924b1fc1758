import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { maintainPartitions } from '../../server/modules/tracks/partition-job';
import { listPartitions } from '../../server/modules/tracks/partitions-repository';
import { fixesQuery, loadFixColumns } from '../../server/modules/tracks/repository';
import { storeFixes, type StoredFix } from '../../server/modules/positions/repository';
import { createTestDb } from '../support/db';

const DAY = 86_400_000;
/** Shanghai midnight starting 20 Nov 2026. */
const D = Date.parse('2026-11-20T00:00:00+08:00');

let db: Db;
let workerId: number;

const fix = (time: number, i = 0): StoredFix => ({
  workerId, deviceId: null, time, receivedAt: time, lon: 112.55 + i * 1e-6, lat: 37.87, speed: 1, heading: null, accuracy: 5, battery: null, flags: 0,
});
const where = (time: number) => db.query<{ p: string }>(sql`
  SELECT tableoid::regclass::text AS p FROM worker_positions WHERE worker_id = ${workerId} AND recorded_at = to_timestamp(${time / 1000})`);

beforeAll(async () => {
  db = await createTestDb();
  workerId = Number((await db.query<{ id: number }>(sql`SELECT id FROM workers ORDER BY id LIMIT 1`)).rows[0]!.id);
});
afterAll(async () => {
  await db.close();
});

describe('worker_positions partitioned by Shanghai day', () => {
  it('is a partitioned table with a default partition and the (worker_id, recorded_at) key', async () => {
    const { rows } = await db.query<{ strategy: string }>(sql`SELECT partstrat AS strategy FROM pg_partitioned_table WHERE partrelid = 'worker_positions'::regclass`);
    expect(rows).toEqual([{ strategy: 'r' }]);
    const key = await db.query<{ def: string }>(sql`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'worker_positions'::regclass AND contype = 'p'`);
    // The point and speed ride along in the key (migration 016): a worker's track is read from it alone.
    expect(key.rows[0]!.def).toBe('PRIMARY KEY (worker_id, recorded_at) INCLUDE (geom, speed)');
    const parts = await db.query<{ name: string }>(sql`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'worker_positions'::regclass`);
    expect(parts.rows.map((r) => r.name)).toContain('worker_positions_default');
  });

  it('creates the days ahead, moving what the default partition caught; a resend is still a duplicate', async () => {
    // Before any partition exists for the day, a fix lands in the default partition.
    const early = D + 3_600_000;
    expect([...await storeFixes(db, [fix(early)])]).toHaveLength(1);
    expect((await where(early)).rows[0]!.p).toBe('worker_positions_default');
    const pass = await maintainPartitions(db, D + 12 * 3_600_000, 180);
    expect(pass.created).toEqual(['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22']);
    expect((await where(early)).rows[0]!.p).toBe('worker_positions_p20261120');
    // The writer's ON CONFLICT (worker_id, recorded_at) DO NOTHING across the partitioned table.
    expect([...await storeFixes(db, [fix(early)])]).toHaveLength(0);
    // Across the midnight boundary, each fix in its own day.
    await storeFixes(db, [fix(D + DAY - 1000), fix(D + DAY)]);
    expect((await where(D + DAY - 1000)).rows[0]!.p).toBe('worker_positions_p20261120');
    expect((await where(D + DAY)).rows[0]!.p).toBe('worker_positions_p20261121');
    // A second pass finds nothing to do.
    expect(await maintainPartitions(db, D + 12 * 3_600_000, 180)).toEqual({ created: [], dropped: [], defaultRowsDeleted: 0, vacuumed: ['2026-11-19', '2026-11-20'] });
  });

  it('reads a worker\'s day, written a tick of every worker at a time, from the key alone once the job has vacuumed', async () => {
    // 30 workers, a fix every 10 s from 02:00 on 20 Nov for 1,000 ticks, written tick by tick as ingest
    // does: each worker's fixes lie on heap pages shared with the 29 others.
    const ids = (await db.query<{ id: number }>(sql`SELECT id::int AS id FROM workers ORDER BY id OFFSET 1 LIMIT 30`)).rows.map((r) => Number(r.id));
    const from = D + 2 * 3_600_000;
    for (let tick = 0; tick < 1000; tick += 250) {
      await db.query(sql`
        INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed, flags)
        SELECT w, to_timestamp(${from / 1000} + s * 10), to_timestamp(${from / 1000} + s * 10), ST_SetSRID(ST_MakePoint(112.5 + w * 1e-4, 37.8 + s * 1e-6), 4326), 1.2, 0
          FROM generate_series(${tick}::int, ${tick + 249}::int) AS s, unnest(${ids}::bigint[]) AS w
         ORDER BY s, w`);
    }
    const pass = await maintainPartitions(db, D + 12 * 3_600_000, 180);
    expect(pass.vacuumed).toEqual(['2026-11-19', '2026-11-20']);
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(sql`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${fixesQuery(ids[7]!, D, D + DAY)}`);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Only Scan using worker_positions_p20261120_pkey/);
    expect(plan).toMatch(/Heap Fetches: 0/);
    expect((await loadFixColumns(db, ids[7]!, D, D + DAY)).n).toBe(1000);
  });

  it('drops only the partitions wholly older than the horizon while ingest goes on', async () => {
    // Day partitions from 14 Nov (created as days ahead on 15 and 17 Nov), a fix on each of 14–19 Nov,
    // and one stray fix of 10 Nov in the default partition.
    await maintainPartitions(db, D - 5 * DAY + 3_600_000, 180);
    await maintainPartitions(db, D - 3 * DAY + 3_600_000, 180);
    for (let d = 6; d >= 1; d--) await storeFixes(db, [fix(D - d * DAY + 3_600_000)]);
    await storeFixes(db, [fix(D - 10 * DAY)]);
    expect((await where(D - 10 * DAY)).rows[0]!.p).toBe('worker_positions_default');
    expect((await listPartitions(db)).map((p) => p.day)).toEqual(
      ['2026-11-14', '2026-11-15', '2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22']);

    // Ingest keeps writing today's fixes while the retention pass runs (now = 20 Nov 12:00, keep 3 days).
    let writing = true;
    let written = 0;
    const failures: unknown[] = [];
    const ingest = (async () => {
      for (let i = 0; writing || i < 20; i++) {
        try {
          const stored = await storeFixes(db, [fix(D + 12 * 3_600_000 + i * 1000, i)]);
          written += stored.size;
        } catch (error) {
          failures.push(error);
        }
      }
    })();
    const pass = await maintainPartitions(db, D + 12 * 3_600_000, 3);
    writing = false;
    await ingest;
    expect(failures).toEqual([]);
    // Horizon: 17 Nov 00:00 Shanghai. 14–16 Nov end at or before it; 17 Nov ends after.
    expect(pass.dropped.sort()).toEqual(['2026-11-14', '2026-11-15', '2026-11-16']);
    expect(pass.defaultRowsDeleted).toBe(1);
    expect((await listPartitions(db)).map((p) => p.day)).toEqual(['2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22']);
    const left = await db.query<{ day: string; n: number }>(sql`
      SELECT to_char(recorded_at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM-DD') AS day, count(*)::int AS n
        FROM worker_positions WHERE worker_id = ${workerId} GROUP BY 1 ORDER BY 1`);
    expect(left.rows.map((r) => r.day)).toEqual(['2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21']);
    // Every fix written during the pass is there (plus the two of the earlier test on 20 Nov).
    expect(written).toBeGreaterThanOrEqual(20);
    expect(left.rows.find((r) => r.day === '2026-11-20')!.n).toBe(written + 2);
  });
});
