import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { TicketHeat, TicketList, TicketStats, TicketSummary } from '@shared/tickets-api';
import { seedTicketHistory } from '../../seeds/seed';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };
interface Place { code: string; lon: number; lat: number }

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Sunday 22 Nov 2026, 10:00 in Shanghai; its day began at 16:00 UTC the day before. */
const T0 = Date.parse('2026-11-22T02:00:00Z');
const MIDNIGHT = Date.parse('2026-11-21T16:00:00Z');
const clock = new ManualClock(T0);
let db: Db;
let app: App;
let dataDir: string;
let as: Record<'operator' | 'dispatcher' | 'worker', Headers>;
/** The demo worker's grid in 柳巷 (the dispatcher's street), and a grid of another street. */
let home: Place & { workerId: number; street: string };
let away: Place;
const known: Record<string, TicketSummary> = {};

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-stats-'));
  app = await buildTestApp(db, { clock, config: { dataDir } });
  await app.ready();
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  home = (await db.query<Place & { workerId: number; street: string }>(sql`
    SELECT u.worker_id AS "workerId", g.code, split_part(g.path, '/', 3) AS street,
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`)).rows[0]!;
  away = (await db.query<Place>(sql`
    SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions
     WHERE level = 'grid' AND path NOT LIKE ${`%/${home.street}/%`} ORDER BY code LIMIT 1`)).rows[0]!;

  // Filed through the API at known times: A just before midnight, B at midnight, the rest at 10:00.
  const file = async (name: string, at: number, place: Place, category: string, urgency: string) => {
    clock.set(at);
    const res = await app.inject({
      method: 'POST', url: '/api/tickets', headers: as.operator,
      payload: { category, urgency, lon: place.lon, lat: place.lat, description: `测试工单 ${name}` },
    });
    expect(res.statusCode, res.body).toBe(201);
    known[name] = res.json() as TicketSummary;
  };
  await file('A', MIDNIGHT - 1, home, 'safety.fire', 'immediate');
  await file('B', MIDNIGHT, home, 'convenience.municipal', 'scheduled');
  await file('C', T0, away, 'dispute.neighbour', 'immediate');
  await file('D', T0, home, 'safety', 'immediate');
  await file('E', T0, home, 'opinion.suggestion', 'scheduled');
});
afterAll(async () => {
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const get = (url: string, headers: Headers | Record<string, never> = as.operator) => app.inject({ method: 'GET', url, headers });
async function stats(query = '', headers: Headers = as.operator): Promise<TicketStats> {
  const res = await get(`/api/tickets/stats${query}`, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as TicketStats;
}
async function heat(query: string, headers: Headers = as.operator): Promise<TicketHeat> {
  const res = await get(`/api/tickets/heat?${query}`, headers);
  expect(res.statusCode, res.body).toBe(200);
  const h = res.json() as TicketHeat;
  expect(h.lat.length).toBe(h.lon.length);
  expect(h.weight.length).toBe(h.lon.length);
  expect(h.weight.reduce((a, b) => a + b, 0)).toBe(h.total);
  return h;
}
async function list(query: string, headers: Headers = as.operator): Promise<string[]> {
  const res = await get(`/api/tickets?limit=500&${query}`, headers);
  expect(res.statusCode, res.body).toBe(200);
  const names = new Map(Object.entries(known).map(([name, t]) => [t.id, name]));
  return (res.json() as TicketList).items.map((t) => names.get(t.id) ?? `#${t.id}`).sort();
}
const zeroStatuses = { received: 0, registered: 0, dispatched: 0, accepted: 0, in_progress: 0, resolved: 0, verified: 0, closed: 0, returned: 0, escalated: 0, cancelled: 0 };

describe('the wall’s counters on known tickets', () => {
  it('counts today since midnight in Shanghai: every class and status, open, overdue now', async () => {
    clock.set(T0);
    const today = await stats('?window=today');
    expect(today).toEqual({
      window: 'today',
      from: new Date(MIDNIGHT).toISOString(),
      to: new Date(T0).toISOString(),
      total: 4, // B, C, D, E — not A, a millisecond before midnight
      byCategory: [
        { code: 'convenience', name: '便民惠企服务', count: 1 },
        { code: 'safety', name: '安全隐患排查', count: 1 },
        { code: 'opinion', name: '社情民意收集', count: 1 },
        { code: 'dispute', name: '矛盾纠纷化解', count: 1 },
        { code: 'patrol', name: '重点巡查事项', count: 0 },
      ],
      byStatus: { ...zeroStatuses, received: 4 },
      open: 4,
      overdueNow: 2, // A's and B's register deadlines have passed; C, D, E still have time
      closed: 0,
      closedOnTime: 0,
      onTimeRate: null,
    });
    expect(await stats()).toEqual(today); // today is the default
    const week = await stats('?window=7d');
    expect(week).toMatchObject({ window: '7d', from: new Date(T0 - 7 * DAY).toISOString(), total: 5, open: 5 });
    expect((await stats('?window=30d')).from).toBe(new Date(T0 - 30 * DAY).toISOString());
  });

  it('starts “today” at Shanghai midnight by the app’s clock, both bounds inclusive', async () => {
    clock.set(MIDNIGHT - 1);
    const before = await stats();
    expect(before.from).toBe(new Date(MIDNIGHT - DAY).toISOString());
    expect(before.total).toBe(1); // A, received this very millisecond; the others are still to come
    expect(before.byCategory.find((c) => c.code === 'safety')!.count).toBe(1);
    clock.set(MIDNIGHT);
    const after = await stats();
    expect(after.from).toBe(new Date(MIDNIGHT).toISOString());
    expect(after.total).toBe(1); // B only
    expect(after.byCategory.find((c) => c.code === 'convenience')!.count).toBe(1);
    expect((await heat('window=today')).total).toBe(1);
    clock.set(T0);
  });

  it('gives a street dispatcher their street’s counts only', async () => {
    const mine = await stats('', as.dispatcher);
    expect(mine.total).toBe(3); // B, D, E — C lies in another street
    expect(mine.byCategory.find((c) => c.code === 'dispute')!.count).toBe(0);
    expect(mine.overdueNow).toBe(2); // A and B, both in 柳巷
    expect((await stats('?window=7d', as.dispatcher)).total).toBe(4);
  });
});

describe('the heatmap on known tickets', () => {
  it('bins tickets at one spot into one cell at their centroid, columnar', async () => {
    const h = await heat('window=today');
    expect(h).toMatchObject({ window: 'today', category: null, from: new Date(MIDNIGHT).toISOString(), to: new Date(T0).toISOString(), total: 4 });
    expect(h.weight.length).toBe(2);
    const big = h.weight.indexOf(3); // B, D and E at the same point
    expect(big).toBeGreaterThanOrEqual(0);
    expect(h.lon[big]).toBeCloseTo(home.lon, 6);
    expect(h.lat[big]).toBeCloseTo(home.lat, 6);
    expect(h.lon[1 - big]).toBeCloseTo(away.lon, 6);
    expect(h.weight[1 - big]).toBe(1);
  });

  it('filters by class (with its sub-categories) or by one sub-category', async () => {
    expect((await heat('window=today&category=safety')).total).toBe(1); // D
    expect((await heat('window=7d&category=safety')).total).toBe(2); // A (safety.fire) and D (safety)
    expect((await heat('window=7d&category=safety.fire')).total).toBe(1);
    const dispute = await heat('window=today&category=dispute');
    expect(dispute).toMatchObject({ category: 'dispute', total: 1 });
    expect(dispute.lon[0]).toBeCloseTo(away.lon, 6);
    expect((await heat('window=today&category=patrol')).weight).toEqual([]);
  });

  it('shows a street dispatcher only their street’s cells', async () => {
    const h = await heat('window=7d', as.dispatcher);
    expect(h.total).toBe(4);
    expect(h.weight).toEqual([4]);
    expect(h.lon[0]).toBeCloseTo(home.lon, 6);
  });
});

describe('tickets needing attention', () => {
  it('filters open, urgency and attention (open and immediate or past a deadline), within the jurisdiction', async () => {
    clock.set(T0);
    expect(await list('attention=true')).toEqual(['A', 'B', 'C', 'D']); // E: scheduled and on time
    expect(await list('attention=false')).toEqual(['E']);
    expect(await list('attention=true', as.dispatcher)).toEqual(['A', 'B', 'D']);
    expect(await list('urgency=immediate')).toEqual(['A', 'C', 'D']);
    expect(await list('urgency=scheduled&attention=true')).toEqual(['B']); // late, not immediate
    expect(await list('open=true')).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(await list('open=false')).toEqual([]);

    // Past E's register deadline (60 min) it needs attention too.
    clock.set(T0 + 61 * 60_000);
    expect(await list('attention=true')).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect((await stats()).overdueNow).toBe(5);

    // Cancelled (不予立案), C is no longer open and needs nobody's attention.
    const res = await app.inject({ method: 'POST', url: `/api/tickets/${known.C!.id}/transitions`, headers: as.operator, payload: { action: 'cancel', reason: '重复上报' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await list('open=false')).toEqual(['C']);
    expect(await list('attention=true')).toEqual(['A', 'B', 'D', 'E']);
    const today = await stats();
    expect(today.byStatus).toEqual({ ...zeroStatuses, received: 3, cancelled: 1 });
    expect(today.open).toBe(3);
    expect(today.total).toBe(4); // still received today
  });
});

describe('closed on time (按期结案率)', () => {
  const run = async (id: number) => {
    const act = async (headers: Headers, payload: Record<string, unknown>) => {
      clock.advance(60_000);
      const res = await app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });
      expect(res.statusCode, `${String(payload.action)}: ${res.body}`).toBe(200);
    };
    await act(as.operator, { action: 'register' });
    await act(as.operator, { action: 'dispatch', workerId: home.workerId });
    await act(as.worker, { action: 'accept' });
    await act(as.worker, { action: 'start' });
    await act(as.worker, { action: 'resolve' });
    await act(as.operator, { action: 'verify' });
    await act(as.operator, { action: 'close' });
  };

  it('counts tickets closed in the window, and of those the ones closed by their overall deadline', async () => {
    // F, received yesterday at 09:00 (immediate: due within 24 h, today 09:00), is closed today, late.
    clock.set(MIDNIGHT - 15 * HOUR);
    const f = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.operator, payload: { category: 'safety.gas', urgency: 'immediate', lon: home.lon, lat: home.lat, description: '测试工单 F' } });
    expect(f.statusCode).toBe(201);
    known.F = f.json() as TicketSummary;
    clock.set(T0 + 2 * HOUR);
    await run(known.F.id);
    // G, received and closed today, on time.
    const g = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.operator, payload: { category: 'safety.gas', urgency: 'immediate', lon: home.lon, lat: home.lat, description: '测试工单 G' } });
    known.G = g.json() as TicketSummary;
    await run(known.G.id);

    const today = await stats();
    expect(today).toMatchObject({ total: 5, closed: 2, closedOnTime: 1, onTimeRate: 0.5 }); // F closed today though received yesterday
    expect(today.byStatus.closed).toBe(1); // of those received today: G
    expect(await stats('', as.dispatcher)).toMatchObject({ closed: 2, closedOnTime: 1 });
    expect((await list('open=false')).sort()).toEqual(['C', 'F', 'G']);
  });
});

