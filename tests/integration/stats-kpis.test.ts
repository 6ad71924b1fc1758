/**
 * The KPI module against hand-counted fixtures: tickets inserted with known timestamps (closed on
 * time, closed late, open past due, not yet due, cancelled, reopened, reworked, escalated to a
 * department, outside the window), worker fixes and patrol visits; every figure below was counted by
 * hand from the table in `fixtures()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { Assessment, AssessmentWeight, KpiList, KpiValues } from '@shared/stats-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Sunday 22 Nov 2026, 10:00 in Shanghai. */
const T0 = Date.parse('2026-11-22T02:00:00Z');
/** Three days before: the day most fixtures were received. */
const D = T0 - 3 * DAY;
const clock = new ManualClock(T0);
let db: Db;
let app: App;
let dataDir: string;
let as: Record<'admin' | 'leader' | 'operator' | 'dispatcher' | 'worker', Headers>;
interface Grid { code: string; path: string; street: string; district: string; community: string; lon: number; lat: number }
/** The demo worker's grid in 柳巷街道 (the dispatcher's street) and a grid of another street. */
let home: Grid;
let away: Grid;
let workerId: number;
let otherWorkerId: number;
let microGrids: string[];

interface Fixture {
  name: string;
  grid: Grid;
  status: string;
  level?: string;
  department?: string;
  worker?: number | null;
  received: number;
  registered?: number;
  dispatched?: number;
  accepted?: number;
  resolved?: number;
  closed?: number;
  escalated?: number;
  due?: number;
  stageDue?: number;
  satisfaction?: string;
  events?: string[];
}

const at = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());
let seq = 0;

async function insert(f: Fixture): Promise<void> {
  seq++;
  const { rows } = await db.query<{ id: number }>(sql`
    INSERT INTO tickets (number, source, category_code, urgency, status, description, location, grid_code, grid_path, level,
                         department_code, assigned_worker_id, stage, stage_started_at, stage_due_at, due_at, received_at, registered_at,
                         dispatched_at, accepted_at, resolved_at, verified_at, closed_at, escalated_at, updated_at, satisfaction)
    VALUES (${`GD-20261101-${String(9000 + seq)}`}, 'patrol', 'safety.fire', 'immediate', ${f.status}, ${`KPI 测试 ${f.name}`},
            ST_SetSRID(ST_MakePoint(${f.grid.lon}, ${f.grid.lat}), 4326), ${f.grid.code}, ${f.grid.path}, ${f.level ?? 'grid'},
            ${f.department ?? null}, ${f.worker ?? null}, ${f.stageDue ? 'dispatch' : null}, ${at(f.stageDue ? f.received : undefined)}::timestamptz,
            ${at(f.stageDue)}::timestamptz, ${at(f.due ?? f.received + DAY)}::timestamptz, ${at(f.received)}::timestamptz,
            ${at(f.registered)}::timestamptz, ${at(f.dispatched)}::timestamptz, ${at(f.accepted)}::timestamptz, ${at(f.resolved)}::timestamptz,
            ${at(f.closed ? f.closed - MIN : undefined)}::timestamptz, ${at(f.closed)}::timestamptz, ${at(f.escalated)}::timestamptz,
            ${at(f.closed ?? f.received)}::timestamptz, ${f.satisfaction ?? null})
    RETURNING id`);
  for (const kind of f.events ?? []) {
    await db.query(sql`INSERT INTO ticket_events (ticket_id, at, kind) VALUES (${rows[0]!.id}, ${at(f.received + HOUR)}::timestamptz, ${kind})`);
  }
}

/**
 * Immediate urgency: register 10 min, dispatch 10 min, resolve 240 min from dispatch, close 24 h.
 * Window 7d = [T0 − 7 d, T0].
 */
