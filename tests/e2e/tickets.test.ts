/**
 * A ticket's whole life across three screens, end to end: the demo grid worker files it from their
 * phone (/field), it appears live in the street dispatcher's queue (/dispatch) and on the district
 * command centre's wall (/wall: a marker, today's counters), the dispatcher registers it and sends
 * the worker, who accepts, starts, photographs and resolves it on the phone; the dispatcher
 * verifies and closes it, and the wall lets it go. Then 吹哨报到: the centre's operator refers
 * another ticket to a department of their choosing at /dispatch and records the department's
 * reply, which the street dispatcher sees live. Three browsers (three sessions), the real server,
 * the patrol simulator running. Screenshots land in test-results/.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import type { TicketDetail, TicketSummary } from '../../shared/tickets-api';
import { sql, type Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import type { Clock } from '../../server/platform/clock';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { Simulator } from '../../server/modules/simulator/simulator';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';
import { launchBrowser, screenshot, type TestBrowser } from '../support/browser';
import { waitFor, signIn } from '../support/e2e';

/** 14:00 in Shanghai when the test starts, so the day shift (and the demo worker) is on duty. */
function daytimeClock(): Clock {
  const now = Date.now();
  const shanghaiMidnight = Math.floor((now + 8 * 3_600_000) / 86_400_000) * 86_400_000 - 8 * 3_600_000;
  const offset = shanghaiMidnight + 14 * 3_600_000 - now;
  return { now: () => Date.now() + offset };
}

/** A 1×1 PNG: the "result photo". */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const PHONE_DEVICE = 'e2e-demo-worker-phone';

let db: Db;
let app: App;
let clock: Clock;
let simulator: Simulator;
let deskBrowser: TestBrowser;
let phoneBrowser: TestBrowser;
let wallBrowser: TestBrowser;
let base: string;
let desk: Page;
let phone: Page;
let wall: Page;
/** The wall's "received today" before the worker filed. */
let wallTotalBefore = 0;
let me: { workerId: number; lon: number; lat: number };
let fixTimer: ReturnType<typeof setInterval> | undefined;
let ticketNumber = '';
/** The ticket the centre refers to a department. */
let referred: TicketSummary;

/** The demo worker's phone reports a fix inside their own grid (so they are a fresh, online candidate). */
async function sendFix(): Promise<void> {
  const params = new URLSearchParams({
    id: PHONE_DEVICE,
    lat: me.lat.toFixed(7),
    lon: me.lon.toFixed(7),
    timestamp: String(Math.floor(clock.now() / 1000)),
    speed: '0',
    accuracy: '5',
    batt: '80',
  });
  const res = await fetch(`${base}/api/osmand?${params}`, { method: 'POST' });
  await res.arrayBuffer();
}

const row = () => desk.locator(`[data-testid=ticket-row][data-number="${ticketNumber}"]`);
const detailStatus = () => desk.getByTestId('ticket-detail').getAttribute('data-status');
const task = () => phone.locator(`[data-testid=task][data-number="${ticketNumber}"]`);
const wallTotal = async () => Number((await wall.getByTestId('tickets-today-total').textContent())?.replace(/\D/g, ''));
/** Ticket numbers of the markers the wall's map draws. */
const wallMarkers = () => wall.evaluate(() => (window.__gridline?.maps[0]?.ticketMarkers() ?? []).map((m) => m.number));

