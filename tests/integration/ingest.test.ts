/**
 * The position ingest under bad input and a failing database: nothing acknowledged is lost,
 * nothing unacknowledged is claimed, and it stays bounded. Failures are real database failures,
 * raised by a trigger this file installs (errcode per worker), never mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { PositionIngest } from '../../server/modules/positions/ingest';
import { buildOsmAndServer } from '../../server/modules/devices/routes';
import { createTestDb } from '../support/db';
import { buildTestApp, token } from '../support/app';

let db: Db;
let app: App;
let base: string;
const clock = new ManualClock(Date.now());
interface Placed { id: number; device: string; lon: number; lat: number }
/** Workers of 柳巷街道 (a, b, c) and one of another street (far). */
let a: Placed, b: Placed, c: Placed, far: Placed;
let streetAdmin: string;

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db, { clock, config: { streamMaxFixesPerS: 1000 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const { rows } = await db.query<{ id: number; code: string; lon: number; lat: number; inside: boolean }>(sql`
    SELECT * FROM (
      SELECT DISTINCT ON (inside) w.id, w.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
             s.name LIKE '%柳巷%' AS inside
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
        JOIN regions s ON s.level = 'street' AND g.path LIKE '%/' || s.code || '/%'
       WHERE w.role = 'full_time' ORDER BY inside, w.id) x
    UNION ALL
    SELECT * FROM (
      SELECT w.id, w.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)), true
        FROM workers w JOIN regions g ON g.code = w.home_grid_code
        JOIN regions s ON s.level = 'street' AND g.path LIKE '%/' || s.code || '/%'
       WHERE w.role = 'full_time' AND s.name LIKE '%柳巷%' ORDER BY w.id OFFSET 1 LIMIT 2) y`);
  const place = async (r: (typeof rows)[number]): Promise<Placed> => {
    const device = `ingest-${r.code}`;
    await app.ingest.registerDevice(device, r.id, 'phone');
    return { id: r.id, device, lon: r.lon, lat: r.lat };
  };
  far = await place(rows.find((r) => !r.inside)!);
  [a, b, c] = await Promise.all(rows.filter((r) => r.inside).map(place)) as [Placed, Placed, Placed];
  // An administrator of 柳巷街道 only (same password as the demo accounts).
  await db.query(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code)
    SELECT 'street-admin', '柳巷街道管理员', password_hash, 'admin', region_code FROM users WHERE username = 'dispatcher'`);
  streetAdmin = await token(app, 'street-admin');
  // Failure injection: a fix of a worker listed here fails its INSERT with that SQLSTATE.
  await db.exec(`
    CREATE TABLE test_fail_writes (worker_id bigint PRIMARY KEY, errcode text NOT NULL);
    CREATE FUNCTION test_fail_writes() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE code text;
    BEGIN
      SELECT errcode INTO code FROM test_fail_writes WHERE worker_id = NEW.worker_id;
      IF code IS NOT NULL THEN RAISE EXCEPTION 'injected failure for worker %', NEW.worker_id USING ERRCODE = code; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_fail_writes BEFORE INSERT ON worker_positions FOR EACH ROW EXECUTE FUNCTION test_fail_writes();`);
});
afterAll(async () => {
  await app.close();
  await db.close();
});

const failWrites = (p: Placed, errcode: string) => db.query(sql`INSERT INTO test_fail_writes VALUES (${p.id}, ${errcode})`);
const healWrites = () => db.query(sql`DELETE FROM test_fail_writes`);
const stored = async (p: Placed, sec: number) =>
  (await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM worker_positions WHERE worker_id = ${p.id} AND recorded_at = to_timestamp(${sec})`)).rows[0]!.n;
const osmand = (params: Record<string, string | number>) =>
  fetch(`${base}/api/osmand?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`, { method: 'POST' });
