import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { decodeWorkerFrame, WORKER_FLAGS, type ClientToServerEvents, type ServerToClientEvents, type WorkerFrame } from '@shared/realtime';
import { createTestDb } from '../support/db';
import { buildTestApp, login, token } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let db: Db;
let app: App;
let base: string;
const clock = new ManualClock(Date.now());
const sockets: Client[] = [];
/** A worker of 柳巷街道 (the dispatcher's street) and one of another street, each with a phone. */
let inside: { id: number; device: string; lon: number; lat: number };
let outside: { id: number; device: string; lon: number; lat: number };

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock, config: { tickMs: 50, offlineAfterMs: 5 * 60_000 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const pick = async (like: string, notLike: boolean) => {
    const { rows } = await db.query<{ id: number; code: string; lon: number; lat: number }>(sql`
      SELECT w.id, w.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
        JOIN regions s ON s.level = 'street' AND g.path LIKE '%/' || s.code || '/%'
       WHERE w.role = 'full_time' AND (s.name LIKE ${like}) <> ${notLike} ORDER BY w.id LIMIT 1`);
    const w = rows[0]!;
    const device = `test-${w.code}`;
    await app.ingest.registerDevice(device, w.id, 'phone');
    return { id: w.id, device, lon: w.lon, lat: w.lat };
  };
  inside = await pick('%柳巷%', false);
  outside = await pick('%柳巷%', true);
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
});

async function dashboard(username: string): Promise<{ socket: Client; frames: { kind: string; frame: WorkerFrame }[]; snapshot: Promise<WorkerFrame> }> {
  const socket: Client = connect(base, { auth: { token: await token(app, username) }, transports: ['websocket'],
    // Reconnect after the server has seen the drop (as on a real network, where both sides time out).
    reconnectionDelay: 300, reconnectionDelayMax: 500 });
  sockets.push(socket);
  const frames: { kind: string; frame: WorkerFrame }[] = [];
  const snapshot = new Promise<WorkerFrame>((resolve) => socket.once('workers.snapshot', resolve));
  socket.on('workers.snapshot', (frame) => frames.push({ kind: 'snapshot', frame }));
  socket.on('workers.delta', (frame) => frames.push({ kind: 'delta', frame }));
  return { socket, frames, snapshot };
}

const osmand = (params: Record<string, string | number>, init: RequestInit = { method: 'POST' }) =>
  fetch(`${base}/api/osmand?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`, init);

const seen = (frames: { frame: WorkerFrame }[], id: number) =>
  frames.flatMap((f) => decodeWorkerFrame(f.frame.data, f.frame.n)).filter((r) => r.id === id);

