/**
 * The route-table sweep: every route the app registers, asked with every kind of bad credential
 * and under every disguise of its path. Nothing that is not public may answer 200 (or fail with a
 * 500) without a good token, and the public routes are exactly the ones meant to be.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from 'fast-jwt';
import type { App } from '../../server/app';
import type { Db } from '../../server/platform/db';
import type { RouteEntry } from '../../server/platform/auth/plugin';
import { createTestDb } from '../support/db';
import { buildTestApp, login, TEST_JWT_SECRET, token } from '../support/app';

let db: Db;
let app: App;
let clientDir: string;
let closed: RouteEntry[];
const bad: Record<string, { authorization?: string; status: number; code: string }> = {};
let workerToken: string;

/** A route's path with its parameters filled in: :z/:x/:y → 1/0/0, any other :param → 1. */
function concrete(url: string): string {
  return url.replace(':z/:x/:y', '1/0/0').replace(/:\w+/g, '1');
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

beforeAll(async () => {
  // A dashboard build, so that its static files are in the route table too.
  clientDir = mkdtempSync(path.join(os.tmpdir(), 'gridline-client-'));
  writeFileSync(path.join(clientDir, 'index.html'), '<!doctype html><title>Gridline</title>');
  mkdirSync(path.join(clientDir, 'assets'));
  writeFileSync(path.join(clientDir, 'assets', 'app.js'), 'export {};');
  db = await createTestDb();
  app = await buildTestApp(db, { clientDir });
  await app.ready();
  closed = app.routeTable.filter((r) => r.auth !== 'public');

  const adminToken = await token(app, 'admin');
  workerToken = await token(app, 'worker');
  const adminClaims = claimsOf(adminToken);
  const [header, payload, signature] = adminToken.split('.') as [string, string, string];

  // The signature changed (one character in the middle, so no padding bits hide it).
  const mid = Math.floor(signature.length / 2);
  const tampered = `${header}.${payload}.${signature.slice(0, mid)}${signature[mid] === 'A' ? 'B' : 'A'}${signature.slice(mid + 1)}`;
  // A worker's token promoted to admin, keeping the worker's signature.
  const workerParts = workerToken.split('.');
  const promoted = `${workerParts[0]}.${Buffer.from(JSON.stringify({ ...claimsOf(workerToken), role: 'admin' })).toString('base64url')}.${workerParts[2]}`;
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
  const foreign = createSigner({ key: 'not-the-server-secret-but-just-as-long', algorithm: 'HS256' })(adminClaims);
  // Same secret, same claims (the current version), issued two hours ago for one hour.
  const { iat: _iat, exp: _exp, ...claims } = adminClaims;
  const expired = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 3_600_000, clockTimestamp: Date.now() - 7_200_000 })(claims);

  // An administrator who signed in, then was deactivated.
  const admin = await login(app, 'admin');
  const created = await app.inject({
    method: 'POST', url: '/api/users', headers: admin,
    payload: { username: 'sweeper', displayName: 'Sweeper', password: 'sweeper-password-1', role: 'admin', regionCode: claimsOf(adminToken).reg },
  });
  expect(created.statusCode).toBe(201);
  const revoked = (await login(app, 'sweeper', 'sweeper-password-1')).authorization;
  const off = await app.inject({ method: 'PATCH', url: `/api/users/${(created.json() as { id: number }).id}`, headers: admin, payload: { active: false } });
  expect(off.statusCode).toBe(200);

  Object.assign(bad, {
    'no token': { status: 401, code: 'AUTH_REQUIRED' },
    'not a bearer': { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}`, status: 401, code: 'AUTH_REQUIRED' },
    garbage: { authorization: 'Bearer not.a.token', status: 401, code: 'AUTH_TOKEN_INVALID' },
    'tampered signature': { authorization: `Bearer ${tampered}`, status: 401, code: 'AUTH_TOKEN_INVALID' },
    'promoted payload': { authorization: `Bearer ${promoted}`, status: 401, code: 'AUTH_TOKEN_INVALID' },
    'alg none': { authorization: `Bearer ${unsigned}`, status: 401, code: 'AUTH_TOKEN_INVALID' },
    'another secret': { authorization: `Bearer ${foreign}`, status: 401, code: 'AUTH_TOKEN_INVALID' },
    expired: { authorization: `Bearer ${expired}`, status: 401, code: 'AUTH_TOKEN_EXPIRED' },
    revoked: { authorization: revoked, status: 401, code: 'AUTH_TOKEN_REVOKED' },
  });
});
afterAll(async () => {
  await app.close();
  await db.close();
  rmSync(clientDir, { recursive: true, force: true });
});

async function ask(method: string, url: string, authorization?: string) {
  const hasBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method);
  return app.inject({
    method: method as 'GET',
    url,
    headers: authorization ? { authorization } : {},
    ...(hasBody ? { payload: {} } : {}),
  });
}

describe('the route table', () => {
  it('holds every route, the docs and the dashboard files included', () => {
    const urls = new Set(app.routeTable.map((r) => r.url));
    for (const url of ['/api/health', '/api/auth/login', '/api/users', '/api/users/:id', '/api/tickets/:id', '/api/tiles/:z/:x/:y.pbf', '/docs/json', '/index.html']) {
      expect(urls, url).toContain(url);
    }
    expect(closed.length).toBeGreaterThan(30);
  });

  it('the public routes are exactly health, login, the device protocols, the docs and the static files', () => {
    const isPublic = app.routeTable.filter((r) => r.auth === 'public');
    const api = isPublic.filter((r) => r.url.startsWith('/api/')).map((r) => `${r.method} ${r.url}`).sort();
    expect(api).toEqual([
      'GET /api/cameras/live', // a single-use camera play grant is its credential (WebSocket to Janus)
      'GET /api/devices/stream', // authenticates an admin's token itself (WebSocket upgrade)
      'GET /api/health',
      'GET /api/osmand',
      'HEAD /api/cameras/live',
      'HEAD /api/devices/stream',
      'HEAD /api/health',
      'HEAD /api/osmand',
      'POST /api/auth/login',
      'POST /api/osmand',
      'PUT /api/osmand',
    ]);
    const rest = [...new Set(isPublic.filter((r) => !r.url.startsWith('/api/')).map((r) => r.url))].sort();
    expect(rest).toEqual([
      '/', '/assets/app.js',
      '/docs', '/docs/', '/docs/json', '/docs/static/*', '/docs/static/index.html', '/docs/static/swagger-initializer.js', '/docs/yaml',
      '/index.html',
    ]);
    for (const r of isPublic.filter((e) => !e.url.startsWith('/api/'))) expect(['GET', 'HEAD'], `${r.method} ${r.url}`).toContain(r.method);
  });

  it('administration is declared admin-only on the route itself', () => {
    const adminOnly = app.routeTable
      .filter((r) => Array.isArray(r.auth) && r.auth.length === 1 && r.auth[0] === 'admin' && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`);
    expect(adminOnly).toEqual(expect.arrayContaining([
      'GET /api/users', 'POST /api/users', 'PATCH /api/users/:id',
      'GET /api/devices', 'POST /api/devices',
      'PUT /api/ticket-categories/:code', 'PUT /api/ticket-categories/:code/auto-dispatch', 'PUT /api/ticket-deadlines',
    ]));
  });
});