const osmandJson = (body: unknown) =>
  fetch(`${base}/api/osmand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** Seconds since epoch, distinct per call, a little in the past. */
let tick = Math.floor(clock.now() / 1000) - 600;
const nextSec = () => ++tick;

type Reply = { ref: unknown; code?: string; message?: string; retryAfterS?: number; stored?: number; duplicate?: number; rejected?: number;
  results?: { index: number; status: string; code?: string; message?: string }[] };

class Stream {
  private readonly replies: Reply[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.replies.push(JSON.parse(String(data)) as Reply);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(init: { bearer?: string; protocols?: string[]; query?: string } = {}): Promise<Stream> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/api/devices/stream${init.query ?? ''}`, init.protocols ?? [],
        init.bearer ? { headers: { authorization: `Bearer ${init.bearer}` } } : {});
      ws.once('open', () => resolve(new Stream(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  async next(): Promise<Reply> {
    while (this.replies.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    return this.replies.shift()!;
  }

  async send(message: unknown): Promise<Reply> {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    return this.next();
  }

  close() {
    this.ws.close();
  }
}

const fixOf = (p: Placed, sec: number, extra: Record<string, unknown> = {}) => ({ id: p.device, lat: p.lat, lon: p.lon, timestamp: sec, ...extra });
const statuses = (r: Reply) => r.results!.map((x) => [x.index, x.status, x.code]);

describe('device stream: every message is answered, none can crash the server', () => {
  it('answers null, non-objects and malformed batches with VALIDATION_FAILED, and keeps serving the socket', async () => {
    const s = await Stream.open({ bearer: await token(app, 'admin') });
    for (const bad of ['null', '5', '"x"', '[]', '{"fixes": 3}', '{"ref": {"x": 1}, "fixes": []}', 'not json']) {
      const r = await s.send(bad);
      expect(r.code, bad).toBe('VALIDATION_FAILED');
      expect(r.ref, bad).toBeNull();
    }
    const t = nextSec();
    const r = await s.send({ ref: 'after', fixes: [null, 7, 'x', fixOf(a, t)] });
    expect(r).toMatchObject({ ref: 'after', stored: 1, duplicate: 0, rejected: 3 });
    expect(statuses(r)).toEqual([[0, 'rejected', 'VALIDATION_FAILED'], [1, 'rejected', 'VALIDATION_FAILED'], [2, 'rejected', 'VALIDATION_FAILED'], [3, 'stored', undefined]]);
    expect(await stored(a, t)).toBe(1);
    s.close();
  });

  it('gives every fix its own result: one bad fix neither blocks nor misreports the others; a resent batch is all duplicates', async () => {
    const s = await Stream.open({ bearer: await token(app, 'admin') });
    const t1 = nextSec(), t0 = nextSec() - 100; // t0 older: an out-of-order fix for history only
    const batch = { ref: 1, fixes: [
      fixOf(b, t1), { ...fixOf(b, t1), id: `x\u0000y` }, fixOf(b, t1, { lat: 999 }), fixOf(c, t1), fixOf(b, t0),
    ] };
    const first = await s.send(batch);
    expect(first).toMatchObject({ ref: 1, stored: 3, duplicate: 0, rejected: 2 });
    expect(statuses(first)).toEqual([
      [0, 'stored', undefined], [1, 'rejected', 'DEVICE_UNKNOWN'], [2, 'rejected', 'POSITION_INVALID'], [3, 'stored', undefined], [4, 'stored', undefined],
    ]);
    const again = await s.send({ ...batch, ref: 2 });
    expect(again).toMatchObject({ ref: 2, stored: 0, duplicate: 3, rejected: 2 });
    expect(statuses(again)).toEqual([
      [0, 'duplicate', undefined], [1, 'rejected', 'DEVICE_UNKNOWN'], [2, 'rejected', 'POSITION_INVALID'], [3, 'duplicate', undefined], [4, 'duplicate', undefined],
    ]);
    expect(await stored(b, t0)).toBe(1);
    expect(app.ingest.state.workers.get(b.id)!.time).toBe(t1 * 1000);
    s.close();
  });

  it('refuses fixes for workers outside the token’s jurisdiction, per fix (OUT_OF_JURISDICTION)', async () => {
    const s = await Stream.open({ bearer: streetAdmin });
    const t = nextSec();
    const r = await s.send({ ref: 3, fixes: [fixOf(a, t), fixOf(far, t)] });
    expect(r).toMatchObject({ stored: 1, rejected: 1 });
    expect(statuses(r)).toEqual([[0, 'stored', undefined], [1, 'rejected', 'OUT_OF_JURISDICTION']]);
    expect(await stored(far, t)).toBe(0);
    expect(app.ingest.state.workers.get(far.id)!.time).not.toBe(t * 1000);
    s.close();
  });

  it('limits the fixes one socket may send per second (RATE_LIMITED, nothing of that batch stored)', async () => {
    const s = await Stream.open({ bearer: await token(app, 'admin') });
    // 1,000/s configured; the bucket holds one full batch (5,000). Unknown devices: cheap to refuse.
    const unknown = (n: number) => Array.from({ length: n }, () => ({ id: 'nobody', lat: a.lat, lon: a.lon }));
    const r1 = await s.send({ ref: 'a', fixes: unknown(4000) });
    expect(r1).toMatchObject({ ref: 'a', rejected: 4000 });
    const r2 = await s.send({ ref: 'b', fixes: [...unknown(3000), fixOf(a, nextSec())] });
    expect(r2).toMatchObject({ ref: 'b', code: 'RATE_LIMITED' });
    expect(r2.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(await stored(a, tick)).toBe(0);
    s.close();
  });
});

describe('device stream authentication: header or subprotocol, never the URL', () => {
  it('accepts the token as a subprotocol (browsers) and selects gridline.v1, never echoing the token', async () => {
    const admin = await token(app, 'admin');
    const s = await Stream.open({ protocols: ['gridline.v1', `gridline.token.${admin}`] });
    expect(s.ws.protocol).toBe('gridline.v1');
    const t = nextSec();
    expect(await s.send({ ref: 9, fixes: [fixOf(a, t)] })).toMatchObject({ ref: 9, stored: 1 });
    s.close();
  });

  it('ends an open stream (close 4401, AUTH_TOKEN_REVOKED) when its admin is deactivated, and refuses the old token after', async () => {
    const adminHeaders = { authorization: `Bearer ${await token(app, 'admin')}` };
    const created = await app.inject({ method: 'POST', url: '/api/users', headers: adminHeaders,
      payload: { username: 'gateway-admin', displayName: 'Gateway', password: 'gateway-password-1', role: 'admin', regionCode: '140106' } });
    expect(created.statusCode).toBe(201);
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'gateway-admin', password: 'gateway-password-1' } });
    const gatewayToken = (login.json() as { token: string }).token;
    const s = await Stream.open({ bearer: gatewayToken });
    expect(await s.send({ ref: 1, fixes: [fixOf(a, nextSec())] })).toMatchObject({ ref: 1, stored: 1 });
    const closed = new Promise<number>((resolve) => s.ws.once('close', (code) => resolve(code)));
    const off = await app.inject({ method: 'PATCH', url: `/api/users/${(created.json() as { id: number }).id}`, headers: adminHeaders, payload: { active: false } });
    expect(off.statusCode).toBe(200);
    expect(await s.next()).toMatchObject({ ref: null, code: 'AUTH_TOKEN_REVOKED' });
    expect(await closed).toBe(4401);
    await expect(Stream.open({ bearer: gatewayToken })).rejects.toThrow('HTTP 401');
  });

  it('refuses ?token= (401), no token (401) and a non-admin token (403)', async () => {
    await expect(Stream.open({ query: `?token=${await token(app, 'admin')}` })).rejects.toThrow('HTTP 401');
    await expect(Stream.open()).rejects.toThrow('HTTP 401');
    await expect(Stream.open({ protocols: ['gridline.v1', `gridline.token.${await token(app, 'operator')}`] })).rejects.toThrow('HTTP 403');
  });
});

describe('a failed write is never acknowledged, and its resend is stored', () => {
  it('OsmAnd: 503 SERVICE_UNAVAILABLE with Retry-After and no database text; the live state does not move; the resend is stored', async () => {
    const before = app.ingest.state.workers.get(c.id)!.time;
    const t = nextSec();
    await failWrites(c, '57P03');
    const res = await osmand({ id: c.device, lat: c.lat, lon: c.lon, timestamp: t });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = await res.json() as { code: string; message: string };
    expect(body.code).toBe('SERVICE_UNAVAILABLE');
    expect(body.message).not.toMatch(/injected|worker_positions/);
    expect(app.ingest.state.workers.get(c.id)!.time).toBe(before);
    expect(await stored(c, t)).toBe(0);

    await healWrites();
    const resent = await osmand({ id: c.device, lat: c.lat, lon: c.lon, timestamp: t });
    expect(resent.status).toBe(200);
    expect(await stored(c, t)).toBe(1);
    expect(app.ingest.state.workers.get(c.id)!.time).toBe(t * 1000);
    // A true duplicate (already stored) is still recognised.
    expect((await osmand({ id: c.device, lat: c.lat, lon: c.lon, timestamp: t })).status).toBe(200);
    expect(app.ingest.stats.duplicates).toBeGreaterThan(0);
  });

  it('stream: a fix whose row fails is rejected SERVICE_UNAVAILABLE (retryable) while the others of the batch are stored', async () => {
    const s = await Stream.open({ bearer: await token(app, 'admin') });
    const t = nextSec();
    await failWrites(b, '22023'); // a data error in b's row only
    const r = await s.send({ ref: 5, fixes: [fixOf(a, t), fixOf(b, t), fixOf(c, t)] });
    expect(r).toMatchObject({ ref: 5, stored: 2, duplicate: 0, rejected: 1, retryAfterS: 5 });
    expect(statuses(r)).toEqual([[0, 'stored', undefined], [1, 'rejected', 'SERVICE_UNAVAILABLE'], [2, 'stored', undefined]]);
    expect([await stored(a, t), await stored(b, t), await stored(c, t)]).toEqual([1, 0, 1]);
    expect(app.ingest.state.workers.get(b.id)!.time).toBeLessThan(t * 1000);
    await healWrites();
    const resent = await s.send({ ref: 6, fixes: [fixOf(a, t), fixOf(b, t), fixOf(c, t)] });
    expect(statuses(resent)).toEqual([[0, 'duplicate', undefined], [1, 'stored', undefined], [2, 'duplicate', undefined]]);
    expect(app.ingest.state.workers.get(b.id)!.time).toBe(t * 1000);
    s.close();
  });

  it('survives the database dropping its connections, and stores again by itself', async () => {
    if (db.engine === 'postgres') {
      // Every pooled connection of this database is cut, as a server restart does.
      await db.query(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const t = nextSec();
    let status = 0;
    for (let attempt = 0; attempt < 5 && status !== 200; attempt++) {
      const res = await osmand({ id: a.device, lat: a.lat, lon: a.lon, timestamp: t });
      status = res.status;
      expect([200, 503]).toContain(status); // a 503 only while a dead connection is found out
    }
    expect(status).toBe(200);
    expect(await stored(a, t)).toBe(1);
  });

  it('a full writer queue refuses at once with SERVICE_UNAVAILABLE instead of growing', async () => {
    const ingest = new PositionIngest(db, clock, { maxQueue: 3, maxDelayMs: 60_000 });
    await ingest.load();
    const t = nextSec() * 1000;
    const pending = [a, b, c, far, a].map((p, i) => ingest.submit({ device: p.device, lon: p.lon, lat: p.lat, time: t + i }));
    await new Promise((r) => setTimeout(r, 50));
    expect(ingest.writer.queued).toBe(3);
    await ingest.stop(); // flushes the three that were queued
    const outcomes = await Promise.all(pending);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.error.code : o.status))).toEqual(['stored', 'stored', 'stored', 'SERVICE_UNAVAILABLE', 'SERVICE_UNAVAILABLE']);
  });
});

