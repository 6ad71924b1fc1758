import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { Db } from './platform/db';
import type { Config } from './platform/config';
import { handleError } from './platform/errors';
import { guardControlCharacters, useEdgeValidation } from './platform/input';
import { configurePasswordHashing } from './platform/auth/password';
import { cspHeader, DOCS_CSP, helmetOptions } from './platform/security-headers';
import authPlugin, { publicRoutes } from './platform/auth/plugin';
import { resolveJwtSecret } from './platform/auth/secret';
import authRoutes from './modules/auth/routes';
import userRoutes from './modules/users/routes';
import healthRoutes from './modules/health/routes';
import regionRoutes from './modules/regions/routes';
import tileRoutes from './modules/tiles/routes';
import workerRoutes from './modules/workers/routes';
import configRoutes from './modules/config/routes';
import ticketRoutes from './modules/tickets/routes';
import dispatchRoutes from './modules/dispatch/routes';
import appPositionRoutes from './modules/positions/app-routes';
import alarmRoutes from './modules/alarms/routes';
import noticeRoutes from './modules/notices/routes';
import emergencyRoutes from './modules/emergencies/routes';
import trackRoutes from './modules/tracks/routes';
import patrolRoutes from './modules/patrol/routes';
import statsRoutes from './modules/stats/routes';
import { NearestWorkers } from './modules/dispatch/nearest';
import { systemClock, type Clock } from './platform/clock';
import { PositionIngest } from './modules/positions/ingest';
import { LiveHub } from './modules/realtime/hub';
import { registerOsmAnd } from './modules/devices/routes';
import { registerDeviceStream } from './modules/devices/stream';
import deviceAdminRoutes from './modules/devices/admin-routes';
import consultRoutes from './modules/consults/routes';
import cameraRoutes from './modules/cameras/routes';
import wallRoutes from './modules/wall/routes';
import { loadVideoConfig, type VideoConfig } from './modules/video/config';
import type { VideoBackend } from './modules/video/janus';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
    config: Config;
    clock: Clock;
    /** The position pipeline: validation, in-memory latest with spatial index, batched writes. */
    ingest: PositionIngest;
    /** Live pushes to dashboards over socket.io. */
    hub: LiveHub;
    /** The nearest free workers for a task, from the live positions (exact geodesic top-N, own grid first). */
    nearest: NearestWorkers;
    /** The media server's control plane (Janus); undefined when video is unavailable. */
    video: VideoBackend | undefined;
    videoConfig: VideoConfig;
  }
}

export interface BuildOptions {
  db: Db;
  config: Config;
  /** Directory of the built dashboard; served with an SPA fallback when it exists. */
  clientDir?: string;
  logger?: boolean | { level: string };
  clock?: Clock;
  /** The media server for video consults (main.ts starts Janus); without it the consult routes answer 503 VIDEO_UNAVAILABLE. */
  video?: VideoBackend;
}

/**
 * Builds the application: external plugins (database, auth, docs), then domain routes.
 * `main.ts` only listens and shuts down; tests call `build()` and use `app.inject()`.
 */
