/**
 * The worker's phone (/field, the installable app) in Chromium at 390×844 with the position
 * emulated: the demo worker goes on duty and the centre sees them online from the phone's own
 * reports; the network goes away, the worker files a report with a photo, it waits as 待发送; the
 * network comes back and the report arrives exactly once, with the time it was made. A report at
 * a point picked on the map (tap, then drag the pin) is stored at that point. Then SOS: a
 * 2 s hold raises an alarm at the centre, the phone shows who acknowledged it; and the app opens
 * again with no network at all. The real server, the real browser; screenshots in test-results/.
 */
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { TicketDetail, TicketList } from '../../shared/tickets-api';
import type { WorkerDto } from '../../shared/api';
import type { AlarmSummary } from '../../shared/alarms-api';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { waitFor } from '../support/e2e';

let db: Db;
let app: App;
let base: string;
let browser: TestBrowser;
let phone: Page;
let me: { workerId: number; name: string; lon: number; lat: number };
let operator: { authorization: string };
let dispatcher: { authorization: string };
const DESCRIPTION = `井盖缺失，离线上报（端到端 ${Date.now().toString(36)}）`;

/** A 2400×1800 PNG (a camera-sized picture the phone must shrink), encoded here. */
function bigPng(width = 2400, height = 1800): Buffer {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (b: Buffer) => {
    let c = -1;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    td.copy(out, 4);
    out.writeUInt32BE(crc(td), 8 + data.length);
    return out;
  };
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set([(x * 7) & 255, 120, 200], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Width and height from a JPEG's start-of-frame segment. */
function jpegSize(b: Buffer): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < b.length && b[i] === 0xff) {
    const marker = b[i + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + b.readUInt16BE(i + 2);
  }
  return null;
}

const api = async <T>(method: 'GET' | 'POST', url: string, headers: { authorization: string }, payload?: object): Promise<T> => {
  const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
};
const myTickets = () => api<TicketList>('GET', `/api/tickets?limit=500`, dispatcher).then((l) => l.items.filter((t) => t.description === DESCRIPTION));
const outboxCount = async () => Number(await phone.getByTestId('outbox').getAttribute('data-count'));

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  app = await buildTestApp(db, { clientDir: CLIENT_DIST, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const { rows } = await db.query<{ workerId: number; name: string; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", w.name, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  me = rows[0]!;
  operator = await login(app, 'operator');
  dispatcher = await login(app, 'dispatcher');
  browser = await launchBrowser();
  await browser.context.grantPermissions(['geolocation'], { origin: base });
  await browser.context.setGeolocation({ latitude: me.lat, longitude: me.lon, accuracy: 12 });
  phone = await browser.open(390, 844);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.close();
});

describe('the worker’s phone', () => {
  test('goes on duty: the phone’s own fix makes the worker online at the centre', async () => {
    await phone.goto(`${base}/login`);
    await phone.fill('input[name=username]', 'worker');
    await phone.fill('input[name=password]', TEST_DEMO_PASSWORD);
    await phone.click('button[type=submit]');
    await phone.waitForURL(`${base}/field`);
    await phone.getByTestId('duty').waitFor();
    expect(await app.ingest.state.workers.get(me.workerId)!.hasFix).toBe(false);

    await phone.getByTestId('duty-switch').click();
    await waitFor('the tracker', () => phone.getByTestId('duty').getAttribute('data-tracker'), (s) => s === 'ok');
    // The wall's source: the online workers with their positions.
    const online = await waitFor('the worker online at the centre',
      () => api<WorkerDto[]>('GET', '/api/workers?online=true', operator),
      (list) => list.some((w) => w.id === me.workerId));
    const mine = online.find((w) => w.id === me.workerId)!;
    expect(mine.position!.lon).toBeCloseTo(me.lon, 6);
    expect(mine.position!.lat).toBeCloseTo(me.lat, 6);
    // …and the phone sees itself through the centre's live feed.
    await waitFor('the live position on the phone', () => phone.getByTestId('field-position').getAttribute('data-online'), (v) => v === 'true');
    expect(await outboxCount()).toBe(0);
    await screenshot(phone, 'field-on-duty');
    // The app installs on this first visit (every precached file fetched) and controls the page:
    // from now on it opens with no network.
    await waitFor('the service worker to control the page', () => phone.evaluate(() => Boolean(navigator.serviceWorker.controller)), Boolean, 60_000)
      .catch(async (error: Error) => {
        const registration = await phone.evaluate(async () => {
          const r = await navigator.serviceWorker.getRegistration();
          return r ? { installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state } : null;
        });
        throw new Error(`${error.message}; registration: ${JSON.stringify(registration)}; browser errors: ${browser.errors.join(' | ').slice(0, 1500)}`);
      });
  });

  let filedAt = 0;
  test('offline: a report with a photo waits on the phone as 待发送', async () => {
    await phone.context().setOffline(true);
    await phone.getByTestId('offline-banner').waitFor();
    await phone.getByTestId('report-open').click();
    const form = phone.getByTestId('report-form');
    await waitFor('categories', () => form.locator('select[name=category] option:not([disabled])').count(), (n) => n > 0);
    const value = await form.locator('select[name=category] option:not([disabled])').first().getAttribute('value');
    await form.locator('select[name=category]').selectOption(value!);
    await form.locator('textarea[name=description]').fill(DESCRIPTION);
    await phone.getByTestId('report-photos').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: bigPng() });
    await form.locator('.thumbs img').waitFor();
    const before = Date.now();
    await phone.getByTestId('report-submit').click();
    await phone.locator('[data-testid=outbox-item][data-kind=report]').waitFor();
    filedAt = before;
    expect(await outboxCount()).toBeGreaterThanOrEqual(1);
    await expect(phone.getByTestId('outbox').textContent()).resolves.toContain('待发送');
    await phone.evaluate(() => window.scrollTo(0, 0));
    await screenshot(phone, 'field-offline-queue');
    // Nothing reached the server, and it stays on the phone while offline.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await myTickets()).toEqual([]);
    expect(await phone.locator('[data-testid=outbox-item][data-kind=report]').count()).toBe(1);
  });

  test('back online: the report arrives exactly once, with the time it was made and its photo as a smaller JPEG', async () => {
    const onlineAt = Date.now();
    await phone.context().setOffline(false);
    await waitFor('the outbox to empty', outboxCount, (n) => n === 0);
    const [ticket, ...more] = await myTickets();
    expect(more).toEqual([]);
    expect(ticket).toBeDefined();
    const received = Date.parse(ticket!.receivedAt);
    expect(received).toBeGreaterThanOrEqual(filedAt - 1000);
    expect(received).toBeLessThan(onlineAt - 2000);
    expect(ticket!.reporter.workerId).toBe(me.workerId);
    const detail = await api<TicketDetail>('GET', `/api/tickets/${ticket!.id}`, dispatcher);
    expect(detail.photos.length).toBe(1);
    expect(detail.photos[0]!.mime).toBe('image/jpeg');
    // Shrunk on the phone: 2400×1800 → 1600×1200.
    const photo = await app.inject({ method: 'GET', url: detail.photos[0]!.url, headers: dispatcher });
    expect(photo.statusCode).toBe(200);
    expect(jpegSize(photo.rawPayload)).toEqual({ width: 1600, height: 1200 });
    // The phone's sender runs again (a retry, a reconnect): still one.
    await phone.evaluate(() => window.dispatchEvent(new Event('online')));
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await myTickets()).length).toBe(1);
  });

  test('a report at a point picked on the map: a tap moves the pin, and the ticket lies where the pin is', async () => {
    const described = `路灯不亮，地图选点（端到端 ${Date.now().toString(36)}）`;
    const form = phone.getByTestId('report-form');
    if (!(await form.isVisible())) await phone.getByTestId('report-open').click();
    const value = await form.locator('select[name=category] option:not([disabled])').first().getAttribute('value');
    await form.locator('select[name=category]').selectOption(value!);
    await form.locator('textarea[name=description]').fill(described);
    await phone.getByTestId('report-where-map').check();
    const picker = phone.getByTestId('report-picker');
    await picker.scrollIntoViewIfNeeded();
    const shown = () => phone.getByTestId('report-location').evaluate((el) => ({ lon: Number(el.dataset.lon), lat: Number(el.dataset.lat), inside: el.dataset.inside ?? null }));
    // Picking starts at the phone's fix.
    const start = await shown();
    expect(start.lon).toBeCloseTo(me.lon, 6);
    expect(start.lat).toBeCloseTo(me.lat, 6);
    await waitFor('the grid (inside or not) to be known', shown, (p) => p.inside !== null);
    expect((await shown()).inside).toBe('true');
    const project = (lon: number, lat: number) =>
      picker.evaluate((el, [x, y]) => (el as HTMLElement & { gridlineProject?: (a: number, b: number) => [number, number] | null }).gridlineProject?.(x!, y!) ?? null, [lon, lat]);
    // The picking map settled: the fix projects to the same pixel twice, 300 ms apart.
    let last: [number, number] | null = null;
    const at = await waitFor('the picking map to settle', async () => {
      const before = last;
      await new Promise((r) => setTimeout(r, 300));
      last = await project(me.lon, me.lat);
      return before && last && Math.hypot(before[0] - last[0], before[1] - last[1]) < 0.01 ? last : null;
    }, (p) => p !== null);
    const box = (await picker.boundingBox())!;
    // A tap 70 px right and 50 px up of the fix (inside the picking map).
    // Whole pixels: the browser's mouse events carry integer coordinates.
    const tap = { x: Math.round(Math.min(at![0] + 70, box.x + box.width - 10)), y: Math.round(Math.max(at![1] - 50, box.y + 10)) };
    await phone.mouse.click(tap.x, tap.y);
    const picked = await waitFor('the pin to move', shown, (p) => Math.abs(p.lon - start.lon) > 1e-6);
    // Where the tap landed, to a pixel, and the pin is drawn there.
    const back = (await project(picked.lon, picked.lat))!;
    expect(Math.hypot(back[0] - tap.x, back[1] - tap.y)).toBeLessThan(1.5);
    const pin = (await phone.getByTestId('report-pin').boundingBox())!;
    expect(Math.abs(pin.x + pin.width / 2 - tap.x)).toBeLessThan(2);
    expect(Math.abs(pin.y + pin.height - tap.y)).toBeLessThan(3);
    // A drag of the pin moves it again: 30 px left.
    await phone.mouse.move(pin.x + pin.width / 2, pin.y + pin.height / 2);
    await phone.mouse.down();
    await phone.mouse.move(pin.x + pin.width / 2 - 15, pin.y + pin.height / 2, { steps: 4 });
    await phone.mouse.move(pin.x + pin.width / 2 - 30, pin.y + pin.height / 2, { steps: 4 });
    await phone.mouse.up();
    const dragged = await waitFor('the pin dragged', shown, (p) => p.lon < picked.lon - 1e-6);
    expect(dragged.inside).not.toBeNull();
    await screenshot(phone, 'field-report-picked');

    await phone.getByTestId('report-submit').click();
    const filed = () => api<TicketList>('GET', `/api/tickets?limit=500`, dispatcher).then((l) => l.items.filter((t) => t.description === described));
    const [ticket] = await waitFor('the report at the centre', filed, (l) => l.length === 1);
    // Stored where the pin was, not at the phone's fix…
    expect(ticket!.location.lon).toBeCloseTo(dragged.lon, 6);
    expect(ticket!.location.lat).toBeCloseTo(dragged.lat, 6);
    expect(Math.abs(ticket!.location.lon - me.lon)).toBeGreaterThan(1e-5);
    // …and the phone's in/out of the grid agrees with the grid the server found there.
    const { rows: [home] } = await db.query<{ code: string }>(sql`SELECT home_grid_code AS code FROM workers WHERE id = ${me.workerId}`);
    expect(ticket!.grid.code === home!.code).toBe(dragged.inside === 'true');
  });

  test('SOS: a 2 s hold raises the alarm at the centre; the phone shows who acknowledged it', async () => {
    const button = phone.getByTestId('sos-button');
    await button.scrollIntoViewIfNeeded();
    const box = (await button.boundingBox())!;
    await phone.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await phone.mouse.down();
    await waitFor('the ring to fill', async () => Number(await phone.getByTestId('sos-progress').getAttribute('data-progress')), (p) => p >= 0.4 && p < 1, 5_000);
    await screenshot(phone, 'field-sos-holding');
    // Released early nothing is sent; held on, it is.
    expect(await api<AlarmSummary[]>('GET', '/api/alarms?status=open', operator)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_600));
    await phone.mouse.up();
    const [alarm] = await waitFor('the alarm at the centre', () => api<AlarmSummary[]>('GET', '/api/alarms?status=open', operator), (l) => l.length === 1);
    expect(alarm!.worker.id).toBe(me.workerId);
    expect(alarm!.source).toBe('app');
    expect(alarm!.lon).toBeCloseTo(me.lon, 5);
    expect(alarm!.lat).toBeCloseTo(me.lat, 5);
    await waitFor('the phone: sent', () => phone.getByTestId('sos').getAttribute('data-state'), (s) => s === 'raised');

    await api('POST', `/api/alarms/${alarm!.id}/transitions`, operator, { action: 'acknowledge' });
    const ack = phone.getByTestId('sos-acknowledged');
    await ack.waitFor({ timeout: 10_000 });
    const operatorName = (await db.query<{ n: string }>(sql`SELECT display_name AS n FROM users WHERE username = 'operator'`)).rows[0]!.n;
    await expect(ack.textContent()).resolves.toContain(operatorName);
    await expect(ack.textContent()).resolves.toContain('指挥中心已收到');
    await screenshot(phone, 'field-sos-acknowledged');

    // A false alarm: the worker cancels it with a reason.
    await phone.getByTestId('sos-cancel').click();
    await phone.getByTestId('sos-cancel-reason').fill('误触');
    await phone.getByTestId('sos-cancel-confirm').click();
    await waitFor('the alarm cancelled', () => api<AlarmSummary[]>('GET', '/api/alarms?status=open', operator), (l) => l.length === 0);
    await waitFor('the phone: cancelled', () => phone.getByTestId('sos').getAttribute('data-state'), (s) => s === 'false_alarm');
  });

  test('the app opens with no network at all (service worker), the worker still signed in', async () => {
    await phone.context().setOffline(true);
    await phone.reload();
    await phone.getByTestId('duty').waitFor({ timeout: 15_000 });
    await phone.getByTestId('offline-banner').waitFor();
    expect(await phone.getByTestId('duty').getAttribute('data-on-duty')).toBe('true');
    await phone.context().setOffline(false);
  });
});
