/**
 * Alarms (一键报警): an SOS from Traccar Client (`alarm=sos` on the OsmAnd endpoint) or the phone app
 * is a record that only people move on — a routine fix never clears it, a repeat joins it — and it
 * reaches, live, every desk whose jurisdiction covers the worker and the worker, no one else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import type { AlarmDetail, AlarmDispatchResult, AlarmSummary } from '@shared/alarms-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { Simulator } from '../../server/modules/simulator/simulator';
import { SosSimulator } from '../../server/modules/simulator/sos';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };
interface Heard { raised: AlarmSummary[]; updated: AlarmSummary[] }

let db: Db;
let app: App;
let base: string;
let as: Record<'admin' | 'operator' | 'dispatcher' | 'worker' | 'otherDispatcher' | 'leader', Headers>;
const sockets: Client[] = [];
/** The demo worker (柳巷街道) and a colleague of the same street who can be sent. */
let me: { workerId: number; grid: string; gridName: string; lon: number; lat: number };
let mate: { id: number; lon: number; lat: number };
const DEVICE = 'sos-test-phone';

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const { rows: [w] } = await db.query<typeof me>(sql`
    SELECT u.worker_id AS "workerId", g.code AS grid, g.name AS "gridName",
           ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
  me = w!;
  const { rows: [m] } = await db.query<{ id: number }>(sql`
    SELECT id FROM workers WHERE home_grid_code = ${me.grid} AND id <> ${me.workerId} AND active AND role <> 'party_member' ORDER BY id LIMIT 1`);
  mate = { id: m!.id, lon: me.lon + 0.0003, lat: me.lat };
  const admin = await login(app, 'admin');
  // A dispatcher of another street.
  const { rows: [other] } = await db.query<{ code: string }>(sql`
    SELECT s.code FROM regions s WHERE s.level = 'street'
       AND s.code <> (SELECT region_code FROM users WHERE username = 'dispatcher') ORDER BY s.code LIMIT 1`);
  const created = await app.inject({
    method: 'POST', url: '/api/users', headers: admin,
    payload: { username: 'other-dispatcher', displayName: '另一街道调度员', password: 'other-dispatcher-1', role: 'dispatcher', regionCode: other!.code },
  });
  expect(created.statusCode, created.body).toBe(201);
  as = {
    admin,
    leader: await login(app, 'leader'),
    operator: await login(app, 'operator'),
    dispatcher: await login(app, 'dispatcher'),
    worker: await login(app, 'worker'),
    otherDispatcher: await login(app, 'other-dispatcher', 'other-dispatcher-1'),
  };
  expect(await app.ingest.registerDevice(DEVICE, me.workerId, 'phone')).toBe(true);
  expect(await app.ingest.registerDevice('sos-test-mate', mate.id, 'phone')).toBe(true);
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
});

/** Seconds since epoch, `ago` seconds back: the OsmAnd timestamp. */
const secondsAgo = (ago: number) => Math.floor(Date.now() / 1000) - ago;
const osmand = (params: Record<string, string | number>) =>
  app.inject({ method: 'POST', url: `/api/osmand?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}` });
const get = (headers: Headers, url: string) => app.inject({ url, headers });
const post = (headers: Headers, url: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url, headers, payload });
const transition = (headers: Headers, id: number, action: string, note?: string) =>
  post(headers, `/api/alarms/${id}/transitions`, { action, ...(note ? { note } : {}) });

async function listen(headers: Headers): Promise<Heard> {
  const socket: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'] });
  sockets.push(socket);
  const heard: Heard = { raised: [], updated: [] };
  socket.on('alarm.raised', (a) => heard.raised.push(a));
  socket.on('alarm.updated', (a) => heard.updated.push(a));
  await new Promise<void>((resolve) => socket.once('session.ready', () => resolve()));
  return heard;
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

async function openAlarms(headers: Headers): Promise<AlarmSummary[]> {
  const res = await get(headers, '/api/alarms?status=open');
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as AlarmSummary[];
}

describe('an SOS from Traccar Client (OsmAnd alarm=sos)', () => {
  let alarmId: number;
  let heard: Record<'operator' | 'dispatcher' | 'otherDispatcher' | 'worker', Heard>;
  const t0 = secondsAgo(60);

  it('raises one alarm even in the same second as the previous fix, and a second SOS in that second joins it', async () => {
    heard = {
      operator: await listen(as.operator),
      dispatcher: await listen(as.dispatcher),
      otherDispatcher: await listen(as.otherDispatcher),
      worker: await listen(as.worker),
    };
    expect((await osmand({ id: DEVICE, lat: me.lat, lon: me.lon, timestamp: t0 })).statusCode).toBe(200);
    const sos = await osmand({ id: DEVICE, lat: me.lat, lon: me.lon, timestamp: t0, alarm: 'sos', accuracy: 8 });
    expect(sos.statusCode, sos.body).toBe(200);
    const open = await openAlarms(as.operator);
    expect(open).toHaveLength(1);
    const a = open[0]!;
    alarmId = a.id;
    expect(a).toMatchObject({
      kind: 'sos', status: 'raised', source: 'device', worker: { id: me.workerId }, grid: { code: me.grid, name: me.gridName },
      acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, repeats: 0, accuracy: 8,
    });
    expect(a.lon).toBeCloseTo(me.lon, 6);
    expect(a.worker.name.length).toBeGreaterThan(0);
    expect(a.worker.phone.length).toBeGreaterThan(0);

    const again = await osmand({ id: DEVICE, lat: me.lat, lon: me.lon, timestamp: t0, alarm: 'sos' });
    expect(again.statusCode).toBe(200);
    const still = await openAlarms(as.operator);
    expect(still.map((x) => x.id)).toEqual([alarmId]);
    expect(still[0]!.repeats).toBe(1);
    const detail = (await get(as.operator, `/api/alarms/${alarmId}`)).json() as AlarmDetail;
    expect(detail.timeline.map((e) => e.kind)).toEqual(['raised', 'repeated']);
    const { rows: [audit] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE subject_type = 'alarm' AND subject_id = ${String(alarmId)} AND action IN ('alarm.raised', 'alarm.repeated')`);
    expect(audit!.n).toBe(2);
  });

  it('reaches the district operator, the street’s dispatcher and the worker live, never another street’s dispatcher', async () => {
    for (const who of ['operator', 'dispatcher', 'worker'] as const) {
      const a = await until(() => heard[who].raised.find((x) => x.id === alarmId));
      expect(a.status).toBe('raised');
      expect(a.worker.id).toBe(me.workerId);
      // The repeat is an update of the same alarm, not a second one.
      await until(() => heard[who].updated.find((x) => x.id === alarmId && x.repeats === 1));
      expect(heard[who].raised.filter((x) => x.id === alarmId)).toHaveLength(1);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.otherDispatcher.raised).toEqual([]);
    expect(heard.otherDispatcher.updated).toEqual([]);
  });

  it('is not cleared by a later routine fix', async () => {
    expect((await osmand({ id: DEVICE, lat: me.lat + 0.0001, lon: me.lon, timestamp: t0 + 5 })).statusCode).toBe(200);
    expect((await osmand({ id: DEVICE, lat: me.lat + 0.0002, lon: me.lon, timestamp: t0 + 10 })).statusCode).toBe(200);
    const detail = (await get(as.dispatcher, `/api/alarms/${alarmId}`)).json() as AlarmDetail;
    expect(detail.status).toBe('raised');
    expect(await openAlarms(as.dispatcher)).toHaveLength(1);
    // The trail of the last 10 minutes holds the fixes, oldest first.
    expect(detail.trail.length).toBeGreaterThanOrEqual(3);
    expect(detail.trail[0]![2]).toBeLessThan(detail.trail.at(-1)![2]!);
  });

  it('is outside another street’s jurisdiction: not listed, 404 to read or acknowledge', async () => {
    expect(await openAlarms(as.otherDispatcher)).toEqual([]);
    const read = await get(as.otherDispatcher, `/api/alarms/${alarmId}`);
    expect(read.statusCode).toBe(404);
    expect(read.json().code).toBe('NOT_FOUND');
    const ack = await transition(as.otherDispatcher, alarmId, 'acknowledge');
    expect(ack.statusCode).toBe(404);
    expect(ack.json().code).toBe('NOT_FOUND');
  });

  it('the worker cannot acknowledge their own alarm (403 FORBIDDEN)', async () => {
    const res = await transition(as.worker, alarmId, 'acknowledge');
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('FORBIDDEN');
  });

  it('the street dispatcher acknowledges: who and when reach everyone; a second acknowledge is 409', async () => {
    const res = await transition(as.dispatcher, alarmId, 'acknowledge', '已电话联系');
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json() as AlarmDetail;
    expect(a.status).toBe('acknowledged');
    expect(a.acknowledgedBy?.name).toBe('柳巷街道调度员');
    expect(Date.parse(a.acknowledgedAt!)).toBeGreaterThan(Date.now() - 10_000);
    for (const who of ['worker', 'operator'] as const) {
      const u = await until(() => heard[who].updated.find((x) => x.id === alarmId && x.status === 'acknowledged'));
      expect(u.acknowledgedBy).toEqual(a.acknowledgedBy);
    }
    for (const h of [as.operator, as.dispatcher]) {
      const second = await transition(h, alarmId, 'acknowledge');
      expect(second.statusCode).toBe(409);
      expect(second.json().code).toBe('ALARM_TRANSITION_NOT_ALLOWED');
    }
    const { rows: [audit] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM audit_log WHERE action = 'alarm.acknowledged' AND subject_id = ${String(alarmId)}`);
    expect(audit!.n).toBe(1);
  });

  it('one click sends the nearest free worker: an immediate ticket at the spot, dispatched, linked to the alarm', async () => {
    // A colleague 25 m away reports in; the worker in danger is never sent to themselves.
    expect((await osmand({ id: 'sos-test-mate', lat: mate.lat, lon: mate.lon, timestamp: secondsAgo(2) })).statusCode).toBe(200);
    const leader = await post(as.leader, `/api/alarms/${alarmId}/dispatch`, {});
    expect(leader.statusCode).toBe(403);
    const res = await post(as.operator, `/api/alarms/${alarmId}/dispatch`, { count: 1 });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json() as AlarmDispatchResult;
    expect(result.tickets).toHaveLength(1);
    expect(result.tickets[0]).toMatchObject({ status: 'dispatched', assignedWorker: { id: mate.id } });
    const ticket = (await get(as.operator, `/api/tickets/${result.tickets[0]!.id}`)).json() as { urgency: string; category: { code: string }; location: { lon: number } };
    expect(ticket.urgency).toBe('immediate');
    expect(ticket.category.code).toBe('safety.sos');
    expect(ticket.location.lon).toBeCloseTo(me.lon, 6);
    const detail = (await get(as.operator, `/api/alarms/${alarmId}`)).json() as AlarmDetail;
    expect(detail.tickets.map((t) => t.id)).toEqual([result.tickets[0]!.id]);
    expect(detail.timeline.map((e) => e.kind)).toEqual(['raised', 'repeated', 'acknowledged', 'dispatched']);
  });

  it('resolves once; the resolver’s retry changes nothing, anyone else’s is 409', async () => {
    const res = await transition(as.operator, alarmId, 'resolve', '已安全撤离');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'resolved', resolvedBy: { name: '指挥中心值班员' }, note: '已安全撤离' });
    const retry = await transition(as.operator, alarmId, 'resolve', '已安全撤离');
    expect(retry.statusCode).toBe(200);
    expect((retry.json() as AlarmDetail).timeline.filter((e) => e.kind === 'resolved')).toHaveLength(1);
    const late = await transition(as.dispatcher, alarmId, 'resolve');
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('ALARM_TRANSITION_NOT_ALLOWED');
    expect(await openAlarms(as.operator)).toEqual([]);
    const all = (await get(as.operator, '/api/alarms?status=all')).json() as AlarmSummary[];
    expect(all.map((x) => x.id)).toContain(alarmId);
    await until(() => heard.worker.updated.find((x) => x.id === alarmId && x.status === 'resolved'));
  });

  it('an SOS from an unknown device is refused with the OsmAnd codes and raises nothing', async () => {
    const query = await osmand({ id: 'no-such-phone', lat: me.lat, lon: me.lon, alarm: 'sos' });
    expect(query.statusCode).toBe(400);
    expect(query.json().code).toBe('DEVICE_UNKNOWN');
    const json = await app.inject({
      method: 'POST', url: '/api/osmand', headers: { 'content-type': 'application/json' },
      payload: { device_id: 'no-such-phone', alarm: 'sos', location: { timestamp: new Date().toISOString(), coords: { latitude: me.lat, longitude: me.lon } } },
    });
    expect(json.statusCode).toBe(404);
    expect(json.json().code).toBe('DEVICE_UNKNOWN');
    expect(await openAlarms(as.operator)).toEqual([]);
  });
});

describe('an SOS from the phone app (POST /api/alarms)', () => {
  let alarmId: number;
  const sos = (clientId: string, headers: Headers = as.worker) =>
    post(headers, '/api/alarms', { kind: 'sos', lon: me.lon, lat: me.lat, accuracy: 12, clientId });

  it('raises (201); the same clientId answers the same alarm and records nothing; another press joins it (200)', async () => {
    const first = await sos('phone-sos-1');
    expect(first.statusCode, first.body).toBe(201);
    const a = first.json() as AlarmSummary;
    alarmId = a.id;
    expect(a).toMatchObject({ status: 'raised', source: 'app', worker: { id: me.workerId }, accuracy: 12 });
    const retry = await sos('phone-sos-1');
    expect(retry.statusCode).toBe(200);
    expect(retry.json().id).toBe(alarmId);
    const press = await sos('phone-sos-2');
    expect(press.statusCode).toBe(200);
    expect(press.json()).toMatchObject({ id: alarmId, repeats: 1 });
    const detail = (await get(as.worker, `/api/alarms/${alarmId}`)).json() as AlarmDetail;
    expect(detail.timeline.map((e) => e.kind)).toEqual(['raised', 'repeated']);
  });

  it('only a worker raises one, for themselves (403 for a desk); bad input is 400', async () => {
    const desk = await sos('desk-1', as.operator);
    expect(desk.statusCode).toBe(403);
    expect(desk.json().code).toBe('FORBIDDEN');
    const noClientId = await post(as.worker, '/api/alarms', { kind: 'sos', lon: me.lon, lat: me.lat });
    expect(noClientId.statusCode).toBe(400);
    expect(noClientId.json().code).toBe('VALIDATION_FAILED');
    const badKind = await post(as.worker, '/api/alarms', { kind: 'fire', lon: me.lon, lat: me.lat, clientId: 'x' });
    expect(badKind.statusCode).toBe(400);
    expect(badKind.json().code).toBe('VALIDATION_FAILED');
    const future = await post(as.worker, '/api/alarms', { kind: 'sos', lon: me.lon, lat: me.lat, clientId: 'x', time: new Date(Date.now() + 3_600_000).toISOString() });
    expect(future.statusCode).toBe(422);
    expect(future.json().code).toBe('POSITION_IN_FUTURE');
  });

  it('the worker cancels their own alarm as a false alarm, with a reason', async () => {
    const bare = await transition(as.worker, alarmId, 'false_alarm');
    expect(bare.statusCode).toBe(400);
    expect(bare.json().code).toBe('ALARM_REASON_REQUIRED');
    const res = await transition(as.worker, alarmId, 'false_alarm', '误触');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'false_alarm', note: '误触', acknowledgedBy: null });
    const ack = await transition(as.operator, alarmId, 'acknowledge');
    expect(ack.statusCode).toBe(409);
    expect(ack.json().code).toBe('ALARM_TRANSITION_NOT_ALLOWED');
    // Closed: the next press raises a new alarm.
    const next = await sos('phone-sos-3');
    expect(next.statusCode).toBe(201);
    expect(next.json().id).not.toBe(alarmId);
  });

  it('a worker sees only their own alarms', async () => {
    const { rows: [other] } = await db.query<{ id: number }>(sql`
      SELECT id FROM workers WHERE id NOT IN (${me.workerId}, ${mate.id}) AND active ORDER BY id LIMIT 1`);
    const raised = await app.alarms.raise({
      kind: 'sos', workerId: other!.id, lon: me.lon, lat: me.lat, accuracy: null, time: Date.now(), source: 'app', deviceId: null, userId: null, clientId: null,
    });
    expect(raised.created).toBe(true);
    const mine = (await get(as.worker, '/api/alarms?status=all')).json() as AlarmSummary[];
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((a) => a.worker.id === me.workerId)).toBe(true);
    const theirs = await get(as.worker, `/api/alarms/${raised.alarm.id}`);
    expect(theirs.statusCode).toBe(404);
    const cancel = await transition(as.worker, raised.alarm.id, 'false_alarm', '不是我');
    expect(cancel.statusCode).toBe(404);
  });
});

describe('the simulated SOS (SIMULATE_SOS_RATE)', () => {
  it('a simulated worker on duty raises an SOS through the OsmAnd endpoint, and nothing simulated acknowledges it', async () => {
    // 14:00 in Shanghai: the day shift is on duty.
    const now = Date.now();
    const midnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
    const daytime = { now: () => Date.now() + (midnight + 14 * 3_600_000 - now) };
    const patrol = new Simulator(db, app.ingest, daytime, { baseUrl: base, intervalS: 10, limit: 40 });
    expect(await patrol.load()).toBeGreaterThan(0);
    // Earlier tests left alarms open: close them, so the simulated one is the only one.
    for (const a of await openAlarms(as.operator)) expect((await transition(as.operator, a.id, 'resolve')).statusCode).toBe(200);
    const sos = new SosSimulator(patrol, daytime, { baseUrl: base, ratePerHour: 2, random: () => 0 });
    expect(await sos.raise()).toBe(true);
    const simulated = new Set(patrol.fieldWorkers.map((w) => w.info.id));
    const raised = await openAlarms(as.operator);
    expect(raised).toHaveLength(1);
    expect(simulated.has(raised[0]!.worker.id)).toBe(true);
    expect(raised[0]).toMatchObject({ status: 'raised', source: 'device' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await get(as.operator, `/api/alarms/${raised[0]!.id}`)).json()).toMatchObject({ status: 'raised', acknowledgedBy: null });
  });
});
