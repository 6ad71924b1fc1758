/**
 * Transitions are idempotent: the same request sent many times at once (a double click, a retry
 * after a timeout, a flaky phone) changes the ticket once, records one timeline entry, opens one
 * offer and sends one notice; a dispatch to another worker is still a reassignment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { TaskOffer, TicketDetail, TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login, token } from '../support/app';

type Headers = { authorization: string };
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const N = 20;
let db: Db;
let app: App;
let base: string;
let dataDir: string;
const sockets: Client[] = [];
let as: Record<'operator' | 'dispatcher' | 'leader' | 'worker', Headers>;
/** The demo worker, a point in their grid, and an active colleague of the same street. */
let me: { workerId: number; lon: number; lat: number };
let colleague: number;

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-idempotency-'));
  app = await buildTestApp(db, { config: { dataDir } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop();
  as = {
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    leader: await login(app, 'leader'),
    worker: await login(app, 'worker'),
  };
  const { rows: [mine] } = await db.query<{ workerId: number; lon: number; lat: number; street: string }>(sql`
    SELECT u.worker_id AS "workerId", split_part(g.path, '/', 3) AS street,
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code
     WHERE u.username = 'worker'`);
  me = mine!;
  const { rows: [other] } = await db.query<{ id: number }>(sql`
    SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE g.path LIKE ${`%/${mine!.street}/%`} AND w.active AND w.id <> ${me.workerId} ORDER BY w.id LIMIT 1`);
  colleague = other!.id;
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const act = (headers: Headers, id: number, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });

/** The same request N times at once; every answer, in order sent. */
async function burst(headers: Headers, id: number, payload: Record<string, unknown>): Promise<{ status: number; body: TicketDetail }[]> {
  const answers = await Promise.all(Array.from({ length: N }, () => act(headers, id, payload)));
  return answers.map((r) => ({ status: r.statusCode, body: r.json() as TicketDetail }));
}

async function registered(): Promise<TicketSummary> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/tickets',
    headers: as.operator,
    payload: { category: 'safety.fire', urgency: 'scheduled', lon: me.lon, lat: me.lat, description: '楼道堆放杂物，堵塞消防通道' },
  });
  expect(res.statusCode, res.body).toBe(201);
  const t = res.json() as TicketSummary;
  expect((await act(as.dispatcher, t.id, { action: 'register' })).statusCode).toBe(200);
  return t;
}

async function kinds(id: number): Promise<string[]> {
  const { rows } = await db.query<{ kind: string }>(sql`SELECT kind FROM ticket_events WHERE ticket_id = ${id} ORDER BY id`);
  return rows.map((r) => r.kind);
}

async function audits(id: number): Promise<string[]> {
  const { rows } = await db.query<{ action: string }>(sql`
    SELECT action FROM audit_log WHERE subject_type = 'ticket' AND subject_id = ${String(id)} ORDER BY id`);
  return rows.map((r) => r.action);
}

async function offers(id: number): Promise<{ workerId: number; outcome: string | null }[]> {
  const { rows } = await db.query<{ workerId: number; outcome: string | null }>(sql`
    SELECT worker_id AS "workerId", outcome FROM ticket_offers WHERE ticket_id = ${id} ORDER BY id`);
  return rows;
}

/** The worker's phone, listening for offers. */
async function phone(): Promise<TaskOffer[]> {
  const socket: Client = connect(base, { auth: { token: await token(app, 'worker') }, transports: ['websocket'] });
  sockets.push(socket);
  const seen: TaskOffer[] = [];
  socket.on('task.offered', (o) => seen.push(o));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return seen;
}

const settle = () => new Promise((r) => setTimeout(r, 300));

