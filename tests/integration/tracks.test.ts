import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { maintainPartitions } from '../../server/modules/tracks/partition-job';
import type { TrackCollection, TripsDay } from '@shared/tracks-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };

/**
 * A hand-built synthetic day for one worker (fixes every 10 s), from 08:00 Shanghai on 20 Nov 2026:
 *   A   0–1200 s   1,500 m north at 1.25 m/s (the fix at 1200 s already stands still)
 *   S1  1200–1800 s  standing (600 s)
 *   B1  1800–2200 s  500 m east
 *       2200–2800 s  no fixes: a 10-minute gap; the worker reappears 500 m further (never bridged)
 *   B2  2800–3200 s  500 m east (the fix at 3200 s stands still)
 *   S2  3200–4400 s  standing (1,200 s)
 *   C   4400–5600 s  1,500 m south
 * Walked: 1,500 + 500 + 500 + 1,500 = 4,000 m; trips 1,500 / 1,000 / 1,500 m; moving 1,200 + 800 + 1,200 s.
 */
const DAY = '2026-11-20';
const T0 = Date.parse('2026-11-20T08:00:00+08:00');
const R = 6_371_008.8;
const DEG = Math.PI / 180;
const clock = new ManualClock(Date.parse('2026-11-20T20:00:00+08:00'));

let db: Db;
let app: App;
let as: Record<'operator' | 'dispatcher' | 'worker', Headers>;
let me: { workerId: number; grid: string; lon: number; lat: number };
let outsider: number;

interface Fix { s: number; x: number; y: number; speed: number }
function syntheticDay(): Fix[] {
  const fixes: Fix[] = [];
  for (let s = 0; s < 1200; s += 10) fixes.push({ s, x: 0, y: 1.25 * s, speed: 1.25 });
  for (let s = 1200; s < 1800; s += 10) fixes.push({ s, x: 0, y: 1500, speed: 0 });
  for (let s = 1800; s <= 2200; s += 10) fixes.push({ s, x: 1.25 * (s - 1800), y: 1500, speed: 1.25 });
  for (let s = 2800; s < 3200; s += 10) fixes.push({ s, x: 1000 + 1.25 * (s - 2800), y: 1500, speed: 1.25 });
  for (let s = 3200; s < 4400; s += 10) fixes.push({ s, x: 1500, y: 1500, speed: 0 });
  for (let s = 4400; s <= 5600; s += 10) fixes.push({ s, x: 1500, y: 1500 - 1.25 * (s - 4400), speed: 1.25 });
  return fixes;
}

/** Local metres → lon/lat: north along the meridian, east along the parallel (haversine gives the metres back). */
const toLonLat = (x: number, y: number) => {
  const lat = me.lat + y / (R * DEG);
  return { lon: me.lon + x / (R * DEG * Math.cos(lat * DEG)), lat };
};

