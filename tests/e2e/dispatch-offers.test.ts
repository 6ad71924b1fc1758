/**
 * The dispatch desk after an offer goes out (issue 14), at 1920×1080 and at 3840×2160: every
 * recommended worker is labelled on the map with their distance, no label over another or over the
 * ticket's marker; once the worker accepts on their phone (the real API, as the phone app calls
 * it) the panel shows them — name, state, "已接单 … 分钟", distance — with the candidates only
 * behind 改派, and the map shows them where they are now with a line to the ticket, following a
 * fresh fix; when a worker declines, or lets an offer run out, a toast says who let it go and to
 * whom the system offered it next, with a chime, and the queue row is marked — still after a reload,
 * from the stored offers (without the toast). Chromium, the real server with its offer sweep (offers
 * time out after 30 s here); fourteen workers' phones report through the ingest, crowded around the
 * ticket. Screenshots land in test-results/.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { TicketDetail, TicketSummary } from '../../shared/tickets-api';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { Clock } from '../../server/platform/clock';
import { findUserById } from '../../server/modules/auth/repository';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { describeAtSize, signIn, waitFor } from '../support/e2e';

/** 14:00 in Shanghai when the test starts, so the day shift is on duty. */
function daytimeClock(): Clock {
  const now = Date.now();
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  const offset = shanghaiMidnight + 14 * 3_600_000 - now;
  return { now: () => Date.now() + offset };
}

const OFFER_TIMEOUT_S = 30;

type Headers = Record<string, string>;
interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

let db: Db;
let app: App;
let clock: Clock;
let browser: TestBrowser;
let base: string;
let dispatcher: Headers;
/** The street's workers reporting around the ticket (their phones' fixes through the ingest). */
let crowd: { id: number; device: string; east: number; north: number }[] = [];
/** Workers whose own test fixes stand: the crowd's reports leave them alone. */
const quiet = new Set<number>();
let reporting: ReturnType<typeof setInterval> | undefined;
let desk: Page;
/** Inside the demo worker's grid, among the patrols. */
let place: { lon: number; lat: number };
/** The phones: a bearer header per worker, an account made for it if it had none. */
const phones = new Map<number, Headers>();

async function phone(workerId: number): Promise<Headers> {
  const known = phones.get(workerId);
  if (known) return known;
  let { rows } = await db.query<{ id: number }>(sql`SELECT id FROM users WHERE worker_id = ${workerId} AND active ORDER BY id LIMIT 1`);
  if (rows.length === 0) {
    ({ rows } = await db.query<{ id: number }>(sql`
      INSERT INTO users (username, display_name, password_hash, role, region_code, worker_id)
      SELECT ${`phone-${workerId}`}, w.name, '!', 'worker', w.home_grid_code, w.id FROM workers w WHERE w.id = ${workerId}
      RETURNING id`));
  }
  const headers = { authorization: `Bearer ${app.issueToken((await findUserById(db, rows[0]!.id))!).token}` };
  phones.set(workerId, headers);
  return headers;
}

async function step(headers: Headers, id: number, payload: Record<string, unknown>): Promise<TicketDetail> {
  const res = await app.inject({ method: 'POST', url: `/api/tickets/${id}/transitions`, headers, payload });
  expect(res.statusCode, `${String(payload.action)}: ${res.body}`).toBe(200);
  return res.json() as TicketDetail;
}

async function detail(id: number): Promise<TicketDetail> {
  const res = await app.inject({ url: `/api/tickets/${id}`, headers: dispatcher });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as TicketDetail;
}

async function file(description: string): Promise<TicketSummary> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/tickets',
    headers: dispatcher,
    payload: { category: 'patrol.sanitation', urgency: 'immediate', lon: place.lon, lat: place.lat, description },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as TicketSummary;
}

/** A point `east`, `north` metres from the ticket's place. */
function at(east: number, north: number): { lon: number; lat: number } {
  const m = 111_320;
  return { lon: place.lon + east / (m * Math.cos((place.lat * Math.PI) / 180)), lat: place.lat + north / m };
}

/** Every crowd worker reports, a few metres from where they stood (a slow walk). */
async function report(): Promise<void> {
  for (const w of crowd) {
    if (quiet.has(w.id)) continue;
    w.east += Math.random() * 6 - 3;
    w.north += Math.random() * 6 - 3;
    await app.ingest.submit({ device: w.device, ...at(w.east, w.north), time: clock.now() });
  }
}

