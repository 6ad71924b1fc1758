/**
 * Signing in and being signed out, in Chromium against the built dashboard and the real server:
 * guessing until the login limit answers 429 (the page says when to try again), a 401 on any
 * request and a revoked socket both taking the user back to the login page with the reason, and
 * the API docs rendering under their own Content-Security-Policy.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { waitFor } from '../support/e2e';

/** Failed sign-ins per account before 429 (a small limit keeps the test short; the default is 10). */
const PER_ACCOUNT = 5;
const WINDOW_S = 15 * 60;

let db: Db;
let app: App;
let browser: TestBrowser;
let base: string;
let page: Page;

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  app = await buildTestApp(db, {
    clientDir: CLIENT_DIST,
    config: { loginLimitPerAccount: PER_ACCOUNT, loginLimitWindowS: WINDOW_S, simulate: false },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
  page = await browser.open(1920, 1080);
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.close();
});

/** Fills the form and submits; resolves with the HTTP status of the sign-in request. */
async function submit(username: string, password: string): Promise<number> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/api/auth/login` && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  return response.status();
}

const cspViolations = () => browser.errors.filter((e) => /Content.Security.Policy/i.test(e));

/** Changes a user's password as the admin would: every token of theirs is revoked at once. */
async function revokeByPasswordChange(username: string, password: string): Promise<void> {
  const { rows } = await db.query<{ id: number }>(sql`SELECT id FROM users WHERE username = ${username}`);
  const res = await app.inject({ method: 'PATCH', url: `/api/users/${rows[0]!.id}`, headers: await login(app, 'admin'), payload: { password } });
  expect(res.statusCode, res.body).toBe(200);
}

describe('signing in', () => {
  test('wrong passwords until 429: the page says, in Chinese and in English, when to try again', async () => {
    await page.goto(`${base}/login`);
    const statuses: number[] = [];
    for (let i = 0; i < PER_ACCOUNT + 3 && statuses.at(-1) !== 429; i++) {
      statuses.push(await submit('operator', `wrong-${i}`));
      if (statuses.at(-1) === 401) await expect(page.getByTestId('login-error').textContent()).resolves.toContain('用户名或密码错误');
    }
    expect(statuses).toEqual([...Array<number>(PER_ACCOUNT).fill(401), 429]);

    const error = page.getByTestId('login-error');
    await expect(error.textContent()).resolves.toBe(`登录尝试过多，请 ${WINDOW_S / 60} 分钟后再试`);
    expect(new URL(page.url()).pathname).toBe('/login');
    const file = await screenshot(page, 'login-rate-limited-1920x1080');
    expect(file).toMatch(/login-rate-limited-1920x1080\.png$/);

    // The message follows the language, and keeps the wait.
    // English is loaded when first asked for: the text changes once it has arrived.
    await page.getByRole('button', { name: 'EN' }).click();
    await waitFor('the English message', () => error.textContent(), (t) => t === `Too many sign-in attempts: try again in ${WINDOW_S / 60} minutes`, 10_000);
    await screenshot(page, 'login-rate-limited-en-1920x1080');
    await page.getByRole('button', { name: '中文' }).click();
    await waitFor('the Chinese message again', () => error.textContent(), (t) => t === `登录尝试过多，请 ${WINDOW_S / 60} 分钟后再试`, 10_000);

    // Even the right password waits out the window for this account.
    expect(await submit('operator', TEST_DEMO_PASSWORD)).toBe(429);
    expect(cspViolations()).toEqual([]);
  });
});

describe('signed out by the server', () => {
  test('a 401 on an ordinary request takes the user to the login page with the reason', async () => {
    // No socket for this page: the sign-out must come from the HTTP request alone.
    await page.route('**/socket.io/**', (route) => route.abort());
    await page.goto(`${base}/login`);
    expect(await submit('dispatcher', TEST_DEMO_PASSWORD)).toBe(200);
    await page.waitForURL(`${base}/dispatch`);
    await expect(page.getByTestId('ticket-queue').isVisible()).resolves.toBe(true);

    await revokeByPasswordChange('dispatcher', 'a-new-password-1');
    // A reload asks the server whose token this is (GET /api/auth/me): 401 AUTH_TOKEN_REVOKED.
    const refused = page.waitForResponse((r) => r.url().startsWith(`${base}/api/`) && r.status() === 401);
    await page.reload();
    expect((await refused).status()).toBe(401);
    await page.waitForURL((url) => url.pathname === '/login');
    await expect(page.getByTestId('login-notice').textContent()).resolves.toBe('账号已停用或权限已变更，请重新登录');
    expect(await page.evaluate(() => localStorage.getItem('gridline.session'))).toBeNull();
    await page.unroute('**/socket.io/**');
  });

  test('session.revoked on the socket takes a live page to the login page with the reason', async () => {
    await page.goto(`${base}/login`);
    expect(await submit('dispatcher', 'a-new-password-1')).toBe(200);
    await page.waitForURL(`${base}/dispatch`);
    await page.waitForFunction(() => document.querySelector('[data-testid=link-status]')?.getAttribute('data-status') === 'live', null, { timeout: 30_000 });

    // The map's tiles and the queue loaded: from here on the page asks the server nothing by itself.
    await page.waitForLoadState('networkidle');
    const refused: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 401) refused.push(r.url());
    });
    await revokeByPasswordChange('dispatcher', 'a-new-password-2');
    await page.waitForURL((url) => url.pathname === '/login', { timeout: 10_000 });
    await expect(page.getByTestId('login-notice').textContent()).resolves.toBe('账号已停用或权限已变更，请重新登录');
    // It was the socket's event, not a refused request, that signed the page out.
    expect(refused).toEqual([]);
    await screenshot(page, 'login-session-revoked-1920x1080');
  });
});

describe('the API docs under their own policy', () => {
  test('/docs renders Swagger UI with no CSP violation', async () => {
    const before = browser.errors.length;
    const response = await page.goto(`${base}/docs/`);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 });
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(10);
    await screenshot(page, 'docs-1920x1080');
    expect(browser.errors.slice(before)).toEqual([]);
    expect(cspViolations()).toEqual([]);
  });
});
