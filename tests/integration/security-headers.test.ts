import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

let db: Db;
let app: App;
let clientDir: string;

beforeAll(async () => {
  db = await createTestDb();
  // A stand-in for the built dashboard: the headers do not depend on what the files say.
  clientDir = mkdtempSync(path.join(tmpdir(), 'gridline-client-'));
  mkdirSync(path.join(clientDir, 'assets'));
  writeFileSync(path.join(clientDir, 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/assets/index.js"></script>');
  writeFileSync(path.join(clientDir, 'assets', 'index.js'), 'console.log("hi")');
  app = await buildTestApp(db, { clientDir });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  if (clientDir) rmSync(clientDir, { recursive: true, force: true });
});

/** The policy's directives by name. */
function csp(res: LightMyRequestResponse): Map<string, string[]> {
  const header = res.headers['content-security-policy'];
  expect(typeof header, `CSP on ${res.raw.req.url}`).toBe('string');
  return new Map(
    String(header)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

function expectHardened(res: LightMyRequestResponse): void {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
  expect(res.headers['x-powered-by']).toBeUndefined();
}

function expectDashboardPolicy(res: LightMyRequestResponse): void {
  const policy = csp(res);
  expect(policy.get('default-src')).toEqual(["'self'"]);
  // The app's own module scripts only: nothing inline, no eval.
  expect(policy.get('script-src')).toEqual(["'self'"]);
  expect(policy.get('worker-src')).toEqual(["'self'", 'blob:']);
  expect(policy.get('media-src')).toEqual(["'self'", 'blob:']);
  expect(policy.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
  expect(policy.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
  expect(policy.get('connect-src')).toEqual(["'self'", 'data:']);
  expect(policy.get('object-src')).toEqual(["'none'"]);
  expect(policy.get('frame-ancestors')).toEqual(["'self'"]);
  // Plain-HTTP deployments on a LAN must keep working.
  expect(policy.has('upgrade-insecure-requests')).toBe(false);
}

describe('security headers', () => {
  it('the dashboard (index, a client-side route, an asset) carries the dashboard policy', async () => {
    for (const url of ['/', '/wall', '/assets/index.js']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expectHardened(res);
      expectDashboardPolicy(res);
    }
  });

  it('the API carries them too, on success and on error', async () => {
    const ok = await app.inject({ url: '/api/workers', headers: await login(app, 'operator') });
    expect(ok.statusCode).toBe(200);
    const refused = await app.inject({ url: '/api/workers' });
    expect(refused.statusCode).toBe(401);
    const missing = await app.inject({ url: '/api/no-such-thing' });
    expect(missing.statusCode).toBe(404);
    for (const res of [ok, refused, missing]) {
      expectHardened(res);
      expectDashboardPolicy(res);
    }
  });

  it('/docs has its own policy: Swagger UI’s allowances stay there', async () => {
    const page = await app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expectHardened(page);
    const docs = csp(page);
    expect(docs.get('script-src')).toEqual(["'self'"]);
    expect(docs.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(docs.get('img-src')).toEqual(["'self'", 'data:']);
    // Nothing of the wall's: no workers, no blobs.
    expect(docs.has('worker-src')).toBe(false);
    expect(docs.has('upgrade-insecure-requests')).toBe(false);
    for (const url of ['/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js', '/docs/json']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(csp(res), url).toEqual(docs);
    }
  });

  it('a configured basemap’s origin is allowed for its tiles, and nothing more', async () => {
    const withBasemap = await buildTestApp(db, { config: { basemapUrl: 'https://{s}.tiles.example.org/dark/{z}/{x}/{y}.png' } });
    try {
      const policy = csp(await app.inject({ url: '/api/health' }));
      expect(policy.get('img-src')).not.toContain('https://*.tiles.example.org');
      const res = await withBasemap.inject({ url: '/api/health' });
      const withIt = csp(res);
      expect(withIt.get('img-src')).toEqual(["'self'", 'data:', 'blob:', 'https://*.tiles.example.org']);
      expect(withIt.get('connect-src')).toEqual(["'self'", 'data:', 'https://*.tiles.example.org']);
      expect(withIt.get('script-src')).toEqual(["'self'"]);
    } finally {
      await withBasemap.close();
    }
  });
});