describe('timestamps and identifiers', () => {
  it('refuses fixes older than FIX_MAX_AGE_DAYS (7) with POSITION_TOO_OLD (422), 1970 included', async () => {
    const now = Math.floor(clock.now() / 1000);
    for (const timestamp of [1, 86_400, now - 8 * 86_400]) {
      const res = await osmand({ id: a.device, lat: a.lat, lon: a.lon, timestamp });
      expect(res.status, String(timestamp)).toBe(422);
      expect((await res.json()).code).toBe('POSITION_TOO_OLD');
    }
    expect(app.ingest.state.workers.get(a.id)!.time).toBeGreaterThan((now - 3600) * 1000);
    const sixDays = now - 6 * 86_400;
    expect((await osmand({ id: a.device, lat: a.lat, lon: a.lon, timestamp: sixDays })).status).toBe(200);
    expect(await stored(a, sixDays)).toBe(1);
  });

  it('reads a numeric Traccar Client JSON timestamp in its unit: seconds below 2^31, else milliseconds', async () => {
    const coords = { latitude: b.lat, longitude: b.lon };
    const s1 = nextSec();
    expect((await osmandJson({ device_id: b.device, location: { timestamp: s1, coords } })).status).toBe(200);
    expect(await stored(b, s1)).toBe(1);
    const s2 = nextSec();
    expect((await osmandJson({ device_id: b.device, location: { timestamp: s2 * 1000, coords } })).status).toBe(200);
    expect(await stored(b, s2)).toBe(1);
  });

  it('answers a device id with NUL or control characters with 400 DEVICE_UNKNOWN, never 500', async () => {
    for (const id of ['\u0000', 'ab\u0000c', 'a\u0001b', 'tab\there', 'x'.repeat(65)]) {
      const res = await osmand({ id, lat: a.lat, lon: a.lon });
      expect(res.status, JSON.stringify(id)).toBe(400);
      expect((await res.json()).code).toBe('DEVICE_UNKNOWN');
      const json = await osmandJson({ device_id: id, location: { coords: { latitude: a.lat, longitude: a.lon } } });
      expect(json.status, JSON.stringify(id)).toBe(400);
      expect((await json.json()).code).toBe('DEVICE_UNKNOWN');
    }
  });

  it('remembers unknown identifiers for a minute: a flood costs one lookup; registering one works at once', async () => {
    const lookups = () => app.ingest.stats.deviceLookups;
    const before = lookups();
    for (let i = 0; i < 20; i++) {
      const res = await osmand({ id: 'flood-unknown-1', lat: a.lat, lon: a.lon });
      expect(res.status).toBe(400);
      expect((await res.json()).code).toBe('DEVICE_UNKNOWN');
    }
    expect(lookups() - before).toBe(1);
    clock.advance(61_000);
    await osmand({ id: 'flood-unknown-1', lat: a.lat, lon: a.lon });
    expect(lookups() - before).toBe(2);
    const reg = await app.inject({ method: 'POST', url: '/api/devices', headers: { authorization: `Bearer ${await token(app, 'admin')}` },
      payload: { identifier: 'flood-unknown-1', workerId: a.id } });
    expect(reg.statusCode).toBe(201);
    expect((await osmand({ id: 'flood-unknown-1', lat: a.lat, lon: a.lon })).status).toBe(200);
  });
});

describe('the OsmAnd port (5055) answers like the app', () => {
  it('stable codes, Retry-After on 503, no internal text, NOT_FOUND elsewhere', async () => {
    const server = await buildOsmAndServer(app.ingest);
    try {
      const bad = await server.inject({ method: 'POST', url: `/?id=${encodeURIComponent('a\u0000b')}&lat=${a.lat}&lon=${a.lon}` });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().code).toBe('DEVICE_UNKNOWN');
      const broken = await server.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload: '{nope' });
      expect(broken.statusCode).toBe(400);
      expect(broken.json().code).toBe('POSITION_INVALID');
      await failWrites(a, '57P03');
      const t = nextSec();
      const down = await server.inject({ method: 'POST', url: `/?id=${a.device}&lat=${a.lat}&lon=${a.lon}&timestamp=${t}` });
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(down.json().code).toBe('SERVICE_UNAVAILABLE');
      expect(down.body).not.toMatch(/injected|worker_positions/);
      await healWrites();
      const missing = await server.inject({ method: 'GET', url: '/nothing/here' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe('NOT_FOUND');
    } finally {
      await healWrites();
      await server.close();
    }
  });
});
