import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { ClientToServerEvents, ServerToClientEvents, SessionRevoked } from '@shared/realtime';
import type { UserAccount } from '@shared/users-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Headers = { authorization: string };

let db: Db;
let app: App;
let base: string;
let admin: Headers;
/** 柳巷街道 (the demo dispatcher's street), another street, and a grid of each. */
let street: string;
let otherStreet: string;
let gridInStreet: string;
let gridElsewhere: string;
/** An administrator of 柳巷街道 only, created through the API. */
let streetAdmin: Headers;
const sockets: Client[] = [];
const PASSWORD = 'a-long-enough-password';

beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  admin = await login(app, 'admin');
  const { rows } = await db.query<{ code: string; name: string }>(sql`SELECT code, name FROM regions WHERE level = 'street' ORDER BY code`);
  street = rows.find((r) => r.name.includes('柳巷'))!.code;
  otherStreet = rows.find((r) => r.code !== street)!.code;
  const grid = async (streetCode: string) => (await db.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'grid' AND path LIKE ${`%/${streetCode}/%`} ORDER BY code LIMIT 1`)).rows[0]!.code;
  gridInStreet = await grid(street);
  gridElsewhere = await grid(otherStreet);
  await create({ username: 'street-admin', role: 'admin', regionCode: street });
  streetAdmin = await login(app, 'street-admin', PASSWORD);
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await db.close();
});

async function create(body: Record<string, unknown>, as: Headers = admin): Promise<UserAccount> {
  const res = await app.inject({
    method: 'POST', url: '/api/users', headers: as,
    payload: { displayName: String(body.username), password: PASSWORD, ...body },
  });
  if (res.statusCode !== 201) throw new Error(`create ${String(body.username)}: ${res.statusCode} ${res.body}`);
  return res.json() as UserAccount;
}

const patch = (id: number, payload: Record<string, unknown>, as: Headers = admin) =>
  app.inject({ method: 'PATCH', url: `/api/users/${id}`, headers: as, payload });

const me = (headers: Headers) => app.inject({ url: '/api/auth/me', headers });

function expectError(res: { statusCode: number; json: () => unknown }, status: number, code: string) {
  expect([res.statusCode, (res.json() as { code: string }).code]).toEqual([status, code]);
}

async function socketOf(headers: Headers, options: Record<string, unknown> = {}): Promise<Client> {
  const socket: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'], reconnection: false, ...options });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('session.ready', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

describe('users administration', () => {
  it('lists only the accounts inside the admin’s jurisdiction', async () => {
    const all = await app.inject({ url: '/api/users', headers: admin });
    expect(all.statusCode).toBe(200);
    expect((all.json() as UserAccount[]).map((u) => u.username)).toEqual(
      expect.arrayContaining(['admin', 'leader', 'operator', 'dispatcher', 'worker', 'street-admin']));

    const res = await app.inject({ url: '/api/users', headers: streetAdmin });
    expect(res.statusCode).toBe(200);
    const names = (res.json() as UserAccount[]).map((u) => u.username);
    expect(names).toContain('dispatcher');
    expect(names).toContain('street-admin');
    expect(names).not.toContain('admin');
    expect(names).not.toContain('operator');
  });

  it('creates an account inside the jurisdiction, audited, and it can sign in', async () => {
    const created = await create({ username: 'desk-2', role: 'dispatcher', regionCode: street }, streetAdmin);
    expect(created).toMatchObject({ username: 'desk-2', role: 'dispatcher', active: true, demoPassword: false, region: { code: street } });
    await login(app, 'desk-2', PASSWORD);
    const { rows } = await db.query<{ detail: { role: string } }>(sql`
      SELECT detail FROM audit_log WHERE action = 'user.created' AND subject_id = ${String(created.id)}`);
    expect(rows[0]!.detail.role).toBe('dispatcher');
  });

  it('a street admin cannot create, see or change accounts outside the street: 404', async () => {
    const res = await app.inject({
      method: 'POST', url: '/api/users', headers: streetAdmin,
      payload: { username: 'outsider', displayName: 'x', password: PASSWORD, role: 'operator', regionCode: otherStreet },
    });
    expectError(res, 404, 'NOT_FOUND');
    const operator = (await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = 'operator'`)).rows[0]!.id;
    expectError(await patch(operator, { active: false }, streetAdmin), 404, 'NOT_FOUND');
    expect((await me(await login(app, 'operator'))).statusCode).toBe(200);
    // Nor move an account of the street out of it.
    const desk = await create({ username: 'desk-3', role: 'dispatcher', regionCode: gridInStreet }, streetAdmin);
    expectError(await patch(desk.id, { regionCode: gridElsewhere }, streetAdmin), 404, 'NOT_FOUND');
  });

  it('refuses a taken username (409) and non-admins (403)', async () => {
    expectError(await app.inject({
      method: 'POST', url: '/api/users', headers: admin,
      payload: { username: 'Dispatcher', displayName: 'x', password: PASSWORD, role: 'dispatcher', regionCode: street },
    }), 409, 'CONFLICT');
    const dispatcher = await login(app, 'dispatcher');
    expectError(await app.inject({ url: '/api/users', headers: dispatcher }), 403, 'FORBIDDEN');
    expectError(await patch(1, { active: false }, dispatcher), 403, 'FORBIDDEN');
  });

  it('refuses a blank display name and an id past the largest exact integer with 400, never 500', async () => {
    const blank = await app.inject({ method: 'POST', url: '/api/users', headers: admin,
      payload: { username: 'blank-name', displayName: '   ', password: PASSWORD, role: 'operator', regionCode: '140106' } });
    expect(blank.statusCode).toBe(400);
    expect(blank.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const huge = await patch(1e20, { displayName: 'x' });
    expect(huge.statusCode).toBe(400);
    expect(huge.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('an admin cannot deactivate or demote themselves', async () => {
    const self = (await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = 'street-admin'`)).rows[0]!.id;
    expectError(await patch(self, { active: false }, streetAdmin), 403, 'FORBIDDEN');
    expectError(await patch(self, { role: 'operator' }, streetAdmin), 403, 'FORBIDDEN');
    expect((await me(streetAdmin)).statusCode).toBe(200);
  });
});

describe('revocation', () => {
  it('deactivation stops the user’s tokens at once; login is refused; reactivation needs a new login', async () => {
    const user = await create({ username: 'leaver', role: 'operator', regionCode: street });
    const before = await login(app, 'leaver', PASSWORD);
    expect((await me(before)).statusCode).toBe(200);

    const res = await patch(user.id, { active: false });
    expect(res.statusCode).toBe(200);
    expect((res.json() as UserAccount).active).toBe(false);
    expectError(await me(before), 401, 'AUTH_TOKEN_REVOKED');
    expectError(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'leaver', password: PASSWORD } }), 403, 'AUTH_ACCOUNT_DISABLED');

    expect((await patch(user.id, { active: true })).statusCode).toBe(200);
    expectError(await me(before), 401, 'AUTH_TOKEN_REVOKED');
    expect((await me(await login(app, 'leaver', PASSWORD))).statusCode).toBe(200);

    const { rows } = await db.query<{ detail: { active: boolean; revoked: boolean } }>(sql`
      SELECT detail FROM audit_log WHERE action = 'user.updated' AND subject_id = ${String(user.id)} ORDER BY id`);
    expect(rows.map((r) => [r.detail.active, r.detail.revoked])).toEqual([[false, true], [true, true]]);
  });

  it('a role, jurisdiction or password change revokes; a new display name does not', async () => {
    const user = await create({ username: 'mover', role: 'operator', regionCode: street });
    let headers = await login(app, 'mover', PASSWORD);

    expect((await patch(user.id, { displayName: '新名字' })).statusCode).toBe(200);
    expect((await me(headers)).json().displayName).toBe('新名字');

    for (const change of [{ role: 'dispatcher' }, { regionCode: gridInStreet }, { password: 'another-long-password' }]) {
      expect((await patch(user.id, change)).statusCode).toBe(200);
      expectError(await me(headers), 401, 'AUTH_TOKEN_REVOKED');
      headers = await login(app, 'mover', 'password' in change ? change.password : PASSWORD);
      expect((await me(headers)).statusCode).toBe(200);
    }
    expect((await me(headers)).json()).toMatchObject({ role: 'dispatcher', region: { code: gridInStreet } });
  });

  it('changing one’s own password (POST /api/auth/password) ends every session of the user', async () => {
    await create({ username: 'changer', role: 'operator', regionCode: street });
    const phone = await login(app, 'changer', PASSWORD);
    const laptop = await login(app, 'changer', PASSWORD);
    const res = await app.inject({
      method: 'POST', url: '/api/auth/password', headers: laptop,
      payload: { currentPassword: PASSWORD, newPassword: 'my-new-long-password' },
    });
    expect(res.statusCode).toBe(204);
    expectError(await me(phone), 401, 'AUTH_TOKEN_REVOKED');
    expectError(await me(laptop), 401, 'AUTH_TOKEN_REVOKED');
    expect((await me(await login(app, 'changer', 'my-new-long-password'))).statusCode).toBe(200);
  });

  it('a deactivated user’s socket gets session.revoked, is disconnected, and cannot reconnect with the old token', async () => {
    const user = await create({ username: 'watcher', role: 'operator', regionCode: street });
    const headers = await login(app, 'watcher', PASSWORD);
    const socket = await socketOf(headers);
    // Another user's socket stays connected.
    const bystander = await socketOf(await login(app, 'dispatcher'));

    const revoked = new Promise<SessionRevoked>((resolve) => socket.once('session.revoked', resolve));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    expect((await patch(user.id, { active: false })).statusCode).toBe(200);
    expect(await revoked).toEqual({ code: 'AUTH_TOKEN_REVOKED', message: expect.any(String) });
    expect(await disconnected).toBe('io server disconnect');
    expect(bystander.connected).toBe(true);

    const again: Client = connect(base, { auth: { token: headers.authorization.slice('Bearer '.length) }, transports: ['websocket'], reconnection: false });
    sockets.push(again);
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) => again.once('connect_error', resolve));
    expect(err.message).toBe('AUTH_TOKEN_REVOKED');
    expect(err.data?.code).toBe('AUTH_TOKEN_REVOKED');
  });

  it('connection-state recovery does not let a revoked socket back in', async () => {
    const user = await create({ username: 'roamer', role: 'operator', regionCode: street });
    const socket = await socketOf(await login(app, 'roamer', PASSWORD));
    // The network drops (the server keeps the session for recovery); meanwhile the account is deactivated.
    const dropped = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    socket.io.engine.close();
    await dropped;
    // Until the server has seen the drop and kept the session.
    await new Promise((r) => setTimeout(r, 100));
    expect((await patch(user.id, { active: false })).statusCode).toBe(200);

    // Reconnecting offers the recovery id and offset; the middleware still checks the token.
    const refused = new Promise<Error>((resolve) => socket.once('connect_error', resolve));
    const recovered = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.connect();
    const outcome = await Promise.race([refused.then((e) => e.message), recovered.then(() => `recovered=${String(socket.recovered)}`)]);
    expect(outcome).toBe('AUTH_TOKEN_REVOKED');
  });
});
