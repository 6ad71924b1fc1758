/**
 * The dispatch desk as a street dispatcher lives with it all day (issue 14): thirty days of tickets
 * behind it, the queue shows the open ones by default with the server's true total and pages
 * through all of them; the filter lives in the URL, so a reload keeps the view; an overdue ticket
 * reads "已超期 … 小时 … 分" (never "超期 -21h42"); and a ticket just filed goes to a worker in two
 * clicks from the queue (open it, 立案并派遣 on the recommended worker). Chromium at 1920×1080, the
 * real server; a screenshot of the desk lands in test-results/.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { TicketDetail, TicketList, TicketSummary } from '../../shared/tickets-api';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { Clock } from '../../server/platform/clock';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { Simulator } from '../../server/modules/simulator/simulator';
import { seedTicketHistory } from '../../seeds/tickets-history';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { waitFor } from '../support/e2e';

/** 14:00 in Shanghai when the test starts, so the day shift (and the demo worker) is on duty. */
function daytimeClock(): Clock {
  const now = Date.now();
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  const offset = shanghaiMidnight + 14 * 3_600_000 - now;
  return { now: () => Date.now() + offset };
}

const PAGE_SIZE = 100;

let db: Db;
let app: App;
let clock: Clock;
let browser: TestBrowser;
let base: string;
let desk: Page;
let dispatcher: Record<string, string>;
/** Where the test files its ticket: inside the demo worker's grid, among the patrols. */
let place: { lon: number; lat: number };
let simulator: Simulator;
/** The server's totals for the dispatcher: open tickets, and all of them. */
let openTotal = 0;
let allTotal = 0;

async function list(query: string): Promise<TicketList> {
  const res = await app.inject({ url: `/api/tickets?${query}`, headers: dispatcher });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as TicketList;
}

