/**
 * The unattended wall (issue 14), end to end in Chromium at 1920×1080 and 3840×2160: a wall opened
 * once with a wall display session (/wall?session=…, no login page) rotates through the views an
 * operator configured on it (全区, two streets, 指标), pauses while someone touches it and while an
 * SOS waits, keeps its rotation over a reload (stored on the server), and survives a server restart
 * (the app closed, a new one started on the same port and database): the corner says it is
 * reconnecting, then "已恢复 · 数据已刷新", and the wall is live again with nobody signing in.
 * Screenshots land in test-results/wall-unattended-*.
 */
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import type { WallCarousel, WallSessionCreated } from '@shared/wall-api';
import type { AlarmSummary } from '@shared/alarms-api';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, RESULTS_DIR, screenshot, type TestBrowser } from '../support/browser';
import { describeAtSize, signIn, waitFor } from '../support/e2e';

const SIZES = [
  [1920, 1080],
  [3840, 2160],
] as const;
/** Same budget as tests/e2e/wall.test.ts: what a wall downloads to show itself, gzipped. */
const WALL_BUDGET_BYTES = 1.1 * 1024 * 1024;
/** The rotation the operator sets: short, so the test sees it move. */
const SECONDS = 8;
/** Longer than a view: a touch visibly holds the view past its time. */
const IDLE_SECONDS = 12;

type Box = [number, number, number, number];

let db: Db;
let app: App;
let port = 0;
let base: string;
let browser: TestBrowser;
let wallSession: WallSessionCreated;
/** The district's and two streets' boxes [west, south, east, north]. */
let district: { code: string; box: Box };
let streets: { code: string; name: string; box: Box }[];
let sos: { lon: number; lat: number };
let sosCount = 0;

async function startApp(): Promise<void> {
  app = await buildTestApp(db, { clientDir: CLIENT_DIST, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port });
  port = (app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
}

const indicator = (page: Page) => page.getByTestId('carousel-indicator');
const stateOf = (page: Page) => indicator(page).getAttribute('data-state', { timeout: 2000 });
const viewOf = (page: Page) => indicator(page).getAttribute('data-view', { timeout: 2000 });
const linkOf = (page: Page) => page.getByTestId('link-status').getAttribute('data-status', { timeout: 2000 });
const mapBounds = (page: Page) => page.evaluate(() => window.__gridline?.maps[0]?.viewBounds() ?? null);

function centre(b: Box): [number, number] {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}
function inside(p: [number, number], b: Box): boolean {
  return p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3];
}
const width = (b: Box) => b[2] - b[0];

/** The map shows this street: its centre inside the street's box, far narrower than the district. */
function showsStreet(view: Box | null, street: { box: Box }): boolean {
  return view !== null && inside(centre(view), street.box) && width(view) < 0.8 * width(district.box);
}
/** The map shows the whole district: every corner of its box in view. */
function showsDistrict(view: Box | null): boolean {
  const b = district.box;
  return view !== null && view[0] <= b[0] + 1e-4 && view[1] <= b[1] + 1e-4 && view[2] >= b[2] - 1e-4 && view[3] >= b[3] - 1e-4;
}