/** The minute an instant falls in, as a datetime-local input writes it in Shanghai. */
const shanghaiInput = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16);
/** How the detail panel prints a date and time (vue-i18n's 'dateTime' in zh-CN, Asia/Shanghai). */
const shanghaiDateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  clock = daytimeClock();
  app = await buildTestApp(db, { clock, clientDir: CLIENT_DIST, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  simulator = new Simulator(db, app.ingest, clock, { baseUrl: base, intervalS: 10, concurrency: 1024 });
  await simulator.load();
  simulator.start();

  const { rows } = await db.query<{ workerId: number; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers w ON w.id = u.worker_id JOIN regions g ON g.code = w.home_grid_code WHERE u.username = 'worker'`);
  me = rows[0]!;
  await app.ingest.registerDevice(PHONE_DEVICE, me.workerId, 'phone');
  await sendFix();
  fixTimer = setInterval(() => void sendFix().catch(() => {}), 3000);

  deskBrowser = await launchBrowser();
  phoneBrowser = await launchBrowser();
  wallBrowser = await launchBrowser();
  desk = await deskBrowser.open(1920, 1080);
  phone = await phoneBrowser.open(390, 844);
  wall = await wallBrowser.open(1920, 1080);
}, 240_000);

afterAll(async () => {
  if (fixTimer) clearInterval(fixTimer);
  simulator?.stop();
  await deskBrowser?.close();
  await phoneBrowser?.close();
  await wallBrowser?.close();
  await app?.close();
  await db?.close();
});

describe('a ticket from the field to 结案', () => {
  test('the dispatcher and the worker sign in', async () => {
    await signIn(desk, base, 'dispatcher');
    await desk.waitForURL(`${base}/dispatch`);
    await desk.getByTestId('ticket-queue').waitFor();
    await signIn(phone, base, 'worker');
    await phone.waitForURL(`${base}/field`);
    await phone.getByTestId('my-tasks').waitFor();
    await signIn(wall, base, 'operator');
    await wall.waitForURL(`${base}/wall`);
    wallTotalBefore = await waitFor('the wall’s counters', wallTotal, (n) => Number.isFinite(n));
  });

  test('the worker files a problem from the phone', async () => {
    // The wall's first re-fetch of its counters after the filing fails (a busy server): the wall
    // must try again on its own rather than show yesterday's figures until the next event.
    let failed = 0;
    await wall.route((url) => url.pathname === '/api/tickets/stats', async (route) => {
      if (failed++ === 0) await route.fulfill({ status: 503, contentType: 'application/json', body: '{"code":"UNAVAILABLE","message":"busy"}' });
      else await route.continue();
    });
    await phone.getByTestId('report-open').click();
    const form = phone.getByTestId('report-form');
    // The first real category in the list.
    await waitFor('categories', () => form.locator('select[name=category] option:not([disabled])').count(), (n) => n > 0);
    const value = await form.locator('select[name=category] option:not([disabled])').first().getAttribute('value');
    await form.locator('select[name=category]').selectOption(value!);
    await form.locator('select[name=urgency]').selectOption('immediate');
    await form.locator('textarea[name=description]').fill('井盖缺失，行人有跌落风险（端到端测试）');
    await phone.getByTestId('report-submit').click();
    const message = await waitFor('the ticket number', () => phone.getByTestId('report-message').textContent(), (t) => /GD-\d{8}-\d{4}/.test(t ?? ''));
    ticketNumber = /GD-\d{8}-\d{4}/.exec(message!)![0];
    // Dated by the server's clock as the phone knows it (session.ready): this server runs at 14:00 in
    // Shanghai while the browser runs at the real time, hours apart — a phone dating its report by its
    // own clock was refused (422, more than a minute in the server's future) every afternoon.
    const { rows } = await db.query<{ t: Date | string }>(sql`SELECT received_at AS t FROM tickets WHERE number = ${ticketNumber}`);
    expect(Math.abs(new Date(rows[0]!.t).getTime() - clock.now())).toBeLessThan(60_000);
  });

  test('it appears live in the dispatcher’s queue and on the wall; registered, then sent to the demo worker', async () => {
    await row().waitFor({ timeout: 15_000 });
    await expect(row().getAttribute('data-status')).resolves.toBe('received');
    // Immediate (立刻办理): a marker on the command centre's wall, and one more received today.
    await waitFor('the wall’s marker', wallMarkers, (numbers) => numbers.includes(ticketNumber), 15_000);
    await waitFor('the wall’s counter', wallTotal, (n) => n === wallTotalBefore + 1, 20_000);
    await wall.unrouteAll();
    await screenshot(desk, 'dispatch-1920x1080-queue');
    await row().click();
    await desk.getByTestId('action-register').click();
    await waitFor('registered', detailStatus, (s) => s === 'registered');

    // The demo worker among the recommended (the first one, if the ranking agrees).
    const mine = desk.locator(`[data-testid=candidate][data-worker-id="${me.workerId}"]`);
    await mine.waitFor({ timeout: 20_000 });
    const first = desk.locator('[data-testid=candidate][data-rank="1"]');
    const firstId = Number(await first.getAttribute('data-worker-id'));
    await desk.waitForTimeout(1500); // the map fits the candidates
    await screenshot(desk, 'dispatch-1920x1080');
    if (firstId === me.workerId) await first.getByTestId('assign').click();
    else await mine.getByTestId('assign').click();
    await waitFor('dispatched', detailStatus, (s) => s === 'dispatched');
  });

  test('the worker sees the task live, accepts, starts, photographs and resolves it', async () => {
    await task().waitFor({ timeout: 15_000 });
    await expect(task().getAttribute('data-status')).resolves.toBe('dispatched');
    await phone.screenshot({ path: 'test-results/field-390x844-offer.png', fullPage: true });
    await task().getByTestId('task-accept').click();
    await waitFor('accepted', () => task().getAttribute('data-status'), (s) => s === 'accepted');
    await task().getByTestId('task-start').click();
    await waitFor('in progress', () => task().getAttribute('data-status'), (s) => s === 'in_progress');
    await task().getByTestId('task-photo').setInputFiles({ name: 'result.png', mimeType: 'image/png', buffer: PNG });
    await waitFor('the photo', () => task().textContent(), (t) => /1/.test(t ?? '') && /照片/.test(t ?? ''));
    await screenshot(phone, 'field-390x844');
    await task().getByTestId('task-resolve').click();
    await task().waitFor({ state: 'detached', timeout: 15_000 });
    // The grid map below the tasks still draws (scrolled into view on the phone).
    await phone.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await waitFor('the phone’s map', () => phone.evaluate(() => window.__gridline?.maps[0]?.idle() ?? false), (idle) => idle);
    await screenshot(phone, 'field-390x844-map');
  });

  test('the dispatcher verifies and closes it: 结案', async () => {
    await waitFor('resolved on the desk', detailStatus, (s) => s === 'resolved', 15_000);
    await desk.getByTestId('action-verify').click();
    await waitFor('verified', detailStatus, (s) => s === 'verified');
    await desk.getByTestId('action-close').click();
    // 回访 before 结案: the resident's rating, then close.
    await desk.getByTestId('close-form').waitFor();
    await desk.getByTestId('satisfaction-satisfied').check();
    await desk.getByTestId('close-confirm').click();
    await waitFor('closed', detailStatus, (s) => s === 'closed');
    await expect(desk.getByTestId('ticket-detail').locator('.status').textContent()).resolves.toBe('结案');
    await expect(row().getAttribute('data-status')).resolves.toBe('closed');
    await screenshot(desk, 'dispatch-1920x1080-closed');
    // Closed: nothing left for the wall to watch.
    await waitFor('the wall’s marker gone', wallMarkers, (numbers) => !numbers.includes(ticketNumber), 15_000);
  });
});

describe('吹哨报到: the centre refers a ticket to a department and records the department’s reply', () => {
  // The wall's browser is the district centre's operator: it now works at /dispatch.
  const centre = () => wall;
  const centreRow = () => centre().locator(`[data-testid=ticket-row][data-number="${referred.number}"]`);
  const centreStatus = () => centre().getByTestId('ticket-detail').getAttribute('data-status');
  const deskRow = () => desk.locator(`[data-testid=ticket-row][data-number="${referred.number}"]`);

  test('the operator picks the department when escalating from the district centre', async () => {
    const operator = await login(app, 'operator');
    const filed = await app.inject({
      method: 'POST',
      url: '/api/tickets',
      headers: operator,
      payload: { category: 'dispute.labour', urgency: 'scheduled', lon: me.lon, lat: me.lat, description: '工地拖欠农民工工资，涉及多户（端到端测试：吹哨报到）' },
    });
    expect(filed.statusCode, filed.body).toBe(201);
    referred = filed.json() as TicketSummary;
    const registered = await app.inject({ method: 'POST', url: `/api/tickets/${referred.id}/transitions`, headers: operator, payload: { action: 'register' } });
    expect(registered.statusCode, registered.body).toBe(200);

    // The street dispatcher has it open, to see the reply arrive live.
    await deskRow().waitFor({ timeout: 15_000 });
    await deskRow().click();
    await waitFor('registered on the street desk', detailStatus, (s) => s === 'registered');

    await centre().goto(`${base}/dispatch`);
    await centreRow().waitFor({ timeout: 15_000 });
    await centreRow().click();
    await waitFor('the centre’s detail', centreStatus, (s) => s === 'registered');
    // From the district centre the next level is a department: the desk chooses which.
    await centre().getByTestId('action-escalate').click();
    const pick = centre().getByTestId('escalate-department');
    await waitFor('the departments', () => pick.locator('option:not([disabled])').count(), (n) => n === 13);
    // The category's department (欠薪 → 人社) is offered first; the desk sends it to 城管 instead.
    await expect(pick.inputValue()).resolves.toBe('hr_social');
    await pick.selectOption('urban_management');
    await centre().getByTestId('escalate-confirm').click();
    await waitFor('escalated', centreStatus, (s) => s === 'escalated');
    await expect(centre().getByTestId('ticket-department').textContent()).resolves.toBe('城管');
    await expect(centre().getByTestId('department-replies').count()).resolves.toBe(1);
    await expect(centre().getByTestId('department-reply').count()).resolves.toBe(0);
  });

  test('the department’s reply, with its four facts, shows in the detail and the timeline, live on the street desk too', async () => {
    await centre().getByTestId('action-reply').click();
    const form = centre().getByTestId('reply-form');
    await form.waitFor();
    // 受理时间 defaults to now (the server's clock), in Shanghai time.
    const acceptedValue = await form.locator('input[name=acceptedAt]').inputValue();
    expect(Math.abs(Date.parse(`${acceptedValue}:00+08:00`) - clock.now())).toBeLessThan(120_000);

    // Nothing sent until the four facts are there; the desk is told what is missing, in Chinese.
    await form.locator('input[name=acceptedAt]').fill('');
    await centre().getByTestId('reply-submit').click();
    await expect(form.getByTestId('reply-error-acceptedAt').textContent()).resolves.toBe('请填写受理时间');
    await expect(form.getByTestId('reply-error-contacted').textContent()).resolves.toBe('请填写联系了谁');
    await expect(form.getByTestId('reply-error-actions').textContent()).resolves.toBe('请填写做了什么');
    await expect(form.getByTestId('reply-error-dueBy').textContent()).resolves.toBe('请填写办结时限');
    await form.locator('input[name=acceptedAt]').fill(acceptedValue);
    await form.locator('input[name=dueBy]').fill(acceptedValue);
    await centre().getByTestId('reply-submit').click();
    await expect(form.getByTestId('reply-error-dueBy').textContent()).resolves.toBe('办结时限须晚于受理时间');
    await expect(centreStatus()).resolves.toBe('escalated');

    const acceptedMs = Date.parse(`${acceptedValue}:00+08:00`);
    const dueMs = Date.parse(`${shanghaiInput(clock.now() + 3 * 86_400_000)}:00+08:00`);
    const contacted = '施工方项目经理李某、12名工人代表';
    const actions = '约谈施工方，核对欠薪名单，责令限期发放';
    await form.locator('input[name=contacted]').fill(contacted);
    await form.locator('textarea[name=actions]').fill(actions);
    await form.locator('input[name=dueBy]').fill(shanghaiInput(dueMs));
    await centre().getByTestId('reply-submit').click();

    // The department's reply starts its handling: 处置中, with the department's date as the deadline.
    await waitFor('in progress', centreStatus, (s) => s === 'in_progress');
    await form.waitFor({ state: 'detached' });
    await expect(centre().getByTestId('ticket-detail').locator('.status').textContent()).resolves.toBe('处置中');
    const reply = centre().getByTestId('department-reply');
    await expect(reply.count()).resolves.toBe(1);
    await expect(reply.getAttribute('data-department')).resolves.toBe('urban_management');
    await expect(reply.locator('.dep').textContent()).resolves.toBe('城管');
    await expect(reply.locator('[data-field=acceptedAt]').textContent()).resolves.toBe(shanghaiDateTime.format(acceptedMs));
    await expect(reply.locator('[data-field=contacted]').textContent()).resolves.toBe(contacted);
    await expect(reply.locator('[data-field=actions]').textContent()).resolves.toBe(actions);
    await expect(reply.locator('[data-field=dueBy]').textContent()).resolves.toBe(shanghaiDateTime.format(dueMs));
    const replied = centre().locator('[data-testid=ticket-timeline] li[data-kind=department_replied]');
    await expect(replied.count()).resolves.toBe(1);
    await expect(replied.textContent()).resolves.toMatch(/部门回复.*城管/);

    // What the server recorded is what the desk entered.
    const detail = (await app.inject({ url: `/api/tickets/${referred.id}`, headers: await login(app, 'operator') })).json() as TicketDetail;
    expect(detail).toMatchObject({ status: 'in_progress', level: 'department', department: { code: 'urban_management' }, deadline: new Date(dueMs).toISOString() });
    expect(detail.departmentReplies).toEqual([expect.objectContaining({
      department: { code: 'urban_management', name: '城管' }, acceptedAt: new Date(acceptedMs).toISOString(), contacted, actions, dueBy: new Date(dueMs).toISOString(),
    })]);
    expect(detail.timeline.at(-1)).toMatchObject({ kind: 'department_replied' });

    // The street dispatcher, who had it open, sees the reply arrive without reloading.
    await waitFor('in progress on the street desk', detailStatus, (s) => s === 'in_progress', 15_000);
    await desk.getByTestId('department-reply').waitFor({ timeout: 15_000 });
    await expect(desk.getByTestId('department-reply').locator('[data-field=contacted]').textContent()).resolves.toBe(contacted);

    await reply.scrollIntoViewIfNeeded();
    await screenshot(centre(), 'dispatch-1920x1080-department-reply');
  });

  test('the centre reports the department’s work done, verifies and closes it: 结案', async () => {
    // The street desk only watches: it is no handler of a department's ticket.
    await expect(desk.getByTestId('action-resolve').count()).resolves.toBe(0);
    await centre().getByTestId('action-resolve').click();
    await waitFor('resolved', centreStatus, (s) => s === 'resolved', 15_000);
    await centre().getByTestId('action-verify').click();
    await waitFor('verified', centreStatus, (s) => s === 'verified', 15_000);
    await centre().getByTestId('action-close').click();
    // The resident could not be reached: closed without a rating (未回访).
    await centre().getByTestId('satisfaction-none').check();
    await centre().getByTestId('close-confirm').click();
    await waitFor('closed', centreStatus, (s) => s === 'closed', 15_000);
    await expect(centre().getByTestId('ticket-detail').locator('.status').textContent()).resolves.toBe('结案');
    await waitFor('closed on the street desk too', detailStatus, (s) => s === 'closed', 15_000);
  });
});

describe('the browsers', () => {
  test('no errors in any browser console', () => {
    // Except the one failure the test itself injected into the wall's counters.
    const injected = (e: string) => /status of 503 .*\/api\/tickets\/stats\?/.test(e);
    expect(wallBrowser.errors.filter(injected)).toHaveLength(1);
    expect([...deskBrowser.errors, ...phoneBrowser.errors, ...wallBrowser.errors.filter((e) => !injected(e))]).toEqual([]);
  });
});