async function until<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live positions reach exactly the dashboards whose jurisdiction holds them', () => {
  it('stores the fix before acknowledging it, then pushes it to the right rooms only', async () => {
    const district = await dashboard('operator');
    const street = await dashboard('dispatcher');
    await Promise.all([district.snapshot, street.snapshot]);

    const t = clock.now() - 1000;
    const res = await osmand({ id: outside.device, lat: outside.lat, lon: outside.lon, timestamp: Math.floor(t / 1000), speed: 2, batt: 77 });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    // Acknowledged means stored: the row is there the moment the 200 arrives.
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM worker_positions WHERE worker_id = ${outside.id}`);
    expect(rows[0]!.n).toBe(1);

    const got = await until(() => seen(district.frames, outside.id)[0]);
    expect(got.lon).toBeCloseTo(outside.lon, 5);
    expect(got.speed).toBeCloseTo(2 * 0.514444, 1);
    expect(got.battery).toBe(77);
    expect(got.flags & WORKER_FLAGS.ONLINE).toBeTruthy();

    const res2 = await osmand({ id: inside.device, lat: inside.lat, lon: inside.lon, timestamp: Math.floor(t / 1000) });
    expect(res2.status).toBe(200);
    await until(() => seen(street.frames, inside.id)[0]);
    await until(() => seen(district.frames, inside.id)[0]);
    // The street dispatcher never receives a worker from another street.
    expect(seen(street.frames, outside.id)).toEqual([]);
  });

  it('a new dashboard’s snapshot holds what its jurisdiction may see', async () => {
    const street = await dashboard('dispatcher');
    const snap = await street.snapshot;
    const ids = decodeWorkerFrame(snap.data, snap.n).map((r) => r.id);
    expect(ids).toContain(inside.id);
    expect(ids).not.toContain(outside.id);
  });

  it('refuses a socket without a valid token', async () => {
    const s: Client = connect(base, { auth: {}, transports: ['websocket'], reconnection: false });
    sockets.push(s);
    const err = await new Promise<Error>((resolve) => s.once('connect_error', resolve));
    expect(err.message).toBe('AUTH_REQUIRED');
    const s2: Client = connect(base, { auth: { token: 'garbage' }, transports: ['websocket'], reconnection: false });
    sockets.push(s2);
    expect((await new Promise<Error>((resolve) => s2.once('connect_error', resolve))).message).toBe('AUTH_TOKEN_INVALID');
  });
});

describe('ordering, duplicates and bad input', () => {
  it('an out-of-order fix goes to history, not to latest; a resent one is stored once', async () => {
    // Newer than the fix of the first test; a device clock a little ahead is tolerated (≤ 60 s).
    const t0 = Math.floor(clock.now() / 1000);
    const at = (dt: number, dLat = 0) => ({ id: inside.device, lat: inside.lat + dLat, lon: inside.lon, timestamp: t0 + dt });
    expect((await osmand(at(20, 0.0002))).status).toBe(200);
    expect((await osmand(at(10, 0.0001))).status).toBe(200); // buffered in a dead zone, arrives late
    expect((await osmand(at(10, 0.0001))).status).toBe(200); // the flaky phone sends it again
    const { rows } = await db.query<{ n: number; latest: number }>(sql`
      SELECT (SELECT count(*) FROM worker_positions WHERE worker_id = ${inside.id} AND recorded_at >= to_timestamp(${t0})) AS n,
             (SELECT extract(epoch FROM recorded_at) FROM worker_positions_latest WHERE worker_id = ${inside.id}) AS latest`);
    expect(rows[0]).toEqual({ n: 2, latest: t0 + 20 });
    expect(app.ingest.state.workers.get(inside.id)!.time).toBe((t0 + 20) * 1000);
  });

  it('flags an implausible jump instead of dropping it', async () => {
    const t = Math.floor(clock.now() / 1000) + 40; // 5.5 km in 20 s after the previous fix
    expect((await osmand({ id: inside.device, lat: inside.lat + 0.05, lon: inside.lon, timestamp: t })).status).toBe(200);
    const { rows } = await db.query<{ flags: number }>(sql`SELECT flags FROM worker_positions_latest WHERE worker_id = ${inside.id}`);
    expect(rows[0]!.flags & WORKER_FLAGS.IMPLAUSIBLE_SPEED).toBeTruthy();
  });

  it('answers malformed and out-of-area fixes with stable codes, storing nothing', async () => {
    const before = (await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM worker_positions`)).rows[0]!.n;
    const now = Math.floor(clock.now() / 1000);
    const cases: [Record<string, string | number>, number, string][] = [
      [{ timestamp: now, lat: 37.86, lon: 112.56 }, 400, 'DEVICE_UNKNOWN'],
      [{ id: 'never-registered', lat: 37.86, lon: 112.56 }, 400, 'DEVICE_UNKNOWN'],
      [{ id: inside.device, lat: 999, lon: 112.56 }, 400, 'POSITION_INVALID'],
      [{ id: inside.device, lat: 'abc', lon: 112.56 }, 400, 'POSITION_INVALID'],
      [{ id: inside.device, lat: 39.9, lon: 116.4, timestamp: now }, 422, 'POSITION_OUT_OF_AREA'],
      [{ id: inside.device, lat: 37.86, lon: 112.56, timestamp: now + 3600 }, 422, 'POSITION_IN_FUTURE'],
      [{ id: inside.device, lat: 37.86, lon: 112.56, timestamp: 'yesterday' }, 400, 'POSITION_INVALID'],
    ];
    for (const [params, status, code] of cases) {
      const res = await osmand(params);
      expect(res.status, JSON.stringify(params)).toBe(status);
      expect((await res.json()).code).toBe(code);
    }
    const json = await fetch(`${base}/api/osmand`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: 'unknown-phone', location: { timestamp: new Date().toISOString(), coords: { latitude: 37.86, longitude: 112.56 } } }),
    });
    expect(json.status).toBe(404);
    const broken = await fetch(`${base}/api/osmand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(broken.status).toBe(400);
    const after = (await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM worker_positions`)).rows[0]!.n;
    expect(after).toBe(before);
  });

  it('accepts the Traccar Client JSON body', async () => {
    const res = await fetch(`${base}/api/osmand`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: outside.device, location: { timestamp: new Date(clock.now()).toISOString(), coords: { latitude: outside.lat, longitude: outside.lon, speed: 1.2, heading: 90, accuracy: 4 }, battery: { level: 0.5, is_charging: true } } }),
    });
    expect(res.status).toBe(200);
  });
});

