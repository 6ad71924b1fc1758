import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { DEFAULT_DEADLINE_RULES } from '@shared/tickets';
import type { TicketDetail, TicketList, TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Headers = { authorization: string };
interface Place { code: string; lon: number; lat: number }

const T0 = Date.parse('2026-11-22T02:00:00Z');
const clock = new ManualClock(T0);
let db: Db;
let app: App;
let dataDir: string;
let as: Record<'admin' | 'leader' | 'operator' | 'dispatcher' | 'worker', Headers>;
/** The demo worker (柳巷) and their grid; a colleague in 柳巷; a grid and a worker of another street. */
let me: Place & { workerId: number };
let colleague: number;
let reserve: number;
let foreign: Place & { workerId: number };

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-tickets-'));
  app = await buildTestApp(db, { clock, config: { dataDir } });
  // The tests move the clock and sweep themselves; the real-time interval must not sweep in between.
  await app.ready();
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop(); // its real 5 s timer must not race the ManualClock
  as = {
    admin: await login(app, 'admin'),
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
  };
  const { rows: [mine] } = await db.query<Place & { workerId: number; street: string }>(sql`
    SELECT u.worker_id AS "workerId", g.code, split_part(g.path, '/', 3) AS street,
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code
     WHERE u.username = 'worker'`);
  me = mine!;
  const inStreet = (active: boolean) => db.query<{ id: number }>(sql`
    SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE g.path LIKE ${`%/${mine!.street}/%`} AND w.active = ${active} AND w.id <> ${me.workerId} ORDER BY w.id LIMIT 1`);
  colleague = (await inStreet(true)).rows[0]!.id;
  reserve = (await inStreet(false)).rows[0]!.id;
  const { rows: [other] } = await db.query<Place & { workerId: number }>(sql`
    SELECT w.id AS "workerId", g.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE g.path NOT LIKE ${`%/${mine!.street}/%`} AND w.active AND w.role = 'full_time' ORDER BY w.id LIMIT 1`);
  foreign = other!;
});
afterAll(async () => {
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const file = (headers: Headers, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/tickets', headers, payload });
const act = (headers: Headers, id: number, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });

async function newTicket(at: Place = me, extra: Record<string, unknown> = {}, headers = as.operator): Promise<TicketSummary> {
  const res = await file(headers, { category: 'safety.fire', urgency: 'immediate', lon: at.lon, lat: at.lat, description: '楼道堆放杂物，堵塞消防通道', ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as TicketSummary;
}

async function step(headers: Headers, id: number, payload: Record<string, unknown>): Promise<TicketDetail> {
  const res = await act(headers, id, payload);
  expect(res.statusCode, `${String(payload.action)}: ${res.body}`).toBe(200);
  return res.json() as TicketDetail;
}

describe('filing a ticket', () => {
  it('resolves the grid in PostGIS, numbers it by the day and starts the register deadline', async () => {
    const res = await file(as.operator, { category: 'convenience.transport', urgency: 'immediate', lon: me.lon, lat: me.lat, description: '公交站牌损坏' });
    expect(res.statusCode).toBe(201);
    const t = res.json() as TicketSummary;
    expect(t).toMatchObject({
      status: 'received',
      urgency: 'immediate',
      source: 'hotline',
      level: 'grid',
      category: { code: 'convenience.transport', name: '交通出行', parentCode: 'convenience' },
      grid: { code: me.code },
      stage: 'register',
      deadline: new Date(T0 + 10 * 60_000).toISOString(),
      closeDeadline: new Date(T0 + 24 * 3600_000).toISOString(),
      alert: 'ok',
      assignedWorker: null,
    });
    expect(t.number).toMatch(/^GD-20261122-\d{4}$/);
    expect(t.grid.name.length).toBeGreaterThan(0);
    expect(t.location.lon).toBeCloseTo(me.lon, 6);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM audit_log WHERE action = 'ticket.created' AND subject_id = ${String(t.id)}`);
    expect(rows[0]!.n).toBe(1);
  });

  it('numbers consecutively within a day', async () => {
    const a = await newTicket();
    const b = await newTicket();
    const seq = (n: string) => Number(n.slice(-4));
    expect(seq(b.number)).toBe(seq(a.number) + 1);
  });

  it('a grid worker’s report is a patrol report, and carries the worker', async () => {
    const t = await newTicket(me, {}, as.worker);
    expect(t.source).toBe('patrol');
    expect(t.reporter.workerId).toBe(me.workerId);
  });

  it('puts a point on an edge shared by grids in the lowest-coded of them, every time', async () => {
    // A vertex of one grid that other grids touch too (the grids tile their community exactly).
    const { rows } = await db.query<{ lon: number; lat: number; codes: string; n: number }>(sql`
      WITH a AS (SELECT geom FROM regions WHERE level = 'grid' ORDER BY code DESC LIMIT 1 OFFSET 40),
           v AS (SELECT (ST_DumpPoints(a.geom)).geom AS p FROM a)
      SELECT ST_X(v.p) AS lon, ST_Y(v.p) AS lat, string_agg(g.code, ',' ORDER BY g.code) AS codes, count(*) AS n
        FROM v JOIN regions g ON g.level = 'grid' AND ST_Intersects(g.geom, v.p)
       GROUP BY ST_X(v.p), ST_Y(v.p) HAVING count(*) >= 2 ORDER BY ST_X(v.p), ST_Y(v.p) LIMIT 1`);
    const edge = rows[0]!;
    expect(edge.n).toBeGreaterThanOrEqual(2);
    const lowest = edge.codes.split(',')[0]!;
    for (let i = 0; i < 2; i++) {
      const res = await file(as.operator, { category: 'patrol.sanitation', urgency: 'scheduled', lon: edge.lon, lat: edge.lat, description: '边界上的垃圾堆' });
      expect(res.statusCode).toBe(201);
      expect((res.json() as TicketSummary).grid.code).toBe(lowest);
    }
  });

  it('refuses missing and malformed fields with VALIDATION_FAILED', async () => {
    const good = { category: 'safety.fire', urgency: 'immediate', lon: me.lon, lat: me.lat, description: '火情' };
    for (const payload of [
      {},
      { ...good, category: undefined },
      { ...good, urgency: undefined },
      { ...good, lon: undefined },
      { ...good, description: undefined },
      { ...good, description: '' },
      { ...good, urgency: 'whenever' },
      { ...good, lat: 999 },
      { ...good, lon: 'east' },
      { ...good, source: 'rumour' },
      { ...good, extra: 1 },
    ]) {
      const res = await file(as.operator, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('refuses a location outside the district (422) and an unknown category', async () => {
    const beijing = await file(as.operator, { category: 'safety.fire', urgency: 'immediate', lon: 116.397, lat: 39.909, description: '天安门' });
    expect(beijing.statusCode).toBe(422);
    expect(beijing.json().code).toBe('TICKET_OUT_OF_DISTRICT');
    const unknown = await file(as.operator, { category: 'safety.dragons', urgency: 'immediate', lon: me.lon, lat: me.lat, description: '龙' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe('TICKET_CATEGORY_UNKNOWN');
  });

  it('the same clientId again returns the same ticket, never a second one — even sent at once', async () => {
    const payload = { category: 'dispute.neighbour', urgency: 'scheduled', lon: me.lon, lat: me.lat, description: '楼上漏水', clientId: 'phone-7f3a:0001' };
    const first = await file(as.worker, payload);
    expect(first.statusCode).toBe(201);
    const again = await file(as.worker, payload);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    expect(again.json().number).toBe(first.json().number);

    const burst = await Promise.all(Array.from({ length: 5 }, () => file(as.worker, { ...payload, clientId: 'phone-7f3a:0002' })));
    expect(burst.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(burst.map((r) => r.json().id)).size).toBe(1);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM tickets WHERE client_id LIKE 'phone-7f3a:%'`);
    expect(rows[0]!.n).toBe(2);

    // The id is the reporter's own: another reporter using it files their own ticket.
    const other = await file(as.operator, payload);
    expect(other.statusCode).toBe(201);
    expect(other.json().id).not.toBe(first.json().id);
  });
});

describe('the workflow over HTTP', () => {
  it('runs 受理 → 立案 → 派遣 → 接单 → 处置 → 处置完成 → 核查 → 结案, each step on the timeline and in the audit log', async () => {
    const t = await newTicket();
    clock.advance(60_000);
    expect((await step(as.dispatcher, t.id, { action: 'register' })).status).toBe('registered');
    clock.advance(60_000);
    const load = app.tickets.openTasks(me.workerId);
    const dispatched = await step(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId, note: '请尽快到场' });
    expect(dispatched).toMatchObject({ status: 'dispatched', assignedWorker: { id: me.workerId }, stage: 'accept', deadline: new Date(clock.now() + 10 * 60_000).toISOString() });

    // The open-task count a dispatch recommendation reads follows every transition.
    expect(app.tickets.openTasks(me.workerId)).toBe(load + 1);
    const mine = (await app.inject({ url: '/api/tickets?mine=true', headers: as.worker })).json() as TicketList;
    expect(mine.items.map((i) => i.id)).toContain(t.id);
    const view = (await app.inject({ url: `/api/tickets/${t.id}`, headers: as.worker })).json() as TicketDetail;
    expect(view.actions).toEqual(['accept', 'decline']);

    const dispatchedAt = clock.now();
    clock.advance(5 * 60_000);
    const accepted = await step(as.worker, t.id, { action: 'accept' });
    // 立刻办理: resolve within 4 hours of dispatch.
    expect(accepted).toMatchObject({ status: 'accepted', stage: 'resolve', deadline: new Date(dispatchedAt + 4 * 3600_000).toISOString() });
    expect((await step(as.worker, t.id, { action: 'start' })).status).toBe('in_progress');
    expect((await step(as.worker, t.id, { action: 'resolve', note: '杂物已清理' })).status).toBe('resolved');
    expect(app.tickets.openTasks(me.workerId)).toBe(load);
    expect((await step(as.dispatcher, t.id, { action: 'verify' })).status).toBe('verified');
    const closed = await step(as.leader, t.id, { action: 'close' });
    expect(closed).toMatchObject({ status: 'closed', stage: null, deadline: null, alert: 'none' });
    expect(closed.closedAt).not.toBeNull();
    expect(closed.timeline.map((e) => e.kind)).toEqual(['created', 'registered', 'dispatched', 'accepted', 'started', 'resolved', 'verified', 'closed']);
    const dispatch = closed.timeline[2]!;
    expect(dispatch).toMatchObject({ fromStatus: 'registered', toStatus: 'dispatched', note: '请尽快到场', actor: { name: expect.stringContaining('调度员') } });
    expect(dispatch.detail).toMatchObject({ worker: { id: me.workerId } });

    const { rows } = await db.query<{ action: string }>(sql`
      SELECT action FROM audit_log WHERE subject_type = 'ticket' AND subject_id = ${String(t.id)} ORDER BY id`);
    expect(rows.map((r) => r.action)).toEqual(['ticket.created', 'ticket.registered', 'ticket.dispatched', 'ticket.accepted',
      'ticket.started', 'ticket.resolved', 'ticket.verified', 'ticket.closed']);
  });

  it('answers what is not allowed now, or not for this user, with stable codes', async () => {
    const t = await newTicket();
    const cases: [Headers, Record<string, unknown>, number, string][] = [
      [as.worker, { action: 'register' }, 409, 'TICKET_ACTION_FORBIDDEN'],
      [as.leader, { action: 'register' }, 409, 'TICKET_ACTION_FORBIDDEN'],
      [as.dispatcher, { action: 'close' }, 409, 'TICKET_TRANSITION_NOT_ALLOWED'],
      [as.dispatcher, { action: 'accept' }, 409, 'TICKET_TRANSITION_NOT_ALLOWED'],
      [as.dispatcher, { action: 'cancel' }, 400, 'TICKET_REASON_REQUIRED'],
      [as.dispatcher, { action: 'fly' }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [headers, payload, status, code] of cases) {
      const res = await act(headers, t.id, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().code, JSON.stringify(payload)).toBe(code);
    }
    await step(as.dispatcher, t.id, { action: 'register' });
    const noWorker = await act(as.dispatcher, t.id, { action: 'dispatch' });
    expect([noWorker.statusCode, noWorker.json().code]).toEqual([400, 'TICKET_WORKER_REQUIRED']);
    const outsider = await act(as.dispatcher, t.id, { action: 'dispatch', workerId: foreign.workerId });
    expect([outsider.statusCode, outsider.json().code]).toEqual([404, 'NOT_FOUND']);
    const inactive = await act(as.dispatcher, t.id, { action: 'dispatch', workerId: reserve });
    expect([inactive.statusCode, inactive.json().code]).toEqual([409, 'TICKET_WORKER_UNAVAILABLE']);
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: colleague });
    // Only the assigned worker accepts; the demo worker is not them.
    const notMine = await act(as.worker, t.id, { action: 'accept' });
    expect([notMine.statusCode, notMine.json().code]).toEqual([409, 'TICKET_ACTION_FORBIDDEN']);
    // Nothing changed by the refusals.
    const after = (await app.inject({ url: `/api/tickets/${t.id}`, headers: as.operator })).json() as TicketDetail;
    expect(after.timeline.map((e) => e.kind)).toEqual(['created', 'registered', 'dispatched']);
    expect(await app.inject({ method: 'POST', url: '/api/tickets/99999999/transitions', headers: as.operator, payload: { action: 'register' } }))
      .toMatchObject({ statusCode: 404 });
  });

  it('a decline returns it to the desk with the reason; the desk reassigns it', async () => {
    const t = await newTicket();
    await step(as.dispatcher, t.id, { action: 'register' });
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId });
    const bare = await act(as.worker, t.id, { action: 'decline' });
    expect([bare.statusCode, bare.json().code]).toEqual([400, 'TICKET_REASON_REQUIRED']);
    const declined = await step(as.worker, t.id, { action: 'decline', reason: '正在处理另一起紧急事件' });
    expect(declined).toMatchObject({ status: 'returned', assignedWorker: null, stage: 'dispatch' });
    expect(declined.timeline.at(-1)).toMatchObject({ kind: 'declined', reason: '正在处理另一起紧急事件', detail: { previousWorkerId: me.workerId } });
    const reassigned = await step(as.dispatcher, t.id, { action: 'dispatch', workerId: colleague });
    expect(reassigned).toMatchObject({ status: 'dispatched', assignedWorker: { id: colleague } });
    expect(reassigned.timeline.at(-1)!.kind).toBe('reassigned');
    // Taking it from a silent worker is a reassignment too.
    const back = await step(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId });
    expect(back.timeline.at(-1)).toMatchObject({ kind: 'reassigned', detail: { previousWorkerId: colleague, worker: { id: me.workerId } } });
  });

  it('failed verification sends it back to the handler; cancelled and closed tickets reopen with a reason', async () => {
    const t = await newTicket();
    await step(as.dispatcher, t.id, { action: 'register' });
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId });
    for (const action of ['accept', 'start', 'resolve']) await step(as.worker, t.id, { action });
    const rework = await step(as.dispatcher, t.id, { action: 'return', reason: '现场照片显示仍有杂物' });
    expect(rework).toMatchObject({ status: 'in_progress', assignedWorker: { id: me.workerId } });
    expect(rework.timeline.at(-1)!.kind).toBe('rework');

    const u = await newTicket();
    const cancelled = await step(as.operator, u.id, { action: 'cancel', reason: '重复上报' });
    expect(cancelled).toMatchObject({ status: 'cancelled', alert: 'none' });
    expect(cancelled.timeline.at(-1)).toMatchObject({ kind: 'not_registered', reason: '重复上报' });
    const reopened = await step(as.leader, u.id, { action: 'reopen', reason: '群众再次来电' });
    expect(reopened).toMatchObject({ status: 'received', stage: 'register' });
  });

  it('lists by status, category class and overdue', async () => {
    const fire = await newTicket(me, { category: 'safety.fire' });
    const opinion = await newTicket(me, { category: 'opinion.suggestion', urgency: 'long_term' });
    const list = async (q: string) => ((await app.inject({ url: `/api/tickets?${q}`, headers: as.operator })).json() as TicketList);
    const safety = await list('category=safety&limit=500');
    expect(safety.items.map((i) => i.id)).toContain(fire.id);
    expect(safety.items.map((i) => i.id)).not.toContain(opinion.id);
    for (const i of safety.items) expect(i.category.code.startsWith('safety')).toBe(true);
    const received = await list('status=received&limit=500');
    expect(received.total).toBe(received.items.length);
    for (const i of received.items) expect(i.status).toBe('received');

    clock.advance(11 * 60_000); // past the immediate register deadline, not the long-term one
    const overdue = (await list('overdue=true&limit=500')).items.map((i) => i.id);
    expect(overdue).toContain(fire.id);
    expect(overdue).not.toContain(opinion.id);
    const late = (await list('overdue=true&limit=500')).items.find((i) => i.id === fire.id)!;
    expect(late.alert).toBe('red');
    expect((await list('overdue=false&limit=500')).items.map((i) => i.id)).toContain(opinion.id);
    const bad = await app.inject({ url: '/api/tickets?status=lost', headers: as.operator });
    expect(bad.statusCode).toBe(400);
  });
});