async function insertFixes(workerId: number, fixes: { t: number; lon: number; lat: number; speed: number }[]): Promise<void> {
  await db.query(sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed)
    SELECT ${workerId}, to_timestamp(u.t / 1000.0), to_timestamp(u.t / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.s
      FROM unnest(${fixes.map((f) => f.t)}::float8[], ${fixes.map((f) => f.lon)}::float8[], ${fixes.map((f) => f.lat)}::float8[],
                  ${fixes.map((f) => f.speed)}::real[]) AS u(t, x, y, s)`);
}

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock });
  await app.ready();
  await app.positionPartitions.sweep();
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  me = (await db.query<typeof me>(sql`
    SELECT u.worker_id::float8 AS "workerId", g.code AS grid, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`)).rows[0]!;
  outsider = Number((await db.query<{ id: number }>(sql`
    SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code, users u JOIN regions ur ON ur.code = u.region_code
     WHERE u.username = 'dispatcher' AND g.path NOT LIKE ur.path || '%' ORDER BY w.id LIMIT 1`)).rows[0]!.id);
  // Partitions for the synthetic day and the next one (the midnight crossing below).
  await maintainPartitions(db, Date.parse('2026-11-20T12:00:00+08:00'), 180);
  await insertFixes(me.workerId, syntheticDay().map((f) => ({ t: T0 + f.s * 1000, ...toLonLat(f.x, f.y), speed: f.speed })));
  // 23:58–00:02 across the Shanghai midnight: two day partitions, one continuous segment.
  const midnight = Date.parse('2026-11-21T00:00:00+08:00');
  const crossing = [];
  for (let s = -120; s <= 120; s += 10) crossing.push({ t: midnight + s * 1000, ...toLonLat(2000 + 1.25 * (s + 120), 0), speed: 1.25 });
  await insertFixes(me.workerId, crossing);
});
afterAll(async () => {
  await app.close();
  await db.close();
});

const track = (headers: Headers, query: string, id = me.workerId) => app.inject({ url: `/api/workers/${id}/track?${query}`, headers });
const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());

describe('GET /api/workers/:id/track', () => {
  it('splits the day at the 10-minute gap into two LineStrings, every fix kept at tolerance 0, with times and speeds', async () => {
    const res = await track(as.dispatcher, `from=${iso(T0)}&to=${iso(T0 + 6000_000)}`);
    expect(res.statusCode, res.body).toBe(200);
    const fc = res.json() as TrackCollection;
    expect(fc.features).toHaveLength(2);
    const [a, b] = fc.features as [TrackCollection['features'][0], TrackCollection['features'][0]];
    // 0..2200 s: 221 fixes; 2800..5600 s: 281 fixes.
    expect(a.geometry.coordinates).toHaveLength(221);
    expect(b.geometry.coordinates).toHaveLength(281);
    expect(a.properties.times[0]).toBe(new Date(T0).toISOString());
    expect(a.properties.times.at(-1)).toBe(new Date(T0 + 2200_000).toISOString());
    expect(b.properties.times[0]).toBe(new Date(T0 + 2800_000).toISOString());
    expect(a.properties.speeds).toHaveLength(221);
    expect(a.properties.speeds[0]).toBe(1.25);
    expect(a.properties.distanceM).toBeCloseTo(2000, 0);
    expect(b.properties.distanceM).toBeCloseTo(2000, 0);
    expect(fc.properties.fixes).toBe(502);
  });

  it('simplifies straight legs to their corners for a tolerance, keeping each kept vertex’s time', async () => {
    const fc = (await track(as.operator, `from=${iso(T0)}&to=${iso(T0 + 6000_000)}&tolerance=5`)).json() as TrackCollection;
    expect(fc.features.map((f) => f.geometry.coordinates.length)).toEqual([3, 3]);
    const a = fc.features[0]!;
    expect(a.properties.times[0]).toBe(new Date(T0).toISOString());
    expect(a.properties.times.at(-1)).toBe(new Date(T0 + 2200_000).toISOString());
    // The corner is a fix standing at (0, 1500): between 1200 s and 1800 s.
    const corner = Date.parse(a.properties.times[1]!) - T0;
    expect(corner).toBeGreaterThanOrEqual(1200_000);
    expect(corner).toBeLessThanOrEqual(1800_000);
    expect(a.properties.timestamps).toEqual(a.properties.times.map((t) => Date.parse(t)));
    expect(fc.properties.vertices).toBe(6);
  });

  it('reads across a Shanghai midnight (two day partitions) as one segment', async () => {
    const midnight = Date.parse('2026-11-21T00:00:00+08:00');
    const parts = await db.query<{ p: string; n: number }>(sql`
      SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM worker_positions
       WHERE worker_id = ${me.workerId} AND recorded_at >= to_timestamp(${(midnight - 120_000) / 1000}) GROUP BY 1 ORDER BY 1`);
    expect(parts.rows).toEqual([{ p: 'worker_positions_p20261120', n: 12 }, { p: 'worker_positions_p20261121', n: 13 }]);
    const fc = (await track(as.dispatcher, `from=${iso(midnight - 3600_000)}&to=${iso(midnight + 3600_000)}`)).json() as TrackCollection;
    expect(fc.features).toHaveLength(1);
    expect(fc.features[0]!.geometry.coordinates).toHaveLength(25);
    expect(fc.features[0]!.properties.distanceM).toBeCloseTo(300, 0);
  });

  it('exports GPX (one trkseg per segment) and GeoJSON as downloads', async () => {
    const gpx = await track(as.dispatcher, `from=${iso(T0)}&to=${iso(T0 + 6000_000)}&format=gpx`);
    expect(gpx.statusCode).toBe(200);
    expect(gpx.headers['content-type']).toMatch(/^application\/gpx\+xml/);
    expect(gpx.headers['content-disposition']).toBe(`attachment; filename="track-${me.workerId}-2026-11-20.gpx"`);
    expect(gpx.body.match(/<trkseg>/g)).toHaveLength(2);
    expect(gpx.body.match(/<trkpt /g)).toHaveLength(502);
    expect(gpx.body).toContain(`<time>${new Date(T0).toISOString()}</time>`);
    const geo = await track(as.dispatcher, `from=${iso(T0)}&to=${iso(T0 + 6000_000)}&format=geojson`);
    expect(geo.statusCode).toBe(200);
    expect(geo.headers['content-disposition']).toMatch(/^attachment; filename="track-\d+-2026-11-20\.geojson"$/);
    expect((geo.json() as TrackCollection).features).toHaveLength(2);
  });

  it('refuses windows over 31 days, backwards windows, workers outside the jurisdiction and the worker role', async () => {
    const long = await track(as.operator, `from=${iso(T0)}&to=${iso(T0 + 31 * 86_400_000 + 1000)}`);
    expect(long.statusCode).toBe(400);
    expect(long.json()).toMatchObject({ code: 'TRACK_WINDOW_TOO_LONG' });
    const exactly31 = await track(as.operator, `from=${iso(T0)}&to=${iso(T0 + 31 * 86_400_000)}`);
    expect(exactly31.statusCode).toBe(200);
    const back = await track(as.operator, `from=${iso(T0 + 1000)}&to=${iso(T0)}`);
    expect(back.statusCode).toBe(400);
    expect(back.json()).toMatchObject({ code: 'TRACK_WINDOW_INVALID' });
    const bad = await track(as.operator, `from=yesterday&to=${iso(T0)}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const outside = await track(as.dispatcher, `from=${iso(T0)}&to=${iso(T0 + 3600_000)}`, outsider);
    expect(outside.statusCode).toBe(404);
    expect(outside.json()).toMatchObject({ code: 'NOT_FOUND' });
    // The district operator does see that worker.
    expect((await track(as.operator, `from=${iso(T0)}&to=${iso(T0 + 3600_000)}`, outsider)).statusCode).toBe(200);
    const worker = await track(as.worker, `from=${iso(T0)}&to=${iso(T0 + 3600_000)}`);
    expect(worker.statusCode).toBe(403);
  });
});