const intersect = (a: Rect, b: Rect): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** The map's labels, dots and ticket marker as the browser laid them out. */
async function mapBoxes(page: Page): Promise<{ labels: (Rect & { text: string; worker: string })[]; dots: (Rect & { worker: string })[]; ticket: Rect }> {
  return page.evaluate(() => {
    const rect = (e: Element) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const q = (sel: string) => [...document.querySelectorAll(sel)];
    return {
      labels: q('[data-testid=tm-label], [data-testid=tm-holder-label]').map((e) => ({
        ...rect(e),
        text: e.textContent ?? '',
        worker: (e as HTMLElement).dataset.workerId ?? '',
      })),
      dots: q('[data-testid=tm-dot], [data-testid=tm-holder-dot]').map((e) => ({ ...rect(e), worker: (e as HTMLElement).dataset.workerId ?? '' })),
      ticket: rect(document.querySelector('[data-testid=tm-ticket]')!),
    };
  });
}

/** No label over another, over the ticket's marker, or over any worker's dot; all inside the map. */
async function expectLabelsClear(page: Page): Promise<void> {
  const { labels, dots, ticket } = await mapBoxes(page);
  const map = await page.getByTestId('ticket-map').boundingBox();
  expect(ticket.width).toBeGreaterThan(0);
  for (const [i, a] of labels.entries()) {
    expect(a.width, a.text).toBeGreaterThan(0);
    expect(intersect(a, ticket), `“${a.text}” covers the ticket`).toBe(false);
    for (const b of labels.slice(i + 1)) expect(intersect(a, b), `“${a.text}” and “${b.text}”`).toBe(false);
    for (const d of dots) expect(intersect(a, d), `“${a.text}” over worker ${d.worker}'s dot`).toBe(false);
    expect(a.x >= map!.x && a.y >= map!.y && a.x + a.width <= map!.x + map!.width && a.y + a.height <= map!.y + map!.height, `“${a.text}” inside the map`).toBe(true);
  }
}

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  clock = daytimeClock();
  app = await buildTestApp(db, { clock, clientDir: CLIENT_DIST, config: { tickMs: 250, dispatchOfferTimeoutS: OFFER_TIMEOUT_S } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  dispatcher = await login(app, 'dispatcher');
  const { rows } = await db.query<{ lon: number; lat: number; grid: string; gridPath: string }>(sql`
    SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat, g.code AS grid, g.path AS "gridPath"
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  place = rows[0]!;
  // Fourteen field workers of the street, on duty, crowded within 200 m of the ticket — some a few
  // metres from it, where a label would cover its marker — their own grid's first.
  const street = `/${rows[0]!.gridPath.split('/').slice(1, 3).join('/')}/`;
  const { rows: workers } = await db.query<{ id: number }>(sql`
    SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND w.role <> 'party_member' AND g.path LIKE ${`${street}%`}
     ORDER BY (w.home_grid_code = ${rows[0]!.grid}) DESC, w.id LIMIT 14`);
  expect(workers.length).toBe(14);
  crowd = workers.map((w, i) => {
    const r = i < 3 ? 8 + 6 * i : 30 + 12 * i;
    const a = i * 2.4;
    return { id: w.id, device: `e2e-offers-crowd-${w.id}`, east: r * Math.cos(a), north: r * Math.sin(a) };
  });
  for (const w of crowd) await app.ingest.registerDevice(w.device, w.id, 'phone');
  await report();
  reporting = setInterval(() => void report().catch(() => undefined), 15_000);
  browser = await launchBrowser();
  desk = await browser.open(1920, 1080);
  // Generous for a loaded 2-core machine (the simulated district reports all the while).
  desk.setDefaultNavigationTimeout(120_000);
  desk.setDefaultTimeout(60_000);
  await signIn(desk, base, 'dispatcher');
  await desk.waitForURL(`${base}/dispatch`, { waitUntil: 'commit', timeout: 120_000 });
}, 300_000);

afterAll(async () => {
  clearInterval(reporting);
  await browser?.close();
  await app?.close();
  await db?.close();
});

for (const [width, height] of [
  [1920, 1080],
  [3840, 2160],
] as const) describeAtSize(width)(`the desk at ${width}×${height}`, () => {
  const size = `${width}x${height}`;
  const row = (t: TicketSummary) => desk.locator(`[data-testid=ticket-row][data-number="${t.number}"]`);
  const status = () => desk.getByTestId('ticket-detail').getAttribute('data-status');
  /**
   * Opens a ticket from the queue. At 3840×2160 the district's force map behind the queue (deck.gl
   * on software GL, thousands of moving dots) keeps the renderer so busy that an input event waits
   * past any timeout: there the row gets its click event from the page itself.
   */
  const openRow = async (t: TicketSummary) => {
    if (width > 1920) await row(t).dispatchEvent('click');
    else await row(t).click();
  };

  beforeAll(async () => {
    // One page (the session stays signed in), loaded afresh at each size.
    await desk.setViewportSize({ width, height });
    await desk.goto(`${base}/dispatch`, { waitUntil: 'commit', timeout: 120_000 });
    await desk.getByTestId('queue-total').waitFor({ timeout: 120_000 });
    // Live before anything is filed: a ticket created while the socket still connects would wait for a resync.
    await waitFor('the live link', () => desk.getByTestId('link-status').getAttribute('data-status'), (st) => st === 'live' || st === 'stale', 120_000);
  });

  test('accepted: the worker on the panel and on the map, live, the candidates behind 改派', async () => {
    const ticket = await file(`垃圾桶满溢（端到端测试：接单 ${size}）`);
    await row(ticket).waitFor({ timeout: 20_000 });
    await openRow(ticket);
    await desk.locator('[data-testid=candidate][data-rank="1"]').waitFor({ timeout: 20_000 });

    // Every candidate carries a label with name and distance; none covers another or the ticket.
    const candidates = await desk.getByTestId('candidate').evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-worker-id')!, name: e.querySelector('.name')!.firstChild!.textContent!.trim(), dist: e.querySelector('.dist')!.textContent!.trim() })));
    expect(candidates.length).toBe(10);
    await waitFor('a label per candidate', async () => (await mapBoxes(desk)).labels.length, (n) => n === candidates.length, 20_000);
    await desk.waitForTimeout(1000); // the map settles on its fitted view
    const { labels } = await mapBoxes(desk);
    for (const c of candidates) {
      const label = labels.find((l) => l.worker === c.id);
      expect(label?.text, `worker ${c.id}`).toBe(`${c.name} · ${c.dist}`);
    }
    await expectLabelsClear(desk);
    await screenshot(desk, `dispatch-offers-${size}-candidates`);

    // 立案并派遣 on the first; the panel shows them waiting for the phone, the candidates hidden.
    const chosen = Number(candidates[0]!.id);
    await desk.locator('[data-testid=candidate][data-rank="1"]').getByTestId('register-assign').click();
    await waitFor('dispatched', status, (s) => s === 'dispatched');
    await waitFor('the holder, awaiting acceptance', () => desk.getByTestId('holder-status').textContent(), (s) => s === '待接单');
    await expect(desk.getByTestId('holder-expires').textContent()).resolves.toMatch(/后无人接单将自动改派$/);
    await expect(desk.getByTestId('candidates').count()).resolves.toBe(0);

    // The worker accepts on the phone.
    await step(await phone(chosen), ticket.id, { action: 'accept' });
    await waitFor('accepted on the panel', () => desk.getByTestId('holder-status').textContent(), (s) => s === '已接单');
    await expect(desk.getByTestId('holder').getAttribute('data-worker-id')).resolves.toBe(String(chosen));
    await expect(desk.getByTestId('holder-name').textContent()).resolves.toBe(candidates[0]!.name);
    await expect(desk.getByTestId('holder-since').textContent()).resolves.toMatch(/^已接单 (不到 1 分钟|\d+ 分钟)$/);
    await expect(desk.getByTestId('holder-expires').count()).resolves.toBe(0);
    await expect(desk.getByTestId('candidates').count()).resolves.toBe(0);
    await expect(desk.getByTestId('assign').count()).resolves.toBe(0);

    // On the map: the holder alone, where the server last stored them, with the line to the ticket.
    const shown = () => desk.getByTestId('tm-holder-dot').evaluate((e) => ({ lon: Number((e as HTMLElement).dataset.lon), lat: Number((e as HTMLElement).dataset.lat) }));
    const stored = async () => (await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM worker_positions_latest WHERE worker_id = ${chosen}`)).rows[0]!;
    await waitFor('the holder at their stored position', async () => ({ shown: await shown(), stored: await stored() }), (v) => Math.abs(v.shown.lon - v.stored.lon) < 5e-5 && Math.abs(v.shown.lat - v.stored.lat) < 5e-5, 20_000);
    await expect(desk.getByTestId('tm-label').count()).resolves.toBe(0);
    await expect(desk.getByTestId('tm-holder-label').textContent()).resolves.toMatch(new RegExp(`^${candidates[0]!.name} · 距 [\\d.]+ (米|公里)$`));

    // Their phone sends a fix 400 m north of the ticket: the dot, its line and the distance follow.
    quiet.add(chosen);
    const device = `e2e-offers-${size}`;
    await app.ingest.registerDevice(device, chosen, 'phone');
    const north = { lon: place.lon, lat: place.lat + 400 / 111_320 };
    expect((await app.ingest.submit({ device, ...north, time: clock.now() })).status).toBe('stored');
    await waitFor(
      'the holder at the new fix, 400 m away on the panel',
      async () => ({ at: await shown(), m: Number(await desk.getByTestId('holder-distance').getAttribute('data-m')) }),
      (v) => Math.abs(v.at.lon - north.lon) < 5e-5 && Math.abs(v.at.lat - north.lat) < 5e-5 && Math.abs(v.m - 400) <= 2,
      20_000,
    );
    const geometry = await desk.evaluate(() => {
      const line = document.querySelector<SVGLineElement>('[data-testid=tm-holder-line]')!;
      const centre = (sel: string) => {
        const r = document.querySelector(sel)!.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      };
      const svg = line.ownerSVGElement!.getBoundingClientRect();
      const n = (a: string) => Number(line.getAttribute(a));
      return { from: { x: svg.x + n('x1'), y: svg.y + n('y1') }, to: { x: svg.x + n('x2'), y: svg.y + n('y2') }, dot: centre('[data-testid=tm-holder-dot]'), ticket: centre('[data-testid=tm-ticket]') };
    });
    expect(Math.hypot(geometry.from.x - geometry.dot.x, geometry.from.y - geometry.dot.y)).toBeLessThan(2);
    expect(Math.hypot(geometry.to.x - geometry.ticket.x, geometry.to.y - geometry.ticket.y)).toBeLessThan(2);
    // North on the map is up.
    expect(geometry.dot.y).toBeLessThan(geometry.ticket.y);
    await expectLabelsClear(desk);
    await screenshot(desk, `dispatch-offers-${size}-accepted`);

    // 改派 opens the candidates (the holder is not among them), and their labels; closing hides them.
    await desk.getByTestId('reassign').click();
    await desk.locator('[data-testid=candidate][data-rank="1"]').waitFor({ timeout: 20_000 });
    const ids = await desk.getByTestId('candidate').evaluateAll((els) => els.map((e) => e.getAttribute('data-worker-id')));
    expect(ids).not.toContain(String(chosen));
    await waitFor('candidate labels with the holder’s', async () => (await mapBoxes(desk)).labels.length, (n) => n === ids.length + 1, 20_000);
    await expectLabelsClear(desk);
    await screenshot(desk, `dispatch-offers-${size}-reassign`);
    await desk.getByTestId('reassign').click();
    await waitFor('candidates hidden again', () => desk.getByTestId('candidate').count(), (n) => n === 0);
  }, 300_000);

  test('declined: a toast names who declined and who has it now, with a chime; the row is marked', async () => {
    const ticket = await file(`垃圾桶满溢（端到端测试：拒单 ${size}）`);
    await row(ticket).waitFor({ timeout: 20_000 });
    await openRow(ticket);
    const first = desk.locator('[data-testid=candidate][data-rank="1"]');
    await first.waitFor({ timeout: 20_000 });
    const decliner = Number(await first.getAttribute('data-worker-id'));
    await first.getByTestId('register-assign').click();
    await waitFor('dispatched', status, (s) => s === 'dispatched');
    // The desk moves on to another ticket; the toast must reach it wherever it looks.
    await desk.getByTestId('ticket-row').first().click();

    await step(await phone(decliner), ticket.id, { action: 'decline', reason: '正在处理另一起纠纷' });
    const toast = desk.locator(`[data-testid=reoffer-toast][data-number="${ticket.number}"][data-trigger=declined]`);
    await toast.waitFor({ timeout: 20_000 });
    const after = await waitFor('re-offered on the server', () => detail(ticket.id), (d) => d.status === 'dispatched' && d.assignedWorker !== null && d.assignedWorker.id !== decliner);
    const next = after.assignedWorker!;
    const declinerName = after.timeline.find((e) => e.kind === 'declined')!.actor!.name;
    await expect(toast.locator('.title').textContent()).resolves.toBe(`${declinerName} 拒单`);
    await expect(toast.locator('.reason').textContent()).resolves.toBe('理由：正在处理另一起纠纷');
    await expect(toast.getByTestId('reoffer-next').textContent()).resolves.toMatch(new RegExp(`^已自动改派给 ${next.name}（距 [\\d.]+ (米|公里)）$`));
    await expect(toast.getAttribute('data-next-worker-id')).resolves.toBe(String(next.id));
    // The dispatcher has clicked on the page, so the chime sounded.
    await expect(toast.getAttribute('data-sound')).resolves.toBe('played');

    const mark = row(ticket).getByTestId('row-reoffer');
    await expect(mark.getAttribute('data-trigger')).resolves.toBe('declined');
    await expect(mark.textContent()).resolves.toMatch(new RegExp(`已拒单\\s*${declinerName}\\s*→ ${next.name}`));
    await screenshot(desk, `dispatch-offers-${size}-declined`);

    // The toast opens the ticket: the new worker, awaiting acceptance.
    await toast.getByTestId('reoffer-open').click();
    await waitFor('the ticket open', () => desk.getByTestId('ticket-detail').getAttribute('data-number'), (n) => n === ticket.number);
    // (On a slow run the offer may have timed out meanwhile and gone on again: the panel follows the server.)
    await waitFor(
      'the new holder',
      async () => ({ shown: await desk.getByTestId('holder').getAttribute('data-worker-id'), server: (await detail(ticket.id)).assignedWorker?.id }),
      (v) => v.shown === String(v.server) && v.server !== decliner,
    );
    await expect(toast.count()).resolves.toBe(0);

    if (width !== 1920) return;
    // The next worker does not answer: after the offer's 30 s the sweep offers it on, and says so.
    const timeout = desk.locator(`[data-testid=reoffer-toast][data-number="${ticket.number}"][data-trigger=timeout]`);
    await timeout.waitFor({ timeout: (OFFER_TIMEOUT_S + 30) * 1000 });
    await expect(timeout.locator('.title').textContent()).resolves.toBe(`${next.name} 超时未接单`);
    const third = (await detail(ticket.id)).assignedWorker;
    if (third) await expect(timeout.getByTestId('reoffer-next').textContent()).resolves.toMatch(new RegExp(`^已自动改派给 ${third.name}`));
    else await expect(timeout.getByTestId('reoffer-next').textContent()).resolves.toBe('无空闲网格员可派，请人工派遣');
    await expect(row(ticket).getByTestId('row-reoffer').getAttribute('data-trigger')).resolves.toBe('timeout');
    await screenshot(desk, `dispatch-offers-${size}-timeout`);

    // A reload (as a second dispatcher, or one opening the desk later, would see it) marks the row
    // the same way, with whom it went to next: the mark comes from the server's stored offers, not
    // from this page's memory. The toasts were for the moment: they do not come back. (The next
    // offer has 30 s before it could run out in turn; a reload takes a few.)
    const shown = async () => ({
      trigger: await mark.getAttribute('data-trigger'),
      from: await mark.getAttribute('data-from-worker-id'),
      next: await mark.getAttribute('data-next-worker-id'),
      text: (await mark.textContent())?.replace(/\s+/g, ' ').trim(),
      title: await mark.getAttribute('title'),
    });
    const live = await shown();
    expect(live).toMatchObject({ trigger: 'timeout', from: String(next.id), next: await timeout.getAttribute('data-next-worker-id') });
    expect(live.title).toMatch(new RegExp(`^\\d{2}:\\d{2} ${next.name} 超时未接单\n(已自动改派给 .+|无空闲网格员可派，请人工派遣)$`));
    await desk.reload({ waitUntil: 'commit' });
    await row(ticket).waitFor({ timeout: 60_000 });
    await mark.waitFor({ timeout: 20_000 });
    expect(await shown()).toEqual(live);
    await expect(desk.getByTestId('reoffer-toast').count()).resolves.toBe(0);
    await screenshot(desk, `dispatch-offers-${size}-reloaded`);
    const box = (await row(ticket).boundingBox())!;
    await screenshot(desk, `dispatch-offers-${size}-reloaded-row`, { x: box.x, y: box.y, width: box.width, height: box.height });
  }, 300_000);
});

describe('the browser', () => {
  test('no errors in the console', () => {
    expect(browser.errors).toEqual([]);
  });
});