describe('reconnecting dashboards catch up', () => {
  it('after a short drop, missed deltas are replayed', async () => {
    const d = await dashboard('operator');
    await d.snapshot;
    // Recovery needs one broadcast received before the drop.
    await osmand({ id: outside.device, lat: outside.lat, lon: outside.lon, timestamp: Math.floor(clock.now() / 1000) + 1 });
    await until(() => d.frames.find((f) => f.kind === 'delta'));
    const reconnected = new Promise<void>((resolve) => d.socket.io.once('reconnect', () => d.socket.once('connect', () => resolve())));
    d.socket.io.engine.close(); // the network drops; the client reconnects by itself
    const missed = Math.floor(clock.now() / 1000) + 2;
    await osmand({ id: outside.device, lat: outside.lat + 0.0003, lon: outside.lon, timestamp: missed });
    await reconnected;
    expect(d.socket.recovered).toBe(true);
    const r = await until(() => seen(d.frames, outside.id).find((x) => x.time === missed * 1000));
    expect(r.lat).toBeCloseTo(outside.lat + 0.0003, 5);
    const deltas = d.frames.filter((f) => f.kind === 'delta').map((f) => f.frame.seq);
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]).toBe(deltas[i - 1]! + 1);
  });

  it('after a long drop, it gets a fresh snapshot with the newest positions', async () => {
    const d = await dashboard('operator');
    await d.snapshot;
    d.socket.disconnect();
    const t = Math.floor(clock.now() / 1000) + 3;
    await osmand({ id: outside.device, lat: outside.lat + 0.0004, lon: outside.lon, timestamp: t });
    const again = new Promise<WorkerFrame>((resolve) => d.socket.once('workers.snapshot', resolve));
    d.socket.connect();
    const snap = await again;
    expect(d.socket.recovered).toBe(false);
    const rec = decodeWorkerFrame(snap.data, snap.n).find((r) => r.id === outside.id)!;
    expect(rec.time).toBe(t * 1000);
  });

  it('answers a resync request with a snapshot', async () => {
    const d = await dashboard('dispatcher');
    await d.snapshot;
    const snap = new Promise<WorkerFrame>((resolve) => d.socket.once('workers.snapshot', resolve));
    const ack = await d.socket.emitWithAck('workers.resync');
    expect(ack.ok).toBe(true);
    expect((await snap).n).toBeGreaterThan(0);
  });
});

