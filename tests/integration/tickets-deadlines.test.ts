import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { TicketDetail, TicketEscalationNotice, TicketList, TicketSummary } from '@shared/tickets-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login, token } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

const MIN = 60_000;
const clock = new ManualClock(Date.parse('2026-11-22T02:00:00Z'));
let db: Db;
let app: App;
let base: string;
let dataDir: string;
const sockets: Client[] = [];
let as: Record<'operator' | 'dispatcher' | 'worker', Headers>;
let me: { workerId: number; lon: number; lat: number; gridPath: string };

beforeAll(async () => {
  db = await createTestDb();
  dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-tickets-'));
  app = await buildTestApp(db, { clock, config: { dataDir } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  // The tests move the clock and sweep themselves; the real-time interval must not sweep in between.
  await app.ready();
  await app.ticketDeadlines.stop();
  await app.dispatchOffers.stop(); // its real 5 s timer must not race the ManualClock
  as = { operator: await login(app, 'operator'), dispatcher: await login(app, 'dispatcher'), worker: await login(app, 'worker') };
  const { rows } = await db.query<typeof me>(sql`
    SELECT u.worker_id AS "workerId", g.path AS "gridPath", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  me = rows[0]!;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function dashboard(username: string): Promise<{ notices: TicketEscalationNotice[] }> {
  const socket: Client = connect(base, { auth: { token: await token(app, username) }, transports: ['websocket'] });
  sockets.push(socket);
  const notices: TicketEscalationNotice[] = [];
  socket.on('ticket.escalated', (n) => notices.push(n));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return { notices };
}

async function until<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const step = async (headers: Headers, id: number, payload: Record<string, unknown>): Promise<TicketDetail> => {
  const res = await app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });
  expect(res.statusCode, `${String(payload.action)}: ${res.body}`).toBe(200);
  return res.json() as TicketDetail;
};
const get = async (id: number): Promise<TicketDetail> =>
  (await app.inject({ url: `/api/tickets/${id}`, headers: as.operator })).json() as TicketDetail;

async function dispatchedTicket(category = 'safety.fire'): Promise<TicketSummary> {
  const res = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.operator,
    payload: { category, urgency: 'immediate', lon: me.lon, lat: me.lat, description: '小区配电箱冒烟' } });
  const t = res.json() as TicketSummary;
  await step(as.dispatcher, t.id, { action: 'register' });
  await step(as.dispatcher, t.id, { action: 'dispatch', workerId: me.workerId });
  return t;
}

describe('deadlines against the clock', () => {
  it('turns amber at 80 % of the accept window and red past it', async () => {
    const t = await dispatchedTicket();
    expect((await get(t.id)).alert).toBe('ok');
    clock.advance(8 * MIN - 1000);
    expect((await get(t.id)).alert).toBe('ok');
    clock.advance(1000);
    expect((await get(t.id)).alert).toBe('amber');
    clock.advance(2 * MIN + 1000);
    const late = await get(t.id);
    expect(late.alert).toBe('red');
    const overdue = (await app.inject({ url: '/api/tickets?overdue=true', headers: as.dispatcher })).json() as TicketList;
    expect(overdue.items.map((i) => i.id)).toContain(t.id);
    // Accepting late is still accepting; the resolve window counts from dispatch.
    await step(as.worker, t.id, { action: 'accept' });
    expect((await get(t.id)).alert).toBe('ok');
  });
});

describe('escalation of overdue stages (中心吹哨、部门报到)', () => {
  it('climbs grid → community → street → district → department, one level per overdue stage, with a notice to the level above', async () => {
    const street = await dashboard('dispatcher');
    const district = await dashboard('operator');
    // Tickets of earlier tests climb to the top of the ladder first, so each sweep below is about this one.
    clock.advance(24 * 60 * MIN);
    for (let i = 0; i < 6; i++) {
      await app.ticketDeadlines.sweep();
      clock.advance(24 * 60 * MIN);
    }
    const t = await dispatchedTicket('safety.gas');
    const [, districtCode, streetCode, communityCode] = me.gridPath.split('/');

    expect(await app.ticketDeadlines.sweep()).toEqual([]);
    clock.advance(10 * MIN + 1000); // the worker did not accept in 10 minutes
    expect(await app.ticketDeadlines.sweep()).toEqual([t.id]);
    let now = await get(t.id);
    expect(now).toMatchObject({ status: 'escalated', level: 'community', assignedWorker: null, stage: 'dispatch' });
    const auto = now.timeline.at(-1)!;
    expect(auto).toMatchObject({ kind: 'escalated', actor: null, fromStatus: 'dispatched', toStatus: 'escalated' });
    expect(auto.detail).toMatchObject({ auto: true, overdueStage: 'accept', fromLevel: 'grid', toLevel: 'community', previousWorkerId: me.workerId });
    expect(auto.reason).toContain('接单超时');

    const notice = await until(() => street.notices.find((n) => n.ticket.id === t.id));
    expect(notice).toMatchObject({ fromLevel: 'grid', toLevel: 'community', overdueStage: 'accept', target: { level: 'community', regionCode: communityCode } });
    expect(notice.target.regionName.length).toBeGreaterThan(0);
    await until(() => district.notices.find((n) => n.ticket.id === t.id));

    // Swept again at once: the community's own dispatch window has just begun.
    expect(await app.ticketDeadlines.sweep()).toEqual([]);
    clock.advance(10 * MIN + 1000);
    expect(await app.ticketDeadlines.sweep()).toEqual([t.id]);
    expect((await get(t.id)).level).toBe('street');
    expect((await until(() => street.notices.find((n) => n.toLevel === 'street'))).target.regionCode).toBe(streetCode);

    clock.advance(10 * MIN + 1000);
    expect(await app.ticketDeadlines.sweep()).toEqual([t.id]);
    expect((await get(t.id)).level).toBe('district');
    // Above the street now: its dispatcher still sees it but can no longer act on it.
    const refused = await app.inject({ method: 'POST', url: `/api/tickets/${t.id}/transitions`, headers: as.dispatcher, payload: { action: 'dispatch', workerId: me.workerId } });
    expect([refused.statusCode, refused.json().code]).toEqual([409, 'TICKET_ACTION_FORBIDDEN']);

    clock.advance(10 * MIN + 1000);
    expect(await app.ticketDeadlines.sweep()).toEqual([t.id]);
    now = await get(t.id);
    // 燃气安全 goes to 市政 by its category.
    expect(now).toMatchObject({ level: 'department', department: { code: 'municipal', name: '市政' }, status: 'escalated' });
    const toDepartment = await until(() => district.notices.find((n) => n.ticket.id === t.id && n.toLevel === 'department'));
    expect(toDepartment).toMatchObject({ target: { level: 'department', regionCode: districtCode }, department: { code: 'municipal' } });

    // The top of the ladder: late stays late (red), nothing further to escalate to.
    clock.advance(60 * MIN);
    expect(await app.ticketDeadlines.sweep()).toEqual([]);
    expect((await get(t.id)).alert).toBe('red');
    const manual = await app.inject({ method: 'POST', url: `/api/tickets/${t.id}/transitions`, headers: as.operator, payload: { action: 'escalate' } });
    expect([manual.statusCode, manual.json().code]).toEqual([409, 'TICKET_ESCALATION_EXHAUSTED']);

    const { rows } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'ticket.escalated' AND subject_id = ${String(t.id)} AND user_id IS NULL`);
    expect(rows[0]!.n).toBe(4);
  });

  it('the department replies with the four things; the centre relays its progress to 结案', async () => {
    const t = await dispatchedTicket('dispute.labour');
    await step(as.operator, t.id, { action: 'escalate', reason: '欠薪涉及多户，需部门处理' }); // district desk → department
    const escalated = await get(t.id);
    expect(escalated).toMatchObject({ level: 'department', department: { code: 'hr_social' } });

    const reply = (headers: Headers, payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: `/api/tickets/${t.id}/department-replies`, headers, payload });
    const acceptedAt = new Date(clock.now()).toISOString();
    const dueBy = new Date(clock.now() + 3 * 24 * 60 * MIN).toISOString();
    const four = { acceptedAt, contacted: '已联系施工方负责人张某及12名工人代表', actions: '约谈施工方，核对欠薪名单', dueBy };
    const missing = await reply(as.operator, { acceptedAt, actions: four.actions, dueBy });
    expect([missing.statusCode, missing.json().code]).toEqual([400, 'VALIDATION_FAILED']);
    const backwards = await reply(as.operator, { ...four, dueBy: acceptedAt, acceptedAt: dueBy });
    expect(backwards.statusCode).toBe(400);
    const street = await reply(as.dispatcher, four);
    expect([street.statusCode, street.json().code]).toEqual([409, 'TICKET_ACTION_FORBIDDEN']);

    const ok = await reply(as.operator, four);
    expect(ok.statusCode, ok.body).toBe(200);
    const handled = ok.json() as TicketDetail;
    expect(handled).toMatchObject({ status: 'in_progress', stage: 'resolve', deadline: dueBy });
    expect(handled.departmentReplies).toEqual([expect.objectContaining({
      department: { code: 'hr_social', name: '人社' }, acceptedAt, contacted: four.contacted, actions: four.actions, dueBy,
    })]);
    expect(handled.timeline.at(-1)).toMatchObject({ kind: 'department_replied', detail: { contacted: four.contacted } });
    expect(handled.actions).toEqual(expect.arrayContaining(['resolve']));

    await step(as.operator, t.id, { action: 'resolve', note: '工资已全部发放' });
    await step(as.operator, t.id, { action: 'verify' });
    expect((await step(as.operator, t.id, { action: 'close' })).status).toBe('closed');
  });
});
