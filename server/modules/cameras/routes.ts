import { createReadStream } from 'node:fs';
import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  CAMERA_VIEWER_ROLES,
  CameraBody,
  CameraCollection,
  CameraDetail,
  CameraIdParams,
  CameraImportResult,
  CameraNearestQuery,
  CameraPatch,
  HlsParams,
  NearestCameras,
  PlayGrant,
} from '@shared/cameras-api';
import { AppError } from '../../platform/errors';
import { registerLiveRoute } from './live';
import { CameraMedia, loadCameraConfig } from './media';
import { CameraService, CSV_TEMPLATE } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Video surveillance (视频监控): cameras, nearest cameras, play grants, status checks. */
    cameras: CameraService;
    cameraMedia: CameraMedia;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse };

/**
 * Cameras: every desk sees the cameras of its jurisdiction (GeoJSON), the nearest ones to a point,
 * and gets play grants for them; admins add, change, remove and import (CSV). The media (Janus
 * mountpoints, ffmpeg for HLS and the simulator) starts on demand and stops when nobody watches.
 */
export default fp(
  async function cameraRoutes(app: App): Promise<void> {
    const media = new CameraMedia(loadCameraConfig(process.env, app.config.dataDir), app.video, app.log, () => app.clock.now());
    const checkS = Math.max(5, Number(process.env.CAMERAS_CHECK_S) || 60);
    const service = new CameraService({ db: app.db, clock: app.clock, media, log: app.log, checkIntervalS: checkS });
    app.decorate('cameras', service);
    app.decorate('cameraMedia', media);
    app.addHook('onReady', async () => {
      media.start();
      service.checker.start();
      // The first pass soon after start, without holding the start up.
      setTimeout(() => void service.checker.sweep().catch((err: unknown) => app.log.warn({ err }, 'camera status check')), 500).unref();
    });
    app.addHook('onClose', async () => {
      await service.checker.stop();
      await media.close();
    });
    app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: 4 * 1024 * 1024 }, (_req, body, done) => done(null, body));

    const viewers = { auth: [...CAMERA_VIEWER_ROLES] };
    const origin = (request: { protocol: string; host: string }) => `${request.protocol === 'https' ? 'wss' : 'ws'}://${request.host}`;

    app.get('/api/cameras', {
      config: viewers,
      schema: { tags: ['cameras'], summary: 'The cameras in your jurisdiction as GeoJSON (never their source URLs)', response: { 200: CameraCollection, 401: ErrorResponse, 403: ErrorResponse } },
    }, async (request) => service.collection(request.principal.scope));

    app.get('/api/cameras/nearest', {
      config: viewers,
      schema: {
        tags: ['cameras'],
        summary: 'The cameras nearest a point: true distance, a camera known to face away ranks as if twice as far',
        querystring: CameraNearestQuery,
        response: { 200: NearestCameras, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    }, async (request) => ({ items: await service.nearest(request.principal.scope, request.query.lon, request.query.lat, request.query.limit ?? 4) }));

    app.get('/api/cameras/import/template', {
      config: { auth: ['admin'] },
      schema: { tags: ['cameras'], summary: 'The CSV template for importing cameras (UTF-8 with BOM)', response: { 200: { type: 'string' }, 401: ErrorResponse, 403: ErrorResponse } },
    }, async (_request, reply) => reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="cameras-template.csv"; filename*=UTF-8''${encodeURIComponent('摄像头导入模板.csv')}`)
      .send(CSV_TEMPLATE));

    app.post('/api/cameras/import', {
      config: { auth: ['admin'] },
      schema: {
        tags: ['cameras'],
        summary: 'Import cameras from CSV (text/csv, UTF-8): each good row kept, each bad one reported with its line',
        description: `Columns: code,name,kind,lon,lat,bearing,fov,source_type,source_url,codec (see /api/cameras/import/template). A code that exists is updated.`,
        response: { 200: CameraImportResult, ...errors, 415: ErrorResponse },
      },
    }, async (request) => {
      if (typeof request.body !== 'string') throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as text/csv (UTF-8).');
      return service.importCsv(request.principal, request.body, request.ip);
    });

    app.get('/api/cameras/:id', {
      config: viewers,
      schema: { tags: ['cameras'], summary: 'One camera (admins see its source with credentials removed)', params: CameraIdParams, response: { 200: CameraDetail, ...errors } },
    }, async (request) => service.detail(request.principal, request.params.id));

    app.get('/api/cameras/:id/play', {
      config: viewers,
      schema: {
        tags: ['cameras'],
        summary: 'A play grant for one viewer: {kind:"webrtc"} a Janus streaming mountpoint and a single-use token for /api/cameras/live, or {kind:"hls"} a playlist URL',
        description: 'A WebRTC grant is redeemed once, within CAMERAS_GRANT_TTL_S (a second session: CAMERA_GRANT_USED; a late one: CAMERA_GRANT_INVALID). 409 CAMERA_OFFLINE with the reason; 503 VIDEO_UNAVAILABLE without Janus (WebRTC cameras); 503 CAMERA_STREAMS_EXHAUSTED at CAMERAS_MAX_STREAMS.',
        params: CameraIdParams,
        response: { 200: PlayGrant, ...errors },
      },
    }, async (request) => service.play(request.principal, request.params.id, origin(request)));

    registerLiveRoute(app, media);

    app.get('/api/cameras/hls/:grant/:file', {
      config: viewers,
      schema: { tags: ['cameras'], summary: 'HLS playlist and segments of a play grant (its viewer only)', params: HlsParams, response: { ...errors } },
    }, async (request, reply) => {
      const file = media.hlsFile(request.params.grant, request.principal.userId, request.params.file);
      const playlist = request.params.file.endsWith('.m3u8');
      return reply
        .type(playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t')
        .header('cache-control', 'no-store')
        .send(createReadStream(file) as never);
    });

    app.post('/api/cameras', {
      config: { auth: ['admin'] },
      schema: { tags: ['cameras'], summary: 'Add a camera (audited)', body: CameraBody, response: { 201: CameraDetail, ...errors } },
    }, async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body, request.ip)));

    app.patch('/api/cameras/:id', {
      config: { auth: ['admin'] },
      schema: { tags: ['cameras'], summary: 'Change a camera (audited)', params: CameraIdParams, body: CameraPatch, response: { 200: CameraDetail, ...errors } },
    }, async (request) => service.update(request.principal, request.params.id, request.body, request.ip));

    app.delete('/api/cameras/:id', {
      config: { auth: ['admin'] },
      schema: { tags: ['cameras'], summary: 'Remove a camera (audited)', params: CameraIdParams, response: { 204: { type: 'null' }, ...errors } },
    }, async (request, reply) => {
      await service.remove(request.principal, request.params.id, request.ip);
      return reply.code(204).send(null);
    });
  },
  { name: 'cameras' },
);