describe('presence', () => {
  it('lists online workers with positions, and turns silent ones offline with an event', async () => {
    const headers = await login(app, 'operator');
    const online = (await app.inject({ url: '/api/workers?online=true', headers })).json() as { id: number; position?: { lon: number } }[];
    expect(online.map((w) => w.id)).toEqual(expect.arrayContaining([inside.id, outside.id]));
    expect(online.find((w) => w.id === outside.id)!.position!.lon).toBeCloseTo(outside.lon, 4);

    const d = await dashboard('operator');
    await d.snapshot;
    const presence = new Promise<{ offline: number[] }>((resolve) => d.socket.on('workers.presence', (p) => p.offline.length && resolve(p)));
    clock.advance(6 * 60_000);
    app.ingest.sweepPresence();
    const p = await presence;
    expect(p.offline).toEqual(expect.arrayContaining([inside.id, outside.id]));
    const after = (await app.inject({ url: '/api/workers?online=true', headers })).json() as { id: number }[];
    expect(after.map((w) => w.id)).not.toContain(inside.id);
    const offline = (await app.inject({ url: '/api/workers?online=false&role=full_time', headers })).json() as { id: number }[];
    expect(offline.map((w) => w.id)).toContain(inside.id);
  });
});

describe('device stream (WebSocket batches from gateways)', () => {
  const open = (url: string, bearer?: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('websocket refused'));
    });
  const reply = (ws: WebSocket) => new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));

  it('stores a batch through the same ingest and answers after storage, per fix', async () => {
    const ws = await open(`${base.replace('http', 'ws')}/api/devices/stream`, await token(app, 'admin'));
    const t = Math.floor(clock.now() / 1000) + 10;
    const answer = reply(ws);
    ws.send(JSON.stringify({ ref: 42, fixes: [
      { id: outside.device, lat: outside.lat, lon: outside.lon, timestamp: t, speed: 1, batt: 60 },
      { id: outside.device, lat: outside.lat, lon: outside.lon, timestamp: t }, // resent
      { id: 'nobody', lat: outside.lat, lon: outside.lon, timestamp: t },
      { id: inside.device, lat: 0, lon: 0, timestamp: t },
    ] }));
    const r = await answer;
    expect(r).toMatchObject({ ref: 42, stored: 1, duplicate: 1, rejected: 2 });
    expect((r.results as { index: number; status: string; code?: string }[]).map((x) => [x.index, x.status, x.code])).toEqual([
      [0, 'stored', undefined], [1, 'duplicate', undefined], [2, 'rejected', 'DEVICE_UNKNOWN'], [3, 'rejected', 'POSITION_INVALID'],
    ]);
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM worker_positions WHERE worker_id = ${outside.id} AND recorded_at = to_timestamp(${t})`);
    expect(rows[0]!.n).toBe(1);
    ws.close();
  });

  it('refuses a stream without an admin token, and socket.io still works beside it', async () => {
    await expect(open(`${base.replace('http', 'ws')}/api/devices/stream`)).rejects.toThrow();
    await expect(open(`${base.replace('http', 'ws')}/api/devices/stream`, await token(app, 'operator'))).rejects.toThrow();
    const d = await dashboard('operator');
    expect((await d.snapshot).n).toBeGreaterThan(0);
  });
});

describe('registering a real phone', () => {
  it('an admin registers a Traccar Client identifier to a worker; its fixes then move that worker', async () => {
    const headers = await login(app, 'admin');
    const res = await app.inject({ method: 'POST', url: '/api/devices', headers, payload: { identifier: 'traccar-358240051111110', workerId: inside.id } });
    expect(res.statusCode).toBe(201);
    const t = Math.floor(clock.now() / 1000) + 50;
    expect((await osmand({ id: 'traccar-358240051111110', lat: inside.lat, lon: inside.lon, timestamp: t })).status).toBe(200);
    expect(app.ingest.state.workers.get(inside.id)!.time).toBe(t * 1000);
  });

  it('only admins may, only for workers in their jurisdiction, with valid identifiers', async () => {
    const op = await app.inject({ method: 'POST', url: '/api/devices', headers: await login(app, 'operator'), payload: { identifier: 'x-123', workerId: inside.id } });
    expect(op.statusCode).toBe(403);
    const headers = await login(app, 'admin');
    const missing = await app.inject({ method: 'POST', url: '/api/devices', headers, payload: { identifier: 'x-123', workerId: 99_999_999 } });
    expect(missing.statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: '/api/devices', headers, payload: { identifier: 'has spaces', workerId: inside.id } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
  });
});
