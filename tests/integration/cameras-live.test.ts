/**
 * Cameras' live path on real parts: an RTSP camera (H.264, with credentials: it refuses requests
 * without them) pulled by a real Janus's streaming plugin, through a play grant redeemed at the
 * server's Janus proxy (/api/cameras/live). A grant is for one viewer, once, and for a short time:
 * a second session presenting it is refused (CAMERA_GRANT_USED), one presented after it expired too
 * (CAMERA_GRANT_INVALID); a grant opens its own camera only; no credentials, pin or Janus token
 * reach the browser's side.
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import type { JanusSupervisor } from '../../server/modules/video/janus';
import type { CameraDetail, WebRtcGrant } from '@shared/cameras-api';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { login, TEST_JWT_SECRET } from '../support/app';
import { JanusSocket, janusRequired, startTestJanus } from '../support/janus';
import { startRtspServer, type TestRtspServer } from '../support/rtsp-server';

type Headers = { authorization: string };
const run = janusRequired('cameras live integration');
const PASSWORD = 'p@ss:w0rd/1';

describe.runIf(run)('cameras: RTSP through Janus, single-use play grants', () => {
  let db: Db;
  let app: App;
  let janus: JanusSupervisor;
  let rtsp: TestRtspServer;
  let live: string;
  let as: Record<'admin' | 'dispatcher', Headers>;
  let camera: number;
  const saved = { ...process.env };
  const sockets: JanusSocket[] = [];

  beforeAll(async () => {
    Object.assign(process.env, { CAMERAS_GRANT_TTL_S: '2', CAMERAS_IDLE_S: '2', CAMERAS_RUN_DIR: mkdtempSync(path.join(tmpdir(), 'gridline-cameras-live-')), CAMERAS_CHECK_S: '3600' });
    rtsp = await startRtspServer({ user: 'viewer', password: PASSWORD });
    janus = await startTestJanus();
    db = await createTestDb();
    const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET };
    app = await build({ db, config, video: janus.control });
    await app.listen({ port: 0, host: '127.0.0.1' });
    live = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/cameras/live`;
    as = { admin: await login(app, 'admin'), dispatcher: await login(app, 'dispatcher') };
    const { rows: [p] } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions
       WHERE code = (SELECT region_code FROM users WHERE username = 'dispatcher')`);
    const sourceUrl = rtsp.url.replace('rtsp://', `rtsp://viewer:${encodeURIComponent(PASSWORD)}@`);
    const res = await app.inject({ method: 'POST', url: '/api/cameras', headers: as.admin, payload: { code: 'T-RTSP-LIVE', name: 'RTSP 实况测试', kind: 'junction', lon: p!.lon, lat: p!.lat, sourceType: 'rtsp', sourceUrl, codec: 'h264' } });
    expect(res.statusCode, res.body).toBe(201);
    camera = (res.json() as CameraDetail).id;
    await app.cameras.checker.sweep();
    await app.cameras.checker.sweep();
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    await app?.close();
    await janus?.stop();
    await rtsp?.close();
    await db?.close();
    process.env = saved;
  });

  async function grant(): Promise<WebRtcGrant> {
    const res = await app.inject({ method: 'GET', url: `/api/cameras/${camera}/play`, headers: as.dispatcher });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).not.toContain(PASSWORD);
    expect(res.body).not.toContain('rtsp://');
    const g = res.json() as WebRtcGrant;
    expect(g.kind).toBe('webrtc');
    expect(g.url).toMatch(/\/api\/cameras\/live$/);
    expect(g).not.toHaveProperty('pin');
    return g;
  }

  async function open(): Promise<JanusSocket> {
    const s = await JanusSocket.open(live);
    sockets.push(s);
    return s;
  }

  /** A Janus session through the proxy with the grant as its token: its id, or the refusal. */
  async function session(s: JanusSocket, token: string): Promise<{ id?: number; refused?: string }> {
    const answer = await s.request({ janus: 'create', token });
    if (answer.janus === 'success') return { id: Number((answer.data as { id: number }).id) };
    return { refused: String((answer.error as { reason?: string } | undefined)?.reason) };
  }

  let viewer: JanusSocket;
  let first: WebRtcGrant;
  let firstSession: number;

  it('plays an RTSP camera with credentials through a Janus mountpoint: the offer is H.264 and RTP arrives', async () => {
    const detail = await app.inject({ method: 'GET', url: `/api/cameras/${camera}`, headers: as.admin });
    expect((detail.json() as CameraDetail).status).toBe('online');
    expect(detail.body).not.toContain(PASSWORD);
    first = await grant();
    viewer = await open();
    const { id: sessionId, refused } = await session(viewer, first.token);
    expect(refused).toBeUndefined();
    firstSession = sessionId!;
    const attached = await viewer.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.streaming', token: first.token });
    expect(attached.janus).toBe('success');
    const handleId = Number((attached.data as { id: number }).id);
    const watched = await viewer.request({ janus: 'message', session_id: sessionId, handle_id: handleId, token: first.token, body: { request: 'watch', id: first.mountpoint } });
    const data = (watched.plugindata as { data: Record<string, unknown> } | undefined)?.data ?? {};
    expect(data.error, JSON.stringify(watched)).toBeUndefined();
    expect(String((watched.jsep as { sdp?: string } | undefined)?.sdp)).toMatch(/H264/);
    // Janus pulled the camera with its credentials (it refuses requests without them), and its RTP reaches the mountpoint.
    const deadline = Date.now() + 10_000;
    let age = Infinity;
    while (Date.now() < deadline) {
      const info = await janus.control.streaming!({ request: 'info', id: first.mountpoint, admin_key: janus.config.adminKey }).catch(() => ({} as Record<string, unknown>));
      age = (((info.info as { media?: { age_ms?: number }[] } | undefined)?.media ?? [])[0])?.age_ms ?? Infinity;
      if (age < 1000 && rtsp.playing() > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rtsp.auth.ok).toBeGreaterThan(0);
    expect(rtsp.playing()).toBeGreaterThanOrEqual(1);
    expect(age).toBeLessThan(1000);
  }, 30_000);

  it('a camera whose credentials are wrong is offline with the reason, not a grant that never plays', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/cameras', headers: as.admin, payload: { code: 'T-RTSP-BAD', name: 'RTSP 密码错误', kind: 'junction', lon: 112.5649, lat: 37.8566, sourceType: 'rtsp', sourceUrl: rtsp.url.replace('rtsp://', 'rtsp://viewer:wrong@'), codec: 'h264' } });
    expect(res.statusCode, res.body).toBe(201);
    const id = (res.json() as CameraDetail).id;
    const refused = rtsp.auth.refused;
    const play = await app.inject({ method: 'GET', url: `/api/cameras/${id}/play`, headers: as.admin });
    expect(play.statusCode, play.body).toBe(409);
    expect(play.json()).toMatchObject({ code: 'CAMERA_OFFLINE' });
    expect(play.body).not.toContain('wrong');
    expect(rtsp.auth.refused).toBeGreaterThan(refused);
    expect(app.cameraMedia.streams().some((s) => s.cameraId === id)).toBe(false);
    await app.inject({ method: 'DELETE', url: `/api/cameras/${id}`, headers: as.admin });
  }, 30_000);

  it('refuses a second viewer presenting the same grant (CAMERA_GRANT_USED), while the first keeps watching', async () => {
    const second = await open();
    const { refused } = await session(second, first.token);
    expect(refused).toMatch(/^CAMERA_GRANT_USED\b/);
    await expect(second.closed).resolves.toEqual({ code: 4403, reason: 'CAMERA_GRANT_USED' });
    // The first viewer's session goes on.
    const again = await viewer.request({ janus: 'attach', session_id: firstSession, plugin: 'janus.plugin.streaming', token: first.token });
    expect(again.janus).toBe('success');
  });

  it('a grant opens its own camera only, and only the streaming plugin', async () => {
    const g = await grant();
    const s = await open();
    const { id: sessionId } = await session(s, g.token);
    expect(sessionId).toBeGreaterThan(0);
    const room = await s.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.videoroom', token: g.token });
    expect(room.janus).toBe('error');
    const attached = await s.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.streaming', token: g.token });
    const handleId = Number((attached.data as { id: number }).id);
    const other = await s.request({ janus: 'message', session_id: sessionId, handle_id: handleId, token: g.token, body: { request: 'watch', id: g.mountpoint + 1 } });
    expect(String((other.error as { reason?: string } | undefined)?.reason)).toMatch(/^CAMERA_GRANT_INVALID\b/);
    const admin = await s.request({ janus: 'message', session_id: sessionId, handle_id: handleId, token: g.token, body: { request: 'destroy', id: g.mountpoint } });
    expect(String((admin.error as { reason?: string } | undefined)?.reason)).toMatch(/^FORBIDDEN\b/);
    s.close();
  });

  it('refuses a grant presented after it expired (CAMERA_GRANT_INVALID)', async () => {
    const g = await grant();
    const ttl = Date.parse(g.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
    await new Promise((r) => setTimeout(r, ttl + 500));
    const s = await open();
    const { refused } = await session(s, g.token);
    expect(refused).toMatch(/^CAMERA_GRANT_INVALID\b/);
    await expect(s.closed).resolves.toEqual({ code: 4403, reason: 'CAMERA_GRANT_INVALID' });
    // A made-up grant is refused the same way.
    const forged = await open();
    expect((await session(forged, 'not-a-grant')).refused).toMatch(/^CAMERA_GRANT_INVALID\b/);
  });

  it('stops the mountpoint and the RTSP pull once nobody watches', async () => {
    viewer.close();
    const deadline = Date.now() + 20_000;
    while ((app.cameraMedia.streams().length > 0 || rtsp.playing() > 0) && Date.now() < deadline) {
      await app.cameraMedia.reap();
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(app.cameraMedia.streams()).toEqual([]);
    expect(rtsp.playing()).toBe(0);
  }, 30_000);
});
