/**
 * The leader's screen (/command) at 1920×1080 on the real server with thirty days of tickets: the
 * district's figures with numerator and denominator match the API; clicking a street on the map
 * drills into it (its communities), a bar of the ranking drills further; a ticket transition made
 * through the API reaches the screen over the socket (`stats.update`, no polling) and the figures
 * change; the exports download; a 3840×2160 screenshot lands in test-results/.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { KpiList } from '../../shared/stats-api';
import type { TicketSummary } from '../../shared/tickets-api';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { Clock } from '../../server/platform/clock';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { seedTicketHistory } from '../../seeds/tickets-history';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { signIn, waitFor } from '../support/e2e';

/** 14:00 in Shanghai when the test starts. */
function daytimeClock(): Clock {
  const now = Date.now();
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  const offset = shanghaiMidnight + 14 * 3_600_000 - now;
  return { now: () => Date.now() + offset };
}

let db: Db;
let app: App;
let browser: TestBrowser;
let base: string;
let page: Page;
let leader: Record<string, string>;
let operator: Record<string, string>;

async function kpis(query: string): Promise<KpiList> {
  const res = await app.inject({ url: `/api/stats/kpis?${query}`, headers: leader });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as KpiList;
}
const text = (id: string) => page.getByTestId(id).first().innerText();
const headlineNum = async () => Number(await page.getByTestId('kpi-closedOnTimeRate').getByTestId('kpi-num').innerText());
const headlineDen = async () => Number(await page.getByTestId('kpi-closedOnTimeRate').getByTestId('kpi-den').innerText());
const crumbs = async () => (await page.getByTestId('command-crumbs').innerText()).split(/\s*›\s*|\n/).map((s) => s.trim()).filter(Boolean);

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  const clock = daytimeClock();
  await seedTicketHistory(db, { clock });
  app = await buildTestApp(db, { clock, clientDir: CLIENT_DIST });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await app.ticketDeadlines.stop();
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  leader = await login(app, 'leader');
  operator = await login(app, 'operator');
  browser = await launchBrowser();
  page = await browser.open(1920, 1080);
  // A leader lands on the leader's screen; the wall is a link away, and links back.
  await signIn(page, base, 'leader');
  await page.waitForURL(/\/command/);
  expect(await page.getByTestId('command-page').locator('a[href="/wall"]').count()).toBe(1);
  await page.goto(`${base}/wall`);
  expect(await page.getByTestId('command-open').getAttribute('href')).toBe('/command');
  await page.goto(`${base}/command`);
  await page.waitForURL(/\/command/);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.close();
});

