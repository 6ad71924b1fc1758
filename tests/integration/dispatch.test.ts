import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { loadConfig } from '../../server/platform/config';
import { findUserById } from '../../server/modules/auth/repository';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type {
  DispatchCandidate,
  TaskOffer,
  TaskWithdrawal,
  TicketChange,
  TicketDetail,
  TicketList,
  TicketReoffer,
  TicketReofferMark,
  TicketSummary,
} from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login, token } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

const S = 1000;
const OFFER_TIMEOUT = 180 * S;
const clock = new ManualClock(Date.parse('2026-11-22T02:00:00Z'));
let db: Db;
let app: App;
let base: string;
let dataDir: string;
const sockets: Client[] = [];
let as: Record<'admin' | 'leader' | 'operator' | 'dispatcher' | 'worker', Headers>;

/** The task's point: inside the demo worker's grid (柳巷). */
let task: { lon: number; lat: number; grid: string; gridPath: string; street: string };
/** A worker placed at (east, north) metres from the task, its fix `ageMs` old. */
interface Placed { id: number; device: string; east: number; north: number; ageMs: number }
const placed = new Map<string, Placed>();
/** The demo worker's user id, and the accounts made for other workers' phones. */
const accounts = new Map<number, string>();
const opened: number[] = [];

function at(east: number, north: number): { lon: number; lat: number } {
  const m = 111_320;
  return { lon: task.lon + east / (m * Math.cos((task.lat * Math.PI) / 180)), lat: task.lat + north / m };
}

