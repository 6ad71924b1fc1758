import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { CoverageList, MicroGridVisits, WorkerPatrolList } from '@shared/tracks-api';
import { computePatrolHour, PATROL_BUFFER_M } from '../../server/modules/patrol/repository';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };
interface Spot { code: string; grid: string; lon: number; lat: number; clearance: number }

/**
 * A synthetic walk by the demo worker, 10:00–10:10 Shanghai on 20 Nov 2026, counted by hand:
 *  - stands at the middle of micro-grid M1 (in the worker's own grid), then walks 10 m north in two steps → M1;
 *  - teleports to micro-grid X more than a kilometre away (one 10-second "segment" over 300 m: a jump,
 *    credited to nothing on the way) and stands there → X;
 *  - after a 4-minute gap (> 120 s) a single fix in M2 (a neighbour of M1), then another gap → M2 is not credited.
 * Visited: exactly {M1, X}. Distance: 10 m + X's standing (0). Inside the own grid: the 4 segments in M1, 40 s.
 */
const T = (hhmmss: string) => Date.parse(`2026-11-20T${hhmmss}+08:00`);
const clock = new ManualClock(T('11:05:00'));
const R = 6_371_008.8;
const DEG = Math.PI / 180;

let db: Db;
let app: App;
let as: Record<'operator' | 'dispatcher' | 'worker', Headers>;
let workerId: number;
let community: string;
let m1: Spot;
let m2: Spot;
let x: Spot;
let onTheWay: string[];

/** The centre of a micro-grid's largest inscribed circle, and how far it is from every other micro-grid. */
const spots = (where: ReturnType<typeof sql>) => db.query<Spot>(sql`
  WITH m AS MATERIALIZED (
    SELECT code, parent_code, (ST_MaximumInscribedCircle(geom)).center AS p FROM regions m
     WHERE m.level = 'micro_grid' AND ${where} ORDER BY m.code LIMIT 12)
  SELECT m.code, m.parent_code AS grid, ST_X(m.p) AS lon, ST_Y(m.p) AS lat,
         (SELECT min(ST_Distance(o.geom::geography, m.p::geography)) FROM regions o
           WHERE o.level = 'micro_grid' AND o.code <> m.code AND o.geom && ST_Expand(m.p, 0.003)) AS clearance
    FROM m ORDER BY m.code`);