describe('every route that is not public refuses', () => {
  it('each kind of bad credential, with the exact status and code', async () => {
    const failures: string[] = [];
    for (const route of closed) {
      const url = concrete(route.url);
      for (const [kind, { authorization, status, code }] of Object.entries(bad)) {
        const res = await ask(route.method, url, authorization);
        const got = route.method === 'HEAD' ? '' : (res.json() as { code?: string }).code;
        const want = route.method === 'HEAD' ? '' : code;
        if (res.statusCode !== status || got !== want) failures.push(`${route.method} ${url} (${kind}): ${res.statusCode} ${got}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('under encoded, re-cased or doubled paths: 401 for the same route, else 404; never 200 or 500', async () => {
    const failures: string[] = [];
    const revoked = bad.revoked!.authorization;
    for (const route of closed) {
      const url = concrete(route.url);
      const variants: [string, number][] = [
        // The router decodes before matching: the same route, so the same refusal.
        [url.replace(/^\/api\//, '/%61pi/'), 401],
        [url.replace(/^\/api\/(\w)/, (_m, c: string) => `/api/%${c.charCodeAt(0).toString(16)}`), 401],
        [url.replace(/^\/api\//, '/API/'), 404],
        [`/${url}`, 404],
        [url.replace(/^\/api\//, '/api//'), 404],
      ];
      for (const [variant, status] of variants) {
        for (const authorization of [undefined, revoked]) {
          const res = await ask(route.method, variant, authorization);
          if (res.statusCode !== status) failures.push(`${route.method} ${variant}${authorization ? ' (revoked)' : ''}: ${res.statusCode}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('a signed-in user whose role the route does not list gets 403 FORBIDDEN', async () => {
    const failures: string[] = [];
    const restricted = closed.filter((r) => Array.isArray(r.auth) && !r.auth.includes('worker'));
    expect(restricted.length).toBeGreaterThan(8);
    for (const route of restricted) {
      const res = await ask(route.method, concrete(route.url), `Bearer ${workerToken}`);
      const got = route.method === 'HEAD' ? 'FORBIDDEN' : (res.json() as { code?: string }).code;
      if (res.statusCode !== 403 || got !== 'FORBIDDEN') failures.push(`${route.method} ${route.url}: ${res.statusCode} ${got}`);
    }
    expect(failures).toEqual([]);
  });
});