describe('with 30 days of seeded history', () => {
  let liuxiang: string;
  beforeAll(async () => {
    clock.set(T0 + 3 * HOUR);
    // Seeded after the live tickets: its numbers go after theirs on the same days (a collision would throw).
    await seedTicketHistory(db, { clock, days: 30 });
    liuxiang = `/140106/${home.street}/%`;
    // Thirty days take ≈ 11 s of CPU on embedded PGlite (minutes before the seed refreshed the planner’s
    // statistics after its first batch: its foreign-key checks scanned every ticket). Room for a
    // machine shared with Chromium and Janus (recording, camera tests), where CPU comes at a tenth.
  }, 420_000);

  const count = async (where: ReturnType<typeof sql>) =>
    (await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM tickets t JOIN ticket_categories c ON c.code = t.category_code WHERE ${where}`)).rows[0]!.n;
  const receivedSince = (from: number) => sql`t.received_at >= ${new Date(from).toISOString()}::timestamptz AND t.received_at <= ${new Date(clock.now()).toISOString()}::timestamptz`;

  it('adds up: totals match the database, classes and statuses sum to the total, heat and stats agree', async () => {
    const now = clock.now();
    for (const [window, from] of [['today', MIDNIGHT], ['7d', now - 7 * DAY], ['30d', now - 30 * DAY]] as const) {
      const s = await stats(`?window=${window}`);
      const expected = await count(receivedSince(from));
      expect(s.total, window).toBe(expected);
      expect(s.byCategory.reduce((a, c) => a + c.count, 0), window).toBe(s.total);
      expect(Object.values(s.byStatus).reduce((a, n) => a + n, 0), window).toBe(s.total);
      expect((await heat(`window=${window}`)).total, window).toBe(s.total);
      const safety = await count(sql`${receivedSince(from)} AND (t.category_code = 'safety' OR c.parent_code = 'safety')`);
      expect((await heat(`window=${window}&category=safety`)).total, window).toBe(safety);
      expect(s.byCategory.find((c) => c.code === 'safety')!.count, window).toBe(safety);
    }
    const month = await stats('?window=30d');
    expect(month.total).toBeGreaterThan(20_000);
    expect(month.closed).toBe(await count(sql`t.status = 'closed' AND t.closed_at >= ${new Date(now - 30 * DAY).toISOString()}::timestamptz`));
    expect(month.onTimeRate).toBeGreaterThan(0.88);
    expect(month.onTimeRate).toBeLessThan(0.96);
    expect((await stats()).total).toBeGreaterThan(150); // history since midnight up to 13:00
  });

  it('bins a month into ~50 m cells over the district', async () => {
    const h = await heat('window=30d');
    expect(h.weight.length).toBeGreaterThan(5_000);
    expect(h.weight.length).toBeLessThan(h.total);
    expect(Math.max(...h.weight)).toBeLessThan(60);
    const key = new Set(h.lon.map((lon, i) => `${lon},${h.lat[i]}`));
    expect(key.size).toBe(h.lon.length);
    // Yingze lies within 112.4–112.8 E, 37.7–37.95 N.
    expect(Math.min(...h.lon)).toBeGreaterThan(112.4);
    expect(Math.max(...h.lon)).toBeLessThan(112.8);
    expect(Math.min(...h.lat)).toBeGreaterThan(37.7);
    expect(Math.max(...h.lat)).toBeLessThan(37.95);
  });

  it('gives a street dispatcher their street’s history only: counts and cells', async () => {
    const now = clock.now();
    const expected = await count(sql`${receivedSince(now - 30 * DAY)} AND t.grid_path LIKE ${liuxiang}`);
    const all = await stats('?window=30d');
    const mine = await stats('?window=30d', as.dispatcher);
    expect(mine.total).toBe(expected);
    expect(mine.total).toBeLessThan(all.total / 3);
    const h = await heat('window=30d', as.dispatcher);
    expect(h.total).toBe(expected);
    const far = async (cells: TicketHeat) =>
      (await db.query<{ n: number }>(sql`
        SELECT count(*)::int AS n FROM json_to_recordset(${JSON.stringify(cells.lon.map((lon, i) => ({ lon, lat: cells.lat[i] })))}::json) AS p(lon float8, lat float8)
         WHERE NOT ST_DWithin((SELECT geom FROM regions WHERE code = ${home.street}), ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), 0.001)`)).rows[0]!.n;
    expect(await far(h)).toBe(0); // every cell within ~100 m of 柳巷
    expect(await far(await heat('window=30d'))).toBeGreaterThan(1000); // the district's reach far beyond
  });
});

describe('bad input and no token', () => {
  it('answers 400 with a code and a message', async () => {
    for (const url of [
      '/api/tickets/heat',
      '/api/tickets/heat?window=week',
      '/api/tickets/heat?window=today&category=Safety!',
      '/api/tickets/heat?window=today&extra=1',
      '/api/tickets/stats?window=1d',
      '/api/tickets/stats?window=today&category=safety',
      '/api/tickets?attention=maybe',
      '/api/tickets?urgency=soon',
      '/api/tickets?open=perhaps',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.any(String) });
    }
    const unknown = await get('/api/tickets/heat?window=today&category=safety.dragons');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe('TICKET_CATEGORY_UNKNOWN');
  });

  it('answers 401 without a token', async () => {
    for (const url of ['/api/tickets/heat?window=today', '/api/tickets/stats']) {
      const res = await get(url, {});
      expect(res.statusCode, url).toBe(401);
      expect(res.json().code).toBe('AUTH_REQUIRED');
    }
  });

  it('documents both endpoints in the OpenAPI under tickets', async () => {
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, { get?: { tags?: string[]; parameters?: { name: string }[]; responses?: Record<string, unknown> } }>;
    };
    for (const p of ['/api/tickets/heat', '/api/tickets/stats']) {
      expect(spec.paths[p]?.get?.tags, p).toEqual(['tickets']);
      expect(spec.paths[p]!.get!.parameters!.map((x) => x.name), p).toContain('window');
      expect(Object.keys(spec.paths[p]!.get!.responses!), p).toEqual(expect.arrayContaining(['200', '400', '401']));
    }
    expect(spec.paths['/api/tickets']!.get!.parameters!.map((x) => x.name)).toEqual(expect.arrayContaining(['urgency', 'open', 'attention']));
  });
});
