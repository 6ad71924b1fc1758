/**
 * A consult's recording on the desk (CONSULT_RECORDING=1, real Janus): a consult about a ticket is
 * published into by Chromium's fake camera, ended, converted; the dispatcher opens the ticket and
 * its timeline's 会商录像 entry downloads the file (through the authenticated route).
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { findOnPath } from '../../server/modules/video/config';
import type { JanusSupervisor } from '../../server/modules/video/janus';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import type { ConsultGrant, ConsultRecording, ConsultSummary } from '@shared/consults-api';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { login, TEST_JWT_SECRET } from '../support/app';
import { CHROMIUM_PATH, screenshot } from '../support/browser';
import { signIn, waitFor } from '../support/e2e';
import { janusRequired, PUBLISH_JS, startTestJanus } from '../support/janus';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
];

function toolsRequired(): boolean {
  if (!janusRequired('consult recording e2e')) return false;
  if (findOnPath('janus-pp-rec') && findOnPath('ffmpeg')) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('consult recording e2e: CI needs janus-pp-rec and ffmpeg (apt-get install -y janus-tools ffmpeg).');
  console.warn('[skip] consult recording e2e: janus-pp-rec or ffmpeg is not installed here (sudo apt-get install -y janus-tools ffmpeg).');
  return false;
}

describe.runIf(toolsRequired())('a consult’s recording on the desk', () => {
  let db: Db;
  let app: App;
  let janus: JanusSupervisor;
  let browser: Browser;
  let base: string;
  const scratch = mkdtempSync(path.join(tmpdir(), 'gridline-recording-e2e-'));

  beforeAll(async () => {
    janus = await startTestJanus({ CONSULT_RECORDING: '1', CONSULT_RECORDINGS_DIR: path.join(scratch, 'recordings') });
    await ensureClientBuild((m) => console.error(`[e2e] ${m}`));
    db = await createTestDb();
    const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET };
    app = await build({ db, config, clientDir: CLIENT_DIST, video: janus.control });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await janus?.stop();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the ticket’s timeline lists the recording and downloads it', async () => {
    const { rows: [w] } = await db.query<{ workerId: number; lon: number; lat: number }>(sql`
      SELECT u.worker_id AS "workerId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
    const dispatcher = await login(app, 'dispatcher');
    const filed = await app.inject({ method: 'POST', url: '/api/tickets', headers: dispatcher, payload: { category: 'safety.fire', urgency: 'immediate', lon: w!.lon, lat: w!.lat, description: '会商录像下载（端到端）' } });
    expect(filed.statusCode, filed.body).toBe(201);
    const ticket = filed.json() as { id: number; number: string };
    const consult = (await app.inject({ method: 'POST', url: '/api/consults', headers: dispatcher, payload: { invitees: [{ workerId: Number(w!.workerId) }], ticketId: ticket.id } })).json() as ConsultSummary;
    await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/transitions`, headers: await login(app, 'worker'), payload: { action: 'accept' } });
    const grant = (await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/join`, headers: dispatcher, payload: {} })).json() as ConsultGrant;
    const camera = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    await camera.goto(`${base}/api/health`);
    const target = { ...grant, url: grant.url.replace(/^ws:\/\/[^/]+/, base.replace(/^http/, 'ws')) };
    const sent = (await camera.evaluate(`(${PUBLISH_JS})(${JSON.stringify(target)})`)) as { framesEncoded: number };
    expect(sent.framesEncoded).toBeGreaterThan(20);
    await camera.context().close();
    await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/transitions`, headers: dispatcher, payload: { action: 'end' } });
    const [rec] = await waitFor('the recording converted', async () => ((await app.inject({ method: 'GET', url: `/api/consults/${consult.id}/recordings`, headers: dispatcher })).json() as { items: ConsultRecording[] }).items, (items) => items.length > 0, 60_000);

    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true });
    const desk = await context.newPage();
    await signIn(desk, base, 'dispatcher');
    await desk.waitForURL(`${base}/dispatch`);
    await desk.goto(`${base}/dispatch?category=safety.fire`);
    await desk.locator(`[data-testid=ticket-row][data-number="${ticket.number}"]`).click();
    const entry = desk.locator('[data-testid=ticket-timeline] li[data-kind=consult_recording]');
    await entry.waitFor({ timeout: 20_000 });
    await expect(entry.textContent()).resolves.toContain('会商录像');
    await screenshot(desk, 'consult-recording-desk-1920x1080-timeline');
    const [download] = await Promise.all([desk.waitForEvent('download'), entry.getByTestId('consult-recording-download').click()]);
    const saved = path.join(scratch, 'from-desk.webm');
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toBe(`consult-${consult.id}-${rec!.id}.webm`);
    expect(readFileSync(saved).length).toBe(rec!.bytes);
    await context.close();
  }, 180_000);
});
