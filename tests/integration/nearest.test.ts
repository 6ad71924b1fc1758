import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { NearestWorkers } from '../../server/modules/dispatch/nearest';
import { createTestDb } from '../support/db';
import { buildTestApp } from '../support/app';
import { createRandom } from '@shared/random';

/** Deterministic uniform numbers, the product's one seeded generator. */
const random = (seed: number) => createRandom(seed);

interface Placed {
  id: number;
  device: string;
  path: string;
  active: boolean;
  lon: number;
  lat: number;
}

let db: Db;
let app: App;
let index: NearestWorkers;
const clock = new ManualClock(Date.now());
const MAX_FIX_AGE_MS = 3 * 60_000;
const placed: Placed[] = [];
const busy = new Set<number>();

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock, config: { offlineAfterMs: 5 * 60_000 } });
  index = await NearestWorkers.open(app.ingest, db, { clock, maxFixAgeMs: MAX_FIX_AGE_MS, load: (id) => (busy.has(id) ? 1 : 0) });

  // Whole grids of neighbouring communities (so grids hold several workers), plus some of the
  // party-member reserve, who are off duty (workers.active = false) and must never be offered.
  const { rows } = await db.query<{ id: number; code: string; path: string; active: boolean; lon: number; lat: number }>(sql`
    SELECT w.id, w.code, g.path, w.active, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.role <> 'party_member' OR w.id % 10 = 0
     ORDER BY g.path, w.id LIMIT 360`);
  const next = random(2026);
  const now = clock.now();
  const fixes = rows.map((r, i) => {
    const device = `nearest-${r.code}`;
    // Within ~400 m of the home grid; mostly fresh, some older than 3 min, some offline (> 5 min).
    const lon = r.lon + (next() - 0.5) * 0.01;
    const lat = r.lat + (next() - 0.5) * 0.008;
    const age = i % 10 === 0 ? 200_000 + next() * 80_000 : i % 10 === 1 ? 400_000 : next() * 120_000;
    placed.push({ id: r.id, device, path: r.path, active: r.active, lon, lat });
    if (next() < 0.07) busy.add(r.id);
    return { device, lon, lat, time: Math.round(now - age), speed: 1.2 };
  });
  for (const [i, r] of rows.entries()) await app.ingest.registerDevice(fixes[i]!.device, r.id, 'phone');
  // Through the real pipeline, as devices send them: validated, in memory, batched into PostGIS.
  const outcomes = await Promise.all(fixes.map((f) => app.ingest.submit(f)));
  expect(outcomes.every((o) => o.status === 'stored')).toBe(true);
});

afterAll(async () => {
  index?.close();
  await app?.close();
  await db?.close();
});

/** The reference: PostGIS ranks every stored latest position by ST_Distance on the spheroid. */
async function postgis(lon: number, lat: number, gridPath: string | null, n: number) {
  const { rows } = await db.query<{ id: number; own: boolean; d: number }>(sql`
    SELECT p.worker_id AS id, coalesce(g.path = ${gridPath}::text, false) AS own,
           ST_Distance(p.geom::geography, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326)::geography) AS d
      FROM worker_positions_latest p
      JOIN workers w ON w.id = p.worker_id
      JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active
       AND p.recorded_at >= to_timestamp(${(clock.now() - MAX_FIX_AGE_MS) / 1000})
       AND p.received_at - p.recorded_at <= interval '5 minutes'
       AND NOT (p.worker_id = ANY(${[...busy]}::bigint[]))
     ORDER BY own DESC, d, p.worker_id
     LIMIT ${n}`);
  return rows.map((r) => ({ id: Number(r.id), own: r.own, d: Number(r.d) }));
}

describe('nearest free workers agree with PostGIS', () => {
  it('same workers in the same order, distances within a millimetre, for many tasks', async () => {
    const next = random(7);
    let compared = 0, own = 0, maxDiff = 0;
    for (let i = 0; i < 30; i++) {
      const near = placed[Math.floor(next() * placed.length)]!;
      const lon = near.lon + (next() - 0.5) * 0.02;
      const lat = near.lat + (next() - 0.5) * 0.015;
      const gridPath = next() < 0.6 ? near.path : null;
      const n = [1, 3, 8, 20, 60][i % 5]!;
      const mine = index.nearest({ lon, lat, gridPath, n });
      const theirs = await postgis(lon, lat, gridPath, n);
      expect(mine.map((c) => [c.workerId, c.ownGrid]), `task ${i} at ${lon},${lat}`).toEqual(theirs.map((r) => [r.id, r.own]));
      for (let j = 0; j < mine.length; j++) maxDiff = Math.max(maxDiff, Math.abs(mine[j]!.distanceM - theirs[j]!.d));
      compared += mine.length;
      own += mine.filter((c) => c.ownGrid).length;
    }
    expect(maxDiff).toBeLessThan(0.001);
    expect(compared).toBeGreaterThan(300);
    expect(own).toBeGreaterThan(10);
  });

  it('with N above the number eligible, returns all of them in PostGIS order', async () => {
    const eligible = placed.filter((p) => p.active && !busy.has(p.id)).length;
    const mine = index.nearest({ lon: placed[0]!.lon, lat: placed[0]!.lat, gridPath: placed[0]!.path, n: 1000 });
    const theirs = await postgis(placed[0]!.lon, placed[0]!.lat, placed[0]!.path, 1000);
    expect(mine.map((c) => c.workerId)).toEqual(theirs.map((r) => r.id));
    // Stale, offline, off-duty and busy workers were all placed, and all left out.
    expect(mine.length).toBeLessThan(eligible);
    const offered = new Set(mine.map((c) => c.workerId));
    expect(placed.some((p) => !p.active)).toBe(true);
    for (const p of placed) if (!p.active || busy.has(p.id)) expect(offered.has(p.id)).toBe(false);
  });

  it('follows a worker who moves through the ingest', async () => {
    const mover = placed.find((p) => p.active && !busy.has(p.id))!;
    const task = { lon: placed.at(-1)!.lon + 0.001, lat: placed.at(-1)!.lat };
    clock.advance(1000);
    const outcome = await app.ingest.submit({ device: mover.device, lon: task.lon + 0.00002, lat: task.lat, time: clock.now() });
    expect(outcome.status).toBe('stored');
    const mine = index.nearest({ ...task, n: 5 });
    expect(mine[0]).toMatchObject({ workerId: mover.id, ownGrid: false });
    expect(mine[0]!.distanceM).toBeCloseTo(1.76, 1);
    expect(mine[0]!.etaS).toBe(Math.round(mine[0]!.distanceM / (4 / 3.6)));
    const theirs = await postgis(task.lon, task.lat, null, 5);
    expect(mine.map((c) => c.workerId)).toEqual(theirs.map((r) => r.id));
  });
});
