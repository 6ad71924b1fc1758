/**
 * Notices (信息发布) end to end: the district's operator sends an urgent notice to one street's
 * workers from /dispatch; the demo worker's phone (390×844) gets it live, rings and vibrates; opening
 * it and replying count on the sender's screen as they happen; the street dispatcher is offered only
 * their own street's communities and the server refuses another street. Then an area drawn on the
 * desk's map (corner by corner, closed): the composer says how many it reaches before sending, and
 * the notice reaches exactly the workers whose grid lies inside it. Screenshots land in test-results/.
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
import { drawArea, waitFor, signIn } from '../support/e2e';

declare global {
  interface Window {
    /** What the phone's page asked of the vibration motor and the speaker (spied in an init script). */
    __alerts?: { vibrations: number; tones: number };
  }
}

let db: Db;
let app: App;
let base: string;
let deskBrowser: TestBrowser;
let phoneBrowser: TestBrowser;
let streetBrowser: TestBrowser;
let desk: Page;
let phone: Page;
let street: Page;
/** The demo worker's street, another street, and the notice sent. */
let myStreet: { code: string; name: string };
let otherStreet: string;
let me: { workerId: number; lon: number; lat: number };
let noticeId = 0;
let recipients = 0;

const deskRow = () => desk.locator(`[data-testid=notice-row][data-id="${noticeId}"]`);
const pct = (kind: 'delivered' | 'read' | 'replied') => deskRow().getByTestId(`notice-pct-${kind}`).getAttribute('data-value').then(Number);
const inboxItem = () => phone.locator(`[data-testid=inbox-item][data-id="${noticeId}"]`);