describe('the same transition many times at once', () => {
  it(`${N} identical dispatches: one dispatched entry, one offer, one notice on the worker’s phone; every answer 200 with the ticket as it stands`, async () => {
    const seen = await phone();
    const t = await registered();
    const answers = await burst(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId });
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(200));
    for (const a of answers) expect(a.body).toMatchObject({ id: t.id, status: 'dispatched', assignedWorker: { id: me.workerId } });
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched']);
    expect(await audits(t.id)).toEqual(['ticket.created', 'ticket.registered', 'ticket.dispatched']);
    expect(await offers(t.id)).toEqual([{ workerId: me.workerId, outcome: null }]);
    await settle();
    expect(seen.filter((o) => o.ticket.id === t.id)).toHaveLength(1);

    // Later, once more (a retry long after): still nothing new.
    const again = await act(as.operator, t.id, { action: 'dispatch', workerId: me.workerId });
    expect(again.statusCode, again.body).toBe(200);
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched']);
    expect(await offers(t.id)).toHaveLength(1);
    await settle();
    expect(seen.filter((o) => o.ticket.id === t.id)).toHaveLength(1);
  });

  it(`the worker’s ${N} accepts, starts and resolves, the desk’s verifies and closes: one entry each`, async () => {
    const t = await registered();
    const held = app.tickets.openTasks(me.workerId);
    expect((await act(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId })).statusCode).toBe(200);
    expect(app.tickets.openTasks(me.workerId)).toBe(held + 1);
    const steps: [Headers, string, string][] = [
      [as.worker, 'accept', 'accepted'],
      [as.worker, 'start', 'in_progress'],
      [as.worker, 'resolve', 'resolved'],
      [as.dispatcher, 'verify', 'verified'],
      [as.dispatcher, 'close', 'closed'],
    ];
    for (const [headers, action, status] of steps) {
      const answers = await burst(headers, t.id, { action });
      expect(answers.map((a) => a.status), action).toEqual(Array(N).fill(200));
      for (const a of answers) expect(a.body.status, action).toBe(status);
    }
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched', 'accepted', 'started', 'resolved', 'verified', 'closed']);
    expect(await audits(t.id)).toEqual(['ticket.created', 'ticket.registered', 'ticket.dispatched', 'ticket.accepted',
      'ticket.started', 'ticket.resolved', 'ticket.verified', 'ticket.closed']);
    expect(await offers(t.id)).toEqual([{ workerId: me.workerId, outcome: 'accepted' }]);
    // The worker's open tasks are back where they were.
    expect(app.tickets.openTasks(me.workerId)).toBe(held);
  });

  it('a repeat after the ticket moved on, or by someone else, gets the machine’s answer and changes nothing', async () => {
    const t = await registered();
    expect((await act(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId })).statusCode).toBe(200);
    expect((await act(as.worker, t.id, { action: 'accept' })).statusCode).toBe(200);
    expect((await act(as.worker, t.id, { action: 'start' })).statusCode).toBe(200);
    // The accept again, once work has started: not allowed now.
    const late = await act(as.worker, t.id, { action: 'accept' });
    expect([late.statusCode, late.json().code]).toEqual([409, 'TICKET_TRANSITION_NOT_ALLOWED']);
    expect((await act(as.worker, t.id, { action: 'resolve' })).statusCode).toBe(200);
    expect((await act(as.dispatcher, t.id, { action: 'verify' })).statusCode).toBe(200);
    // Another desk's verify of what the dispatcher has just verified: not a repeat of theirs.
    const other = await act(as.operator, t.id, { action: 'verify' });
    expect([other.statusCode, other.json().code]).toEqual([409, 'TICKET_TRANSITION_NOT_ALLOWED']);
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched', 'accepted', 'started', 'resolved', 'verified']);
  });

  it(`a dispatch to another worker is a real reassignment, once however often it is sent`, async () => {
    const t = await registered();
    expect((await act(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId })).statusCode).toBe(200);
    const answers = await burst(as.dispatcher, t.id, { action: 'dispatch', workerId: colleague });
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(200));
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched', 'reassigned']);
    expect(await offers(t.id)).toEqual([
      { workerId: me.workerId, outcome: 'withdrawn' },
      { workerId: colleague, outcome: null },
    ]);
    // The worker who holds it accepting does not make the same dispatch a new one.
    const held = await act(as.dispatcher, t.id, { action: 'dispatch', workerId: colleague });
    expect([held.statusCode, held.json().assignedWorker.id]).toEqual([200, colleague]);
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'dispatched', 'reassigned']);
    await act(as.operator, t.id, { action: 'cancel', reason: '测试结束' });
  });

  it(`${N} identical cancels with a reason, and ${N} identical escalations: one entry each`, async () => {
    const t = await registered();
    const cancels = await burst(as.dispatcher, t.id, { action: 'cancel', reason: '重复工单' });
    expect(cancels.map((a) => a.status)).toEqual(Array(N).fill(200));
    expect(await kinds(t.id)).toEqual(['created', 'registered', 'cancelled']);

    const u = await registered();
    const escalations = await burst(as.operator, u.id, { action: 'escalate', departmentCode: 'public_security' });
    expect(escalations.map((a) => `${a.status}`)).toEqual(Array(N).fill('200'));
    expect(await kinds(u.id)).toEqual(['created', 'registered', 'escalated']);
  });
});