export async function build(options: BuildOptions): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? false,
    // Devices report hundreds of times a second: log errors and lifecycle, not every request.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Input at the edge: bodies validated as JSON (no coercion), query and path coerced to finite
  // numbers; control characters refused in every route's body, query and params.
  useEdgeValidation(app);
  guardControlCharacters(app);

  const clock = options.clock ?? systemClock;
  app.decorate('db', options.db);
  app.decorate('config', options.config);
  app.decorate('clock', clock);
  app.decorate('video', options.video);
  app.decorate('videoConfig', options.video?.config ?? loadVideoConfig(process.env, options.config.dataDir, options.config.host));

  // One handler for every server we run (this one, the OsmAnd port): stable codes, no internal text.
  app.setErrorHandler(handleError);
  const spaIndex = options.clientDir ? path.resolve(options.clientDir, 'index.html') : undefined;
  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?')[0] ?? '';
    // Anything that looks like the API (in any case or encoding) is a 404, never the app's page.
    const apiLike = /^\/+(api|%61pi)\b/i.test(pathname) || request.method !== 'GET';
    if (apiLike || !spaIndex || !existsSync(spaIndex)) {
      return reply.code(404).send({ code: 'NOT_FOUND', message: `No route ${request.method} ${pathname.slice(0, 200)}` });
    }
    // Client-side routes (/wall, /dispatch …) all load the single-page app.
    return reply.type('text/html; charset=utf-8').send(createReadStream(spaIndex));
  });

  // Security headers on every response; rate limits only where a route asks for one.
  await app.register(helmet, helmetOptions(options.config));
  await app.register(rateLimit, { global: false });
  configurePasswordHashing({ concurrency: options.config.passwordHashConcurrency, queue: options.config.passwordHashQueue });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Gridline API', version: '0.1.0', description: 'Grid governance command and dispatch (网格化管理)' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  // Before any route, so that every route (the docs too) is in app.routeTable.
  await app.register(authPlugin, { secret: resolveJwtSecret(options.config), tokenTtlS: options.config.tokenTtlS });
  await app.register(publicRoutes(async (scope) => {
    // Swagger UI gets its own policy (inline styles, data: icons), on /docs only.
    await scope.register(swaggerUi, { routePrefix: '/docs', transformStaticCSP: () => cspHeader(DOCS_CSP) });
  }));

  await app.register(healthRoutes);
  await app.register(userRoutes);
  await app.register(authRoutes);
  await app.register(regionRoutes);
  await app.register(tileRoutes);
  await app.register(workerRoutes);
  await app.register(configRoutes);

  // Realtime: positions in from devices, live state out to dashboards.
  const ingest = new PositionIngest(options.db, clock, {
    offlineAfterMs: options.config.offlineAfterMs,
    maxFixAgeMs: options.config.fixMaxAgeDays * 86_400_000,
    maxQueue: options.config.writerMaxQueue,
    log: app.log,
  });
  await ingest.load();
  app.decorate('ingest', ingest);
  await registerOsmAnd(app, ingest, '/api/osmand');
  await registerDeviceStream(app, { maxFixesPerS: options.config.streamMaxFixesPerS });
  await app.register(deviceAdminRoutes);
  // The worker's phone (/field) reports its own positions with the worker's token.
  await app.register(appPositionRoutes);
  const hub = new LiveHub(app.server, ingest, clock, (token) => app.authenticate(token), {
    tickMs: options.config.tickMs,
    resyncPerMinute: options.config.resyncLimitPerMinute,
    revocations: app.sessions,
  });
  app.decorate('hub', hub);

  // Tickets push their changes through the hub, so they come after it.
  await app.register(ticketRoutes);
  // Notices go to the phones and their receipts to the desks through the hub too.
  await app.register(noticeRoutes);
  // Emergencies call people up with a notice and put those who report in on the map (ingest, hub).
  await app.register(emergencyRoutes);

  // Dispatch: one nearest-worker index over the live positions, its load from the tickets' open tasks.
  const nearest = await NearestWorkers.open(ingest, options.db, {
    clock,
    load: (workerId) => app.tickets.openTasks(workerId),
    capacity: options.config.dispatchMaxOpenTasks,
    maxFixAgeMs: options.config.dispatchMaxFixAgeS * 1000,
  });
  app.decorate('nearest', nearest);
  await app.register(dispatchRoutes);
  // Alarms send people through tickets and dispatch, and hear SOS fixes from the ingest.
  await app.register(alarmRoutes);
  // Position history: tracks, trips, replay, its partitions and retention; patrol coverage from it.
  await app.register(trackRoutes);
  await app.register(patrolRoutes);
  // Statistics (KPIs, assessment, exports) over tickets, patrol and positions; pushed after ticket changes.
  await app.register(statsRoutes);
  // Video consults: rooms on Janus, rings and transitions through the hub.
  await app.register(consultRoutes);
  // Cameras (视频监控): the same Janus (streaming mountpoints), ffmpeg for HLS and the demo sources.
  await app.register(cameraRoutes);
  // The unattended wall: wall display sessions (a revocation disconnects through the hub) and rotations.
  await app.register(wallRoutes);
  app.addHook('onReady', async () => {
    ingest.start();
    hub.start();
  });
  app.addHook('preClose', async () => {
    await hub.close();
  });
  app.addHook('onClose', async () => {
    nearest.close();
    await ingest.stop();
  });

  if (options.clientDir && existsSync(options.clientDir)) {
    const root = path.resolve(options.clientDir);
    await app.register(publicRoutes(async (scope) => {
      await scope.register(fastifyStatic, { root, wildcard: false, index: 'index.html' });
    }));
  }
  return app;
}