async function raiseSos(): Promise<AlarmSummary> {
  const res = await app.inject({
    method: 'POST', url: '/api/alarms', headers: await login(app, 'worker'),
    payload: { kind: 'sos', lon: sos.lon, lat: sos.lat, clientId: `wall-unattended-${++sosCount}` },
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
  return res.json() as AlarmSummary;
}

async function transition(id: number, action: 'acknowledge' | 'resolve'): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/alarms/${id}/transitions`, headers: await login(app, 'operator'), payload: { action } });
  expect(res.statusCode, res.body).toBe(200);
}

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  await startApp();

  const box = async (code: string): Promise<Box> => {
    const { rows } = await db.query<{ w: number; s: number; e: number; n: number }>(sql`
      SELECT ST_XMin(geom) AS w, ST_YMin(geom) AS s, ST_XMax(geom) AS e, ST_YMax(geom) AS n FROM regions WHERE code = ${code}`);
    const r = rows[0]!;
    return [Number(r.w), Number(r.s), Number(r.e), Number(r.n)];
  };
  const { rows: [d] } = await db.query<{ code: string }>(sql`SELECT region_code AS code FROM users WHERE username = 'operator'`);
  district = { code: d!.code, box: await box(d!.code) };
  const { rows: streetRows } = await db.query<{ code: string; name: string }>(sql`
    SELECT code, name FROM regions WHERE level = 'street' AND path LIKE ${`%/${district.code}/%`} ORDER BY code LIMIT 2`);
  streets = await Promise.all(streetRows.map(async (s) => ({ ...s, box: await box(s.code) })));
  const { rows: [p] } = await db.query<{ lon: number; lat: number }>(sql`
    SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  sos = { lon: Number(p!.lon), lat: Number(p!.lat) };

  // The administrator makes the wall's session: a read-only identity of the district, for 30 days.
  const res = await app.inject({ method: 'POST', url: '/api/wall-sessions', headers: await login(app, 'admin'), payload: { name: '指挥大厅主屏', regionCode: district.code } });
  expect(res.statusCode, res.body).toBe(201);
  wallSession = res.json() as WallSessionCreated;
  browser = await launchBrowser();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.close();
});

