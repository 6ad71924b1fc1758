/**
 * Wall display sessions (issue 14, the unattended wall): an administrator creates one for a region
 * and gets a long-lived token; the wall reads with it (HTTP and socket), inside the region only,
 * and writes nothing but its own rotation; revoking it disconnects the wall's socket at once and
 * the token is refused from then on with WALL_SESSION_REVOKED, audited. The token outlives a
 * server restart. Real app, real database, real socket.io on a real port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents, SessionInfo, SessionRevoked } from '@shared/realtime';
import type { UserDto, WorkerDto } from '@shared/api';
import type { WallCarousel, WallSession, WallSessionCreated } from '@shared/wall-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

let db: Db;
let app: App;
let base: string;
let admin: Headers;
let district: string;
/** 柳巷街道 and another street. */
let street: string;
let otherStreet: string;
const sockets: Client[] = [];
const DAY_S = 86_400;

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  admin = await login(app, 'admin');
  const { rows } = await db.query<{ code: string; name: string }>(sql`SELECT code, name FROM regions WHERE level = 'street' ORDER BY code`);
  street = rows.find((r) => r.name.includes('柳巷'))!.code;
  otherStreet = rows.find((r) => r.code !== street)!.code;
  district = (await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'district' ORDER BY code LIMIT 1`)).rows[0]!.code;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
});

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

async function createSession(body: Record<string, unknown>, as: Headers = admin): Promise<WallSessionCreated> {
  const res = await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: as, payload: body });
  if (res.statusCode !== 201) throw new Error(`create wall session: ${res.statusCode} ${res.body}`);
  return res.json() as WallSessionCreated;
}

function expectError(res: { statusCode: number; json: () => unknown }, status: number, code: string) {
  expect([res.statusCode, (res.json() as { code: string }).code]).toEqual([status, code]);
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function socketOf(token: string): Promise<{ socket: Client; ready: SessionInfo }> {
  const socket: Client = connect(base, { auth: { token }, transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  const ready = await new Promise<SessionInfo>((resolve, reject) => {
    socket.once('session.ready', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, ready };
}

async function listed(id: number): Promise<WallSession | undefined> {
  const res = await app.inject({ url: '/api/wall-sessions', headers: admin });
  expect(res.statusCode).toBe(200);
  return (res.json() as WallSession[]).find((s) => s.id === id);
}

describe('wall display sessions', () => {
  it('only an administrator may create, list or revoke them', async () => {
    for (const who of ['operator', 'leader', 'dispatcher', 'worker']) {
      const headers = await login(app, who);
      expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', headers, payload: { name: '主屏', regionCode: street } }), 403, 'FORBIDDEN');
      expectError(await app.inject({ url: '/api/wall-sessions', headers }), 403, 'FORBIDDEN');
      expectError(await app.inject({ method: 'DELETE', url: '/api/wall-sessions/1', headers }), 403, 'FORBIDDEN');
    }
    expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', payload: { name: '主屏', regionCode: street } }), 401, 'AUTH_REQUIRED');
    // Each route declares it on itself.
    const declared = app.routeTable.filter((r) => r.url.startsWith('/api/wall-sessions') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url} ${JSON.stringify(r.auth)}`);
    expect(declared.sort()).toEqual([
      'DELETE /api/wall-sessions/:id ["admin"]',
      'GET /api/wall-sessions ["admin"]',
      'POST /api/wall-sessions ["admin"]',
    ]);
  });

  it('refuses bad bodies and regions outside the administrator’s jurisdiction', async () => {
    expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: admin, payload: { name: ' ', regionCode: street } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: admin, payload: { name: '主屏', regionCode: street, days: 400 } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: admin, payload: { name: '主屏', regionCode: '999999' } }), 404, 'NOT_FOUND');
    // An administrator of one street cannot make a wall for another.
    const res = await app.inject({
      method: 'POST', url: '/api/users', headers: admin,
      payload: { username: 'wall-street-admin', displayName: '街道管理员', password: 'a-long-enough-password', role: 'admin', regionCode: street },
    });
    expect(res.statusCode).toBe(201);
    const streetAdmin = await login(app, 'wall-street-admin', 'a-long-enough-password');
    expectError(await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: streetAdmin, payload: { name: '主屏', regionCode: otherStreet } }), 404, 'NOT_FOUND');
    const mine = await createSession({ name: '柳巷大屏', regionCode: street }, streetAdmin);
    const elsewhere = await createSession({ name: '区大屏', regionCode: district });
    // The street admin sees their own wall, not the district's, and cannot revoke it.
    const list = (await app.inject({ url: '/api/wall-sessions', headers: streetAdmin })).json() as WallSession[];
    expect(list.map((s) => s.id)).toContain(mine.session.id);
    expect(list.map((s) => s.id)).not.toContain(elsewhere.session.id);
    expectError(await app.inject({ method: 'DELETE', url: `/api/wall-sessions/${elsewhere.session.id}`, headers: streetAdmin }), 404, 'NOT_FOUND');
  });

  it('gives a long-lived token for a read-only identity scoped to the region', async () => {
    const created = await createSession({ name: '柳巷街道值班大屏', regionCode: street, days: 14 });
    expect(created.url).toBe(`/wall?session=${encodeURIComponent(created.token)}`);
    expect(created.session).toMatchObject({ name: '柳巷街道值班大屏', region: { code: street, level: 'street' }, revokedAt: null, connected: 0 });
    const claims = claimsOf(created.token);
    expect(claims.wss).toBe(created.session.id);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(14 * DAY_S);
    expect(Date.parse(created.session.expiresAt) - Date.now()).toBeGreaterThan(13.9 * DAY_S * 1000);

    const wall = bearer(created.token);
    const me = await app.inject({ url: '/api/auth/me', headers: wall });
    expect(me.statusCode).toBe(200);
    expect(me.json() as UserDto).toMatchObject({
      role: 'operator', home: '/wall', region: { code: street }, wallSession: { id: created.session.id, name: '柳巷街道值班大屏' },
    });
    // It reads what an operator of the street reads: the street's workers only.
    const workers = await app.inject({ url: '/api/workers', headers: wall });
    expect(workers.statusCode).toBe(200);
    const seen = workers.json() as WorkerDto[];
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((w) => w.streetCode))).toEqual(new Set([street]));
    expect((await app.inject({ url: '/api/stats/kpis?window=today&level=community', headers: wall })).statusCode).toBe(200);

    // It changes nothing: not the data, not its own password.
    expectError(await app.inject({ method: 'POST', url: '/api/auth/password', headers: wall, payload: { currentPassword: 'x', newPassword: 'a-long-enough-password' } }), 403, 'WALL_SESSION_READ_ONLY');
    expectError(await app.inject({ method: 'POST', url: '/api/alarms/1/transitions', headers: wall, payload: { action: 'acknowledge' } }), 403, 'WALL_SESSION_READ_ONLY');
    expectError(await app.inject({
      method: 'POST', url: '/api/tickets', headers: wall, payload: { category: 'x', description: 'y', location: { lon: 112.56, lat: 37.86 } },
    }), 403, 'WALL_SESSION_READ_ONLY');
    // It may watch a consult on the wall, not talk in one.
    expectError(await app.inject({ method: 'POST', url: '/api/consults/1/join', headers: wall, payload: { mode: 'talk' } }), 403, 'WALL_SESSION_READ_ONLY');
    const watch = await app.inject({ method: 'POST', url: '/api/consults/1/join', headers: wall, payload: { mode: 'watch' } });
    expect((watch.json() as { code?: string }).code).not.toBe('WALL_SESSION_READ_ONLY');
    // Nobody signs in with its account.
    const account = (await db.query<{ id: number; username: string }>(sql`
      SELECT u.id, u.username FROM wall_sessions w JOIN users u ON u.id = w.user_id WHERE w.id = ${created.session.id}`)).rows[0]!;
    const signIn = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: account.username, password: 'guess-the-password' } });
    expectError(signIn, 401, 'AUTH_INVALID_CREDENTIALS');
    // Nor is it one of the people's accounts: not listed among them, not changed through them (only revoked as a wall).
    const users = await app.inject({ url: '/api/users', headers: admin });
    expect(users.statusCode).toBe(200);
    const usernames = (users.json() as { username: string }[]).map((u) => u.username);
    expect(usernames).toContain('operator');
    const wallAccounts = (await db.query<{ username: string }>(sql`SELECT u.username FROM wall_sessions w JOIN users u ON u.id = w.user_id`)).rows.map((r) => r.username);
    expect(wallAccounts).toContain(account.username);
    expect(usernames.filter((u) => wallAccounts.includes(u))).toEqual([]);
    expectError(await app.inject({ method: 'PATCH', url: `/api/users/${Number(account.id)}`, headers: admin, payload: { role: 'admin' } }), 404, 'NOT_FOUND');
  });

  it('keeps the wall’s own rotation, the one thing it may write', async () => {
    const created = await createSession({ name: '轮播大屏', regionCode: district });
    const wall = bearer(created.token);
    const initial = await app.inject({ url: '/api/wall/carousel', headers: wall });
    expect(initial.json()).toMatchObject({ enabled: false });
    const carousel: WallCarousel = { enabled: true, views: [{ kind: 'district' }, { kind: 'street', code: street }, { kind: 'kpi' }], seconds: 20, idleSeconds: 60 };
    const saved = await app.inject({ method: 'PUT', url: '/api/wall/carousel', headers: wall, payload: carousel });
    expect(saved.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/wall/carousel', headers: wall })).json()).toEqual(carousel);
    // Per account: the operator's own wall is untouched.
    expect(((await app.inject({ url: '/api/wall/carousel', headers: await login(app, 'operator') })).json() as WallCarousel).enabled).toBe(false);
    // A street outside the jurisdiction, too short a view, an unknown kind.
    const streetWall = bearer((await createSession({ name: '街道大屏', regionCode: street })).token);
    expectError(await app.inject({ method: 'PUT', url: '/api/wall/carousel', headers: streetWall, payload: { ...carousel, views: [{ kind: 'street', code: otherStreet }] } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'PUT', url: '/api/wall/carousel', headers: wall, payload: { ...carousel, seconds: 1 } }), 400, 'VALIDATION_FAILED');
    expectError(await app.inject({ method: 'PUT', url: '/api/wall/carousel', headers: wall, payload: { ...carousel, views: [{ kind: 'map' }] } }), 400, 'VALIDATION_FAILED');
    // A dispatcher has no wall.
    expectError(await app.inject({ url: '/api/wall/carousel', headers: await login(app, 'dispatcher') }), 403, 'FORBIDDEN');
  });

  it('revoking disconnects the wall’s socket at once, refuses its token, and is audited once', async () => {
    const created = await createSession({ name: '撤销测试大屏', regionCode: street });
    const { socket, ready } = await socketOf(created.token);
    expect(ready.regionCode).toBe(street);
    expect(ready.role).toBe('operator');
    expect((await listed(created.session.id))?.connected).toBe(1);
    // Another wall stays connected.
    const bystander = await socketOf((await createSession({ name: '旁观大屏', regionCode: street })).token);

    const revoked = new Promise<SessionRevoked>((resolve) => socket.once('session.revoked', resolve));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const res = await app.inject({ method: 'DELETE', url: `/api/wall-sessions/${created.session.id}`, headers: admin });
    expect(res.statusCode).toBe(204);
    expect(await revoked).toEqual({ code: 'WALL_SESSION_REVOKED', message: expect.any(String) });
    expect(await disconnected).toBe('io server disconnect');
    expect(bystander.socket.connected).toBe(true);

    const again: Client = connect(base, { auth: { token: created.token }, transports: ['websocket'], reconnection: false });
    sockets.push(again);
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) => again.once('connect_error', resolve));
    expect(err.message).toBe('WALL_SESSION_REVOKED');
    expect(err.data?.code).toBe('WALL_SESSION_REVOKED');
    expectError(await app.inject({ url: '/api/auth/me', headers: bearer(created.token) }), 401, 'WALL_SESSION_REVOKED');
    expectError(await app.inject({ url: '/api/workers', headers: bearer(created.token) }), 401, 'WALL_SESSION_REVOKED');

    const after = await listed(created.session.id);
    expect(after?.revokedAt).not.toBeNull();
    expect(after?.connected).toBe(0);
    // A second revoke changes nothing and is not audited again.
    expect((await app.inject({ method: 'DELETE', url: `/api/wall-sessions/${created.session.id}`, headers: admin })).statusCode).toBe(204);
    const audits = await db.query<{ action: string; userId: number; detail: { name: string } }>(sql`
      SELECT a.action, a.user_id AS "userId", a.detail FROM audit_log a
       WHERE a.subject_type = 'wall_session' AND a.subject_id = ${String(created.session.id)} ORDER BY a.id`);
    const adminId = (await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = 'admin'`)).rows[0]!.id;
    expect(audits.rows.map((r) => [r.action, r.userId, r.detail.name])).toEqual([
      ['wall_session.created', adminId, '撤销测试大屏'],
      ['wall_session.revoked', adminId, '撤销测试大屏'],
    ]);
    expectError(await app.inject({ method: 'DELETE', url: '/api/wall-sessions/999999', headers: admin }), 404, 'NOT_FOUND');
  });

  it('the token outlives a server restart (same database, a new process’s app)', async () => {
    const created = await createSession({ name: '重启大屏', regionCode: street });
    const revokedOne = await createSession({ name: '已撤销大屏', regionCode: street });
    expect((await app.inject({ method: 'DELETE', url: `/api/wall-sessions/${revokedOne.session.id}`, headers: admin })).statusCode).toBe(204);
    const second = await buildTestApp(db);
    try {
      await second.ready();
      const me = await second.inject({ url: '/api/auth/me', headers: bearer(created.token) });
      expect(me.statusCode).toBe(200);
      expect((me.json() as UserDto).wallSession?.name).toBe('重启大屏');
      expectError(await second.inject({ url: '/api/auth/me', headers: bearer(revokedOne.token) }), 401, 'WALL_SESSION_REVOKED');
    } finally {
      await second.close();
    }
  });
});
