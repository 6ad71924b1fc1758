/**
 * The wall as its operator lives with it (issue 14, "Wall"): street names readable over the ticket
 * rings and the heat at both wall sizes, a worker's card pinned by click or by keyboard alone, and
 * the online trend filled from the server's stored presence the moment the wall loads. The real
 * server on a real port, the seeded Yingze district with 30 days of ticket history, the patrol
 * simulator, and Chromium drawing it with WebGL. Screenshots land in test-results/wall-operator-*.
 */
import type { AddressInfo } from 'node:net';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { Clock } from '../../server/platform/clock';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { Simulator } from '../../server/modules/simulator/simulator';
import { seedTicketHistory } from '../../seeds/tickets-history';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { WALL_4K, waitFor, signIn } from '../support/e2e';

/** 14:00 in Shanghai when the test starts (most of the force on duty), as in wall.test.ts. */
function daytimeClock(): Clock {
  const now = Date.now();
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  const offset = shanghaiMidnight + 14 * 3_600_000 - now;
  return { now: () => Date.now() + offset };
}

/** Field workers given a stored presence over the last two hours. */
const HISTORY_WORKERS = 400;

let db: Db;
let cleanupClient: (() => void) | undefined;
let app: App;
let simulator: Simulator;
let browser: TestBrowser;
let base: string;
let page: Page;
let clock: Clock;
/** Console warnings and errors of the wall's pages. */
const consoleLines: string[] = [];

type Diagnostics = NonNullable<Window['__gridline']>['maps'][number];

function onMap<T>(fn: (map: Diagnostics, arg: unknown) => T, arg?: unknown): Promise<T> {
  return page.evaluate(
    ([source, a]) => {
      const map = window.__gridline?.maps[0];
      if (!map) throw new Error('no map on the page');
      return (new Function('map', 'arg', `return (${source})(map, arg)`) as (m: Diagnostics, a: unknown) => T)(map, a);
    },
    [fn.toString(), arg] as const,
  );
}

/** The map's part of the page, as PNG. */
async function mapShot(): Promise<Buffer> {
  const rect = await onMap((m) => {
    const r = m.element.getBoundingClientRect();
    return { x: r.left, y: r.top, width: r.width, height: r.height };
  });
  // A 4K page on a software GPU, on a busy machine, takes a while to capture.
  return page.screenshot({ clip: rect, animations: 'disabled', timeout: 120_000 });
}

/** Waits for tiles, then for the map to draw what was asked (two animation frames and a fade). */
async function settle(): Promise<void> {
  await waitFor('tiles', () => onMap((m) => m.idle()), (idle) => idle, 120_000);
  await page.waitForTimeout(700);
}

/**
 * For each label box (map-relative CSS pixels): the label's glyph pixels are those that change when
 * the labels are hidden (`withLabels` vs `withoutLabels`) and are bright (text, not halo). Returns,
 * per box, how many glyph pixels there are and the share of them that look the same with deck.gl's
 * layers drawn (`full`) as without them (`labelsOnly`): 1 means nothing covers the text.
 */