for (const [w, h] of SIZES) describeAtSize(w)(`the unattended wall at ${w}×${h}`, () => {
  let page: Page;
  // Screenshots are for people to look at: a 4K one that times out on a loaded machine is logged, not a failure.
  const shot = (name: string) =>
    screenshot(page, `wall-unattended-${w}x${h}-${name}`).catch((error: unknown) => console.error(`[e2e] screenshot ${name}: ${(error as Error).message.split('\n')[0]}`));
  // One wall at a time on this machine's software GPU.
  afterAll(async () => {
    await page?.close();
  });

  test('opens once with the wall session: no login page, the token kept and gone from the address', async () => {
    page = await browser.open(w, h);
    const assets = new Set<string>();
    const onRequest = (request: { url(): string }) => {
      const url = new URL(request.url());
      if (url.origin === base && url.pathname.startsWith('/assets/')) assets.add(url.pathname);
    };
    page.on('request', onRequest);
    if (w === SIZES[0][0]) {
      await page.goto(`${base}${wallSession.url}`);
    } else {
      // The second wall: the same session, already stored in this browser, opened by address alone.
      await page.goto(`${base}/wall`);
    }
    await page.waitForURL(`${base}/wall`);
    await waitFor('the live link', () => linkOf(page), (s) => s === 'live' || s === 'stale');
    expect(page.url()).toBe(`${base}/wall`);
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('gridline.session') ?? 'null')?.token)).toBe(wallSession.token);
    expect(await page.getByTestId('wall-session-name').textContent()).toContain('指挥大厅主屏');
    // A wall session only shows: no desks to open from it.
    expect(await page.getByTestId('dispatch-open').count()).toBe(0);

    if (w === SIZES[0][0]) {
      // Everything the first view needs (a rotating wall's map is never idle for long: only here).
      await waitFor('tiles', () => page.evaluate(() => window.__gridline?.maps[0]?.idle() ?? false), Boolean, 60_000);
      page.off('request', onRequest);
      // The rotation's code is not part of the wall's first load (its budget).
      const sizes = [...assets].sort().map((a) => ({ asset: a, gzip: gzipSync(readFileSync(path.join(CLIENT_DIST, a))).length }));
      const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(path.join(RESULTS_DIR, 'wall-unattended-initial-load.json'), JSON.stringify({ totalGzip: total, assets: sizes }, null, 2));
      console.error(`[e2e] wall first load with the wall session: ${(total / 1024 / 1024).toFixed(3)} MiB gzipped`);
      expect(sizes.some((s) => /WallCarouselSettings|WallKpiView/.test(s.asset))).toBe(false);
      expect(total).toBeLessThanOrEqual(WALL_BUDGET_BYTES);
    }
    page.off('request', onRequest);
  }, 180_000);

  test('the operator configures the rotation on the wall; a reload keeps it (stored on the server)', async () => {
    if (w === SIZES[0][0]) {
      // Off until someone configures it.
      expect(await indicator(page).count()).toBe(0);
      await page.getByTestId('carousel-settings-open').click();
      const dialog = page.getByTestId('carousel-settings');
      await dialog.waitFor();
      await waitFor('the streets in the panel', () => page.getByTestId(`carousel-view-street:${streets[1]!.code}`).count(), (n) => n === 1, 10_000);
      await page.getByTestId('carousel-enabled').check();
      // 全区 is chosen already (the default); add two streets and 指标.
      expect(await page.getByTestId('carousel-view-district').isChecked()).toBe(true);
      for (const s of streets) await page.getByTestId(`carousel-view-street:${s.code}`).check();
      await page.getByTestId('carousel-view-kpi').check();
      await page.getByTestId('carousel-seconds').fill(String(SECONDS));
      await page.getByTestId('carousel-idle-seconds').fill(String(IDLE_SECONDS));
      await shot('settings');
      await page.getByTestId('carousel-save').click();
      await dialog.waitFor({ state: 'detached' });
      const stored = await app.inject({ url: '/api/wall/carousel', headers: { authorization: `Bearer ${wallSession.token}` } });
      expect(stored.json() as WallCarousel).toEqual({
        enabled: true,
        views: [{ kind: 'district' }, ...streets.map((s) => ({ kind: 'street', code: s.code })), { kind: 'kpi' }],
        seconds: SECONDS,
        idleSeconds: IDLE_SECONDS,
      });
    }
    await page.reload();
    await page.waitForURL(`${base}/wall`);
    // Nobody touches it after the reload: it rotates from the first view.
    await waitFor('the rotation to run', () => stateOf(page), (s) => s === 'running', 30_000);
  }, 180_000);

  test('it moves through the configured views: 全区, each street, 指标', async () => {
    await waitFor('全区', () => viewOf(page), (v) => v === 'district', 60_000);
    await waitFor('the map on the district', () => mapBounds(page), showsDistrict, 15_000);
    await shot('district');
    for (const s of streets) {
      await waitFor(s.name, () => viewOf(page), (v) => v === `street:${s.code}`, 5 * SECONDS * 1000);
      await waitFor(`the map on ${s.name}`, () => mapBounds(page), (b) => showsStreet(b, s), 15_000);
      expect(await indicator(page).textContent()).toContain(s.name);
      // The street is outlined.
      expect(await page.evaluate(() => window.__gridline?.maps[0]?.layerOrder().includes('focus-street-line'))).toBe(true);
      if (s === streets[0]) await shot('street');
    }
    await waitFor('指标', () => viewOf(page), (v) => v === 'kpi', 5 * SECONDS * 1000);
    const kpi = page.getByTestId('wall-kpi-view');
    await kpi.waitFor({ timeout: 30_000 });
    await waitFor('the indicators', () => kpi.getByTestId('kpi-closedOnTimeRate').getByTestId('kpi-den').textContent(), (t) => t !== null, 30_000);
    await waitFor('the streets ranked', () => kpi.locator('[data-testid^="wall-kpi-row-"]').count(), (n) => n > 0, 30_000);
    await shot('kpi');
    // And round again.
    await waitFor('全区 again', () => viewOf(page), (v) => v === 'district', 5 * SECONDS * 1000);
    expect(await kpi.count()).toBe(0);
  }, 240_000);

  test('a touch pauses it, the corner counts down, and it goes on after the idle time', async () => {
    await waitFor(streets[0]!.name, () => viewOf(page), (v) => v === `street:${streets[0]!.code}`, 5 * SECONDS * 1000);
    const box = (await page.getByTestId('wall').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 20);
    await waitFor('paused', () => stateOf(page), (s) => s === 'interaction', 5000);
    const pausedAt = Date.now();
    // The view the touch caught (a slow page may have moved on just before it).
    const held = await viewOf(page);
    expect(await indicator(page).textContent()).toMatch(/轮播已暂停 · \d+ 秒后继续/);
    // Longer than a view's time: the view stays (the pause, then the view's full time again).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + (SECONDS + 1) * 1000 - Date.now())));
    expect(await viewOf(page)).toBe(held);
    expect(await stateOf(page)).toBe('interaction');
    // After the checks: a 4K screenshot of a busy map can take many seconds.
    await shot('paused');
    await waitFor('running again', () => stateOf(page), (s) => s === 'running', (IDLE_SECONDS + 5) * 1000);
    // It goes on from the view it paused on, and then to the next.
    await waitFor('the next view', () => viewOf(page), (v) => v !== held, 3 * SECONDS * 1000);
    // A key press pauses it too; the pointer is put away in a corner of the title bar.
    await page.keyboard.press('Shift');
    await waitFor('paused by a key', () => stateOf(page), (s) => s === 'interaction', 5000);
    await page.mouse.move(1, 1);
  }, 180_000);

  test('an SOS pauses it and keeps the alarm’s view until someone acknowledges it', async () => {
    // On 指标 when the alarm comes: the indicators step aside for the map and the banner.
    await waitFor('指标', () => viewOf(page), (v) => v === 'kpi', IDLE_SECONDS * 1000 + 5 * SECONDS * 1000);
    const alarm = await raiseSos();
    await page.getByTestId('alarm-banner').waitFor({ timeout: 15_000 });
    await waitFor('paused by the alarm', () => stateOf(page), (s) => s === 'alarm', 5000);
    const held = await viewOf(page);
    expect(await indicator(page).textContent()).toContain('报警');
    expect(await page.getByTestId('wall-kpi-view').count()).toBe(0);
    // The map goes to the worker and stays there, longer than two views' time.
    await waitFor('the map at the alarm', () => mapBounds(page), (b) => b !== null && inside([sos.lon, sos.lat], b) && width(b) < 0.8 * width(district.box), 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2 * SECONDS * 1000));
    expect(await stateOf(page)).toBe('alarm');
    expect(await viewOf(page)).toBe(held);
    const view = await mapBounds(page);
    expect(view !== null && inside([sos.lon, sos.lat], view)).toBe(true);
    await shot('sos');

    // Acknowledged at another desk: the rotation goes on by itself.
    await transition(alarm.id, 'acknowledge');
    await waitFor('running after the acknowledgement', () => stateOf(page), (s) => s === 'running', 10_000);
    await waitFor('the next view', () => viewOf(page), (v) => v !== held, 3 * SECONDS * 1000);
    await transition(alarm.id, 'resolve');
  }, 300_000);

  test('a server restart: the corner says it reconnects, then that it recovered and refreshed; no login', async () => {
    const recovery = page.getByTestId('wall-recovery');
    await app.close();
    await waitFor('正在重新连接', () => recovery.getAttribute('data-recovery', { timeout: 2000 }), (r) => r === 'reconnecting', 15_000);
    expect(await recovery.textContent()).toMatch(/正在重新连接…|连接中断 · 正在重试…/);
    await shot('reconnecting');
    // A new app on the same port and database (as after a deploy or a crash).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await startApp();
    await waitFor('已恢复', () => recovery.getAttribute('data-recovery', { timeout: 2000 }), (r) => r === 'recovered', 60_000);
    expect(await recovery.textContent()).toContain('已恢复 · 数据已刷新');
    await waitFor('the live link', () => linkOf(page), (s) => s === 'live' || s === 'stale', 30_000);
    await shot('recovered');
    expect(page.url()).toBe(`${base}/wall`);
    expect(await page.getByTestId('wall-session-name').textContent()).toContain('指挥大厅主屏');
    // Still rotating, on the new server.
    await waitFor('the rotation', () => stateOf(page), (s) => s === 'running' || s === 'interaction', 15_000);
    const before = await viewOf(page);
    await waitFor('the next view', () => viewOf(page), (v) => v !== before, (IDLE_SECONDS + 3 * SECONDS) * 1000);
  }, 180_000);
});