function fixtures(): Fixture[] {
  const w = workerId;
  return [
    // t1: everything on time, closed in the window, 满意.
    { name: 't1', grid: home, status: 'closed', worker: w, received: D, registered: D + 5 * MIN, dispatched: D + 10 * MIN, accepted: D + 15 * MIN, resolved: D + 2 * HOUR, closed: D + 3 * HOUR, satisfaction: 'satisfied' },
    // t2: registered late (30 min), dispatched late (20 min), handled late (5 h 10 min from dispatch), closed after its deadline, 不满意.
    { name: 't2', grid: home, status: 'closed', worker: w, received: D, registered: D + 30 * MIN, dispatched: D + 50 * MIN, accepted: D + 60 * MIN, resolved: D + 6 * HOUR, closed: D + 30 * HOUR, satisfaction: 'unsatisfied' },
    // t3: dispatched, never accepted: open past its closing deadline.
    { name: 't3', grid: home, status: 'dispatched', worker: w, received: D, registered: D + 5 * MIN, dispatched: D + 10 * MIN, stageDue: D + 20 * MIN },
    // t4: received an hour ago, not yet due (its dispatch stage is overdue though).
    { name: 't4', grid: home, status: 'registered', received: T0 - HOUR, registered: T0 - 55 * MIN, stageDue: T0 - 45 * MIN },
    // t5: cancelled at reception (不予立案): nowhere.
    { name: 't5', grid: home, status: 'cancelled', received: D },
    // t6: closed once, reopened 2 h ago: a fresh deadline tomorrow, not closed now.
    { name: 't6', grid: home, status: 'registered', received: D, registered: D + 5 * MIN, dispatched: D + 10 * MIN, accepted: D + 15 * MIN, resolved: D + HOUR, due: T0 + 22 * HOUR, stageDue: T0 - 110 * MIN, events: ['closed', 'reopened'] },
    // t7: reworked once (核查不通过), closed on time.
    { name: 't7', grid: home, status: 'closed', worker: w, received: D + HOUR, registered: D + 65 * MIN, dispatched: D + 70 * MIN, accepted: D + 75 * MIN, resolved: D + 2 * HOUR, closed: D + 5 * HOUR, events: ['rework'] },
    // t8: another street, escalated to a department (应急), no worker, open past due.
    { name: 't8', grid: away, status: 'escalated', level: 'department', department: 'emergency', received: D, registered: D + 5 * MIN, dispatched: D + 10 * MIN, escalated: D + 5 * HOUR },
    // t9: another street, on time, 基本满意.
    { name: 't9', grid: away, status: 'closed', worker: otherWorkerId, received: D, registered: D + 5 * MIN, dispatched: D + 8 * MIN, accepted: D + 9 * MIN, resolved: D + HOUR, closed: D + 2 * HOUR, satisfaction: 'basic' },
    // t10: 20 days ago, closed on time: outside 7d, inside 30d.
    { name: 't10', grid: home, status: 'closed', worker: w, received: T0 - 20 * DAY, registered: T0 - 20 * DAY + 5 * MIN, dispatched: T0 - 20 * DAY + 10 * MIN, accepted: T0 - 20 * DAY + 15 * MIN, resolved: T0 - 20 * DAY + HOUR, closed: T0 - 19.5 * DAY },
  ];
}

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-stats-kpis-'));
  app = await buildTestApp(db, { clock, config: { dataDir } });
  await app.ready();
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  as = {
    admin: await login(app, 'admin'),
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
  };
  const gridOf = async (where: ReturnType<typeof sql>) => (await db.query<Grid>(sql`
    SELECT g.code, g.path, split_part(g.path, '/', 3) AS street, split_part(g.path, '/', 2) AS district, split_part(g.path, '/', 4) AS community,
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM regions g WHERE ${where}`)).rows[0]!;
  workerId = Number((await db.query<{ id: number }>(sql`SELECT worker_id AS id FROM users WHERE username = 'worker'`)).rows[0]!.id);
  home = await gridOf(sql`g.code = (SELECT home_grid_code FROM workers WHERE id = ${workerId})`);
  away = await gridOf(sql`g.level = 'grid' AND g.path NOT LIKE ${`%/${home.street}/%`} ORDER BY g.code LIMIT 1`);
  otherWorkerId = Number((await db.query<{ id: number }>(sql`
    SELECT id FROM workers WHERE home_grid_code = ${away.code} AND role <> 'party_member' ORDER BY id LIMIT 1`)).rows[0]!.id);
  for (const f of fixtures()) await insert(f);
  // Fixes: the worker online (1 min ago); a colleague of the same grid on shift but silent for 2 h;
  // nobody else has a fix today.
  await db.query(sql`DELETE FROM worker_positions_latest`);
  const colleague = Number((await db.query<{ id: number }>(sql`
    SELECT id FROM workers WHERE home_grid_code = ${home.code} AND id <> ${workerId} AND role <> 'party_member' ORDER BY id LIMIT 1`)).rows[0]!.id);
  for (const [id, t] of [[workerId, T0 - MIN], [colleague, T0 - 2 * HOUR]] as const) {
    await db.query(sql`
      INSERT INTO worker_positions_latest (worker_id, recorded_at, received_at, geom)
      VALUES (${id}, ${at(t)}::timestamptz, ${at(t)}::timestamptz, ST_SetSRID(ST_MakePoint(${home.lon}, ${home.lat}), 4326))`);
  }
  // Patrol: two micro-grids of the home grid visited on one day, one of them twice that day.
  microGrids = (await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'micro_grid' AND path LIKE ${home.path + '%'} ORDER BY code`)).rows.map((r) => r.code);
  for (const [mg, h] of [[microGrids[0]!, 0], [microGrids[0]!, 1], [microGrids[1]!, 1]] as const) {
    await db.query(sql`
      INSERT INTO patrol_visits (worker_id, hour_start, day, micro_grid_code)
      VALUES (${workerId}, ${at(D + h * HOUR)}::timestamptz, ${'2026-11-19'}::date, ${mg})`);
  }
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const get = (url: string, headers: Headers) => app.inject({ method: 'GET', url, headers });
async function kpis(query: string, headers: Headers = as.leader): Promise<KpiList> {
  const res = await get(`/api/stats/kpis?${query}`, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as KpiList;
}
const r = (num: number, den: number) => ({ num, den, rate: den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null });

describe('KPIs on hand-counted tickets', () => {
  it('counts the district for 7 days: 应结案 excludes not-yet-due and cancelled, includes reopened by its new deadline', async () => {
    const [district] = await kpis('window=7d&level=district');
    expect(district!.code).toBe(home.district);
    const v = district!.values;
    // 应结案: t1 t2 t3 t7 t8 t9 (t4 not yet due, t5 cancelled, t6 reopened and due tomorrow, t10 outside).
    expect(v.closedOnTimeRate).toEqual(r(3, 6)); // t1 t7 t9
    expect(v.closeRate).toEqual(r(4, 6)); // + t2 (late)
    expect(v.overdue).toEqual(r(3, 6)); // t2 late, t3 and t8 open past due
    expect(v.registeredOnTimeRate).toEqual(r(7, 8)); // t2 late; t4 and t6 count (registered in the window)
    expect(v.dispatchedOnTimeRate).toEqual(r(6, 7)); // t2 late
    expect(v.handledOnTimeRate).toEqual(r(4, 5)); // t1 t6 t7 t9 on time, t2 late
    expect(v.reworkRate).toEqual(r(1, 4)); // t7 of t1 t2 t7 t9 (t6 reworked but not closed again)
    expect(v.satisfactionRate).toEqual(r(2, 3)); // 满意 t1 + 基本满意 t9 of 3 rated
    expect(v.received).toBe(9);
    expect(v.overdueOpenNow).toBe(4); // t3 t4 t6 (stage overdue) t8
    expect(v.onlineRate).toEqual(r(1, 2));
    // Durations, percentile_cont: accept [5,5,5,5,5,5,5,30], dispatch [3,5,5,5,5,5,20], response [1,5,5,5,10], handle [45,45,51,105,300].
    expect(v.acceptDuration).toEqual({ n: 8, medianMin: 5, p90Min: 12.5 });
    expect(v.dispatchDuration).toEqual({ n: 7, medianMin: 5, p90Min: 11 });
    expect(v.responseDuration).toEqual({ n: 5, medianMin: 5, p90Min: 8 });
    expect(v.handleDuration).toEqual({ n: 5, medianMin: 51, p90Min: 222 });
  });

  it('adds the streets’ numerators and denominators up to the district’s, ranked by 按期结案率', async () => {
    const [district] = await kpis('window=7d&level=district');
    const streets = await kpis('window=7d&level=street');
    expect(streets.length).toBeGreaterThan(2);
    const sum = (k: keyof KpiValues) => streets.reduce(
      (s, row) => ({ num: s.num + (row.values[k] as { num: number }).num, den: s.den + (row.values[k] as { den: number }).den }), { num: 0, den: 0 });
    for (const k of ['closedOnTimeRate', 'closeRate', 'overdue', 'registeredOnTimeRate', 'dispatchedOnTimeRate', 'handledOnTimeRate', 'reworkRate', 'satisfactionRate', 'onlineRate', 'patrolCoverage'] as const) {
      const d = district!.values[k];
      expect(sum(k), k).toEqual({ num: d.num, den: d.den });
    }
    // Streets and communities come from the daily rollups, grids from the tickets: the same counts (workers hold only assigned tickets).
    for (const [parent, level] of [[home.street, 'community'], [home.street, 'grid']] as const) {
      const rows = await kpis(`window=7d&level=${level}&parent=${parent}`);
      const street = streets.find((s) => s.code === home.street)!;
      for (const k of ['closedOnTimeRate', 'registeredOnTimeRate', 'dispatchedOnTimeRate', 'handledOnTimeRate', 'reworkRate', 'satisfactionRate'] as const) {
        const sum = rows.reduce((a, row) => ({ num: a.num + row.values[k].num, den: a.den + row.values[k].den }), { num: 0, den: 0 });
        expect(sum, `${level} ${k}`).toEqual({ num: street.values[k].num, den: street.values[k].den });
      }
    }
    const mine = streets.find((s) => s.code === home.street)!;
    const other = streets.find((s) => s.code === away.street)!;
    expect(mine.values.closedOnTimeRate).toEqual(r(2, 4)); // t1 t7 of t1 t2 t3 t7
    expect(other.values.closedOnTimeRate).toEqual(r(1, 2)); // t9 of t8 t9 (the department referral stays with its street)
    expect(streets.map((s) => s.rank)).toEqual(streets.map((_, i) => i + 1));
    // Streets with a rate first (best first), the rest after.
    const rates = streets.map((s) => s.values.closedOnTimeRate.rate);
    const firstNull = rates.indexOf(null);
    expect(rates.slice(firstNull === -1 ? rates.length : firstNull).every((x) => x === null)).toBe(true);
  });

  it('drills down to the grid and the worker; a department referral has no worker', async () => {
    const grids = await kpis(`window=7d&level=grid&parent=${home.community}`);
    const g = grids.find((x) => x.code === home.code)!;
    expect(g.values.closedOnTimeRate).toEqual(r(2, 4));
    // Coverage: 2 micro-grid-days of (micro-grids × the 7 Shanghai days of the window).
    expect(g.values.patrolCoverage).toEqual(r(2, microGrids.length * 7));
    const workers = await kpis(`window=7d&level=worker&parent=${home.code}`);
    const me = workers.find((x) => x.code === String(workerId))!;
    expect(me.values.closedOnTimeRate).toEqual(r(2, 4)); // t1 t2 t3 t7 are theirs
    expect(me.values.onlineRate).toEqual(r(1, 1));
    expect(me.values.patrolCoverage).toEqual(r(2, microGrids.length * 7));
    const away7 = await kpis(`window=7d&level=worker&parent=${away.code}`);
    expect(away7.find((x) => x.code === String(otherWorkerId))!.values.closedOnTimeRate).toEqual(r(1, 1)); // t9; t8 has no worker
  });

  it('takes the windows in Asia/Shanghai: today, 30d, month and from/to dates', async () => {
    const [today] = await kpis('window=today&level=district');
    expect(today!.values.received).toBe(1); // t4
    expect(today!.values.closedOnTimeRate).toEqual(r(0, 0));
    const [d30] = await kpis('window=30d&level=district');
    expect(d30!.values.closedOnTimeRate).toEqual(r(4, 7)); // + t10
    // 19 Nov (Shanghai) is D's day: received t1 t2 t3 t5 t6 t7 t8 t9; 应结案 by 19 Nov 23:59:59 — only those closed that day: t1 t7 t9.
    const [day] = await kpis('from=2026-11-19&to=2026-11-19&level=district');
    expect(day!.values.received).toBe(8);
    expect(day!.values.closedOnTimeRate).toEqual(r(3, 3));
    const [month] = await kpis('window=month&level=district');
    expect(month!.values.closedOnTimeRate).toEqual(r(4, 7));
    expect((await get('/api/stats/kpis?from=2026-11-20&to=2026-11-19', as.leader)).statusCode).toBe(400);
    expect((await get('/api/stats/kpis?from=2025-01-01&to=2026-11-19', as.leader)).statusCode).toBe(400);
  });

  it('keeps a street dispatcher inside their street', async () => {
    const rows = await kpis('window=7d&level=street', as.dispatcher);
    expect(rows.map((x) => x.code)).toEqual([home.street]);
    expect(rows[0]!.values.closedOnTimeRate).toEqual(r(2, 4));
    const grids = await kpis('window=7d&level=grid', as.dispatcher);
    expect(grids.length).toBeGreaterThan(0);
    expect(grids.some((x) => x.code === away.code)).toBe(false);
    expect((await get(`/api/stats/kpis?level=street&parent=${home.district}`, as.dispatcher)).json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await get(`/api/stats/kpis?level=grid&parent=${away.street}`, as.dispatcher)).statusCode).toBe(404);
    expect((await get('/api/stats/kpis?level=district', as.dispatcher)).statusCode).toBe(400);
    expect((await get('/api/stats/kpis', as.worker)).statusCode).toBe(403);
    expect((await get('/api/stats/assessment', as.worker)).statusCode).toBe(403);
  });
});

describe('exports', () => {
  it('downloads the KPI table as .xlsx with Chinese headers and as CSV with a BOM', async () => {
    const x = await get('/api/stats/kpis?window=7d&level=street&format=xlsx', as.leader);
    expect(x.statusCode).toBe(200);
    expect(x.headers['content-type']).toContain('spreadsheetml');
    expect(String(x.headers['content-disposition'])).toMatch(/^attachment; filename="[^"]+\.xlsx"; filename\*=UTF-8''%E6%8C%87%E6%A0%87-/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.rawPayload as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0]!;
    expect(sheet.getCell('C1').value).toBe('街道');
    expect(sheet.getCell('D1').value).toBe('按期结案率');
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    const streets = await kpis('window=7d&level=street');
    expect(sheet.rowCount).toBe(streets.length + 1);
    expect(sheet.getCell('B2').value).toBe(streets[0]!.code);
    const c = await get('/api/stats/kpis?window=7d&level=street&format=csv', as.leader);
    expect(c.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect([...c.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(c.rawPayload.subarray(3).toString('utf8').split('\r\n')[0]).toMatch(/^排名,编码,街道,按期结案率,/);
  });
});

describe('grid assessment', () => {
  it('scores grids from the admin’s weights, ranks them and exports the month', async () => {
    const res = await get(`/api/stats/assessment?month=2026-11&parent=${home.community}`, as.leader);
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json() as Assessment;
    expect(a.month).toBe('2026-11');
    expect(a.rows.map((x) => x.rank)).toEqual(a.rows.map((_, i) => i + 1));
    const g = a.rows.find((x) => x.code === home.code)!;
    expect(g.indicators.closedOnTimeRate).toMatchObject({ value: 0.6, num: 3, den: 5 }); // t1 t7 t10 of t1 t2 t3 t7 t10
    expect(g.indicators.reworkRate).toMatchObject({ value: 0.25, points: 75 });

    // Only 按期结案率 (weight 1): the score is its percentage.
    const put = (weights: AssessmentWeight[], headers = as.admin) =>
      app.inject({ method: 'PUT', url: '/api/stats/assessment/weights', headers, payload: weights });
    expect((await put([{ indicator: 'closedOnTimeRate', weight: 1, higherBetter: true, target: null }], as.leader)).statusCode).toBe(403);
    expect((await put([{ indicator: 'reportCount', weight: 1, higherBetter: true, target: null }])).statusCode).toBe(400);
    const saved = await put([{ indicator: 'closedOnTimeRate', weight: 1, higherBetter: true, target: null }]);
    expect(saved.statusCode, saved.body).toBe(200);
    const b = (await get(`/api/stats/assessment?month=2026-11&parent=${home.community}`, as.leader)).json() as Assessment;
    expect(b.rows.find((x) => x.code === home.code)!.score).toBe(60);
    expect(b.rows[0]!.score).toBeGreaterThanOrEqual(b.rows.at(-1)!.score ?? 0);

    const x = await get(`/api/stats/assessment?month=2026-11&parent=${home.community}&format=xlsx`, as.leader);
    expect(x.statusCode).toBe(200);
    expect(String(x.headers['content-disposition'])).toContain(`filename*=UTF-8''${encodeURIComponent('网格考核-2026-11.xlsx')}`);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.rawPayload as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0]!;
    expect(sheet.name).toBe('网格考核 2026-11');
    expect(sheet.getRow(1).values).toEqual([undefined, '排名', '编码', '网格', '所属社区', '综合得分', '按期结案率(权重1)', '按期结案率得分']);
    expect(sheet.rowCount).toBe(b.rows.length + 1);
    const csv = await get(`/api/stats/assessment?month=2026-11&parent=${home.community}&format=csv`, as.leader);
    expect([...csv.rawPayload.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});

describe('回访 on closing', () => {
  it('stores the rating given with close and refuses it with another action', async () => {
    const created = await app.inject({
      method: 'POST', url: '/api/tickets', headers: as.operator,
      payload: { category: 'safety.fire', urgency: 'immediate', lon: home.lon, lat: home.lat, description: '回访测试' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as { id: number }).id;
    const act = (headers: Headers, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });
    expect((await act(as.operator, { action: 'register', satisfaction: 'satisfied' })).statusCode).toBe(400);
    for (const [h, body] of [
      [as.operator, { action: 'register' }], [as.operator, { action: 'dispatch', workerId }], [as.worker, { action: 'accept' }],
      [as.worker, { action: 'start' }], [as.worker, { action: 'resolve' }], [as.operator, { action: 'verify' }],
    ] as const) expect((await act(h, body)).statusCode).toBe(200);
    expect((await act(as.leader, { action: 'close', satisfaction: 'meh' })).statusCode).toBe(400);
    expect((await act(as.leader, { action: 'close', satisfaction: 'basic' })).statusCode).toBe(200);
    const { rows } = await db.query<{ satisfaction: string }>(sql`SELECT satisfaction FROM tickets WHERE id = ${id}`);
    expect(rows[0]!.satisfaction).toBe('basic');
    const [today] = await kpis('window=today&level=district');
    expect(today!.values.satisfactionRate).toEqual(r(1, 1));
  });
});
