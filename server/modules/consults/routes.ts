import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  CONSULT_CALLER_ROLES,
  ConsultGrant,
  ConsultIdParams,
  ConsultList,
  ConsultRecordingList,
  ConsultRecordingParams,
  InvitableDeskList,
  ConsultsQuery,
  ConsultSummary,
  ConsultTransitionBody,
  CreateConsultBody,
  JoinConsultBody,
  VideoStatus,
} from '@shared/consults-api';
import { AppError } from '../../platform/errors';
import { ConsultBroadcaster } from './broadcast';
import { ConsultService } from './service';
import { attachJanusProxy } from '../video/proxy';

declare module 'fastify' {
  interface FastifyInstance {
    /** Video consults (可视会商): the control plane over Janus. */
    consults: ConsultService;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse };

/**
 * Video consults: a desk calls workers (and other desks or the leader) about a ticket, an alarm or
 * nothing in particular; the phones ring; a grant opens the consult's Janus room for its holder.
 * Needs `app.video` (undefined when Janus is not installed: the routes then answer 503
 * VIDEO_UNAVAILABLE naming the command that installs it) and the hub.
 */
export default fp(
  async function consultRoutes(app: App): Promise<void> {
    const service = new ConsultService({
      db: app.db,
      clock: app.clock,
      video: app.video,
      videoConfig: app.videoConfig,
      broadcast: new ConsultBroadcaster(() => app.hub.io),
      log: app.log,
    });
    app.decorate('consults', service);
    app.addHook('onReady', async () => service.start());
    // Browsers talk to Janus through this origin (/api/video/janus), unless JANUS_PUBLIC_URL says otherwise.
    if (app.video && !app.videoConfig.publicUrl) {
      const detach = attachJanusProxy(app.server, app.video.config.controlUrl);
      app.addHook('preClose', async () => detach());
    }
    app.addHook('onClose', async () => service.close());

    app.get(
      '/api/consults/video',
      { schema: { tags: ['consults'], summary: 'Whether video consults can be made now (the media server’s state; the install command when it is missing)', response: { 200: VideoStatus, 401: ErrorResponse } } },
      async () => service.videoStatus(),
    );

    app.post(
      '/api/consults',
      {
        config: { auth: [...CONSULT_CALLER_ROLES] },
        schema: {
          tags: ['consults'],
          summary: 'Start a video consult: ring the workers (and desks) invited, about a ticket or alarm',
          description: '403 CONSULT_OUT_OF_JURISDICTION when a worker or desk invited lies outside your jurisdiction; 503 VIDEO_UNAVAILABLE without the media server.',
          body: CreateConsultBody,
          response: { 201: ConsultSummary, ...errors, 422: ErrorResponse },
        },
      },
      async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body, request.ip)),
    );

    app.get(
      '/api/consults',
      {
        schema: {
          tags: ['consults'],
          summary: 'Consults you take part in, or that lie in your jurisdiction; status=active (default) for those not ended',
          querystring: ConsultsQuery,
          response: { 200: ConsultList, 400: ErrorResponse, 401: ErrorResponse },
        },
      },
      async (request) => ({ items: await service.list(request.principal, request.query.status !== 'all') }),
    );

    app.get(
      '/api/consults/invitable',
      {
        config: { auth: [...CONSULT_CALLER_ROLES] },
        schema: {
          tags: ['consults'],
          summary: 'The desks and leaders you may invite to a consult besides workers ({userId} invitees): leaders, operators and dispatchers whose jurisdiction lies in yours or contains it',
          response: { 200: InvitableDeskList, 401: ErrorResponse, 403: ErrorResponse },
        },
      },
      async (request) => ({ items: await service.invitableDesks(request.principal) }),
    );

    app.get(
      '/api/consults/:id/recordings',
      {
        config: { auth: [...CONSULT_CALLER_ROLES] },
        schema: {
          tags: ['consults'],
          summary: 'The consult’s recordings (CONSULT_RECORDING=1), one playable file per participant once the consult has ended and they are converted',
          params: ConsultIdParams,
          response: { 200: ConsultRecordingList, ...errors },
        },
      },
      async (request) => ({ items: await service.recordings(request.principal, request.params.id) }),
    );

    app.get(
      '/api/consults/:id/recordings/:recordingId',
      {
        config: { auth: [...CONSULT_CALLER_ROLES] },
        schema: {
          tags: ['consults'],
          summary: 'Downloads one recording of a consult you see (the media file: video/webm or video/mp4)',
          params: ConsultRecordingParams,
        },
      },
      async (request, reply) => {
        const file = await service.recordingFile(request.principal, request.params.id, request.params.recordingId);
        const exists = await stat(file.path).then((s) => s.isFile(), () => false);
        if (!exists) throw new AppError('NOT_FOUND', 'The recording’s file is missing from storage.');
        return reply
          .type(file.mime)
          .header('content-length', file.bytes)
          .header('content-disposition', `attachment; filename="${file.name}"`)
          .header('cache-control', 'private, no-store')
          .header('x-content-type-options', 'nosniff')
          .send(createReadStream(file.path));
      },
    );

    app.get(
      '/api/consults/:id',
      { schema: { tags: ['consults'], summary: 'One consult', params: ConsultIdParams, response: { 200: ConsultSummary, ...errors } } },
      async (request) => service.get(request.principal, request.params.id),
    );

    app.post(
      '/api/consults/:id/join',
      {
        // A wall display session may watch a consult (mode=watch), nothing more.
        config: { wallSessionWrites: true },
        schema: {
          tags: ['consults'],
          summary: 'A short-lived join grant for this consult’s room only (joining answers a ringing call)',
          description: 'Invited people, and leaders, operators and administrators over the consult, may join; mode=watch subscribes only (the wall). 403 CONSULT_NOT_INVITED otherwise.',
          params: ConsultIdParams,
          body: JoinConsultBody,
          response: { 200: ConsultGrant, ...errors },
        },
      },
      async (request) => {
        if (request.principal.wallSessionId !== undefined && request.body?.mode !== 'watch') {
          throw new AppError('WALL_SESSION_READ_ONLY', 'A wall display session may only watch a consult.');
        }
        return service.join(request.principal, request.params.id, request.body ?? {}, `${request.protocol === 'https' ? 'wss' : 'ws'}://${request.host}`);
      },
    );

    app.post(
      '/api/consults/:id/transitions',
      {
        schema: {
          tags: ['consults'],
          summary: 'Answer (accept), decline, leave or end (the caller or a desk over it) a consult',
          params: ConsultIdParams,
          body: ConsultTransitionBody,
          response: { 200: ConsultSummary, ...errors },
        },
      },
      async (request) => service.transition(request.principal, request.params.id, request.body.action, request.ip),
    );
  },
  { name: 'consults' },
);