describe('photos', () => {
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2048, 7), Buffer.from([0xff, 0xd9])]);
  const upload = (id: number, body: Buffer, type: string, headers = as.worker) =>
    app.inject({ method: 'POST', url: `/api/tickets/${id}/photos`, headers: { ...headers, 'content-type': type }, payload: body });

  it('stores the file outside the database and serves it back only to who may see the ticket', async () => {
    const t = await newTicket(me, {}, as.worker);
    const res = await upload(t.id, jpeg, 'image/jpeg');
    expect(res.statusCode, res.body).toBe(201);
    const photo = res.json() as { id: number; url: string; bytes: number; mime: string };
    expect(photo).toMatchObject({ mime: 'image/jpeg', bytes: jpeg.length });
    const { rows } = await db.query<{ key: string }>(sql`SELECT storage_key AS key FROM ticket_photos WHERE id = ${photo.id}`);
    expect(existsSync(path.join(dataDir, 'photos', rows[0]!.key))).toBe(true);

    const got = await app.inject({ url: photo.url, headers: as.dispatcher });
    expect(got.statusCode).toBe(200);
    expect(got.headers['content-type']).toBe('image/jpeg');
    expect(got.rawPayload.equals(jpeg)).toBe(true);
    const detail = (await app.inject({ url: `/api/tickets/${t.id}`, headers: as.operator })).json() as TicketDetail;
    expect(detail.photoCount).toBe(1);
    expect(detail.photos[0]!.url).toBe(photo.url);
    expect(detail.timeline.at(-1)!.kind).toBe('photo_added');

    // A ticket in another street: its photo does not exist for the 柳巷 dispatcher.
    const away = await newTicket(foreign);
    const theirs = await upload(away.id, jpeg, 'image/jpeg', as.operator);
    expect(theirs.statusCode).toBe(201);
    const denied = await app.inject({ url: (theirs.json() as { url: string }).url, headers: as.dispatcher });
    expect(denied.statusCode).toBe(404);
    expect((await upload(away.id, jpeg, 'image/jpeg', as.dispatcher)).statusCode).toBe(404);
    expect((await app.inject({ url: photo.url })).statusCode).toBe(401);
  });

  it('refuses 20 MB (413), a file that is not an image (415) and an image that lies about its type (415)', async () => {
    const t = await newTicket(me, {}, as.worker);
    const huge = Buffer.concat([jpeg.subarray(0, 4), Buffer.alloc(20 * 1024 * 1024)]);
    const big = await upload(t.id, huge, 'image/jpeg');
    expect([big.statusCode, big.json().code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const pdf = Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\n');
    const asPdf = await upload(t.id, pdf, 'application/pdf');
    expect([asPdf.statusCode, asPdf.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const disguised = await upload(t.id, pdf, 'image/jpeg');
    expect([disguised.statusCode, disguised.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const mislabelled = await upload(t.id, png, 'image/webp');
    expect([mislabelled.statusCode, mislabelled.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const json = await app.inject({ method: 'POST', url: `/api/tickets/${t.id}/photos`, headers: as.worker, payload: { photo: 'base64…' } });
    expect(json.statusCode).toBe(415);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM ticket_photos WHERE ticket_id = ${t.id}`);
    expect(rows[0]!.n).toBe(0);
    expect((await upload(t.id, png, 'image/png')).statusCode).toBe(201);
  });
});

describe('categories, departments and deadlines are data', () => {
  it('seeds the five classes with sub-categories by domain, and the 13 departments', async () => {
    const cats = (await app.inject({ url: '/api/ticket-categories', headers: as.worker })).json() as { code: string; name: string; parentCode: string | null }[];
    expect(cats.filter((c) => c.parentCode === null).map((c) => c.name)).toEqual(['便民惠企服务', '安全隐患排查', '社情民意收集', '矛盾纠纷化解', '重点巡查事项']);
    const domains = cats.filter((c) => c.parentCode === 'convenience').map((c) => c.name);
    expect(domains).toEqual(expect.arrayContaining(['城市建设', '住房保障', '市政管理', '交通出行']));
    const deps = (await app.inject({ url: '/api/departments', headers: as.worker })).json() as { name: string }[];
    expect(deps.map((d) => d.name)).toEqual(['公安', '检察', '法院', '司法', '人社', '信访', '城管', '住建', '市政', '交通', '应急', '卫健', '民政']);
    const rules = (await app.inject({ url: '/api/ticket-deadlines', headers: as.worker })).json();
    expect(rules).toEqual(DEFAULT_DEADLINE_RULES);
  });

  it('an administrator adds, renames and retires categories; nobody else may', async () => {
    const put = (headers: Headers, code: string, payload: Record<string, unknown>) =>
      app.inject({ method: 'PUT', url: `/api/ticket-categories/${code}`, headers, payload });
    expect((await put(as.operator, 'safety.elevator', { name: '电梯安全', parentCode: 'safety' })).statusCode).toBe(403);
    expect((await put(as.admin, 'safety.elevator', { name: '电梯安全', parentCode: 'safety', departmentCode: 'emergency' })).statusCode).toBe(204);
    const t = await newTicket(me, { category: 'safety.elevator' });
    expect(t.category).toEqual({ code: 'safety.elevator', name: '电梯安全', parentCode: 'safety' });
    expect((await put(as.admin, 'safety.elevator', { name: '电梯困人', parentCode: 'safety', active: false })).statusCode).toBe(204);
    const retired = await file(as.operator, { category: 'safety.elevator', urgency: 'immediate', lon: me.lon, lat: me.lat, description: '电梯困人' });
    expect(retired.json().code).toBe('TICKET_CATEGORY_UNKNOWN');
    // Existing tickets keep their category (renamed).
    const again = (await app.inject({ url: `/api/tickets/${t.id}`, headers: as.operator })).json() as TicketDetail;
    expect(again.category.name).toBe('电梯困人');
    expect((await put(as.admin, 'safety.x', { name: 'x', parentCode: 'nowhere' })).json().code).toBe('TICKET_CATEGORY_UNKNOWN');
    expect((await put(as.admin, 'roads.x', { name: 'x', parentCode: 'safety' })).json().code).toBe('VALIDATION_FAILED');
    expect((await put(as.admin, 'safety.y', { name: 'y', parentCode: 'safety', departmentCode: 'ministry_of_magic' })).json().code).toBe('TICKET_DEPARTMENT_UNKNOWN');
  });
});

describe('API documentation', () => {
  it('publishes the ticket endpoints in the OpenAPI document', async () => {
    const res = await app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys((res.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(expect.arrayContaining([
      '/api/tickets', '/api/tickets/{id}', '/api/tickets/{id}/transitions', '/api/tickets/{id}/department-replies',
      '/api/tickets/{id}/photos', '/api/tickets/{id}/photos/{photoId}', '/api/ticket-categories', '/api/departments', '/api/ticket-deadlines',
    ]));
  });
});