describe('the administrator’s wall sessions (大屏会话管理)', () => {
  test('lists the wall as connected, creates another (its link opens as that wall), revokes the first from the dialog: it goes off at once', async () => {
    const wall = await browser.open(1920, 1080);
    await wall.goto(`${base}/wall`);
    await waitFor('the live link', () => linkOf(wall), (s) => s === 'live' || s === 'stale');
    // The administrator works from another origin (its own storage: the wall's session stays the wall's).
    const adminBase = `http://localhost:${port}`;
    const admin = await browser.context.newPage();
    await admin.setViewportSize({ width: 1920, height: 1080 });
    await signIn(admin, adminBase, 'admin');
    await admin.waitForURL(/\/wall$/, { timeout: 30_000 });
    await admin.getByTestId('wall-sessions-open').click();
    const row = admin.locator(`[data-testid=wall-session-row][data-session="${wallSession.session.id}"]`);
    await waitFor('the wall shown connected', () => row.getAttribute('data-status', { timeout: 5000 }), (s) => s === 'online', 25_000);
    expect(await row.textContent()).toContain('指挥大厅主屏');
    expect(await row.textContent()).toMatch(/在线 · \d+ 个连接/);

    // A second wall, for a street, for 7 days: the link is shown once and signs in as that wall.
    await admin.getByTestId('wall-session-name-input').fill('值班室副屏');
    await admin.getByTestId('wall-session-region').selectOption(streets[0]!.code);
    await admin.getByTestId('wall-session-days').fill('7');
    await admin.getByTestId('wall-session-create').click();
    const link = await admin.getByTestId('wall-session-link').inputValue({ timeout: 15_000 });
    expect(link.startsWith(`${adminBase}/wall?session=`)).toBe(true);
    const token = new URL(link).searchParams.get('session')!;
    const me = await app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ role: 'operator', region: { code: streets[0]!.code }, wallSession: { name: '值班室副屏' } });
    const second = admin.locator('[data-testid=wall-session-row]', { hasText: '值班室副屏' });
    expect(await second.getAttribute('data-status')).toBe('offline');
    expect(await second.textContent()).toContain(streets[0]!.name);
    await screenshot(admin, 'wall-unattended-sessions-admin');

    // Revoking asks once, then the wall goes to the login page and says why.
    await row.getByTestId('wall-session-revoke').click();
    await row.getByTestId('wall-session-revoke-confirm').click();
    await waitFor('the row revoked', () => row.getAttribute('data-status', { timeout: 5000 }), (s) => s === 'revoked', 15_000);
    // Two walls draw on this machine's software GPU now (the administrator's and the revoked one): give it time.
    await wall.waitForURL(/\/login/, { timeout: 30_000 });
    await waitFor('the reason', () => wall.textContent('body'), (t) => (t ?? '').includes('此大屏会话已被管理员注销'), 10_000);
    expect(await wall.evaluate(() => localStorage.getItem('gridline.session'))).toBeNull();
    await screenshot(wall, 'wall-unattended-revoked');
    expect(await row.getByTestId('wall-session-revoke').count()).toBe(0);
    // The other wall is untouched.
    expect(await second.getAttribute('data-status')).toBe('offline');
    await admin.close();
  });
});
