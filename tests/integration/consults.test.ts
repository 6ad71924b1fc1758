/**
 * Video consults (可视会商) against a real Janus child process: who may call whom (jurisdiction, 403
 * with a stable code), who may join, that a join grant opens its own room only — checked by talking
 * to Janus with the grant as a browser would — that unused grants expire, decline and no-answer, the
 * live events, and the record on the ticket's timeline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import Janode from 'janode';
import VideoRoomPlugin from 'janode/plugins/videoroom';
import { sql, type Db } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import type { JanusSupervisor } from '../../server/modules/video/janus';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { ConsultGrant, ConsultSummary, InvitableDesk } from '@shared/consults-api';
import type { TicketDetail } from '@shared/tickets-api';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { login, TEST_JWT_SECRET } from '../support/app';
import { janusRequired, startTestJanus } from '../support/janus';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

const RING_S = 3;
const GRANT_TTL_S = 2;
const run = janusRequired('consults integration');

describe.runIf(run)('video consults on Janus', () => {
  let db: Db;
  let app: App;
  let janus: JanusSupervisor;
  let base: string;
  let as: Record<'dispatcher' | 'otherDispatcher' | 'sameStreetDispatcher' | 'worker' | 'leader' | 'operator', Headers>;
  let worker: { workerId: number; userId: number };
  let ticketId: number;
  let spot: { lon: number; lat: number };
  const sockets: Client[] = [];

  beforeAll(async () => {
    janus = await startTestJanus({ CONSULT_RING_TIMEOUT_S: String(RING_S), CONSULT_GRANT_TTL_S: String(GRANT_TTL_S) });
    db = await createTestDb();
    const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET };
    app = await build({ db, config, video: janus.control });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const { rows: [w] } = await db.query<{ workerId: number; userId: number; lon: number; lat: number; street: string }>(sql`
      SELECT u.worker_id AS "workerId", u.id AS "userId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
             (SELECT region_code FROM users WHERE username = 'dispatcher') AS street
        FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
    worker = { workerId: Number(w!.workerId), userId: Number(w!.userId) };
    spot = { lon: w!.lon, lat: w!.lat };
    const admin = await login(app, 'admin');
    const { rows: [other] } = await db.query<{ code: string }>(sql`
      SELECT code FROM regions WHERE level = 'street' AND code <> ${w!.street} ORDER BY code LIMIT 1`);
    for (const [username, regionCode] of [['consult-other', other!.code], ['consult-same', w!.street]] as const) {
      const res = await app.inject({ method: 'POST', url: '/api/users', headers: admin, payload: { username, displayName: username, password: `${username}-pass-1`, role: 'dispatcher', regionCode } });
      expect(res.statusCode, res.body).toBe(201);
    }
    as = {
      dispatcher: await login(app, 'dispatcher'),
      otherDispatcher: await login(app, 'consult-other', 'consult-other-pass-1'),
      sameStreetDispatcher: await login(app, 'consult-same', 'consult-same-pass-1'),
      worker: await login(app, 'worker'),
      leader: await login(app, 'leader'),
      operator: await login(app, 'operator'),
    };
    const filed = await app.inject({ method: 'POST', url: '/api/tickets', headers: as.dispatcher, payload: { category: 'safety.fire', urgency: 'immediate', lon: w!.lon, lat: w!.lat, description: '井盖缺失，需现场查看' } });
    expect(filed.statusCode, filed.body).toBe(201);
    ticketId = (filed.json() as { id: number }).id;
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await app?.close();
    await janus?.stop();
    await db?.close();
  });

  async function listen(headers: Headers): Promise<{ invited: ConsultSummary[]; updated: ConsultSummary[] }> {
    const socket: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'] });
    sockets.push(socket);
    const heard = { invited: [] as ConsultSummary[], updated: [] as ConsultSummary[] };
    socket.on('consult.invited', (e) => heard.invited.push(e.consult));
    socket.on('consult.updated', (e) => heard.updated.push(e.consult));
    await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
    return heard;
  }

  async function until<T>(what: () => T | undefined, ms = 5000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = what();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const call = (headers: Headers, payload: unknown) => app.inject({ method: 'POST', url: '/api/consults', headers, payload: payload as object });
  const act = (headers: Headers, id: number, action: string) => app.inject({ method: 'POST', url: `/api/consults/${id}/transitions`, headers, payload: { action } });
  const join = (headers: Headers, id: number, mode?: 'watch') => app.inject({ method: 'POST', url: `/api/consults/${id}/join`, headers, payload: mode ? { mode } : {} });

  /** The grant's URL as the app answered an injected request, on the port the app listens on. */
  const viaApp = (url: string) => {
    expect(url).toMatch(/^ws:\/\/[^/]+\/api\/video\/janus$/);
    return url.replace(/^ws:\/\/[^/]+/, base.replace(/^http/, 'ws'));
  };

  /** Joins a room as a browser would: a Janus session with the grant's token, then the videoroom join. */
  async function janusJoin(grant: ConsultGrant, room = grant.room, pin = grant.pin): Promise<{ ok: boolean; error?: string; close: () => Promise<void> }> {
    let conn;
    try {
      conn = await Janode.connect({ address: { url: viaApp(grant.url), token: grant.token }, retry_time_secs: 1, max_retries: 1 });
    } catch (error) {
      return { ok: false, error: (error as Error).message, close: async () => {} };
    }
    const close = async () => { await conn.close().catch(() => {}); };
    try {
      const session = await conn.create();
      const handle = await session.attach(VideoRoomPlugin);
      const res = await handle.message({ request: 'join', ptype: 'publisher', room, pin, token: grant.token, id: grant.feedId, display: grant.display });
      const data = res.plugindata?.data ?? {};
      if (data.error) return { ok: false, error: String(data.error), close };
      return { ok: true, close };
    } catch (error) {
      return { ok: false, error: (error as Error).message, close };
    }
  }

  it('reports Janus in the health answer', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    expect(res.json().video).toEqual({ status: 'ok', janus: '1.1.2' });
  });

  it('refuses a dispatcher calling a worker of another street (403 CONSULT_OUT_OF_JURISDICTION), and a worker calling anyone', async () => {
    const res = await call(as.otherDispatcher, { invitees: [{ workerId: worker.workerId }] });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('CONSULT_OUT_OF_JURISDICTION');
    const byUser = await call(as.otherDispatcher, { invitees: [{ userId: worker.userId }] });
    expect(byUser.json().code).toBe('CONSULT_OUT_OF_JURISDICTION');
    expect((await call(as.worker, { invitees: [{ userId: worker.userId }] })).statusCode).toBe(403);
  });

  it('rings the worker, answers, admits only the invited (and the leader), scopes grants to their room and records the consult on the ticket', async () => {
    const phone = await listen(as.worker);
    const desk = await listen(as.dispatcher);
    const res = await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }], ticketId });
    expect(res.statusCode, res.body).toBe(201);
    const consult = res.json() as ConsultSummary;
    expect(consult).toMatchObject({ status: 'ringing', room: expect.any(Number) });
    const rung = await until(() => phone.invited.find((c) => c.id === consult.id));
    expect(rung.ticket?.id).toBe(ticketId);
    expect(rung.participants.find((p) => p.userId === worker.userId)?.state).toBe('ringing');

    // Only the people invited (and the leaders and operators over it) join.
    expect((await join(as.sameStreetDispatcher, consult.id)).json().code).toBe('CONSULT_NOT_INVITED');
    expect((await join(as.otherDispatcher, consult.id)).statusCode).toBe(404);
    expect((await act(as.sameStreetDispatcher, consult.id, 'accept')).json().code).toBe('CONSULT_NOT_INVITED');

    expect((await act(as.worker, consult.id, 'accept')).json().status).toBe('active');
    await until(() => desk.updated.find((c) => c.id === consult.id && c.status === 'active'));
    expect((await act(as.worker, consult.id, 'accept')).json().code).toBe('CONSULT_TRANSITION_NOT_ALLOWED');

    const grantRes = await join(as.worker, consult.id);
    expect(grantRes.statusCode, grantRes.body).toBe(200);
    const grant = grantRes.json() as ConsultGrant;
    expect(grant.room).toBe(consult.room);
    expect(JSON.stringify(grant)).not.toMatch(new RegExp(janus.config.apiSecret + '|' + janus.config.adminSecret + '|' + janus.config.adminKey));

    // A second consult: the first grant does not open its room, not even with its pin.
    const second = (await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }] })).json() as ConsultSummary;
    const secondGrant = (await join(as.dispatcher, second.id)).json() as ConsultGrant;
    const wrongRoom = await janusJoin(grant, second.room, secondGrant.pin);
    expect(wrongRoom.ok).toBe(false);
    expect(wrongRoom.error).toMatch(/nauthori[sz]ed|433/i);
    await wrongRoom.close();
    const wrongPin = await janusJoin(grant, consult.room, secondGrant.pin);
    expect(wrongPin.ok).toBe(false);
    await wrongPin.close();
    // Without a token Janus opens no session at all, and a grant cannot create rooms.
    const noToken = await janusJoin({ ...grant, token: 'not-a-token' });
    expect(noToken.ok).toBe(false);
    expect(noToken.error).toMatch(/nauthori[sz]ed|403/i);
    await noToken.close();
    const conn = await Janode.connect({ address: { url: viaApp(grant.url), token: grant.token }, retry_time_secs: 1, max_retries: 1 });
    const handle = await (await conn.create()).attach(VideoRoomPlugin);
    const created = await handle.message({ request: 'create', room: 4242, description: 'mine' }).then((r) => String(r.plugindata?.data.error ?? 'created'), (e: Error) => e.message);
    expect(created).toMatch(/admin_key/);
    await conn.close();
    // Its own room, it opens — and then lasts past its expiry while its holder is in the room.
    const mine = await janusJoin(grant);
    expect(mine.ok, mine.error).toBe(true);
    await act(as.dispatcher, second.id, 'end');

    // The leader joins uninvited; the operator watches (the wall).
    expect((await join(as.leader, consult.id)).statusCode).toBe(200);
    const watch = (await join(as.operator, consult.id, 'watch')).json() as ConsultGrant;
    expect(watch.publish).toBe(false);
    expect((await join(as.worker, consult.id, 'watch')).statusCode).toBe(403);

    const active = (await app.inject({ method: 'GET', url: '/api/consults?status=active', headers: as.dispatcher })).json() as { items: ConsultSummary[] };
    expect(active.items.map((c) => c.id)).toContain(consult.id);
    expect(active.items.map((c) => c.id)).not.toContain(second.id);
    expect(((await app.inject({ method: 'GET', url: '/api/consults', headers: as.otherDispatcher })).json() as { items: ConsultSummary[] }).items).toEqual([]);

    // Unused grants expire: the watcher's token opens nothing after its time.
    await new Promise((r) => setTimeout(r, GRANT_TTL_S * 1000 + 1500));
    const late = await janusJoin(watch);
    expect(late.ok).toBe(false);
    expect(late.error).toMatch(/nauthori[sz]ed|403/i);
    await late.close();
    // The used one still works for its holder (e.g. subscribing to a new feed).
    const again = await janusJoin({ ...grant, feedId: grant.feedId + 1 });
    expect(again.ok, again.error).toBe(true);
    await again.close();
    await mine.close();

    // The worker cannot end it; the caller can.
    expect((await act(as.worker, consult.id, 'end')).statusCode).toBe(403);
    const ended = (await act(as.dispatcher, consult.id, 'end')).json() as ConsultSummary;
    expect(ended).toMatchObject({ status: 'ended', endReason: 'ended' });
    await until(() => phone.updated.find((c) => c.id === consult.id && c.status === 'ended'));
    expect((await join(as.worker, consult.id)).json().code).toBe('CONSULT_TRANSITION_NOT_ALLOWED');

    const ticket = (await app.inject({ method: 'GET', url: `/api/tickets/${ticketId}`, headers: as.dispatcher })).json() as TicketDetail;
    const entry = ticket.timeline.find((e) => e.kind === 'consult');
    expect(entry, JSON.stringify(ticket.timeline.map((e) => e.kind))).toBeTruthy();
    const detail = entry!.detail as { consultId: number; durationS: number; participants: Array<{ name: string; joinedAt: string | null; role: string }> };
    expect(detail.consultId).toBe(consult.id);
    expect(detail.participants.filter((p) => p.joinedAt).map((p) => p.role).sort()).toEqual(['caller', 'invitee', 'joiner', 'joiner']);
    expect(entry!.note).toMatch(/^视频会商/);
  }, 60_000);

  it('lists the desks and leaders a dispatcher may invite (their jurisdiction meets theirs), rings a leader invited by userId, refuses one outside (403)', async () => {
    const ids = async (username: string) => Number((await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = ${username}`)).rows[0]!.id);
    const [leaderId, operatorId, dispatcherId, sameId, otherId] = await Promise.all(['leader', 'operator', 'dispatcher', 'consult-same', 'consult-other'].map(ids));

    const invitable = await app.inject({ method: 'GET', url: '/api/consults/invitable', headers: as.dispatcher });
    expect(invitable.statusCode, invitable.body).toBe(200);
    const desks = (invitable.json() as { items: InvitableDesk[] }).items;
    const listed = desks.map((d) => d.userId);
    // The district's leader and operator (their jurisdiction contains the street), the street's other desk.
    expect(listed).toEqual(expect.arrayContaining([leaderId, operatorId, sameId]));
    expect(desks[0]!.role).toBe('leader');
    // Not the dispatcher of another street, not oneself, no workers' accounts.
    expect(listed).not.toContain(otherId);
    expect(listed).not.toContain(dispatcherId);
    expect(listed).not.toContain(worker.userId);
    // The other street's dispatcher sees the district's leader but not this street's desks.
    const theirs = ((await app.inject({ method: 'GET', url: '/api/consults/invitable', headers: as.otherDispatcher })).json() as { items: InvitableDesk[] }).items.map((d) => d.userId);
    expect(theirs).toContain(leaderId);
    expect(theirs).not.toContain(sameId);
    expect(theirs).not.toContain(dispatcherId);
    expect((await app.inject({ method: 'GET', url: '/api/consults/invitable', headers: as.worker })).statusCode).toBe(403);

    // A dispatcher cannot ring a desk of another street.
    const refused = await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }, { userId: otherId }] });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('CONSULT_OUT_OF_JURISDICTION');
    const refusedBack = await call(as.otherDispatcher, { invitees: [{ userId: sameId }] });
    expect(refusedBack.statusCode).toBe(403);
    expect(refusedBack.json().code).toBe('CONSULT_OUT_OF_JURISDICTION');

    // The leader, invited by userId, is rung on their dashboard's socket, answers and gets a grant.
    const leaderDesk = await listen(as.leader);
    const res = await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }, { userId: leaderId }], ticketId });
    expect(res.statusCode, res.body).toBe(201);
    const consult = res.json() as ConsultSummary;
    const rung = await until(() => leaderDesk.invited.find((c) => c.id === consult.id));
    expect(rung.participants.find((p) => p.userId === leaderId)).toMatchObject({ role: 'invitee', state: 'ringing', userRole: 'leader' });
    expect((await act(as.leader, consult.id, 'accept')).json().status).toBe('active');
    const grant = await join(as.leader, consult.id);
    expect(grant.statusCode, grant.body).toBe(200);
    expect((grant.json() as ConsultGrant).publish).toBe(true);
    const ended = (await act(as.dispatcher, consult.id, 'end')).json() as ConsultSummary;
    expect(ended.participants.find((p) => p.userId === leaderId)?.joinedAt).not.toBeNull();
  });

  it('records a consult about an SOS on the alarm’s timeline: who called, when, how long, who joined', async () => {
    const raised = await app.inject({ method: 'POST', url: '/api/alarms', headers: as.worker, payload: { kind: 'sos', lon: spot.lon, lat: spot.lat, accuracy: 10, clientId: 'consult-sos-1' } });
    expect(raised.statusCode, raised.body).toBe(201);
    const alarmId = (raised.json() as { id: number }).id;
    const consult = (await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }], alarmId })).json() as ConsultSummary;
    expect(consult.alarmId).toBe(alarmId);
    expect((await act(as.worker, consult.id, 'accept')).statusCode).toBe(200);
    expect((await join(as.leader, consult.id)).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await act(as.dispatcher, consult.id, 'end')).json().status).toBe('ended');

    const detail = (await app.inject({ method: 'GET', url: `/api/alarms/${alarmId}`, headers: as.dispatcher })).json() as { timeline: Array<{ kind: string; at: string; note: string | null; detail: unknown }> };
    const entry = detail.timeline.find((e) => e.kind === 'consult');
    expect(entry, JSON.stringify(detail.timeline.map((e) => e.kind))).toBeTruthy();
    expect(entry!.note).toMatch(/^视频会商 0 分 [1-9]\d* 秒：/);
    const d = entry!.detail as { consultId: number; caller: { userId: number }; startedAt: string; endedAt: string; durationS: number; participants: Array<{ userRole?: string; role: string; joinedAt: string | null; leftAt: string | null }> };
    expect(d.consultId).toBe(consult.id);
    expect(d.durationS).toBeGreaterThanOrEqual(1);
    expect(Date.parse(d.endedAt)).toBeGreaterThan(Date.parse(d.startedAt));
    expect(d.participants.filter((p) => p.joinedAt && p.leftAt).map((p) => p.role).sort()).toEqual(['caller', 'invitee', 'joiner']);
  });

  it('ends a call the worker declines, and one nobody answers in time', async () => {
    const desk = await listen(as.dispatcher);
    const declined = (await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }], ticketId })).json() as ConsultSummary;
    const after = (await act(as.worker, declined.id, 'decline')).json() as ConsultSummary;
    expect(after).toMatchObject({ status: 'ended', endReason: 'declined' });
    await until(() => desk.updated.find((c) => c.id === declined.id && c.endReason === 'declined'));

    const started = Date.now();
    const unanswered = (await call(as.dispatcher, { invitees: [{ workerId: worker.workerId }] })).json() as ConsultSummary;
    const missed = await until(() => desk.updated.find((c) => c.id === unanswered.id && c.status === 'ended'), (RING_S + 5) * 1000);
    expect(missed.endReason).toBe('no_answer');
    expect(missed.participants.find((p) => p.userId === worker.userId)?.state).toBe('no_answer');
    expect(Date.now() - started).toBeGreaterThanOrEqual(RING_S * 1000 - 100);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM ticket_events WHERE ticket_id = ${ticketId} AND kind = 'consult' AND note LIKE '%拒接%'`);
    expect(rows[0]!.n).toBe(1);
  }, 30_000);
});