const W = (name: string): number => placed.get(name)!.id;

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-dispatch-'));
  app = await buildTestApp(db, { clock, config: { dataDir, tickMs: 50 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  // The tests move the clock and sweep themselves; the real-time intervals must not sweep in between.
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  as = {
    admin: await login(app, 'admin'),
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
  };

  const { rows: [me] } = await db.query<{ userId: number; workerId: number; grid: string; gridPath: string; lon: number; lat: number }>(sql`
    SELECT u.id AS "userId", u.worker_id AS "workerId", g.code AS grid, g.path AS "gridPath",
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  const street = `/${me!.gridPath.split('/').slice(1, 3).join('/')}/`;
  task = { lon: me!.lon, lat: me!.lat, grid: me!.grid, gridPath: me!.gridPath, street };
  accounts.set(me!.workerId, 'worker');

  const ids = async (where: ReturnType<typeof sql>, n: number): Promise<number[]> => {
    const { rows } = await db.query<{ id: number }>(sql`
      SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code WHERE ${where} ORDER BY w.id LIMIT ${n}`);
    expect(rows.length, 'the demo district has the workers this test needs').toBe(n);
    return rows.map((r) => r.id);
  };
  const inStreet = sql`g.path LIKE ${`${street}%`}`;
  const [own2] = await ids(sql`w.home_grid_code = ${task.grid} AND w.active AND w.id <> ${me!.workerId}`, 1);
  const [b, c, e, stale, offline, busy] = await ids(sql`${inStreet} AND g.code <> ${task.grid} AND w.active`, 6);
  const [offDuty] = await ids(sql`${inStreet} AND NOT w.active`, 1);
  const [foreign] = await ids(sql`g.path NOT LIKE ${`${street}%`} AND w.active`, 1);

  // The demo worker is responsible for the task's grid but 900 m away; a colleague of the same
  // grid is 1.2 km away. Nearer, other grids of the street; nearest of all, workers who must not be
  // offered anything: a stale fix, offline, busy, off duty, and one of another street.
  const layout: [string, number, number, number, number][] = [
    ['me', me!.workerId, 900, 0, 0],
    ['own2', own2!, 0, 1200, 0],
    ['b', b!, 60, 0, 0],
    ['c', c!, 0, -150, 0],
    ['e', e!, -300, 0, 0],
    ['stale', stale!, 10, 0, 4 * 60 * S],
    ['offline', offline!, 0, 15, 10 * 60 * S],
    ['busy', busy!, 20, 0, 0],
    ['offDuty', offDuty!, 0, 25, 0],
    ['foreign', foreign!, -30, 0, 0],
  ];
  for (const [name, id, east, north, ageMs] of layout) {
    const device = `dispatch-test-${name}`;
    await app.ingest.registerDevice(device, id, 'phone');
    placed.set(name, { id, device, east, north, ageMs });
  }
  await report();

  // Phones: accounts for the workers a test expects an offer on (the demo worker has one).
  for (const name of ['own2', 'b', 'c', 'e', 'busy']) {
    const { rows } = await db.query<{ id: number }>(sql`
      INSERT INTO users (username, display_name, password_hash, role, region_code, worker_id)
      SELECT ${`phone-${name}`}, w.name, '!', 'worker', w.home_grid_code, w.id FROM workers w WHERE w.id = ${W(name)}
      RETURNING id`);
    accounts.set(W(name), app.issueToken((await findUserById(db, rows[0]!.id))!).token);
  }
  accounts.set(me!.workerId, await token(app, 'worker'));

  // The busy worker is at work on another ticket, for the whole file.
  const other = await registered();
  opened.pop();
  await step(as.dispatcher, other.id, { action: 'dispatch', workerId: W('busy') });
  await step({ authorization: `Bearer ${accounts.get(W('busy'))}` }, other.id, { action: 'accept' });
});

afterEach(async () => {
  // Each test leaves every worker it used free again.
  for (const id of opened.splice(0)) {
    const t = await get(id);
    if (['received', 'registered', 'dispatched', 'returned', 'escalated'].includes(t.status)) {
      await step(as.operator, id, { action: 'cancel', reason: '测试结束' });
    }
  }
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every placed phone reports its position now (phones report every few seconds). */
async function report(): Promise<void> {
  clock.advance(S);
  for (const p of placed.values()) {
    const outcome = await app.ingest.submit({ device: p.device, ...at(p.east, p.north), time: clock.now() - p.ageMs });
    expect(outcome.status).toBe('stored');
  }
}

const step = async (headers: Headers, id: number, payload: Record<string, unknown>): Promise<TicketDetail> => {
  const res = await app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });
  expect(res.statusCode, `${String(payload.action)}: ${res.body}`).toBe(200);
  return res.json() as TicketDetail;
};

const get = async (id: number): Promise<TicketDetail> =>
  (await app.inject({ url: `/api/tickets/${id}`, headers: as.operator })).json() as TicketDetail;

async function filed(category = 'safety.fire', where = { lon: task.lon, lat: task.lat }): Promise<TicketSummary> {
  const res = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.operator,
    payload: { category, urgency: 'immediate', ...where, description: '楼道堆放杂物，堵塞消防通道' } });
  expect(res.statusCode, res.body).toBe(201);
  const t = res.json() as TicketSummary;
  opened.push(t.id);
  return t;
}

async function registered(category?: string): Promise<TicketSummary> {
  const t = await filed(category);
  await step(as.dispatcher, t.id, { action: 'register' });
  return t;
}

async function candidates(id: number, headers = as.dispatcher, query = ''): Promise<DispatchCandidate[]> {
  const res = await app.inject({ url: `/api/tickets/${id}/candidates${query}`, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as DispatchCandidate[];
}

interface Listener {
  offers: TaskOffer[];
  withdrawn: TaskWithdrawal[];
  reoffers: TicketReoffer[];
  updates: TicketChange[];
}

/** A real socket.io client: a worker's phone or a dispatcher's dashboard. */
async function listen(bearer: string): Promise<Listener> {
  const socket: Client = connect(base, { auth: { token: bearer }, transports: ['websocket'] });
  sockets.push(socket);
  const l: Listener = { offers: [], withdrawn: [], reoffers: [], updates: [] };
  socket.on('task.offered', (o) => l.offers.push(o));
  socket.on('task.withdrawn', (w) => l.withdrawn.push(w));
  socket.on('ticket.reoffered', (r) => l.reoffers.push(r));
  socket.on('ticket.updated', (c) => l.updates.push(c));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return l;
}
const phone = (name: string) => listen(accounts.get(W(name))!);

async function until<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The desk's queue mark of a ticket as the list API carries it, what a reloaded desk (or a second
 * dispatcher) shows on the row; undefined: no mark. The ticket itself must be listed.
 */
async function listedMark(ticketId: number, headers = as.dispatcher): Promise<TicketReofferMark | undefined> {
  const res = await app.inject({ url: '/api/tickets?open=true&limit=500', headers });
  expect(res.statusCode, res.body).toBe(200);
  const list = res.json() as TicketList;
  expect(list.items.map((t) => t.id)).toContain(ticketId);
  // Only tickets with a mark are carried, each once.
  expect(new Set(list.reoffers.map((m) => m.ticketId)).size).toBe(list.reoffers.length);
  return list.reoffers.find((m) => m.ticketId === ticketId);
}

async function audits(ticketId: number): Promise<{ action: string; userId: number | null; detail: Record<string, unknown> }[]> {
  const { rows } = await db.query<{ action: string; userId: number | null; detail: Record<string, unknown> }>(sql`
    SELECT action, user_id AS "userId", detail FROM audit_log WHERE subject_type = 'ticket' AND subject_id = ${String(ticketId)} ORDER BY id`);
  return rows;
}

const userId = async (username: string): Promise<number> =>
  (await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = ${username}`)).rows[0]!.id;

describe('whom to send (GET /api/tickets/:id/candidates)', () => {
  it('ranks the ticket’s own grid first, then by true ground distance, leaving out stale, offline, busy and off-duty workers — as PostGIS does', async () => {
    const t = await registered();
    const list = await candidates(t.id, as.dispatcher, '?limit=10');
    expect(list.map((c) => c.workerId)).toEqual([W('me'), W('own2'), W('b'), W('c'), W('e')]);
    expect(list.map((c) => c.sameGrid)).toEqual([true, true, false, false, false]);
    expect(list.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5]);
    for (const c of list) {
      expect(c.etaS).toBe(Math.round(c.distanceM / (4 / 3.6)));
      expect(c.openTasks).toBe(0);
      expect(Date.parse(c.fixAt)).toBe(clock.now());
    }

    // The whole rule again in SQL on the real database: on duty, inside the street, a fix of the
    // last 3 minutes that arrived while the phone was online, no open ticket; own grid, then
    // ST_Distance on the spheroid.
    const { rows } = await db.query<{ id: number; name: string; own: boolean; d: number }>(sql`
      SELECT w.id, w.name, g.path = t.grid_path AS own, ST_Distance(p.geom::geography, t.location::geography) AS d
        FROM worker_positions_latest p
        JOIN workers w ON w.id = p.worker_id
        JOIN regions g ON g.code = w.home_grid_code
        JOIN tickets t ON t.id = ${t.id}
       WHERE w.active AND g.path LIKE ${`${task.street}%`}
         AND p.recorded_at >= to_timestamp(${(clock.now() - 3 * 60 * S) / 1000})
         AND p.received_at - p.recorded_at <= interval '5 minutes'
         AND NOT EXISTS (SELECT 1 FROM tickets o WHERE o.assigned_worker_id = w.id AND o.status IN ('dispatched', 'accepted', 'in_progress'))
       ORDER BY own DESC, d, w.id`);
    expect(list.map((c) => [c.workerId, c.name, c.sameGrid])).toEqual(rows.map((r) => [r.id, r.name, r.own]));
    for (const [i, c] of list.entries()) expect(Math.abs(c.distanceM - rows[i]!.d)).toBeLessThan(0.001);
    // The layout is what it says: the excluded ones are the nearest of all.
    expect(rows[2]!.d).toBeGreaterThan(55);
    expect(rows[2]!.d).toBeLessThan(65);

    expect((await candidates(t.id, as.dispatcher, '?limit=2')).map((c) => c.workerId)).toEqual([W('me'), W('own2')]);
    // The district desk's jurisdiction holds the worker of another street 30 m away.
    expect((await candidates(t.id, as.operator)).map((c) => c.workerId)).toEqual([W('me'), W('own2'), W('foreign'), W('b'), W('c'), W('e')]);
  });

  it('follows the live state: a worker who moves, goes stale or takes a task changes the list', async () => {
    const t = await registered();
    expect((await candidates(t.id)).map((c) => c.workerId)).toEqual([W('me'), W('own2'), W('b'), W('c'), W('e')]);
    // Four minutes on: c has walked up to the ticket, and b's phone has said nothing since.
    clock.advance(4 * 60 * S);
    for (const [name, east, north] of [['me', 900, 0], ['own2', 0, 1200], ['c', 0, -5], ['e', -300, 0]] as const) {
      expect((await app.ingest.submit({ device: placed.get(name)!.device, ...at(east, north), time: clock.now() })).status).toBe('stored');
    }
    expect((await candidates(t.id)).map((c) => c.workerId)).toEqual([W('me'), W('own2'), W('c'), W('e')]);
    // Everyone reports again (c back where it was); another ticket sent to own2 makes them busy
    // (one open task at a time by default).
    await report();
    const other = await registered();
    await step(as.dispatcher, other.id, { action: 'dispatch', workerId: W('own2') });
    expect((await candidates(t.id)).map((c) => c.workerId)).toEqual([W('me'), W('b'), W('c'), W('e')]);
  });

  it('only for a ticket the caller may see, only workers inside the caller’s jurisdiction, only for a dispatch desk', async () => {
    const foreignGrid = (await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM workers w JOIN regions g ON g.code = w.home_grid_code WHERE w.id = ${W('foreign')}`)).rows[0]!;
    const away = await filed('safety.fire', foreignGrid);
    const res = await app.inject({ url: `/api/tickets/${away.id}/candidates`, headers: as.dispatcher });
    expect([res.statusCode, res.json().code]).toEqual([404, 'NOT_FOUND']);
    expect((await app.inject({ url: `/api/tickets/${away.id}/candidates`, headers: as.operator })).statusCode).toBe(200);

    const t = await registered();
    expect((await candidates(t.id)).map((c) => c.workerId)).not.toContain(W('foreign'));
    for (const who of [as.worker, as.leader]) {
      const denied = await app.inject({ url: `/api/tickets/${t.id}/candidates`, headers: who });
      expect([denied.statusCode, denied.json().code]).toEqual([403, 'FORBIDDEN']);
    }
    expect((await app.inject({ url: '/api/tickets/99999999/candidates', headers: as.operator })).statusCode).toBe(404);
    for (const q of ['?limit=0', '?limit=51', '?limit=ten', '?near=1']) {
      const bad = await app.inject({ url: `/api/tickets/${t.id}/candidates${q}`, headers: as.dispatcher });
      expect([bad.statusCode, bad.json().code], q).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect((await app.inject({ url: `/api/tickets/${t.id}/candidates` })).statusCode).toBe(401);
  });
});

describe('one click, an offer to the worker’s phone', () => {
  it('dispatching the top candidate records who, why, rank and distance, and offers it live to that worker only', async () => {
    const mine = await phone('me');
    const bPhone = await phone('b');
    const t = await registered();
    const [top] = await candidates(t.id);
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: top!.workerId, reason: '属地网格员' });

    const offer = await until(() => mine.offers.find((o) => o.ticket.id === t.id));
    expect(offer).toMatchObject({
      ticket: { id: t.id, number: t.number, status: 'dispatched', assignedWorker: { id: W('me') }, category: { code: 'safety.fire' } },
      offeredAt: new Date(clock.now()).toISOString(),
      expiresAt: new Date(clock.now() + OFFER_TIMEOUT).toISOString(),
      etaS: top!.etaS,
    });
    expect(offer.distanceM).toBeCloseTo(top!.distanceM, 6);

    const entry = (await get(t.id)).timeline.find((e) => e.kind === 'dispatched')!;
    const recommendation = { rank: 1, sameGrid: true, distanceM: Math.round(top!.distanceM * 10) / 10, etaS: top!.etaS };
    expect(entry).toMatchObject({ actor: { userId: await userId('dispatcher') }, reason: '属地网格员' });
    expect(entry.detail).toMatchObject({ worker: { id: W('me') }, basis: 'recommendation', recommendation });
    const audit = (await audits(t.id)).find((a) => a.action === 'ticket.dispatched')!;
    expect(audit.userId).toBe(await userId('dispatcher'));
    expect(audit.detail).toMatchObject({ reason: '属地网格员', basis: 'recommendation', recommendation, worker: { id: W('me') } });

    // The offer went to the worker's own account only: b's phone, in the same street, saw nothing.
    const later = await registered();
    await step(as.dispatcher, later.id, { action: 'dispatch', workerId: W('b') });
    await until(() => bPhone.offers.find((o) => o.ticket.id === later.id));
    expect(bPhone.offers.map((o) => o.ticket.id)).toEqual([later.id]);
    expect(mine.offers.map((o) => o.ticket.id)).toEqual([t.id]);
  });

  it('a pick from outside the list is recorded as the dispatcher’s own choice, with its distance', async () => {
    const t = await registered();
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: W('stale'), reason: '熟悉该小区' });
    const entry = (await get(t.id)).timeline.find((e) => e.kind === 'dispatched')!;
    expect(entry.detail).toMatchObject({ basis: 'manual', recommendation: null, distanceM: 10 });
  });

  it('accepting answers the offer: nothing is re-offered when its time runs out', async () => {
    const t = await registered();
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: W('me') });
    await step(as.worker, t.id, { action: 'accept' });
    clock.advance(OFFER_TIMEOUT + S);
    await report();
    expect(await app.dispatchOffers.sweep()).toEqual([]);
    expect((await get(t.id))).toMatchObject({ status: 'accepted', assignedWorker: { id: W('me') } });
    // Hand it back so that the next tests find the demo worker free.
    await step(as.worker, t.id, { action: 'return', reason: '需要专业队伍处理' });
  });
});

describe('re-offers', () => {
  it('a decline goes to the next nearest free worker of the dispatcher’s street, and the dispatcher hears of it', async () => {
    const desk = await listen((as.dispatcher.authorization).slice('Bearer '.length));
    const ownPhone = await phone('own2');
    const t = await registered();
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: W('me') });
    const after = await step(as.worker, t.id, { action: 'decline', reason: '正在处理另一起纠纷' });
    // The next of the list: own2, of the ticket's own grid, before b who is nearer.
    expect(after).toMatchObject({ status: 'dispatched', assignedWorker: { id: W('own2') } });

    const notice = await until(() => desk.reoffers.find((r) => r.ticket.id === t.id));
    expect(notice).toMatchObject({
      trigger: 'declined',
      from: { workerId: W('me') },
      to: { workerId: W('own2'), rank: 1 },
      ticket: { status: 'dispatched', assignedWorker: { id: W('own2') } },
      event: { kind: 'reassigned', actor: null },
    });
    await until(() => ownPhone.offers.find((o) => o.ticket.id === t.id));

    const timeline = (await get(t.id)).timeline;
    expect(timeline.map((e) => e.kind)).toEqual(['created', 'registered', 'dispatched', 'declined', 'reassigned']);
    expect(timeline[3]).toMatchObject({ reason: '正在处理另一起纠纷', actor: { userId: await userId('worker') } });
    expect(timeline[4]).toMatchObject({ actor: null, reason: expect.stringContaining('拒单') });
    expect(timeline[4]!.detail).toMatchObject({ auto: true, basis: 'system', reoffer: { trigger: 'declined', from: { workerId: W('me') } }, recommendation: { rank: 1, sameGrid: true } });
    const audit = (await audits(t.id)).map((a) => [a.action, a.userId]);
    expect(audit.slice(-2)).toEqual([['ticket.declined', await userId('worker')], ['ticket.reassigned', null]]);

    // Who declined is not recommended for this ticket again.
    expect((await candidates(t.id)).map((c) => c.workerId)).toEqual([W('b'), W('c'), W('e')]);
    const other = await registered();
    expect((await candidates(other.id)).map((c) => c.workerId)).toContain(W('me'));

    // A desk opened now (a reload, a second dispatcher) marks the row as the live notice did.
    expect(await listedMark(t.id)).toEqual({
      ticketId: t.id, trigger: 'declined', from: notice.from, reason: '正在处理另一起纠纷', at: timeline[3]!.at, to: notice.to,
    });
    expect(notice.at).toBe(timeline[3]!.at);
    expect(await listedMark(other.id)).toBeUndefined();
    // A worker's own list carries no marks.
    const own2Phone = { authorization: `Bearer ${accounts.get(W('own2'))}` };
    expect(((await app.inject({ url: '/api/tickets?mine=true', headers: own2Phone })).json() as TicketList).reoffers).toEqual([]);
    // The mark clears once a worker accepts, and an old decline does not come back when they hand it back.
    await step(own2Phone, t.id, { action: 'accept' });
    expect(await listedMark(t.id)).toBeUndefined();
    await step(own2Phone, t.id, { action: 'return', reason: '测试结束' });
    expect(await listedMark(t.id)).toBeUndefined();
  });

  it('an offer unanswered in time goes to the next worker; the silent one and the dispatcher are told', async () => {
    const desk = await listen((as.dispatcher.authorization).slice('Bearer '.length));
    const bPhone = await phone('b');
    const mine = await phone('me');
    const t = await registered();
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: W('b') });
    await until(() => bPhone.offers.find((o) => o.ticket.id === t.id));

    clock.advance(OFFER_TIMEOUT - 2 * S);
    await report();
    expect(await app.dispatchOffers.sweep()).toEqual([]);
    clock.advance(2 * S);
    await report();
    expect(await app.dispatchOffers.sweep()).toEqual([t.id]);

    expect(await get(t.id)).toMatchObject({ status: 'dispatched', assignedWorker: { id: W('me') } });
    const notice = await until(() => desk.reoffers.find((r) => r.ticket.id === t.id));
    expect(notice).toMatchObject({ trigger: 'timeout', from: { workerId: W('b') }, to: { workerId: W('me'), rank: 1 }, event: { kind: 'reassigned', actor: null } });
    expect(await until(() => bPhone.withdrawn.find((w) => w.ticketId === t.id))).toEqual({ ticketId: t.id, number: t.number, reason: 'timeout' });
    const offer = await until(() => mine.offers.find((o) => o.ticket.id === t.id));
    expect(offer.expiresAt).toBe(new Date(clock.now() + OFFER_TIMEOUT).toISOString());

    const entry = (await get(t.id)).timeline.at(-1)!;
    expect(entry).toMatchObject({ kind: 'reassigned', actor: null, reason: expect.stringContaining('超时') });
    expect(entry.detail).toMatchObject({ previousWorkerId: W('b'), reoffer: { trigger: 'timeout', from: { workerId: W('b') } } });
    const audit = await audits(t.id);
    expect(audit.slice(-2).map((a) => [a.action, a.userId])).toEqual([['dispatch.offer_expired', null], ['ticket.reassigned', null]]);
    expect(audit.at(-2)!.detail).toMatchObject({ workerId: W('b') });
    // A second pass finds nothing more to do.
    expect(await app.dispatchOffers.sweep()).toEqual([]);

    // The row's mark, from the stored offers: b let it run out, the system offered it to me.
    expect(await listedMark(t.id)).toEqual({ ticketId: t.id, trigger: 'timeout', from: notice.from, reason: null, at: notice.at, to: notice.to });
    expect(notice.at).toBe(new Date(clock.now()).toISOString());
    await step(as.worker, t.id, { action: 'accept' });
    expect(await listedMark(t.id)).toBeUndefined();
    await step(as.worker, t.id, { action: 'return', reason: '测试结束' });
  });

  it('when nobody free is left, the ticket stays with the silent worker and the dispatcher is asked to decide', async () => {
    const desk = await listen((as.dispatcher.authorization).slice('Bearer '.length));
    // Everyone of the street but e is busy with another ticket. The worker of another street, 30 m
    // from the ticket, is free: but not the street dispatcher's to send, so not the system's either.
    for (const name of ['me', 'own2', 'b', 'c']) {
      const filler = await registered();
      await step(as.dispatcher, filler.id, { action: 'dispatch', workerId: W(name) });
    }
    const t = await registered();
    await step(as.dispatcher, t.id, { action: 'dispatch', workerId: W('e') });
    clock.advance(OFFER_TIMEOUT);
    await report();
    expect(await app.dispatchOffers.sweep()).toEqual([]);

    const notice = await until(() => desk.reoffers.find((r) => r.ticket.id === t.id));
    expect(notice).toMatchObject({ trigger: 'timeout', from: { workerId: W('e') }, to: null, event: null });
    expect(await get(t.id)).toMatchObject({ status: 'dispatched', assignedWorker: { id: W('e') } });
    expect((await audits(t.id)).slice(-2).map((a) => [a.action, a.userId])).toEqual([['dispatch.offer_expired', null], ['dispatch.no_candidate', null]]);
    expect(await candidates(t.id)).toEqual([]);
    expect(await listedMark(t.id)).toEqual({ ticketId: t.id, trigger: 'timeout', from: notice.from, reason: null, at: notice.at, to: null });
    // Late is still an answer.
    const late = await app.inject({ method: 'POST', url: `/api/tickets/${t.id}/transitions`, headers: { authorization: `Bearer ${accounts.get(W('e'))}` }, payload: { action: 'accept' } });
    expect(late.statusCode, late.body).toBe(200);
    expect(await listedMark(t.id)).toBeUndefined();
    await app.inject({ method: 'POST', url: `/api/tickets/${t.id}/transitions`, headers: { authorization: `Bearer ${accounts.get(W('e'))}` }, payload: { action: 'return', reason: '测试结束' } });
  });
});

describe('auto-dispatch by category', () => {
  it('an administrator turns it on; a registered ticket of that class then goes to the top candidate, by the system', async () => {
    const put = (headers: Headers, code: string, enabled: unknown) =>
      app.inject({ method: 'PUT', url: `/api/ticket-categories/${code}/auto-dispatch`, headers, payload: { enabled } });
    expect((await put(as.dispatcher, 'patrol', true)).statusCode).toBe(403);
    expect((await put(as.admin, 'dragons', true)).statusCode).toBe(404);
    expect((await put(as.admin, 'patrol', 'yes')).statusCode).toBe(400);
    expect((await put(as.admin, 'patrol', true)).statusCode).toBe(204);
    expect((await app.inject({ url: '/api/ticket-categories/auto-dispatch', headers: as.dispatcher })).json()).toEqual(['patrol']);
    const { rows } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'ticket_category.auto_dispatch' AND subject_id = 'patrol' AND user_id = ${await userId('admin')}`);
    expect(rows[0]!.n).toBe(1);

    const mine = await phone('me');
    const t = await registered('patrol.sanitation');
    const now = await get(t.id);
    expect(now).toMatchObject({ status: 'dispatched', assignedWorker: { id: W('me') } });
    expect(now.timeline.map((e) => e.kind)).toEqual(['created', 'registered', 'dispatched']);
    expect(now.timeline[2]).toMatchObject({ actor: null, reason: expect.stringContaining('自动派遣') });
    expect(now.timeline[2]!.detail).toMatchObject({ auto: true, basis: 'system', policy: { category: 'patrol.sanitation' }, recommendation: { rank: 1, sameGrid: true } });
    expect((await audits(t.id)).map((a) => [a.action, a.userId])).toEqual([
      ['ticket.created', await userId('operator')],
      ['ticket.registered', await userId('dispatcher')],
      ['ticket.dispatched', null],
    ]);
    await until(() => mine.offers.find((o) => o.ticket.id === t.id));

    // Other classes wait for a person; and off again means off.
    expect((await get((await registered('safety.gas')).id)).status).toBe('registered');
    expect((await put(as.admin, 'patrol', false)).statusCode).toBe(204);
    expect((await get((await registered('patrol.street_vending')).id)).status).toBe('registered');
  });
});

describe('configuration', () => {
  it('offers time out after 3 minutes unless DISPATCH_OFFER_TIMEOUT_S says otherwise', () => {
    expect(loadConfig({})).toMatchObject({ dispatchOfferTimeoutS: 180, dispatchMaxFixAgeS: 180, dispatchMaxOpenTasks: 1 });
    expect(loadConfig({ DISPATCH_OFFER_TIMEOUT_S: '60', DISPATCH_MAX_OPEN_TASKS: '3' })).toMatchObject({ dispatchOfferTimeoutS: 60, dispatchMaxOpenTasks: 3 });
    expect(() => loadConfig({ DISPATCH_MAX_OPEN_TASKS: '0' })).toThrow(/at least 1/);
  });
});
