/**
 * The camera editor in Chromium (no media server needed): only an admin sees it; an admin adds a
 * camera by clicking the map (it appears in the list and on the map), changes it (the source's
 * credentials stay on the server, write-only), deletes it after confirming, and imports a CSV
 * whose refused rows are shown with their lines. Screenshots at 1920×1080 and 3840×2160.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { signIn, waitFor } from '../support/e2e';

describe('camera editor', () => {
  let db: Db;
  let app: App;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  let point: { lon: number; lat: number };

  beforeAll(async () => {
    await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
    db = await createTestDb();
    app = await buildTestApp(db, { clientDir: CLIENT_DIST });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const { rows: [s] } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(r.geom)) AS lon, ST_Y(ST_PointOnSurface(r.geom)) AS lat
        FROM regions r WHERE r.code = (SELECT region_code FROM users WHERE username = 'dispatcher')`);
    point = { lon: Number(s!.lon), lat: Number(s!.lat) };
    browser = await launchBrowser();
    page = await browser.open(1920, 1080);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.close();
  });

  const row = (code: string) => page.locator(`[data-testid=camera-admin-list] li[data-code="${code}"]`);
  const stored = async (code: string) =>
    (await db.query<{ name: string; kind: string; bearing: number | null; fov: number | null; url: string; lon: number; lat: number }>(sql`
      SELECT name, kind, bearing, fov_deg AS fov, source_url AS url, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras WHERE code = ${code}`)).rows[0];

  test('a dispatcher has no editor', async () => {
    await signIn(page, base, 'dispatcher');
    await page.waitForURL(`${base}/dispatch`);
    await page.goto(`${base}/cameras?admin=1`);
    await page.getByTestId('camera-list').waitFor();
    await page.getByTestId('camera-grid').waitFor();
    expect(await page.getByTestId('camera-admin-open').count()).toBe(0);
    expect(await page.getByTestId('camera-admin').count()).toBe(0);
    await page.evaluate(() => {
      localStorage.clear();
      sessionStorage.clear();
    });
  }, 60_000);

  test('an admin adds a camera on the map, changes it and deletes it', async () => {
    await signIn(page, base, 'admin');
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.goto(`${base}/cameras`);
    await page.getByTestId('camera-admin-open').click();
    await page.getByTestId('camera-admin-new').click();
    const map = page.getByTestId('camera-place-map');
    await map.waitFor();
    const before = await page.locator('[data-testid=camera-list] li').count();
    await waitFor('the map', () => map.getAttribute('data-cameras').then(Number), (n) => n === before, 15_000);

    // Place it by clicking the map at the street's centre.
    const project = () => map.evaluate((el, [x, y]) => (el as HTMLElement & { gridlineProject?: (a: number, b: number) => [number, number] | null }).gridlineProject?.(x!, y!) ?? null, [point.lon, point.lat]);
    let last: [number, number] | null = null;
    const at = await waitFor('the map to settle', async () => {
      const prev = last;
      await new Promise((r) => setTimeout(r, 300));
      last = await project();
      return prev && last && Math.hypot(prev[0] - last[0], prev[1] - last[1]) < 0.01 ? last : null;
    }, (p) => p !== null, 20_000);
    await page.mouse.click(Math.round(at![0]), Math.round(at![1]));
    const placed = await waitFor('the clicked place', () => Promise.all([page.getByTestId('camera-form-lon').inputValue(), page.getByTestId('camera-form-lat').inputValue()]), ([x, y]) => x !== '' && y !== '');
    // A pixel at district zoom is some tens of metres.
    expect(Math.abs(Number(placed[0]) - point.lon)).toBeLessThan(0.002);
    expect(Math.abs(Number(placed[1]) - point.lat)).toBeLessThan(0.002);

    await page.getByTestId('camera-form-code').fill('E2E-ADM-1');
    await page.getByTestId('camera-form-name').fill('端到端新增路口');
    await page.getByTestId('camera-form-kind').selectOption('entrance');
    await page.getByTestId('camera-form-bearing').fill('90');
    await page.getByTestId('camera-form-fov').fill('60');
    await page.getByTestId('camera-form-source-type').selectOption('rtsp');
    await page.getByTestId('camera-form-source-url').fill('rtsp://127.0.0.1:9/Streaming/Channels/101');
    await page.getByTestId('camera-form-source-user').fill('operator');
    await page.getByTestId('camera-form-source-password').fill('p@ss:w0rd');
    await screenshot(page, 'cameras-admin-new-1920');
    await page.getByTestId('camera-form-save').click();

    await row('E2E-ADM-1').waitFor({ timeout: 10_000 });
    await expect(page.getByTestId('camera-admin-notice').textContent()).resolves.toContain('端到端新增路口');
    await waitFor('the wall’s list', () => page.locator('[data-testid=camera-list] li').count(), (n) => n === before + 1);
    await expect(page.getByTestId('camera-list').textContent()).resolves.toContain('端到端新增路口');
    let c = await stored('E2E-ADM-1');
    expect(c).toMatchObject({ name: '端到端新增路口', kind: 'entrance' });
    expect(Number(c!.bearing)).toBe(90);
    expect(Number(c!.fov)).toBe(60);
    expect(Math.abs(Number(c!.lon) - Number(placed[0]))).toBeLessThan(1e-6);
    expect(new URL(c!.url).username).toBe('operator');
    expect(decodeURIComponent(new URL(c!.url).password)).toBe('p@ss:w0rd');

    // Edit: the form shows what is stored, never the credentials; change name, place and bearing.
    await row('E2E-ADM-1').getByTestId('camera-admin-edit').click();
    await waitFor('the form filled', () => page.getByTestId('camera-form-name').inputValue(), (v) => v === '端到端新增路口');
    expect(await page.getByTestId('camera-form-source-url').inputValue()).toBe('');
    expect(await page.getByTestId('camera-form-source-password').inputValue()).toBe('');
    expect(await page.getByTestId('camera-form').innerHTML()).not.toContain('p@ss');
    // It is on the editor's map now (the others as dots, this one as the edited ring).
    await waitFor('the map’s cameras', () => map.getAttribute('data-cameras').then(Number), (n) => n === before + 1);
    await page.getByTestId('camera-form-name').fill('端到端新增路口（改）');
    const lon2 = Math.round((Number(placed[0]) + 0.0003) * 1e6) / 1e6;
    await page.getByTestId('camera-form-lon').fill(String(lon2));
    await page.getByTestId('camera-form-bearing').fill('180');
    await page.getByTestId('camera-form-save').click();
    await waitFor('the change stored', () => stored('E2E-ADM-1'), (x) => x?.name === '端到端新增路口（改）');
    c = await stored('E2E-ADM-1');
    expect(Number(c!.bearing)).toBe(180);
    expect(Math.abs(Number(c!.lon) - lon2)).toBeLessThan(1e-6);
    expect(decodeURIComponent(new URL(c!.url).password)).toBe('p@ss:w0rd'); // kept: write-only, not re-sent
    await waitFor('the list renamed', () => row('E2E-ADM-1').textContent(), (t) => t?.includes('端到端新增路口（改）') === true);
    const admin = await login(app, 'admin');
    const id = (await db.query<{ id: string | number }>(sql`SELECT id FROM cameras WHERE code = 'E2E-ADM-1'`)).rows[0]!.id;
    const detail = await app.inject({ method: 'GET', url: `/api/cameras/${id}`, headers: admin });
    expect(detail.body).not.toContain('p@ss');
    expect(detail.json()).toMatchObject({ sourceHasCredentials: true });

    // Delete, after confirming.
    await row('E2E-ADM-1').getByTestId('camera-admin-delete').click();
    expect(await stored('E2E-ADM-1')).toBeDefined();
    await row('E2E-ADM-1').getByTestId('camera-admin-delete-confirm').click();
    await waitFor('the row gone', () => row('E2E-ADM-1').count(), (n) => n === 0);
    expect(await stored('E2E-ADM-1')).toBeUndefined();
    await waitFor('the wall’s list', () => page.locator('[data-testid=camera-list] li').count(), (n) => n === before);
    expect(browser.errors.filter((e) => !/401|403/.test(e))).toEqual([]);
  }, 120_000);

  test('CSV import shows each refused row with its line; good rows are kept', async () => {
    const csv = [
      'code,name,kind,lon,lat,bearing,fov,source_type,source_url,codec',
      `E2E-CSV-1,导入好行,junction,${point.lon},${point.lat},45,70,demo,demo:,h264`,
      `E2E-CSV-2,坏类型,tower,${point.lon},${point.lat},,,demo,demo:,h264`,
      `E2E-CSV-3,区外,junction,116.4,39.9,,,demo,demo:,h264`,
    ].join('\r\n');
    await page.getByTestId('camera-import-file').setInputFiles({ name: 'cameras.csv', mimeType: 'text/csv', buffer: Buffer.from('\uFEFF' + csv) });
    const result = page.getByTestId('camera-import-result');
    await result.waitFor({ timeout: 10_000 });
    expect(await result.getAttribute('data-created')).toBe('1');
    const lines = await page.getByTestId('camera-import-error').evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.line, e.textContent]));
    expect(lines.map(([l]) => l)).toEqual(['3', '4']);
    expect(lines[0]![1]).toContain('kind');
    expect(lines[1]![1]).toContain('jurisdiction');
    await row('E2E-CSV-1').waitFor({ timeout: 10_000 });
    await screenshot(page, 'cameras-admin-import-1920');
    const big = await browser.open(3840, 2160);
    await big.goto(`${base}/cameras?admin=1`);
    await big.getByTestId('camera-admin-new').click();
    await big.getByTestId('camera-place-map').waitFor();
    await big.waitForTimeout(1500);
    await screenshot(big, 'cameras-admin-3840');
  }, 60_000);
});