async function insertFixes(fixes: { t: number; lon: number; lat: number }[]): Promise<void> {
  await db.query(sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed)
    SELECT ${workerId}, to_timestamp(u.t / 1000.0), to_timestamp(u.t / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), 1
      FROM unnest(${fixes.map((f) => f.t)}::float8[], ${fixes.map((f) => f.lon)}::float8[], ${fixes.map((f) => f.lat)}::float8[]) AS u(t, x, y)`);
}

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock });
  await app.ready();
  await app.patrolCoverage.stop();
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  const me = (await db.query<{ id: number; grid: string; community: string }>(sql`
    SELECT w.id::float8 AS id, g.code AS grid, g.parent_code AS community
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`)).rows[0]!;
  workerId = me.id;
  community = me.community;
  const own = (await spots(sql`m.parent_code = ${me.grid}`)).rows;
  m1 = own.find((s) => s.clearance >= 30)!;
  expect(m1, 'a micro-grid of the own grid with room to stand').toBeDefined();
  // M2: a neighbour of M1 (so only the gap keeps it from being credited).
  m2 = (await spots(sql`m.code <> ${m1.code} AND m.geom && (SELECT geom FROM regions WHERE code = ${m1.code}) AND ST_Touches(m.geom, (SELECT geom FROM regions WHERE code = ${m1.code}))`)).rows.find((s) => s.clearance >= 20)!;
  expect(m2).toBeDefined();
  x = (await spots(sql`m.parent_code <> ${m1.grid} AND ST_DWithin(m.geom::geography, ST_SetSRID(ST_MakePoint(${m1.lon}, ${m1.lat}), 4326)::geography, 3000)
      AND NOT ST_DWithin(m.geom::geography, ST_SetSRID(ST_MakePoint(${m1.lon}, ${m1.lat}), 4326)::geography, 1200)`))
    .rows.find((s) => s.clearance >= 20 && s.grid !== m1.grid)!;
  expect(x).toBeDefined();
  // The teleport's straight line crosses other micro-grids: the walk would credit them, the jump must not.
  onTheWay = (await db.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'micro_grid' AND code NOT IN (${m1.code}, ${x.code})
       AND ST_Intersects(geom, ST_MakeLine(ST_SetSRID(ST_MakePoint(${m1.lon}, ${m1.lat}), 4326), ST_SetSRID(ST_MakePoint(${x.lon}, ${x.lat}), 4326)))`)).rows.map((r) => r.code);
  expect(onTheWay.length).toBeGreaterThan(0);

  const north = (s: Spot, m: number) => ({ lon: s.lon, lat: s.lat + m / (R * DEG) });
  await insertFixes([
    { t: T('10:00:00'), ...north(m1, 0) },
    { t: T('10:00:10'), ...north(m1, 0) },
    { t: T('10:00:20'), ...north(m1, 0) },
    { t: T('10:00:30'), ...north(m1, 5) },
    { t: T('10:00:40'), ...north(m1, 10) },
    { t: T('10:00:50'), lon: x.lon, lat: x.lat },
    { t: T('10:01:00'), lon: x.lon, lat: x.lat },
    { t: T('10:01:10'), lon: x.lon, lat: x.lat },
    { t: T('10:05:10'), lon: m2.lon, lat: m2.lat },
    { t: T('10:09:10'), lon: m1.lon, lat: m1.lat },
  ]);
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('patrol coverage', () => {
  it('computes each closed hour once, crediting exactly the hand-counted micro-grids', async () => {
    const pass = await app.patrolCoverage.sweep();
    // From the day's Shanghai midnight to 10:00, the last hour closed (2-minute grace) at 11:05.
    expect(pass.hours).toHaveLength(11);
    expect(pass.hours.at(-1)).toBe(T('10:00:00'));
    const visits = await db.query<{ code: string; hour: number }>(sql`
      SELECT micro_grid_code AS code, extract(epoch FROM hour_start)::float8 * 1000 AS hour FROM patrol_visits
       WHERE worker_id = ${workerId} ORDER BY code`);
    expect(visits.rows.map((r) => r.code).sort()).toEqual([m1.code, x.code].sort());
    expect(visits.rows.every((r) => Number(r.hour) === T('10:00:00'))).toBe(true);
    for (const code of [m2.code, ...onTheWay]) expect(visits.rows.map((r) => r.code)).not.toContain(code);
    // Nothing new closed: a second pass computes nothing.
    expect((await app.patrolCoverage.sweep()).hours).toEqual([]);
  });

  it('serves coverage per grid under a community, the micro-grid layer and the worker figures', async () => {
    const res = await app.inject({ url: `/api/patrol/coverage?date=2026-11-20&level=grid&parent=${community}`, headers: as.dispatcher });
    expect(res.statusCode, res.body).toBe(200);
    const rows = res.json() as CoverageList;
    const mine = rows.find((r) => r.code === m1.grid)!;
    const total = (await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM regions WHERE parent_code = ${m1.grid}`)).rows[0]!.n;
    expect(mine).toMatchObject({ microGridsVisited: 1, microGrids: total, coverage: Math.round((1 / total) * 10_000) / 10_000 });
    expect(mine.distanceM).toBeCloseTo(10, 0);
    expect(rows.filter((r) => r.code !== m1.grid).every((r) => r.microGridsVisited === 0)).toBe(true);

    // X's grid is credited too, seen by the district.
    const all = (await app.inject({ url: '/api/patrol/coverage?date=2026-11-20', headers: as.operator })).json() as CoverageList;
    expect(all).toHaveLength(853);
    expect(all.find((r) => r.code === x.grid)!.microGridsVisited).toBe(1);
    expect(all.reduce((s, r) => s + r.microGrids, 0)).toBe(2558);
    const streets = (await app.inject({ url: '/api/patrol/coverage?date=2026-11-20&level=street', headers: as.operator })).json() as CoverageList;
    expect(streets.reduce((s, r) => s + r.microGridsVisited, 0)).toBe(2);

    const layer = (await app.inject({ url: '/api/patrol/micro-grids?date=2026-11-20', headers: as.operator })).json() as MicroGridVisits;
    expect(layer.map((v) => v.code).sort()).toEqual([m1.code, x.code].sort());
    expect(layer[0]).toMatchObject({ visits: 1, workers: 1 });

    const workers = (await app.inject({ url: '/api/patrol/workers?date=2026-11-20', headers: as.dispatcher })).json() as WorkerPatrolList;
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({ workerId, gridCode: m1.grid, microGridsVisited: 2, insideOwnGridS: 40 });
    expect(workers[0]!.distanceM).toBeCloseTo(10, 0);
  });

  it('credits a segment to the hour of its later fix, incrementally', async () => {
    await insertFixes([
      { t: T('11:59:55'), lon: m1.lon, lat: m1.lat },
      { t: T('12:00:05'), lon: m1.lon, lat: m1.lat + 10 / (R * DEG) },
    ]);
    // 11:00–12:00 is computed two minutes after it closes, not before.
    clock.set(T('12:01:00'));
    expect((await app.patrolCoverage.sweep()).hours).toEqual([]);
    clock.set(T('12:03:00'));
    expect((await app.patrolCoverage.sweep()).hours).toEqual([T('11:00:00')]);
    clock.set(T('13:03:00'));
    expect((await app.patrolCoverage.sweep()).hours).toEqual([T('12:00:00')]);
    const hours = await db.query<{ hour: number; d: number }>(sql`
      SELECT extract(epoch FROM hour_start)::float8 * 1000 AS hour, distance_m AS d FROM patrol_worker_hours WHERE worker_id = ${workerId} ORDER BY 1`);
    expect(hours.rows.map((r) => Number(r.hour))).toEqual([T('10:00:00'), T('12:00:00')]);
    expect(Number(hours.rows[1]!.d)).toBeCloseTo(10, 0);
  });

  it('keeps coverage inside the jurisdiction', async () => {
    const otherStreet = (await db.query<{ code: string }>(sql`
      SELECT r.code FROM regions r, users u JOIN regions ur ON ur.code = u.region_code
       WHERE u.username = 'dispatcher' AND r.level = 'street' AND r.code <> ur.code ORDER BY r.code LIMIT 1`)).rows[0]!.code;
    const res = await app.inject({ url: `/api/patrol/coverage?date=2026-11-20&parent=${otherStreet}`, headers: as.dispatcher });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    const mine = (await app.inject({ url: '/api/patrol/coverage?date=2026-11-20', headers: as.dispatcher })).json() as CoverageList;
    const inStreet = await db.query<{ code: string }>(sql`
      SELECT g.code FROM regions g, users u JOIN regions ur ON ur.code = u.region_code
       WHERE u.username = 'dispatcher' AND g.level = 'grid' AND g.path LIKE ur.path || '%' ORDER BY g.code`);
    expect(mine.map((r) => r.code)).toEqual(inStreet.rows.map((r) => r.code));
    expect(mine.length).toBeLessThan(853);
    expect((await app.inject({ url: '/api/patrol/coverage?date=2026-11-20', headers: as.worker })).statusCode).toBe(403);
    const bad = await app.inject({ url: '/api/patrol/coverage?date=20-11-2026', headers: as.operator });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('credits a micro-grid within 15 m of a track and not one 18 m away, measured east–west where degrees of longitude are short', async () => {
    // A micro-grid M and a touching neighbour N lying east or west of it; from M's boundary point B
    // nearest N's inner centre, points P12 and P18 metres further on the bearing to N (inside N).
    const { rows: [pair] } = await db.query<{ m: string; n: string; x12: number; y12: number; x18: number; y18: number; d12: number; d18: number }>(sql`
      WITH c AS (
        SELECT m.code AS m, m.geom AS mg, n.code AS n, (ST_MaximumInscribedCircle(n.geom)).center AS nc
          FROM regions m JOIN regions n ON n.level = 'micro_grid' AND n.code <> m.code AND n.geom && m.geom AND ST_Touches(n.geom, m.geom)
         WHERE m.level = 'micro_grid' AND m.parent_code = ${m1.grid}
      ), b AS (
        SELECT m, mg, n, nc, ST_ClosestPoint(mg, nc) AS bp FROM c
      ), p AS (
        SELECT m, mg, n, nc, ST_Azimuth(bp::geography, nc::geography) AS az, bp FROM b
      ), q AS (
        SELECT m, n, mg, az, ST_Project(bp::geography, 12, az)::geometry AS p12, ST_Project(bp::geography, 18, az)::geometry AS p18,
               ST_Distance(bp::geography, nc::geography) AS reach FROM p
      )
      SELECT m, n, ST_X(p12) AS x12, ST_Y(p12) AS y12, ST_X(p18) AS x18, ST_Y(p18) AS y18,
             ST_Distance(mg::geography, p12::geography) AS d12, ST_Distance(mg::geography, p18::geography) AS d18
        FROM q
       WHERE abs(sin(az)) > 0.9 AND reach > 25
       ORDER BY abs(ST_Distance(mg::geography, p12::geography) - 12) + abs(ST_Distance(mg::geography, p18::geography) - 18), m, n
       LIMIT 1`);
    expect(pair, 'a micro-grid with an east or west neighbour').toBeDefined();
    expect(Number(pair!.d12)).toBeGreaterThan(11);
    expect(Number(pair!.d12)).toBeLessThan(PATROL_BUFFER_M - 1);
    expect(Number(pair!.d18)).toBeGreaterThan(PATROL_BUFFER_M + 1);
    const others = (await db.query<{ id: number }>(sql`
      SELECT id::float8 AS id FROM workers WHERE active AND id <> ${workerId} ORDER BY id LIMIT 2`)).rows.map((r) => Number(r.id));
    const t0 = Date.parse('2026-11-19T09:10:00+08:00');
    for (const [i, [x0, y0]] of [[pair!.x12, pair!.y12], [pair!.x18, pair!.y18]].entries()) await db.query(sql`
      INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed)
      SELECT ${others[i]!}, to_timestamp(${t0 / 1000}::float8 + s * 10), now(), ST_SetSRID(ST_MakePoint(${Number(x0)}, ${Number(y0)}), 4326), 0
        FROM generate_series(0, 2) AS s`);
    await computePatrolHour(db, Date.parse('2026-11-19T09:00:00+08:00'), '2026-11-19', clock.now());
    const credited = async (id: number) => (await db.query<{ code: string }>(sql`
      SELECT micro_grid_code AS code FROM patrol_visits WHERE worker_id = ${id} AND day = '2026-11-19' ORDER BY 1`)).rows.map((r) => r.code);
    expect(await credited(others[0]!)).toEqual(expect.arrayContaining([pair!.m, pair!.n]));
    expect(await credited(others[1]!)).toContain(pair!.n);
    expect(await credited(others[1]!)).not.toContain(pair!.m);
  });
});