beforeAll(async () => {
  await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
  db = await createTestDb();
  app = await buildTestApp(db, { clientDir: CLIENT_DIST, config: { tickMs: 250 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const { rows: [w] } = await db.query<{ workerId: number; code: string; name: string; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", s.code, s.name, ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code
      JOIN regions s ON s.level = 'street' AND g.path LIKE s.path || '%' WHERE u.username = 'worker'`);
  me = { workerId: w!.workerId, lon: w!.lon, lat: w!.lat };
  myStreet = { code: w!.code, name: w!.name };
  otherStreet = (await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'street' AND code <> ${myStreet.code} ORDER BY code LIMIT 1`)).rows[0]!.code;

  deskBrowser = await launchBrowser();
  phoneBrowser = await launchBrowser();
  streetBrowser = await launchBrowser();
  // The phone's vibration motor and speaker, spied: an urgent notice must use both.
  await phoneBrowser.context.addInitScript(() => {
    window.__alerts = { vibrations: 0, tones: 0 };
    navigator.vibrate = () => {
      window.__alerts!.vibrations++;
      return true;
    };
    const create = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function (this: AudioContext) {
      window.__alerts!.tones++;
      return create.call(this);
    };
  });
  desk = await deskBrowser.open(1920, 1080);
  phone = await phoneBrowser.open(390, 844);
  street = await streetBrowser.open(1920, 1080);
}, 240_000);

afterAll(async () => {
  await deskBrowser?.close();
  await phoneBrowser?.close();
  await streetBrowser?.close();
  await app?.close();
  await db?.close();
});

describe('a notice from the centre to a street’s phones, with read receipts', () => {
  test('the operator and the worker sign in', async () => {
    await signIn(desk, base, 'operator');
    await desk.waitForURL(`${base}/wall`);
    await desk.goto(`${base}/dispatch`);
    await desk.getByTestId('notices-open').click();
    await desk.getByTestId('notices-panel').waitFor();
    await signIn(phone, base, 'worker');
    await phone.waitForURL(`${base}/field`);
    await phone.getByTestId('notice-inbox').waitFor();
  });

  test('the operator sends an urgent notice to one street, reply required', async () => {
    await desk.getByTestId('notice-compose').click();
    const composer = desk.getByTestId('notice-composer');
    await composer.getByTestId('notice-title').fill('紧急：今晚大风降温，请排查临时搭建物');
    await composer.getByTestId('notice-body').fill('气象台发布大风蓝色预警。请各网格员于今晚 20:00 前完成辖区广告牌、临时搭建物排查，并回复排查结果。');
    await composer.getByTestId('notice-urgency-urgent').check();
    await composer.locator(`[data-testid=notice-region][data-code="${myStreet.code}"]`).check();
    await composer.getByTestId('notice-receipt-required').check();
    await composer.getByTestId('notice-send').click();
    const flash = await waitFor('the sent message', () => desk.getByTestId('notice-flash').textContent(), (t) => /已发布给 \d+ 人/.test(t ?? ''));
    recipients = Number(/(\d+)/.exec(flash!)![1]);
    const { rows: [n] } = await db.query<{ id: number; recipients: number }>(sql`SELECT id, recipients FROM notices ORDER BY id DESC LIMIT 1`);
    noticeId = n!.id;
    expect(n!.recipients).toBe(recipients);
    const { rows: [c] } = await db.query<{ n: number }>(sql`
      SELECT count(*) AS n FROM workers w JOIN regions g ON g.code = w.home_grid_code
       WHERE w.active AND g.path LIKE ${`%/${myStreet.code}/%`}`);
    expect(recipients).toBe(c!.n);
    await deskRow().waitFor();
    expect(await pct('read')).toBe(0);
  });

  test('the worker’s phone gets it live, ringing and vibrating', async () => {
    await inboxItem().waitFor({ timeout: 10_000 });
    expect(await inboxItem().getAttribute('data-read')).toBe('false');
    await expect(inboxItem().textContent()).resolves.toContain('紧急');
    const alerts = await phone.evaluate(() => window.__alerts!);
    expect(alerts.vibrations).toBeGreaterThanOrEqual(1);
    expect(alerts.tones).toBeGreaterThanOrEqual(1);
    // The phone fetched its inbox on arrival: delivered on the sender's screen.
    await waitFor('delivered on the desk', () => pct('delivered'), (v) => v >= 1);
    await phone.getByTestId('inbox-unread').waitFor();
    await screenshot(phone, 'notices-phone-arrived');
  });

  test('opening it counts as read, and the reply as replied, on the sender’s screen live', async () => {
    await inboxItem().locator('button.head').click();
    await waitFor('read on the phone', () => inboxItem().getAttribute('data-read'), (v) => v === 'true');
    await waitFor('read on the desk', () => pct('read'), (v) => v === 1);
    await inboxItem().getByTestId('inbox-reply-body').fill('本网格已排查完毕，发现 2 处松动广告牌，已联系商户加固。');
    await inboxItem().getByTestId('inbox-reply-send').click();
    await inboxItem().getByTestId('inbox-my-reply').waitFor();
    await screenshot(phone, 'notices-phone-replied');
    await waitFor('replied on the desk', () => pct('replied'), (v) => v === 1);
    expect(await deskRow().getByTestId('notice-pct-read').textContent()).toContain(`1/${recipients}`);

    // Who has not read: everyone but the demo worker, with a reminder button.
    await deskRow().click();
    const detail = desk.getByTestId('notice-detail');
    await detail.getByTestId('notice-reply').first().waitFor();
    expect(await detail.getByTestId('notice-reply').first().textContent()).toContain('松动广告牌');
    expect(await detail.getByTestId('notice-unread').count()).toBe(Math.min(recipients - 1, 1000));
    expect(await detail.locator(`[data-testid=notice-unread][data-worker-id="${me.workerId}"]`).count()).toBe(0);
    await detail.getByTestId('notice-remind').click();
    await waitFor('the reminder', () => desk.getByTestId('notice-flash').textContent(), (t) => t === `已提醒 ${recipients - 1} 人`);
    await screenshot(desk, 'notices-desk-receipts');
  });

  test('the street dispatcher can target only their own street', async () => {
    await signIn(street, base, 'dispatcher');
    await street.waitForURL(`${base}/dispatch`);
    await street.getByTestId('notices-open').click();
    // The operator's district notice is not theirs to follow.
    await street.getByTestId('notices-panel').waitFor();
    await street.getByTestId('notice-compose').click();
    const choices = street.locator('[data-testid=notice-region]');
    await waitFor('the street’s communities', () => choices.count(), (n) => n > 0);
    const offered = await choices.evaluateAll((els) => els.map((e) => e.getAttribute('data-code')));
    const { rows } = await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'community' AND parent_code = ${myStreet.code} ORDER BY code`);
    expect([...offered].sort()).toEqual(rows.map((r) => r.code));
    expect(await street.locator(`[data-testid=notice-row][data-id="${noticeId}"]`).count()).toBe(0);
    await screenshot(street, 'notices-street-composer');
    // And the server refuses another street whatever the page offers.
    const { authorization } = await login(app, 'dispatcher');
    const res = await fetch(`${base}/api/notices`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ title: '越权', body: '发往其他街道', urgency: 'normal', target: { regionCodes: [otherStreet] } }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'NOTICE_TARGET_OUT_OF_JURISDICTION' });
  });

  test('an area drawn on the map: the count before sending, and only the workers inside receive it', async () => {
    const districtWorkers = (await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM workers WHERE active`)).rows[0]!.n;
    await desk.getByTestId('notice-compose').click();
    const composer = desk.getByTestId('notice-composer');
    await composer.getByTestId('notice-title').fill('通知：本片区明早 8:00–10:00 停水');
    await composer.getByTestId('notice-body').fill('请通知片区内居民提前储水，并留意独居老人。');
    // Nothing chosen: the whole district.
    const reach = () => composer.getByTestId('notice-reach').getAttribute('data-count').then((v) => (v == null ? null : Number(v)));
    await waitFor('the district-wide count', reach, (n) => n === districtWorkers);
    await composer.getByTestId('notice-area-toggle').check();
    const map = composer.getByTestId('notice-area-map');
    // A square about 260 × 220 m around the demo worker's grid, drawn corner by corner and closed.
    const corners: [number, number][] = [[-0.0015, -0.001], [0.0015, -0.001], [0.0015, 0.001], [-0.0015, 0.001]].map(([dx, dy]) => [me.lon + dx!, me.lat + dy!]);
    const [cx, cy] = await drawArea(desk, map, me, corners);
    // A click on a closed area changes nothing.
    await desk.mouse.click(Math.round(cx), Math.round(cy));
    const before = await waitFor('the area’s count', reach, (n) => n !== null && n < districtWorkers);
    expect(await map.getAttribute('data-corners')).toBe('4');
    expect(before).toBeGreaterThanOrEqual(1);
    await screenshot(desk, 'notices-desk-area');
    await composer.getByTestId('notice-send').click();
    await waitFor('the sent message', () => desk.getByTestId('notice-flash').textContent(), (t) => t === `已发布给 ${before} 人`);

    const { rows: [n] } = await db.query<{ id: number; recipients: number; ring: [number, number][] }>(sql`
      SELECT id, recipients, (ST_AsGeoJSON(target_area)::json -> 'coordinates' -> 0) AS ring FROM notices ORDER BY id DESC LIMIT 1`);
    expect(n!.recipients).toBe(before);
    // The stored area is the square drawn (within a pixel of each corner: some 4 m at this zoom).
    for (const [lon, lat] of corners) {
      const nearest = Math.min(...n!.ring.map(([x, y]) => Math.hypot((x - lon) * 88_000, (y - lat) * 111_000)));
      expect(nearest).toBeLessThan(10);
    }
    // Exactly the active workers whose grid lies in the area: the demo worker, and nobody outside.
    const { rows: got } = await db.query<{ id: number }>(sql`SELECT worker_id AS id FROM notice_receipts WHERE notice_id = ${n!.id} ORDER BY worker_id`);
    const { rows: want } = await db.query<{ id: number }>(sql`
      SELECT w.id FROM workers w JOIN regions g ON g.code = w.home_grid_code, notices n
       WHERE n.id = ${n!.id} AND w.active AND ST_Intersects(n.target_area, ST_PointOnSurface(g.geom)) ORDER BY w.id`);
    expect(got.map((r) => r.id)).toEqual(want.map((r) => r.id));
    expect(got.map((r) => r.id)).toContain(me.workerId);
    const { rows: [outside] } = await db.query<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM workers w JOIN regions g ON g.code = w.home_grid_code
       WHERE w.active AND NOT ST_Intersects(ST_MakeEnvelope(${corners[0]![0]}, ${corners[0]![1]}, ${corners[2]![0]}, ${corners[2]![1]}, 4326), ST_PointOnSurface(g.geom))`);
    expect(got.length).toBe(districtWorkers - outside!.n);
    // The demo worker's phone gets it live.
    await phone.locator(`[data-testid=inbox-item][data-id="${n!.id}"]`).waitFor({ timeout: 10_000 });
  });
});
