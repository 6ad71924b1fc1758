/**
 * Consult recording (CONSULT_RECORDING=1) on a real Janus: Chromium publishes its fake camera and
 * microphone into the consult's room with the caller's join grant (Janus's own WebSocket protocol
 * through the app's /api/video/janus, no app page), asking — as a tampered browser could — not to be
 * recorded and to write elsewhere, which the proxy does not let through; when the consult ends, the .mjr files Janus wrote are converted with janus-pp-rec
 * and ffmpeg, listed, written on the ticket's timeline, and the download route (authenticated and
 * scoped) returns a file ffprobe reads with a video stream.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { sql, type Db } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { findOnPath } from '../../server/modules/video/config';
import type { JanusSupervisor } from '../../server/modules/video/janus';
import type { ConsultGrant, ConsultRecording, ConsultSummary } from '@shared/consults-api';
import type { TicketDetail } from '@shared/tickets-api';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { login, TEST_JWT_SECRET } from '../support/app';
import { CHROMIUM_PATH } from '../support/browser';
import { janusRequired, PUBLISH_JS, startTestJanus } from '../support/janus';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
];

function toolsRequired(): boolean {
  if (!janusRequired('consult recording')) return false;
  if (findOnPath('janus-pp-rec') && findOnPath('ffmpeg') && findOnPath('ffprobe')) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('consult recording: CI needs janus-pp-rec and ffmpeg (apt-get install -y janus-tools ffmpeg, as .ci/run does).');
  console.warn('[skip] consult recording: janus-pp-rec or ffmpeg is not installed here (sudo apt-get install -y janus-tools ffmpeg).');
  return false;
}

describe.runIf(toolsRequired())('consult recording on Janus', () => {
  let db: Db;
  let app: App;
  let janus: JanusSupervisor;
  let browser: Browser;
  let base: string;
  let recordingsDir: string;
  const scratch = mkdtempSync(path.join(tmpdir(), 'gridline-recording-test-'));

  beforeAll(async () => {
    recordingsDir = path.join(scratch, 'recordings');
    janus = await startTestJanus({ CONSULT_RECORDING: '1', CONSULT_RECORDINGS_DIR: recordingsDir });
    db = await createTestDb();
    const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET };
    app = await build({ db, config, video: janus.control });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await janus?.stop();
    await db?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('records the consult’s publishers and, after the end, lists a playable file on the ticket’s timeline with a scoped download', async () => {
    const { rows: [w] } = await db.query<{ workerId: number; lon: number; lat: number; street: string }>(sql`
      SELECT u.worker_id AS "workerId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
             (SELECT region_code FROM users WHERE username = 'dispatcher') AS street
        FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
    const dispatcher = await login(app, 'dispatcher');
    const workerAuth = await login(app, 'worker');
    const filed = await app.inject({ method: 'POST', url: '/api/tickets', headers: dispatcher, payload: { category: 'safety.fire', urgency: 'immediate', lon: w!.lon, lat: w!.lat, description: '会商录像测试' } });
    expect(filed.statusCode, filed.body).toBe(201);
    const ticketId = (filed.json() as { id: number }).id;

    const made = await app.inject({ method: 'POST', url: '/api/consults', headers: dispatcher, payload: { invitees: [{ workerId: Number(w!.workerId) }], ticketId } });
    expect(made.statusCode, made.body).toBe(201);
    const consult = made.json() as ConsultSummary;
    expect((await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/transitions`, headers: workerAuth, payload: { action: 'accept' } })).statusCode).toBe(200);
    const grant = (await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/join`, headers: dispatcher, payload: {} })).json() as ConsultGrant;
    // The room records into the consult's own folder under the recordings directory.
    const folders = readdirSync(recordingsDir);
    expect(folders).toHaveLength(1);

    // The caller publishes for a few seconds from Chromium, on an http://127.0.0.1 page (a secure context).
    const page = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    await page.goto(`${base}/api/health`);
    const target = { ...grant, url: grant.url.replace(/^ws:\/\/[^/]+/, base.replace(/^http/, 'ws')) };
    const sent = (await page.evaluate(`(${PUBLISH_JS})(${JSON.stringify(target)})`)) as { framesEncoded: number; state: string };
    expect(sent.framesEncoded, JSON.stringify(sent)).toBeGreaterThan(20);
    // Recorded although the browser asked not to be, and nothing written where it asked.
    expect(readdirSync(path.join(recordingsDir, folders[0]!)).some((n) => /^videoroom-\d+-user-\d+-\d+-video-\d+\.mjr$/.test(n))).toBe(true);
    expect(readdirSync(recordingsDir).filter((n) => n.startsWith('escaped'))).toEqual([]);

    const ended = await app.inject({ method: 'POST', url: `/api/consults/${consult.id}/transitions`, headers: dispatcher, payload: { action: 'end' } });
    expect(ended.json().status).toBe('ended');
    await page.context().close();

    // Converted after the end: listed on the consult and on the ticket's timeline.
    let items: ConsultRecording[] = [];
    for (const end = Date.now() + 60_000; Date.now() < end && items.length === 0;) {
      await new Promise((r) => setTimeout(r, 500));
      items = ((await app.inject({ method: 'GET', url: `/api/consults/${consult.id}/recordings`, headers: dispatcher })).json() as { items: ConsultRecording[] }).items;
    }
    expect(items).toHaveLength(1);
    const rec = items[0]!;
    expect(rec).toMatchObject({ consultId: consult.id, mime: 'video/webm', name: expect.stringContaining('调度员') });
    expect(rec.bytes).toBeGreaterThan(1000);

    let entry: TicketDetail['timeline'][number] | undefined;
    for (const end = Date.now() + 10_000; Date.now() < end && !entry;) {
      const detail = (await app.inject({ method: 'GET', url: `/api/tickets/${ticketId}`, headers: dispatcher })).json() as TicketDetail;
      entry = detail.timeline.find((e) => e.kind === 'consult_recording');
      if (!entry) await new Promise((r) => setTimeout(r, 300));
    }
    expect(entry?.note).toMatch(/^会商录像：/);
    expect((entry!.detail as { recordings: ConsultRecording[] }).recordings.map((r) => r.url)).toEqual([rec.url]);

    // The download: the caller's desk gets the file; a desk of another street and a worker do not.
    const file = await app.inject({ method: 'GET', url: rec.url, headers: dispatcher });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('video/webm');
    const out = path.join(scratch, 'downloaded.webm');
    writeFileSync(out, file.rawPayload);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', out]).toString()) as { streams: Array<{ codec_type: string; codec_name: string }> };
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toMatch(/vp8|vp9|h264/);
    expect(probe.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    // Decodes end to end (not just a header): ffmpeg reads every frame without an error.
    execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', out, '-f', 'null', '-']);

    const admin = await login(app, 'admin');
    const { rows: [other] } = await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'street' AND code <> ${w!.street} ORDER BY code LIMIT 1`);
    expect((await app.inject({ method: 'POST', url: '/api/users', headers: admin, payload: { username: 'rec-other', displayName: 'rec-other', password: 'rec-other-pass-1', role: 'dispatcher', regionCode: other!.code } })).statusCode).toBe(201);
    const outsider = await login(app, 'rec-other', 'rec-other-pass-1');
    expect((await app.inject({ method: 'GET', url: rec.url, headers: outsider })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/api/consults/${consult.id}/recordings`, headers: outsider })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: rec.url, headers: workerAuth })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: rec.url })).statusCode).toBe(401);
  }, 120_000);
});
