/**
 * Cameras (视频监控) against real parts: PostGIS, a real Janus child process and real ffmpeg.
 * Jurisdiction (a dispatcher sees only their street's cameras and gets no grant for another's),
 * source URLs never in the API, the nearest cameras against a PostGIS full-scan/KNN cross-check and
 * bearing-aware ranking, CSV import with per-row errors (good rows kept), a WebRTC grant checked
 * through the app's Janus proxy as a browser would use it (RTP arriving at the mountpoint), an HLS grant's playlist
 * and segments (its viewer only), offline cameras, the status checker, idle streams stopped.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import type { JanusSupervisor } from '../../server/modules/video/janus';
import type { CameraCollection, CameraDetail, CameraImportResult, HlsGrant, NearestCamera, WebRtcGrant } from '@shared/cameras-api';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { login, TEST_JWT_SECRET } from '../support/app';
import { freePort, JanusSocket, janusRequired, startTestJanus } from '../support/janus';

type Headers = { authorization: string };

const run = janusRequired('cameras integration');

describe.runIf(run)('cameras', () => {
  let db: Db;
  let app: App;
  let janus: JanusSupervisor;
  let as: Record<'admin' | 'dispatcher' | 'leader', Headers>;
  let street: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, { CAMERAS_GRANT_TTL_S: '3', CAMERAS_IDLE_S: '2', CAMERAS_RUN_DIR: mkdtempSync(path.join(tmpdir(), 'gridline-cameras-')), CAMERAS_CHECK_S: '3600' });
    janus = await startTestJanus();
    db = await createTestDb();
    const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET };
    app = await build({ db, config, video: janus.control });
    await app.listen({ port: 0, host: '127.0.0.1' });
    as = { admin: await login(app, 'admin'), dispatcher: await login(app, 'dispatcher'), leader: await login(app, 'leader') };
    const { rows: [u] } = await db.query<{ code: string }>(sql`SELECT region_code AS code FROM users WHERE username = 'dispatcher'`);
    street = u!.code;
    await app.cameras.checker.sweep();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await janus?.stop();
    await db?.close();
    process.env = saved;
  });

  const get = async <T>(url: string, headers: Headers, status = 200): Promise<T> => {
    const res = await app.inject({ method: 'GET', url, headers });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(status);
    return res.json() as T;
  };

  async function cameraIn(scopeStreet: boolean, where: (c: CameraCollection['features'][number]) => boolean): Promise<number> {
    const all = await get<CameraCollection>('/api/cameras', as.admin);
    const { rows } = await db.query<{ id: string | number }>(sql`SELECT id FROM cameras WHERE path LIKE ${`%/${street}/%`}`);
    const mine = new Set(rows.map((r) => Number(r.id)));
    const f = all.features.find((x) => mine.has(x.id) === scopeStreet && where(x));
    expect(f, 'a seeded camera to test with').toBeDefined();
    return f!.id;
  }

  it('seeds about 60 demo cameras; a dispatcher sees only their street’s, and no source URL reaches a browser', async () => {
    const all = await get<CameraCollection>('/api/cameras', as.admin);
    expect(all.type).toBe('FeatureCollection');
    expect(all.features.length).toBeGreaterThanOrEqual(55);
    expect(all.features.length).toBeLessThanOrEqual(65);
    const mine = await get<CameraCollection>('/api/cameras', as.dispatcher);
    expect(mine.features.length).toBeGreaterThan(0);
    expect(mine.features.length).toBeLessThan(all.features.length);
    const { rows } = await db.query<{ id: string | number }>(sql`SELECT id FROM cameras WHERE path LIKE ${`%/${street}/%`} ORDER BY id`);
    expect(mine.features.map((f) => f.id).sort((a, b) => a - b)).toEqual(rows.map((r) => Number(r.id)));
    const raw = JSON.stringify(all);
    expect(raw).not.toContain('demo:');
    expect(raw).not.toMatch(/sourceUrl|source_url/);
    // Statuses come from the checker: demo cameras online (ffmpeg here), the offline ones offline with a reason.
    expect(all.features.some((f) => f.properties.status === 'online')).toBe(true);
    const off = all.features.find((f) => f.properties.status === 'offline');
    expect(off?.properties.statusReason).toBeTruthy();
  });

  it('refuses a dispatcher the detail and a play grant for another street’s camera', async () => {
    const other = await cameraIn(false, (f) => f.properties.status === 'online');
    const detail = await app.inject({ method: 'GET', url: `/api/cameras/${other}`, headers: as.dispatcher });
    expect(detail.statusCode).toBe(403);
    expect(detail.json()).toMatchObject({ code: 'OUT_OF_JURISDICTION' });
    const play = await app.inject({ method: 'GET', url: `/api/cameras/${other}/play`, headers: as.dispatcher });
    expect(play.statusCode).toBe(403);
    expect(play.json()).toMatchObject({ code: 'OUT_OF_JURISDICTION' });
    const near = await get<{ items: NearestCamera[] }>(`/api/cameras/nearest?lon=112.57&lat=37.85&limit=16`, as.dispatcher);
    const { rows } = await db.query<{ id: string | number }>(sql`SELECT id FROM cameras WHERE path LIKE ${`%/${street}/%`}`);
    const mine = new Set(rows.map((r) => Number(r.id)));
    expect(near.items.every((c) => mine.has(c.id))).toBe(true);
    const missing = await app.inject({ method: 'GET', url: '/api/cameras/999999999/play', headers: as.dispatcher });
    expect(missing.statusCode).toBe(404);
    const create = await app.inject({ method: 'POST', url: '/api/cameras', headers: as.dispatcher, payload: { code: 'X-1', name: 'x', kind: 'junction', lon: 112.57, lat: 37.85, sourceType: 'demo', sourceUrl: 'demo:' } });
    expect(create.statusCode).toBe(403);
  });

  it('ranks the nearest cameras by true distance, matching a PostGIS KNN and full-scan cross-check', async () => {
    const { rows: [box] } = await db.query<{ x0: number; y0: number; x1: number; y1: number }>(sql`
      SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM (SELECT ST_Extent(geom) AS e FROM cameras) t`);
    let seed = 11;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 25; i++) {
      const lon = box!.x0 + rnd() * (box!.x1 - box!.x0);
      const lat = box!.y0 + rnd() * (box!.y1 - box!.y0);
      const { items } = await get<{ items: NearestCamera[] }>(`/api/cameras/nearest?lon=${lon}&lat=${lat}&limit=4`, as.admin);
      expect(items).toHaveLength(4);
      // Every camera, no shortlist: true distance, twice as far when known to face away.
      const { rows: expected } = await db.query<{ id: string | number; d: number }>(sql`
        WITH p AS (SELECT ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326) AS g)
        SELECT c.id, ST_Distance(c.geom::geography, p.g::geography) AS d,
               CASE WHEN c.bearing IS NULL OR c.fov_deg IS NULL THEN 1
                    WHEN abs(mod((degrees(ST_Azimuth(c.geom::geography, p.g::geography)) - c.bearing + 540)::numeric, 360) - 180) <= c.fov_deg / 2 THEN 1 ELSE 2 END AS k
          FROM cameras c, p ORDER BY ST_Distance(c.geom::geography, p.g::geography) * (CASE WHEN c.bearing IS NULL OR c.fov_deg IS NULL THEN 1
                    WHEN abs(mod((degrees(ST_Azimuth(c.geom::geography, p.g::geography)) - c.bearing + 540)::numeric, 360) - 180) <= c.fov_deg / 2 THEN 1 ELSE 2 END), c.id LIMIT 4`);
      expect(items.map((c) => c.id)).toEqual(expected.map((r) => Number(r.id)));
      for (const [j, c] of items.entries()) expect(Math.abs(c.distanceM - Number(expected[j]!.d))).toBeLessThan(0.2);
      // PostGIS KNN (<-> on geography): the nearest camera is returned, unless it faces away.
      const { rows: [knn] } = await db.query<{ id: string | number }>(sql`
        SELECT id FROM cameras ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326)::geography LIMIT 1`);
      const first = items.find((c) => c.id === Number(knn!.id));
      if (!first) {
        const { rows: [f] } = await db.query<{ bearing: number | null }>(sql`SELECT bearing FROM cameras WHERE id = ${Number(knn!.id)}`);
        expect(f!.bearing).not.toBeNull();
      } else if (first.facing !== false) {
        expect(items.filter((c) => c.facing !== false)[0]!.id).toBe(first.id);
      }
    }
  });

  it('prefers a camera facing the point over a nearer one facing away', async () => {
    const { rows: [p] } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions WHERE code = ${street}`);
    const m = 1 / 111_320;
    const make = async (code: string, dLat: number, bearing: number) => {
      const res = await app.inject({ method: 'POST', url: '/api/cameras', headers: as.admin, payload: { code, name: code, kind: 'junction', lon: p!.lon, lat: p!.lat + dLat * m, bearing, fovDeg: 60, sourceType: 'demo', sourceUrl: 'demo:' } });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as CameraDetail).id;
    };
    const away = await make('T-AWAY', 3, 0); // 3 m north, looking north
    const facing = await make('T-FACE', 5, 180); // 5 m north, looking south at the point
    const { items: near } = await get<{ items: NearestCamera[] }>(`/api/cameras/nearest?lon=${p!.lon}&lat=${p!.lat}&limit=16`, as.admin);
    // (A seeded camera may stand on the very point: only the order of these two matters.)
    const items = near.filter((c) => c.id === away || c.id === facing);
    expect(items.map((c) => c.id)).toEqual([facing, away]);
    expect(items[0]!.facing).toBe(true);
    expect(items[1]!.facing).toBe(false);
    expect(items[1]!.distanceM).toBeLessThan(items[0]!.distanceM);
    for (const id of [away, facing]) expect((await app.inject({ method: 'DELETE', url: `/api/cameras/${id}`, headers: as.admin })).statusCode).toBe(204);
  });

  it('imports CSV: bad rows reported by line, good rows kept; credentials never shown', async () => {
    const { rows: [p] } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions WHERE code = ${street}`);
    const template = await app.inject({ method: 'GET', url: '/api/cameras/import/template', headers: as.admin });
    expect(template.statusCode).toBe(200);
    const header = template.body.replace(/^\uFEFF/, '').split('\r\n')[0];
    const csv = [
      header,
      `IMP-1,"导入测试, 路口",junction,${p!.lon},${p!.lat},90,70,rtsp,rtsp://admin:s3cret@127.0.0.1:1/stream,h264`,
      `IMP-2,坏类型,tower,${p!.lon},${p!.lat},,,demo,demo:,h264`,
      `IMP-3,坏坐标,junction,east,${p!.lat},,,demo,demo:,h264`,
      `IMP-4,区外,junction,116.4,39.9,,,demo,demo:,h264`,
      `IMP-5,坏地址,junction,${p!.lon},${p!.lat},,,rtsp,http://x/y,h264`,
      `IMP-6,好的高点,high_point,${p!.lon + 0.001},${p!.lat},,,hls,https://nvr.example.org/live/6/index.m3u8?token=abc,h265`,
    ].join('\r\n');
    const res = await app.inject({ method: 'POST', url: '/api/cameras/import', headers: { ...as.admin, 'content-type': 'text/csv; charset=utf-8' }, payload: '\uFEFF' + csv });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json() as CameraImportResult;
    expect(result.created).toBe(2);
    expect(result.errors.map((e) => [e.line, e.code])).toEqual([[3, 'IMP-2'], [4, 'IMP-3'], [5, 'IMP-4'], [6, 'IMP-5']]);
    expect(result.errors[0]!.message).toMatch(/kind/);
    expect(result.errors[2]!.message).toMatch(/jurisdiction/);
    const { rows } = await db.query<{ id: string | number; code: string; name: string }>(sql`SELECT id, code, name FROM cameras WHERE code LIKE 'IMP-%' ORDER BY code`);
    expect(rows.map((r) => r.code)).toEqual(['IMP-1', 'IMP-6']);
    expect(rows[0]!.name).toBe('导入测试, 路口');
    const detail = await app.inject({ method: 'GET', url: `/api/cameras/${rows[0]!.id}`, headers: as.admin });
    expect(detail.body).not.toContain('s3cret');
    expect((detail.json() as CameraDetail).source).toContain('rtsp://127.0.0.1:1/stream');
    const asDispatcher = await app.inject({ method: 'GET', url: `/api/cameras/${rows[0]!.id}`, headers: as.dispatcher });
    expect(asDispatcher.statusCode).toBe(200);
    expect(asDispatcher.json()).not.toHaveProperty('source');
    // Re-importing updates by code.
    const again = await app.inject({ method: 'POST', url: '/api/cameras/import', headers: { ...as.admin, 'content-type': 'text/csv' }, payload: [header, `IMP-1,改名,junction,${p!.lon},${p!.lat},,,demo,demo:,h264`].join('\n') });
    expect(again.json()).toMatchObject({ created: 0, updated: 1, errors: [] });
  });

  it('checks statuses: an RTSP source is offline until its host answers', async () => {
    const port = await freePort();
    const created = await app.inject({ method: 'POST', url: '/api/cameras', headers: as.admin, payload: { code: 'T-RTSP', name: 'RTSP 测试', kind: 'junction', lon: 112.5649, lat: 37.8566, sourceType: 'rtsp', sourceUrl: `rtsp://u:p@127.0.0.1:${port}/live` } });
    expect(created.statusCode, created.body).toBe(201);
    const id = (created.json() as CameraDetail).id;
    // A pass already running (the start-up one, or one a CSV import set off) is joined by sweep() and
    // may predate this camera or the listener below: wait it out, then run one that sees them.
    const freshSweep = async () => {
      await app.cameras.checker.sweep();
      await app.cameras.checker.sweep();
    };
    await freshSweep();
    let c = await get<CameraDetail>(`/api/cameras/${id}`, as.admin);
    expect(c.status).toBe('offline');
    expect(c.statusReason).toContain(`127.0.0.1:${port}`);
    const server: Server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      await freshSweep();
      c = await get<CameraDetail>(`/api/cameras/${id}`, as.admin);
      expect(c.status).toBe('online');
    } finally {
      server.close();
    }
    await app.inject({ method: 'DELETE', url: `/api/cameras/${id}`, headers: as.admin });
  });

  it('an offline camera gets no grant, with its reason', async () => {
    const off = await cameraIn(true, (f) => f.properties.status === 'offline').catch(() => cameraIn(false, (f) => f.properties.status === 'offline'));
    const res = await app.inject({ method: 'GET', url: `/api/cameras/${off}/play`, headers: as.admin });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'CAMERA_OFFLINE' });
  });

  it('a WebRTC grant opens the camera’s Janus mountpoint (streaming plugin only) with RTP from the simulator', async () => {
    const id = await cameraIn(true, (f) => f.properties.play === 'webrtc' && f.properties.status === 'online');
    const res = await app.inject({ method: 'GET', url: `/api/cameras/${id}/play`, headers: as.dispatcher });
    expect(res.statusCode, res.body).toBe(200);
    const grant = res.json() as WebRtcGrant;
    expect(grant.kind).toBe('webrtc');
    expect(grant.url).toMatch(/\/api\/cameras\/live$/);
    expect(JSON.stringify(grant)).not.toContain('demo:');
    expect(grant).not.toHaveProperty('pin');
    // As a browser would: a Janus session through the app's proxy with the grant as its token.
    const s = await JanusSocket.open(`ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/cameras/live`);
    try {
      const created = await s.request({ janus: 'create', token: grant.token });
      expect(created.janus, JSON.stringify(created)).toBe('success');
      const sessionId = (created.data as { id: number }).id;
      const attached = await s.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.streaming', token: grant.token });
      const handleId = (attached.data as { id: number }).id;
      const watched = await s.request({ janus: 'message', session_id: sessionId, handle_id: handleId, token: grant.token, body: { request: 'watch', id: grant.mountpoint } });
      expect((watched.plugindata as { data: { error_code?: number } } | undefined)?.data.error_code).toBeUndefined();
      expect(String((watched.jsep as { sdp?: string } | undefined)?.sdp)).toContain('H264');
      // The videoroom plugin stays closed to this grant.
      const room = await s.request({ janus: 'attach', session_id: sessionId, plugin: 'janus.plugin.videoroom', token: grant.token });
      expect(room.janus).toBe('error');
    } finally {
      s.close();
    }
    // RTP arrives at the mountpoint (the simulator runs).
    const deadline = Date.now() + 8000;
    let age = Infinity;
    while (Date.now() < deadline) {
      const info = await janus.control.streaming!({ request: 'info', id: grant.mountpoint, admin_key: janus.config.adminKey }).catch(() => ({} as Record<string, unknown>));
      const media = ((info.info as { media?: { age_ms?: number }[] } | undefined)?.media ?? [])[0];
      age = media?.age_ms ?? Infinity;
      if (age < 1000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(age).toBeLessThan(1000);
    expect(app.cameraMedia.processes()).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('an HLS grant serves playlist and segments to its viewer only', async () => {
    const id = await cameraIn(true, (f) => f.properties.play === 'hls' && f.properties.status === 'online');
    const res = await app.inject({ method: 'GET', url: `/api/cameras/${id}/play`, headers: as.dispatcher });
    expect(res.statusCode, res.body).toBe(200);
    const grant = res.json() as HlsGrant;
    expect(grant.kind).toBe('hls');
    const playlist = await app.inject({ method: 'GET', url: grant.playlist, headers: as.dispatcher });
    expect(playlist.statusCode).toBe(200);
    expect(playlist.headers['content-type']).toContain('mpegurl');
    expect(playlist.body).toContain('#EXTM3U');
    const segment = /^(seg_\d+\.ts)$/m.exec(playlist.body)?.[1];
    expect(segment).toBeDefined();
    const seg = await app.inject({ method: 'GET', url: grant.playlist.replace('index.m3u8', segment!), headers: as.dispatcher });
    expect(seg.statusCode).toBe(200);
    expect(seg.rawPayload.length).toBeGreaterThan(1000);
    expect(seg.rawPayload[0]).toBe(0x47); // MPEG-TS sync byte
    const other = await app.inject({ method: 'GET', url: grant.playlist, headers: as.leader });
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({ code: 'CAMERA_GRANT_INVALID' });
    const forged = await app.inject({ method: 'GET', url: '/api/cameras/hls/AAAAAAAAAAAAAAAAAAAAAAAA/index.m3u8', headers: as.dispatcher });
    expect(forged.statusCode).toBe(403);
  }, 30_000);

  it('stops streams nobody watches and revokes their grants', async () => {
    expect(app.cameraMedia.streams().length).toBeGreaterThan(0);
    const deadline = Date.now() + 15_000;
    while (app.cameraMedia.streams().length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      await app.cameraMedia.reap();
    }
    expect(app.cameraMedia.streams()).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(app.cameraMedia.processes()).toBe(0);
  }, 30_000);
});