describe('the leader’s screen', () => {
  test('shows the district’s figures with numerator and denominator, as the API computes them', async () => {
    const [district] = await kpis('window=today&level=district');
    await waitFor('the headline', headlineDen, (den) => den === district!.values.closedOnTimeRate.den, 30_000);
    expect(await headlineNum()).toBe(district!.values.closedOnTimeRate.num);
    expect(await page.getByTestId('kpi-closeRate').getByTestId('kpi-den').innerText()).toBe(String(district!.values.closeRate.den));
    // Seven streets on the map and in the ranking; overdue tickets and workers by role listed.
    await waitFor('the map', () => page.getByTestId('command-map').getAttribute('data-ready'), (v) => v === 'true', 60_000);
    expect(await page.getByTestId('overdue-tickets').locator('li').count()).toBeGreaterThan(0);
    expect(await text('roles')).toContain('网格长');
    expect(await text('compare')).toContain('上周同时段');
    // 30 days: a different denominator, from the API as well.
    await page.getByTestId('window-30d').click();
    const [d30] = await kpis('window=30d&level=district');
    await waitFor('the 30-day headline', headlineDen, (den) => den === d30!.values.closedOnTimeRate.den, 30_000);
    await screenshot(page, 'command-1080');
  });

  test('drills down by clicking a street on the map, then a bar of the ranking', async () => {
    const streets = await kpis('window=30d&level=street');
    const target = streets.find((s) => s.name === '柳巷街道') ?? streets[0]!;
    // The street's label point on the map, in page coordinates.
    const { rows } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions WHERE code = ${target.code}`);
    const map = page.getByTestId('command-map');
    const box = (await map.boundingBox())!;
    await waitFor('the map fitted to the streets', () => page.getByTestId('command-map').getAttribute('data-ready'), (v) => v === 'true', 60_000);
    const xy = await map.evaluate((el, p) => (el as HTMLElement & { project(lon: number, lat: number): { x: number; y: number } }).project(p.lon, p.lat), rows[0]!);
    await page.mouse.click(box.x + xy.x, box.y + xy.y);
    await waitFor('the street in the trail', crumbs, (c) => c.includes(target.name), 30_000);
    const [street] = await kpis(`window=30d&level=street&parent=${target.code}`);
    await waitFor('the street’s headline', headlineDen, (den) => den === street!.values.closedOnTimeRate.den, 30_000);
    // The ranking now lists its communities; clicking the first bar drills into that community.
    const communities = await kpis(`window=30d&level=community&parent=${target.code}`);
    const chart = page.getByTestId('rank-chart');
    const cb = (await chart.boundingBox())!;
    const n = Math.min(16, communities.length);
    // Bars fill the chart's height (grid top/bottom 4 px), one band each. The whole band is the
    // target: click the first row's figures at the right end, away from its bar (a low rate paints
    // only a few pixels, and a click on the track beside it used to do nothing).
    await page.mouse.click(cb.x + cb.width - 30, cb.y + 4 + (cb.height - 8) / n / 2);
    await waitFor('the community in the trail', crumbs, (c) => c.length === 3, 30_000);
    expect((await crumbs())[2]).toBe(communities[0]!.name);
    await screenshot(page, 'command-1080-community');
    // Back to the district by the trail.
    await page.getByTestId('command-crumbs').locator('button').first().click();
    await waitFor('back at the district', crumbs, (c) => c.length === 1, 30_000);
  });

  test('a ticket transition reaches the screen over the socket and the figures change', async () => {
    await page.getByTestId('window-today').click();
    const [todayBefore] = await kpis('window=today&level=district');
    const before = await waitFor('today’s headline', headlineDen, (den) => den === todayBefore!.values.closedOnTimeRate.den, 30_000);
    const pushesBefore = Number(await page.getByTestId('command-page').getAttribute('data-pushes'));
    // File a ticket and take it through to closing, by the API, as the desk and the worker would.
    const { rows: [place] } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
    const workerId = Number((await db.query<{ id: number }>(sql`SELECT worker_id AS id FROM users WHERE username = 'worker'`)).rows[0]!.id);
    const worker = await login(app, 'worker');
    const created = await app.inject({
      method: 'POST', url: '/api/tickets', headers: operator,
      payload: { category: 'safety.fire', urgency: 'immediate', lon: place!.lon, lat: place!.lat, description: '驾驶舱实时测试' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as TicketSummary).id;
    for (const [h, body] of [
      [operator, { action: 'register' }], [operator, { action: 'dispatch', workerId }], [worker, { action: 'accept' }],
      [worker, { action: 'start' }], [worker, { action: 'resolve' }], [operator, { action: 'verify' }], [leader, { action: 'close', satisfaction: 'satisfied' }],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers: h, payload: body });
      expect(res.statusCode, res.body).toBe(200);
    }
    const t0 = Date.now();
    await waitFor('a stats.update', async () => Number(await page.getByTestId('command-page').getAttribute('data-pushes')), (n) => n > pushesBefore, 10_000);
    // Closed today and on time: one more in the numerator and the denominator.
    await waitFor('the new figures', headlineDen, (den) => den === before + 1, 10_000);
    console.error(`[e2e] transition → figures on screen in ${Date.now() - t0} ms (after the last API call)`);
    const [today] = await kpis('window=today&level=district');
    expect(await headlineNum()).toBe(today!.values.closedOnTimeRate.num);
    expect(await page.getByTestId('kpi-satisfactionRate').getByTestId('kpi-num').innerText()).toBe(String(today!.values.satisfactionRate.num));
  });

  test('exports the table as .xlsx and CSV', async () => {
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-kpis-xlsx').click()]);
    expect(xlsx.suggestedFilename()).toMatch(/\.xlsx$/);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-kpis-csv').click()]);
    expect(csv.suggestedFilename()).toMatch(/\.csv$/);
  });

  test('fills a 3840×2160 wall', async () => {
    const wall = await browser.open(3840, 2160);
    await wall.goto(`${base}/command`);
    await waitFor('the 4K map', () => wall.getByTestId('command-map').getAttribute('data-ready'), (v) => v === 'true', 60_000);
    await waitFor('the 4K headline', () => wall.getByTestId('kpi-closedOnTimeRate').getByTestId('kpi-den').innerText(), (v) => Number(v) > 0, 30_000);
    await screenshot(wall, 'command-2160');
    expect(browser.errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });

  test('an emergency declared for a street takes the emergency slot live, and leaves it when closed', async () => {
    expect(await page.getByTestId('emergency-panel').count()).toBe(0);
    await page.getByTestId('emergency-declare').waitFor();
    const { rows: [street] } = await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'street' ORDER BY code LIMIT 1`);
    const declared = await app.inject({
      method: 'POST', url: '/api/emergencies', headers: leader,
      payload: { type: 'flood', level: 2, area: { regionCodes: [street!.code] }, note: '指挥屏测试' },
    });
    expect(declared.statusCode, declared.body).toBe(201);
    const id = (declared.json() as { id: number }).id;
    await waitFor('the emergency panel on /command', () => page.getByTestId('emergency-panel').getAttribute('data-emergency-id'), (v) => v === String(id), 15_000);
    expect(await page.getByTestId('emergency-declare').count()).toBe(0);
    const closed = await app.inject({ method: 'POST', url: `/api/emergencies/${id}/close`, headers: leader, payload: {} });
    expect(closed.statusCode, closed.body).toBe(200);
    await waitFor('the panel to leave', () => page.getByTestId('emergency-panel').count(), (n) => n === 0, 15_000);
  });
});