const rows = () => desk.getByTestId('ticket-row');
const shownTotal = async () => Number(await desk.getByTestId('queue-total').getAttribute('data-total'));
const rowStatuses = () => rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
const rowNumbers = () => rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-number') ?? ''));
const search = () => new URL(desk.url()).searchParams;

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  clock = daytimeClock();
  // Thirty days of tickets: hundreds open, more closed — a desk's ordinary day.
  await seedTicketHistory(db, { clock });
  app = await buildTestApp(db, { clock, clientDir: CLIENT_DIST, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  dispatcher = await login(app, 'dispatcher');
  // The district's workers on patrol: the recommended ones are those free of a task.
  simulator = new Simulator(db, app.ingest, clock, { baseUrl: base, intervalS: 10, concurrency: 1024 });
  await simulator.load();
  simulator.start();

  const { rows: places } = await db.query<{ lon: number; lat: number }>(sql`
    SELECT ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  place = places[0]!;

  browser = await launchBrowser();
  desk = await browser.open(1920, 1080);
}, 300_000);

afterAll(async () => {
  simulator?.stop();
  await browser?.close();
  await app?.close();
  await db?.close();
});

describe('the queue: open tickets, the true total, every page, the view in the URL', () => {
  test('the dispatcher signs in: open tickets only, with the server’s total', async () => {
    openTotal = (await list('open=true&limit=1')).total;
    allTotal = (await list('limit=1')).total;
    // The history leaves more than a page open, and closed ones besides (which the desk hides by default).
    expect(openTotal).toBeGreaterThan(PAGE_SIZE);
    expect(allTotal).toBeGreaterThan(openTotal);

    await desk.goto(`${base}/login`);
    await desk.fill('input[name=username]', 'dispatcher');
    await desk.fill('input[name=password]', TEST_DEMO_PASSWORD);
    await desk.click('button[type=submit]');
    await desk.waitForURL(`${base}/dispatch`);
    await waitFor('the queue’s total', shownTotal, (n) => n === openTotal);
    await expect(desk.getByTestId('queue-total').textContent()).resolves.toBe(`${openTotal.toLocaleString('en-US')} 件`);
    await expect(rows().count()).resolves.toBe(PAGE_SIZE);
    const statuses = await rowStatuses();
    expect(statuses.filter((s) => s === 'closed' || s === 'cancelled')).toEqual([]);
    await expect(desk.getByTestId('page-range').textContent()).resolves.toBe(`第 1–${PAGE_SIZE} 件，共 ${openTotal.toLocaleString('en-US')} 件`);
    await desk.waitForTimeout(1000); // the map settles
    await screenshot(desk, 'dispatch-desk-1920x1080-queue');
  });

  test('paging reaches every open ticket, each once, and stops at the last', async () => {
    const seen = new Set(await rowNumbers());
    const pages = Math.ceil(openTotal / PAGE_SIZE);
    for (let page = 2; page <= pages; page++) {
      const before = (await rowNumbers())[0];
      await desk.getByTestId('page-next').click();
      await waitFor(`page ${page}`, rowNumbers, (numbers) => numbers.length > 0 && numbers[0] !== before);
      expect(search().get('page')).toBe(String(page));
      for (const number of await rowNumbers()) seen.add(number);
    }
    expect(seen.size).toBe(openTotal);
    const lastFrom = (pages - 1) * PAGE_SIZE + 1;
    await expect(desk.getByTestId('page-range').textContent()).resolves.toBe(
      `第 ${lastFrom.toLocaleString('en-US')}–${openTotal.toLocaleString('en-US')} 件，共 ${openTotal.toLocaleString('en-US')} 件`,
    );
    await expect(desk.getByTestId('page-next').isDisabled()).resolves.toBe(true);
    await expect(rowStatuses()).resolves.not.toContain('closed');
  });

  test('a filter goes into the URL and survives a reload', async () => {
    // The history's received tickets depend on the day it was seeded for (a Sunday afternoon may
    // have none left): file two more, as the hotline would, so the filter always has rows to show.
    for (const description of ['背街小巷垃圾未及时清理（端到端测试：筛选）', '公厕卫生状况差（端到端测试：筛选）']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/tickets',
        headers: dispatcher,
        payload: { category: 'patrol.sanitation', urgency: 'scheduled', lon: place.lon, lat: place.lat, description },
      });
      expect(res.statusCode, res.body).toBe(201);
      openTotal += 1;
      allTotal += 1;
    }
    const received = (await list('status=received&limit=1')).total;
    expect(received).toBeGreaterThanOrEqual(2);
    await desk.getByTestId('filter-status').selectOption('received');
    await waitFor('the received filter', shownTotal, (n) => n === received);
    // A new filter starts at the first page.
    expect(search().get('status')).toBe('received');
    expect(search().get('page')).toBeNull();
    expect(new Set(await rowStatuses())).toEqual(new Set(['received']));

    await desk.reload();
    await desk.getByTestId('ticket-queue').waitFor();
    await waitFor('the received filter after a reload', shownTotal, (n) => n === received);
    await expect(desk.getByTestId('filter-status').inputValue()).resolves.toBe('received');
    expect(new Set(await rowStatuses())).toEqual(new Set(['received']));

    // "All" shows the closed ones too, with their total.
    await desk.getByTestId('filter-status').selectOption('all');
    await waitFor('every ticket', shownTotal, (n) => n === allTotal);
    expect(search().get('status')).toBe('all');
  });

  test('an overdue ticket reads “已超期 … 小时 … 分”, never a negative number', async () => {
    const overdue = await list('open=true&overdue=true&limit=500');
    expect(overdue.total).toBeGreaterThan(0);
    await desk.getByTestId('filter-status').selectOption('open');
    await desk.getByTestId('filter-overdue').check();
    await waitFor('the overdue filter', shownTotal, (n) => n === overdue.total);
    expect(search().get('overdue')).toBe('1');
    expect(search().get('status')).toBeNull();
    const texts = await desk.getByTestId('ticket-due').allTextContents();
    expect(texts.length).toBe(Math.min(PAGE_SIZE, overdue.total));
    for (const text of texts) expect(text).toMatch(/^已超期 (\d+ 天 \d+ 小时|\d+ 小时 \d+ 分|\d+ 分)$/);
    // One ticket's words checked against its deadline on the server's clock (to the minute).
    const hours = overdue.items.find((t) => {
      const late = clock.now() - Math.min(Date.parse(t.closeDeadline), t.deadline ? Date.parse(t.deadline) : Infinity);
      return late > 3_600_000 && late < 86_400_000 - 120_000;
    });
    expect(hours, 'an overdue ticket less than a day late').toBeDefined();
    const text = await desk.locator(`[data-testid=ticket-row][data-number="${hours!.number}"] [data-testid=ticket-due]`).textContent();
    const [, h, m] = /^已超期 (\d+) 小时 (\d+) 分$/.exec(text ?? '') ?? [];
    const late = clock.now() - Math.min(Date.parse(hours!.closeDeadline), hours!.deadline ? Date.parse(hours!.deadline) : Infinity);
    expect(Math.abs(Number(h) * 60 + Number(m) - late / 60_000)).toBeLessThan(2);
    await desk.getByTestId('filter-overdue').uncheck();
    await waitFor('back to the open tickets', shownTotal, (n) => n === openTotal);
  });
});

describe('two clicks from the queue to a dispatched ticket', () => {
  let filed: TicketSummary;
  const row = () => desk.locator(`[data-testid=ticket-row][data-number="${filed.number}"]`);

  test('a ticket filed now appears live, received; open it and 立案并派遣 on the first recommended worker', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      headers: dispatcher,
      payload: { category: 'dispute.labour', urgency: 'immediate', lon: place.lon, lat: place.lat, description: '工地拖欠工资，工人聚集（端到端测试：两次点击派遣）' },
    });
    expect(res.statusCode, res.body).toBe(201);
    filed = res.json() as TicketSummary;
    expect(filed.status).toBe('received');
    await row().waitFor({ timeout: 15_000 });
    await waitFor('one more open ticket', shownTotal, (n) => n === openTotal + 1);

    // Click 1: the ticket. The recommended workers are there at once, each with 立案并派遣.
    await row().click();
    const mine = desk.locator('[data-testid=candidate][data-rank="1"]');
    await mine.waitFor({ timeout: 20_000 });
    const chosen = Number(await mine.getAttribute('data-worker-id'));
    await expect(desk.getByTestId('ticket-detail').getAttribute('data-status')).resolves.toBe('received');
    await expect(mine.getByTestId('register-assign').textContent()).resolves.toMatch(/^\s*立案并派遣\s*$/);
    // The separate steps are still there for a desk that wants them.
    await expect(desk.getByTestId('action-register').count()).resolves.toBe(1);
    await desk.waitForTimeout(1500); // the map fits the candidates
    await screenshot(desk, 'dispatch-desk-1920x1080');

    // Click 2: registered and sent.
    await mine.getByTestId('register-assign').click();
    await waitFor('dispatched', () => desk.getByTestId('ticket-detail').getAttribute('data-status'), (s) => s === 'dispatched');
    await expect(desk.getByTestId('ticket-assigned').textContent()).resolves.not.toBe('—');
    const detail = (await app.inject({ url: `/api/tickets/${filed.id}`, headers: dispatcher })).json() as TicketDetail;
    expect(detail).toMatchObject({ status: 'dispatched', assignedWorker: { id: chosen } });
    expect(detail.timeline.map((e) => e.kind)).toEqual(['created', 'registered', 'dispatched']);
    await waitFor('the row', () => row().getAttribute('data-status'), (s) => s === 'dispatched');
  });

  test('escalation is 提级, filing is 上报: one word each', async () => {
    await expect(desk.getByTestId('filter-status').locator('option[value=escalated]').textContent()).resolves.toBe('已提级');
    await expect(desk.locator('[data-testid=ticket-timeline] li[data-kind=created] .what').textContent()).resolves.toBe('上报');
  });
});

describe('the browser', () => {
  test('no errors in the console', () => {
    expect(browser.errors).toEqual([]);
  });
});