function glyphVisibility(
  full: Buffer,
  labelsOnly: Buffer,
  withoutLabels: Buffer,
  boxes: { x0: number; y0: number; x1: number; y1: number }[],
): Promise<{ glyphs: number; same: number }[]> {
  return page.evaluate(
    async ([a64, b64, c64, bx]) => {
      const decode = async (data: string) => {
        const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${data}`)).blob());
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bitmap, 0, 0);
        return { data: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, width: bitmap.width, height: bitmap.height };
      };
      const [full, only, none] = await Promise.all([decode(a64), decode(b64), decode(c64)]);
      const diff = (x: Uint8ClampedArray, y: Uint8ClampedArray, i: number) =>
        Math.abs(x[i]! - y[i]!) + Math.abs(x[i + 1]! - y[i + 1]!) + Math.abs(x[i + 2]! - y[i + 2]!);
      return bx.map((b) => {
        let glyphs = 0;
        let same = 0;
        for (let y = Math.max(0, Math.floor(b.y0)); y < Math.min(full.height, b.y1); y++) {
          for (let x = Math.max(0, Math.floor(b.x0)); x < Math.min(full.width, b.x1); x++) {
            const i = 4 * (y * full.width + x);
            const bright = only.data[i]! + only.data[i + 1]! + only.data[i + 2]! > 600;
            if (!bright || diff(only.data, none.data, i) < 120) continue;
            glyphs++;
            if (diff(full.data, only.data, i) < 60) same++;
          }
        }
        return { glyphs, same };
      });
    },
    [full.toString('base64'), labelsOnly.toString('base64'), withoutLabels.toString('base64'), boxes] as const,
  );
}

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  // Served from a private copy: another test run rebuilding dist/client must not pull it from under this one.
  const clientDir = mkdtempSync(path.join(tmpdir(), 'gridline-wall-operator-client-'));
  cpSync(CLIENT_DIST, clientDir, { recursive: true });
  cleanupClient = () => rmSync(clientDir, { recursive: true, force: true });
  db = await createTestDb();
  clock = daytimeClock();
  await seedTicketHistory(db, { clock });
  // Stored presence for the last two hours, as a server that ran before this one would have left:
  // 400 field workers reporting every two minutes from two hours ago until ten minutes ago.
  const now = clock.now();
  await db.query(sql`
    INSERT INTO worker_positions (worker_id, recorded_at, received_at, geom)
    SELECT w.id, to_timestamp(t / 1000.0), to_timestamp(t / 1000.0), ST_SetSRID(ST_MakePoint(112.56, 37.86), 4326)
      FROM (SELECT id FROM workers WHERE role <> 'party_member' ORDER BY id LIMIT ${HISTORY_WORKERS}) w,
           generate_series(${now - 120 * 60_000}::bigint, ${now - 10 * 60_000}::bigint, 120000) AS t`);
  app = await buildTestApp(db, { clock, clientDir, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  simulator = new Simulator(db, app.ingest, clock, { baseUrl: base, intervalS: 10, concurrency: 1024 });
  await simulator.load();
  simulator.start();
  browser = await launchBrowser();
  page = await browser.open(1920, 1080);
  // 4K screenshots on a software GPU take long on a busy machine.
  page.setDefaultTimeout(120_000);
  page.on('console', (msg) => {
    if (msg.type() === 'warning' || msg.type() === 'error') consoleLines.push(`${msg.type()}: ${msg.text()}`);
  });
});

afterAll(async () => {
  simulator?.stop();
  await browser?.close();
  await app?.close();
  await db?.close();
  cleanupClient?.();
});

/** Time to the first full frame of a freshly loaded wall (tiles, workers, heat, tickets on screen), logged. */
async function firstFullFrame(size: string): Promise<number> {
  const frames = await waitFor(
    'the first full frame',
    () => onMap((m) => m.firstFrames()),
    (f) => f.tiles !== undefined && f.workers !== undefined && f.heat !== undefined && f.tickets !== undefined,
    120_000,
  );
  const full = Math.max(frames.tiles!, frames.workers!, frames.heat!, frames.tickets!);
  console.error(`[wall-operator] ${size} first frames (ms since navigation): ${JSON.stringify(frames)}, full ${full}`);
  return full;
}

/** Every street label in view is drawn, and nothing of deck.gl's covers its glyphs. */
async function checkLabels(size: string): Promise<void> {
  await waitFor('3,000 drawn workers', () => onMap((m) => m.drawnWorkers()), (n) => n > 3000, 90_000);
  await waitFor('the heatmap', () => onMap((m) => m.heat()), (h) => h.drawn, 30_000);
  await waitFor('ticket markers', () => onMap((m) => m.ticketMarkers().length), (n) => n > 20, 30_000);
  await settle();

  // deck.gl's layers (heat, workers, ticket rings) all sit in the style under the first label layer.
  const order = await onMap((m) => m.layerOrder());
  const firstLabel = order.indexOf('label-grid');
  const deckGroups = order.filter((id) => id.startsWith('deck-'));
  expect(deckGroups.length).toBeGreaterThan(0);
  for (const id of deckGroups) expect(order.indexOf(id)).toBeLessThan(firstLabel);

  // Every street whose label point lies in view has its name drawn (none lost to collisions).
  const inView = await onMap((m) => m.labelsInView('street'));
  const drawn = await onMap((m) => m.renderedLabels('label-street'));
  await screenshot(page, `wall-operator-${size}-labels`);
  console.error(`[wall-operator] ${size} streets in view ${JSON.stringify(inView)}, drawn ${JSON.stringify(drawn)}`);
  expect(inView.length).toBeGreaterThanOrEqual(6);
  expect(drawn.map((l) => l.name).sort()).toEqual([...inView].sort());
  for (const name of ['柳巷街道', '庙前街道', '迎泽街道']) expect(drawn.map((l) => l.name)).toContain(name);

  // On screen: the glyphs of each street name look the same with workers, heat and rings drawn as
  // without them.
  const full = await mapShot();
  await onMap((m) => m.showLayers({ overlays: false }));
  await settle();
  const labelsOnly = await mapShot();
  await onMap((m) => m.showLayers({ labels: false }));
  await settle();
  const withoutLabels = await mapShot();
  await onMap((m) => m.showLayers({ labels: true, overlays: true }));
  const rect = await onMap((m) => {
    const r = m.element.getBoundingClientRect();
    return { left: r.left, top: r.top };
  });
  const s = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize) / 16);
  const boxes = drawn.map((l) => ({
    x0: l.x - rect.left - 90 * s,
    x1: l.x - rect.left + 90 * s,
    y0: l.y - rect.top - 45 * s,
    y1: l.y - rect.top + 45 * s,
  }));
  const seen = await glyphVisibility(full, labelsOnly, withoutLabels, boxes);
  const report = drawn.map((l, i) => ({ name: l.name, ...seen[i]!, share: seen[i]!.same / Math.max(1, seen[i]!.glyphs) }));
  console.error(`[wall-operator] ${size} street label glyphs: ${JSON.stringify(report)}`);
  for (const r of report) {
    expect(r.glyphs, r.name).toBeGreaterThan(30);
    expect(r.share, r.name).toBeGreaterThan(0.97);
  }
  await settle();
  await screenshot(page, `wall-operator-${size}`);
}

/**
 * Right after the wall (re)loads, the online trend already holds the last two hours from the
 * server: far more points than the live feed's one per 10 s could have given, whole-number axis
 * labels that never repeat, time labels on the half hour in Shanghai time.
 */
async function checkTrend(loadedAt: number): Promise<void> {
  const trend = page.getByTestId('online-trend');
  const points = await waitFor('the trend’s points', async () => Number(await trend.getAttribute('data-points')), (n) => n >= 100, 60_000);
  const secondsSinceLoad = (Date.now() - loadedAt) / 1000;
  // One live sample per 10 s: this many points cannot have come from the live feed.
  expect(points).toBeGreaterThan(secondsSinceLoad / 10 + 90);
  await expect(trend.textContent()).resolves.not.toContain('数据积累中');
  const ticks = ((await trend.getAttribute('data-ticks')) ?? '').split(',').map(Number);
  expect(ticks.length).toBeGreaterThanOrEqual(2);
  expect(ticks.every(Number.isInteger)).toBe(true);
  expect(new Set(ticks).size).toBe(ticks.length);
  const times = ((await trend.getAttribute('data-time-labels')) ?? '').split(',');
  expect(times.length).toBeGreaterThanOrEqual(3);
  for (const t of times) expect(t).toMatch(/^\d\d:(00|30)$/);
  // The stored presence is in it: the 400 workers an hour ago (the simulator started minutes ago).
  await expect(trend.getAttribute('data-hour-ago').then(Number)).resolves.toBe(HISTORY_WORKERS);
}

/** Keyboard only: Tab to the map, arrows select workers (card follows), Enter pins, Tab to close, Escape. */
async function checkKeyboardCard(size: string): Promise<void> {
  await page.mouse.move(1, 1);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const canvasFocused = () => page.evaluate(() => Boolean(document.activeElement?.closest('[data-testid=worker-map]')));
  for (let i = 0; i < 60 && !(await canvasFocused()); i++) await page.keyboard.press('Tab');
  expect(await canvasFocused()).toBe(true);
  await expect(page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).resolves.toContain('方向键');

  const card = page.getByTestId('worker-card');
  await page.keyboard.press('ArrowRight');
  await card.waitFor({ state: 'visible', timeout: 5000 });
  const first = await card.getAttribute('data-worker-id');
  expect(await card.getAttribute('data-pinned')).toBe('false');
  await page.keyboard.press('ArrowRight');
  await waitFor('the next worker', () => card.getAttribute('data-worker-id'), (id) => id !== first, 5000);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowLeft');
  const selected = await card.getAttribute('data-worker-id');

  // Enter pins it: the card stays while the pointer wanders over the map and its workers.
  await page.keyboard.press('Enter');
  await waitFor('pinned', () => card.getAttribute('data-pinned'), (p) => p === 'true', 5000);
  expect(await card.getAttribute('data-worker-id')).toBe(selected);
  const map = await onMap((m) => {
    const r = m.element.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  });
  for (let i = 1; i <= 8; i++) await page.mouse.move(map.x + (map.w * i) / 9, map.y + (map.h * (9 - i)) / 9, { steps: 3 });
  await page.mouse.move(1, 1);
  await page.waitForTimeout(300);
  expect(await card.getAttribute('data-pinned')).toBe('true');
  expect(await card.getAttribute('data-worker-id')).toBe(selected);
  const worker = await page.evaluate(async (id) => {
    const { token } = JSON.parse(localStorage.getItem('gridline.session') ?? '{}') as { token: string };
    const res = await fetch('/api/workers', { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { id: number; name: string; phone: string }[]).find((w) => w.id === id);
  }, Number(selected));
  await expect(card.textContent()).resolves.toContain(worker!.name);
  // The pinned card sits at its worker, and follows them.
  const at = await onMap((m, id) => m.screenPoint(id as number), Number(selected));
  const box = (await card.boundingBox())!;
  expect(Math.min(Math.abs(box.x - at![0]), Math.abs(box.x + box.width - at![0]))).toBeLessThan(40);
  await screenshot(page, `wall-operator-${size}-pinned-card`, { x: Math.max(0, at![0] - 500), y: Math.max(0, at![1] - 400), width: 1000, height: 800 });

  // Arrows with a card pinned move the pin along.
  await page.keyboard.press('ArrowUp');
  await waitFor('the pin moved', () => card.getAttribute('data-worker-id'), (id) => id !== selected, 5000);
  expect(await card.getAttribute('data-pinned')).toBe('true');

  // Tab reaches the card's close button; Enter on it closes the card and gives the map the keys back.
  const closeFocused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'worker-card-close');
  for (let i = 0; i < 6 && !(await closeFocused()); i++) await page.keyboard.press('Tab');
  expect(await closeFocused()).toBe(true);
  await page.keyboard.press('Enter');
  await waitFor('unpinned', async () => (await card.count()) === 0 || (await card.getAttribute('data-pinned')) === 'false', (ok) => ok, 5000);
  expect(await canvasFocused()).toBe(true);

  // Enter pins again, Escape closes; a second Escape clears the selection.
  await page.keyboard.press('Enter');
  await waitFor('pinned again', () => card.getAttribute('data-pinned'), (p) => p === 'true', 5000);
  await page.keyboard.press('Escape');
  await waitFor('closed', () => card.getAttribute('data-pinned'), (p) => p === 'false', 5000);
  await page.keyboard.press('Escape');
  await card.waitFor({ state: 'detached', timeout: 5000 });
}

describe('the wall, as its operator uses it', () => {
  test('the operator signs in; the online trend is whole at once, from the server', async () => {
    await signIn(page, base, 'operator', TEST_DEMO_PASSWORD);
    await page.waitForURL(`${base}/wall`);
    const loadedAt = Date.now();
    await checkTrend(loadedAt);
    await firstFullFrame('1920x1080');
    await waitFor('the live link', () => page.getByTestId('link-status').getAttribute('data-status'), (s) => s === 'live');
    // The stored history matches the server's route: 400 workers at the minute an hour ago.
    const served = await page.evaluate(async () => {
      const { token } = JSON.parse(localStorage.getItem('gridline.session') ?? '{}') as { token: string };
      const res = await fetch('/api/workers/online-history', { headers: { authorization: `Bearer ${token}` } });
      return (await res.json()) as { t: number[]; online: number[] };
    });
    expect(served.online[served.t.length - 61]).toBeGreaterThanOrEqual(HISTORY_WORKERS);
  }, 300_000);

  test('at 1920×1080 every street name in view is drawn, above the rings, heat and workers', async () => {
    await checkLabels('1920x1080');
  }, 300_000);

  test('at 1920×1080 a worker’s card is pinned, browsed and closed with the keyboard alone', async () => {
    await checkKeyboardCard('1920x1080');
  }, 300_000);

  test('a click pins a worker’s card; it stays as the pointer moves, and closes with its button', async () => {
    // The most isolated workers inside the map, first the one picking finds at its own position.
    const target = await onMap((m) => {
      const points: { id: number; x: number; y: number }[] = [];
      for (let id = 1; id < 20_000; id++) {
        const p = m.screenPoint(id);
        if (p) points.push({ id, x: p[0], y: p[1] });
      }
      const rect = m.element.getBoundingClientRect();
      const inner = points.filter((p) => p.x > rect.left + 150 && p.x < rect.right - 150 && p.y > rect.top + 150 && p.y < rect.bottom - 150);
      const isolation = (p: { id: number; x: number; y: number }) =>
        Math.min(...points.filter((q) => q.id !== p.id && Math.abs(q.x - p.x) < 60 && Math.abs(q.y - p.y) < 60).map((q) => Math.hypot(q.x - p.x, q.y - p.y)), 60);
      const ranked = inner.map((p) => ({ ...p, room: isolation(p) })).sort((a, b) => b.room - a.room).slice(0, 30);
      const found = ranked.find((p) => m.pickWorkerNear(p.id) === p.id);
      if (!found) throw new Error(`no pickable worker: ${points.length} drawn, ${inner.length} inside, best room ${ranked[0]?.room}`);
      return found;
    });
    expect(target).not.toBeNull();
    console.error(`[wall-operator] click target ${JSON.stringify(target)}`);
    await page.mouse.click(target!.x, target!.y);
    const card = page.getByTestId('worker-card');
    await waitFor('pinned', () => card.getAttribute('data-pinned'), (p) => p === 'true', 5000);
    expect(await card.getAttribute('data-worker-id')).toBe(String(target!.id));
    await page.mouse.move(target!.x + 300, target!.y + 200, { steps: 5 });
    await page.mouse.move(1, 1, { steps: 5 });
    await page.waitForTimeout(300);
    expect(await card.getAttribute('data-pinned')).toBe('true');
    expect(await card.getAttribute('data-worker-id')).toBe(String(target!.id));
    await page.getByTestId('worker-card-close').click();
    await card.waitFor({ state: 'detached', timeout: 5000 });
  }, 300_000);

  // 4K once per CI run (tests/support/e2e.ts WALL_4K).
  test.skipIf(!WALL_4K)('at 3840×2160: the trend at once, every street name drawn above the layers, the keyboard card', async () => {
    await page.setViewportSize({ width: 3840, height: 2160 });
    await page.reload();
    const loadedAt = Date.now();
    await checkTrend(loadedAt);
    await firstFullFrame('3840x2160');
    await checkLabels('3840x2160');
    // The dense west (the old town) at native resolution.
    await screenshot(page, 'wall-operator-3840x2160-west', { x: 900, y: 700, width: 1400, height: 1000 });
    await checkKeyboardCard('3840x2160');
  }, 480_000);

  test('no luma.gl binding warnings (the heatmap’s weightsTexture) and no errors in the console', () => {
    console.error(`[wall-operator] console: ${JSON.stringify(consoleLines.slice(0, 20))}`);
    expect(consoleLines.filter((l) => /Binding .* not set|weightsTexture/.test(l))).toEqual([]);
    // 503s are the test server shedding load on this shared 2-core machine (SERVICE_UNAVAILABLE), not the wall.
    expect(browser.errors.filter((e) => !/status of 503/.test(e))).toEqual([]);
  });
});
