/**
 * 轨迹回放 end to end in Chromium: the street dispatcher opens /replay, finds the demo worker by name,
 * loads a window holding a walk of the last hour and a ticket the worker filed, plays it (the clock
 * advances), jumps to the end (the ticket appears at its moment), downloads the track as GPX (the
 * file holds the walk's points) and opens the day's coverage ranking. A worker of another street
 * cannot be replayed by this dispatcher (the server refuses, and the page lists only their own).
 * Screenshots at 1920×1080 and 3840×2160 land in test-results/.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { toShanghaiInput } from '@shared/shanghai-time';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { signIn, waitFor } from '../support/e2e';

const R = 6_371_008.8;
const DEG = Math.PI / 180;
/** The walk: 30 minutes north-east at 1.25 m/s, one fix per 10 s, ending 10 minutes ago. */
const WALK_FIXES = 181;

let db: Db;
let app: App;
let base: string;
let browser: TestBrowser;
let page: Page;
let me: { workerId: number; name: string; lon: number; lat: number };
let outsider: { id: number; name: string };
let ticketNumber: string;
let walkStart: number;

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  app = await buildTestApp(db, { clientDir: CLIENT_DIST });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await app.positionPartitions.sweep();

  me = (await db.query<typeof me>(sql`
    SELECT u.worker_id::float8 AS "workerId", w.name, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`)).rows[0]!;
  outsider = (await db.query<typeof outsider>(sql`
    SELECT w.id::float8 AS id, w.name FROM workers w JOIN regions g ON g.code = w.home_grid_code, users u JOIN regions ur ON ur.code = u.region_code
     WHERE u.username = 'dispatcher' AND g.path NOT LIKE ur.path || '%' AND w.role <> 'party_member' ORDER BY w.id LIMIT 1`)).rows[0]!;

  walkStart = Date.now() - 40 * 60_000;
  const fixes = Array.from({ length: WALK_FIXES }, (_, i) => {
    const m = i * 12.5 / Math.SQRT2;
    const lat = me.lat + m / (R * DEG);
    return { t: walkStart + i * 10_000, lon: me.lon + m / (R * DEG * Math.cos(lat * DEG)), lat };
  });
  await db.query(sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom, speed)
    SELECT ${me.workerId}, to_timestamp(u.t / 1000.0), to_timestamp(u.t / 1000.0), ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), 1.25
      FROM unnest(${fixes.map((f) => f.t)}::float8[], ${fixes.map((f) => f.lon)}::float8[], ${fixes.map((f) => f.lat)}::float8[]) AS u(t, x, y)`);

  const filed = await app.inject({
    method: 'POST', url: '/api/tickets', headers: await login(app, 'worker'),
    payload: { category: 'convenience.municipal', urgency: 'scheduled', lon: me.lon, lat: me.lat, description: '巡查发现井盖缺失（回放测试）' },
  });
  expect(filed.statusCode, filed.body).toBe(201);
  ticketNumber = (filed.json() as { number: string }).number;

  browser = await launchBrowser();
  page = await browser.open(1920, 1080);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.close();
});

const clockText = () => page.getByTestId('replay-clock').innerText();

describe('/replay', () => {
  test('the dispatcher replays the worker’s walk, sees the ticket at its moment and exports GPX', async () => {
    await signIn(page, base, 'dispatcher');
    await page.waitForURL(/\/dispatch/);
    await page.goto(`${base}/replay`);
    await page.getByTestId('replay-page').waitFor();

    // Only workers of the dispatcher's street are offered.
    await page.getByTestId('replay-search').fill(outsider.name);
    await page.waitForTimeout(300);
    expect(await page.locator('.list li', { hasText: outsider.name }).count()).toBe(0);

    await page.getByTestId('replay-search').fill(me.name);
    await page.locator('.list li', { hasText: me.name }).first().locator('input[type=checkbox]').check();
    await page.getByTestId('replay-from').fill(toShanghaiInput(walkStart - 60_000));
    await page.getByTestId('replay-to').fill(toShanghaiInput(Date.now() + 120_000));
    await page.getByTestId('replay-load').click();

    const tracks = page.locator('.tracks li', { hasText: me.name });
    await tracks.first().waitFor();
    const fixesLabel = await tracks.first().innerText();
    expect(fixesLabel).toContain(`${WALK_FIXES} 个定位点`);

    // Play at 60×: the clock moves forward.
    const before = await clockText();
    await page.getByTestId('replay-play').click();
    await waitFor('the replay clock to advance', clockText, (c) => c !== before && c > before, 15_000);
    await page.getByTestId('replay-play').click(); // pause

    // Jump near the end: the ticket the worker filed appears among the events.
    expect(await page.getByTestId('replay-events').innerText()).not.toContain(ticketNumber);
    await page.getByTestId('replay-slider').evaluate((el: HTMLInputElement) => {
      el.value = el.max;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await waitFor('the ticket at its moment', () => page.getByTestId('replay-events').innerText(), (t) => t.includes(ticketNumber), 10_000);

    // GPX export: the server's file with every fix of the walk.
    const [download] = await Promise.all([page.waitForEvent('download'), tracks.first().getByRole('button', { name: 'GPX' }).click()]);
    const gpx = readFileSync((await download.path())!, 'utf8');
    expect(gpx).toContain('<gpx');
    expect(gpx.match(/<trkpt /g)?.length ?? 0).toBeGreaterThan(1);

    // The day's coverage ranking opens over the map.
    await page.getByTestId('replay-coverage').click();
    await page.getByTestId('coverage-ranking').waitFor();
    await page.waitForTimeout(1000);
    await screenshot(page, 'replay-1920x1080');
    await page.setViewportSize({ width: 3840, height: 2160 });
    await page.waitForTimeout(1500);
    await screenshot(page, 'replay-3840x2160');
    await page.setViewportSize({ width: 1920, height: 1080 });
    expect(browser.errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  }, 180_000);

  test('another street’s worker cannot be replayed by this dispatcher', async () => {
    const res = await app.inject({
      url: `/api/workers/${outsider.id}/track?from=${encodeURIComponent(new Date(walkStart).toISOString())}&to=${encodeURIComponent(new Date().toISOString())}`,
      headers: await login(app, 'dispatcher'),
    });
    expect(res.statusCode).toBe(404);
  });
});
