import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from 'fast-jwt';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp, login } from '../support/app';

let db: Db;
let app: App;
beforeAll(async () => {
  db = await createTestDb();
  app = await buildTestApp(db);
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('health', () => {
  it('is open and names the engine and PostGIS version', async () => {
    const res = await app.inject('/api/health');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('ok');
    expect(body.db.engine).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
    expect(body.db.postgis).toMatch(/^3\.\d+/);
  });
});

describe('login', () => {
  it('signs in each demo role and returns its landing page and jurisdiction', async () => {
    for (const [username, role, home, level] of [
      ['admin', 'admin', '/wall', 'district'],
      ['leader', 'leader', '/command', 'district'],
      ['operator', 'operator', '/wall', 'district'],
      ['dispatcher', 'dispatcher', '/dispatch', 'street'],
      ['worker', 'worker', '/field', 'grid'],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: TEST_DEMO_PASSWORD } });
      expect(res.statusCode, username).toBe(200);
      const body = res.json();
      expect(body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(body.user).toMatchObject({ username, role, home, region: { level } });
    }
  });

  it('the street dispatcher belongs to 柳巷街道', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'dispatcher', password: TEST_DEMO_PASSWORD } });
    expect(res.json().user.region.name).toContain('柳巷');
  });

  it('a wrong password or an unknown user gets the same 401 and is audited', async () => {
    const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'nope' } });
    const unknown = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'ghost', password: 'nope' } });
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ code: 'AUTH_INVALID_CREDENTIALS', message: expect.any(String) });
    }
    const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login_failed'`);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it('stores passwords as argon2id hashes', async () => {
    const { rows } = await db.query<{ h: string }>(sql`SELECT password_hash AS h FROM users WHERE username = 'admin'`);
    expect(rows[0]!.h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('bad input gets 400 with a stable code', async () => {
    for (const payload of [{}, { username: 'admin' }, { username: '', password: 'x' }, { username: 'a', password: 'b', extra: 1 }]) {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    const notJson = await app.inject({ method: 'POST', url: '/api/auth/login', payload: '{oops', headers: { 'content-type': 'application/json' } });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().code).toBeDefined();
  });
});

describe('every other route needs a valid token', () => {
  const routes = ['/api/auth/me', '/api/regions?level=grid', '/api/workers', '/api/config'];

  it('no token → 401 AUTH_REQUIRED', async () => {
    for (const url of routes) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.json().code).toBe('AUTH_REQUIRED');
    }
  });

  it('a forged or expired token → 401', async () => {
    const forged = createSigner({ key: 'not-the-server-secret' })({ sub: '1', usr: 'admin', role: 'admin', reg: '140106', path: '/140106/', wid: null });
    const res = await app.inject({ url: '/api/workers', headers: { authorization: `Bearer ${forged}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_TOKEN_INVALID');

    const expired = app.jwt.sign({ sub: '1', usr: 'admin', role: 'admin', reg: '140106', path: '/140106/', wid: null }, { expiresIn: -10 });
    const res2 = await app.inject({ url: '/api/workers', headers: { authorization: `Bearer ${expired}` } });
    expect(res2.statusCode).toBe(401);
    expect(res2.json().code).toBe('AUTH_TOKEN_EXPIRED');
  });

  it('a valid token reaches the route', async () => {
    const res = await app.inject({ url: '/api/auth/me', headers: await login(app, 'operator') });
    expect(res.statusCode).toBe(200);
    expect(res.json().username).toBe('operator');
  });
});

describe('demo passwords', () => {
  it('changing the password clears the demo flag the production check reads', async () => {
    const headers = await login(app, 'leader');
    const res = await app.inject({
      method: 'POST', url: '/api/auth/password', headers,
      payload: { currentPassword: TEST_DEMO_PASSWORD, newPassword: 'a-much-better-password' },
    });
    expect(res.statusCode).toBe(204);
    const { rows } = await db.query<{ demo: boolean }>(sql`SELECT demo_password AS demo FROM users WHERE username = 'leader'`);
    expect(rows[0]!.demo).toBe(false);
    await login(app, 'leader', 'a-much-better-password');
    const old = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'leader', password: TEST_DEMO_PASSWORD } });
    expect(old.statusCode).toBe(401);
  });
});

describe('the signing secret', () => {
  it('lives in a key file in DATA_DIR, not in the database, and survives a restart', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gridline-data-'));
    try {
      const first = await buildTestApp(db, { config: { jwtSecret: undefined, dataDir } });
      const headers = await login(first, 'operator');
      await first.close();
      expect(statSync(path.join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      const { rows } = await db.query(sql`SELECT 1 FROM app_settings WHERE key = 'jwt_secret'`);
      expect(rows).toEqual([]);
      const second = await buildTestApp(db, { config: { jwtSecret: undefined, dataDir } });
      try {
        expect((await second.inject({ url: '/api/auth/me', headers })).statusCode).toBe(200);
        // Signed with the key file's secret: an app with another secret refuses it.
        const other = await app.inject({ url: '/api/auth/me', headers });
        expect([other.statusCode, other.json().code]).toEqual([401, 'AUTH_TOKEN_INVALID']);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('OpenAPI', () => {
  it('documents the routes with their schemas', async () => {
    const res = await app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/health', '/api/auth/login', '/api/regions', '/api/workers']));
    expect(doc.paths['/api/auth/login'].post.requestBody).toBeDefined();
    const ui = await app.inject('/docs/');
    expect([200, 302]).toContain(ui.statusCode);
  });
});