describe('GET /api/workers/:id/trips', () => {
  it('finds three trips and two stops with Traccar’s defaults, and never bridges the gap', async () => {
    const res = await app.inject({ url: `/api/workers/${me.workerId}/trips?date=${DAY}`, headers: as.dispatcher });
    expect(res.statusCode, res.body).toBe(200);
    const day = res.json() as TripsDay;
    // The midnight crossing's first 12 fixes (23:58–23:59:50) belong to this day too: 110 m more.
    const crossing = 1.25 * 110;
    expect(day.distanceM).toBeCloseTo(4000 + crossing, 0);
    expect(day.stops.map((s) => s.durationS)).toEqual([600, 1200]);
    expect(day.stops[0]!.start).toBe(new Date(T0 + 1200_000).toISOString());
    expect(day.stops[0]!.end).toBe(new Date(T0 + 1800_000).toISOString());
    expect(day.stops[1]!.start).toBe(new Date(T0 + 3200_000).toISOString());
    const stop1 = toLonLat(0, 1500);
    expect(day.stops[0]!.place.lon).toBeCloseTo(stop1.lon, 6);
    expect(day.stops[0]!.place.lat).toBeCloseTo(stop1.lat, 6);
    const { rows } = await db.query<{ code: string }>(sql`
      SELECT code FROM regions WHERE level = 'grid' AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(${stop1.lon}, ${stop1.lat}), 4326)) ORDER BY code LIMIT 1`);
    expect(day.stops[0]!.place.gridCode).toBe(rows[0]?.code ?? null);
    // The crossing (110 s, 137.5 m) is neither 500 m nor 300 s: no trip.
    expect(day.trips.map((t) => Math.round(t.distanceM))).toEqual([1500, 1000, 1500]);
    expect(day.trips.map((t) => t.durationS)).toEqual([1200, 1400, 1200]);
    expect(day.trips.map((t) => t.movingS)).toEqual([1200, 800, 1200]);
    expect(day.movingS).toBe(3200);
    expect(day.trips[0]!.start).toBe(new Date(T0).toISOString());
    expect(day.trips[1]!.end).toBe(new Date(T0 + 3200_000).toISOString());
    expect(day.fixes).toBe(502 + 12);
  });

  it('answers an empty day, 404 outside the jurisdiction and 400 for a date that is not one', async () => {
    const empty = (await app.inject({ url: `/api/workers/${me.workerId}/trips?date=2026-11-18`, headers: as.dispatcher })).json() as TripsDay;
    expect(empty).toMatchObject({ fixes: 0, distanceM: 0, trips: [], stops: [] });
    const outside = await app.inject({ url: `/api/workers/${outsider}/trips?date=${DAY}`, headers: as.dispatcher });
    expect(outside.statusCode).toBe(404);
    const bad = await app.inject({ url: `/api/workers/${me.workerId}/trips?date=2026-13-01`, headers: as.dispatcher });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('GET /api/workers/:id/track/events', () => {
  it('lists the moments of the worker’s tickets inside the window', async () => {
    clock.set(T0 + 600_000);
    const worker = await login(app, 'worker');
    const filed = await app.inject({
      method: 'POST', url: '/api/tickets', headers: worker,
      payload: { category: 'convenience.municipal', urgency: 'scheduled', lon: me.lon, lat: me.lat, description: '巡查发现井盖缺失' },
    });
    expect(filed.statusCode, filed.body).toBe(201);
    const res = await app.inject({ url: `/api/workers/${me.workerId}/track/events?from=${iso(T0)}&to=${iso(T0 + 3600_000)}`, headers: as.dispatcher });
    expect(res.statusCode).toBe(200);
    const events = res.json() as { at: string; number: string; lon: number }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.at).toBe(new Date(T0 + 600_000).toISOString());
    expect(events[0]!.lon).toBeCloseTo(me.lon, 6);
    const before = await app.inject({ url: `/api/workers/${me.workerId}/track/events?from=${iso(T0 - 3600_000)}&to=${iso(T0)}`, headers: as.dispatcher });
    expect(before.json()).toEqual([]);
  });
});
