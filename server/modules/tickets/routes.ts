import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  CategoryParams,
  CreateTicketBody,
  DeadlineRulesDto,
  DepartmentList,
  DepartmentReplyBody,
  PutCategoryBody,
  TicketCategoryList,
  TicketDetail,
  TicketIdParams,
  TicketList,
  TicketPhotoDto,
  TicketPhotoParams,
  TicketSummary,
  TicketsQuery,
  TransitionBody,
} from '@shared/tickets-api';
import { AppError } from '../../platform/errors';
import { TicketBroadcaster } from './broadcast';
import { ticketDeadlineJob } from './deadline-job';
import type { PeriodicJob } from '../../platform/jobs';
import { PHOTO_MAX_BYTES, PHOTO_TYPES, PhotoStore } from './photos';
import { TicketService } from './service';
import * as repo from './repository';
import { ticketStatsRoutes } from './stats-routes';

declare module 'fastify' {
  interface FastifyInstance {
    /** The ticket workflow (工单). */
    tickets: TicketService;
    /** Escalates overdue stages on an interval; `sweep()` runs one pass (tests drive it with a ManualClock). */
    ticketDeadlines: PeriodicJob<number[]>;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

/**
 * Tickets: filing, the queue, the timeline, transitions, department replies, photos and the
 * reference data (categories, departments, deadlines). Every read and write goes through the
 * caller's jurisdiction. Wrapped with fastify-plugin so `app.tickets` and the deadline job are
 * visible to the whole app; the photo body parsers stay inside their own child context.
 */
export default fp(
  async function ticketRoutes(app: App): Promise<void> {
    const broadcast = new TicketBroadcaster(() => app.hub.io);
    const service = new TicketService({
      db: app.db,
      clock: app.clock,
      photos: new PhotoStore(path.resolve(app.config.dataDir, 'photos')),
      broadcast,
      log: app.log,
    });
    const job = ticketDeadlineJob(service, app.log);
    app.decorate('tickets', service);
    app.decorate('ticketDeadlines', job);
    app.addHook('onReady', async () => {
      await service.loadOpenTasks();
      job.start();
    });
    app.addHook('onClose', async () => job.stop());

    app.post(
      '/api/tickets',
      {
        schema: {
          tags: ['tickets'],
          summary: 'File a ticket at a point; the grid is resolved from the location. The same clientId again returns the same ticket (200).',
          body: CreateTicketBody,
          response: { 200: TicketSummary, 201: TicketSummary, ...errors, 422: ErrorResponse },
        },
      },
      async (request, reply) => {
        const { ticket, created } = await service.create(request.principal, request.body, request.ip);
        return reply.code(created ? 201 : 200).send(ticket);
      },
    );

    app.get(
      '/api/tickets',
      {
        schema: {
          tags: ['tickets'],
          summary: 'Tickets in the caller’s jurisdiction, most pressing first; filter by status, category (a class includes its sub-categories), overdue, level, urgency, open, attention (open and immediate or past a deadline). For a dispatch desk, `reoffers` marks the listed tickets whose latest offer was declined or ran out, until a worker accepts',
          querystring: TicketsQuery,
          response: { 200: TicketList, 400: ErrorResponse, 401: ErrorResponse },
        },
      },
      async (request) => service.list(request.principal, request.query),
    );

    // The wall's heatmap and counters: /api/tickets/heat and /api/tickets/stats.
    await ticketStatsRoutes(app);

    app.get(
      '/api/tickets/:id',
      {
        schema: {
          tags: ['tickets'],
          summary: 'One ticket with its timeline, photos, department replies and the actions the caller may take now',
          params: TicketIdParams,
          response: { 200: TicketDetail, ...errors },
        },
      },
      async (request) => service.detail(request.principal, request.params.id),
    );

    app.post(
      '/api/tickets/:id/transitions',
      {
        schema: {
          tags: ['tickets'],
          summary: 'Fire a workflow action (register, dispatch, accept, decline, start, resolve, verify, close, return, escalate, cancel, reopen); 409 with a stable code when not allowed now or not for this user',
          description:
            'Idempotent: concurrent requests on a ticket take turns. A request that would change nothing answers 200 with the ticket as it ' +
            'stands and records, offers and announces nothing: a dispatch to the worker who already holds the ticket, or the same action ' +
            'again by the user whose action brought the ticket where it stands (a retry, a double click). Once the ticket has moved on, ' +
            'a late repeat is answered like any other action not allowed now (409 TICKET_TRANSITION_NOT_ALLOWED …). A dispatch to another ' +
            'worker is a reassignment.',
          params: TicketIdParams,
          body: TransitionBody,
          response: { 200: TicketDetail, ...errors },
        },
      },
      async (request) => service.transition(request.principal, request.params.id, request.body, request.ip),
    );

    app.post(
      '/api/tickets/:id/department-replies',
      {
        schema: {
          tags: ['tickets'],
          summary: 'Record a department’s reply to the centre’s whistle (吹哨报到): when accepted, who was contacted, what was done, by when',
          description: 'The same user’s reply again, while the ticket stands where their reply took it, answers 200 with the ticket as it stands and records nothing.',
          params: TicketIdParams,
          body: DepartmentReplyBody,
          response: { 200: TicketDetail, ...errors },
        },
      },
      async (request) => service.reply(request.principal, request.params.id, request.body, request.ip),
    );

    app.get(
      '/api/tickets/:id/photos/:photoId',
      {
        schema: {
          tags: ['tickets'],
          summary: 'A photo of a ticket the caller may see (the image bytes)',
          params: TicketPhotoParams,
        },
      },
      async (request, reply) => {
        const photo = await service.photoFile(request.principal, request.params.id, request.params.photoId);
        const exists = await stat(photo.file).then((s) => s.isFile(), () => false);
        if (!exists) throw new AppError('NOT_FOUND', 'The photo’s file is missing from storage.');
        return reply
          .type(photo.mime)
          .header('content-length', photo.bytes)
          .header('cache-control', 'private, max-age=86400')
          .header('x-content-type-options', 'nosniff')
          .send(createReadStream(photo.file));
      },
    );

    // Photo uploads: the raw image as the body (no multipart). Their parsers live only here.
    await app.register(async (photos: App) => {
      photos.addContentTypeParser([...PHOTO_TYPES], { parseAs: 'buffer', bodyLimit: PHOTO_MAX_BYTES }, (_request, body, done) => done(null, body));
      photos.post(
        '/api/tickets/:id/photos',
        {
          bodyLimit: PHOTO_MAX_BYTES,
          schema: {
            tags: ['tickets'],
            summary: 'Attach a photo: the raw JPEG, PNG or WebP as the body with its Content-Type, at most 10 MB',
            params: TicketIdParams,
            response: { 201: TicketPhotoDto, ...errors, 413: ErrorResponse, 415: ErrorResponse },
          },
        },
        async (request, reply) => {
          const body: unknown = request.body;
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (!Buffer.isBuffer(body)) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the image itself as the body, with Content-Type image/jpeg, image/png or image/webp.');
          const photo = await service.addPhoto(request.principal, request.params.id, type, body, request.ip);
          return reply.code(201).send(photo);
        },
      );
    });

    app.get(
      '/api/ticket-categories',
      { schema: { tags: ['tickets'], summary: 'Ticket categories: the five classes and their sub-categories by domain', response: { 200: TicketCategoryList, 401: ErrorResponse } } },
      async () => repo.listCategories(app.db),
    );

    app.put(
      '/api/ticket-categories/:code',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['tickets'],
          summary: 'Create or change a ticket category (admin)',
          params: CategoryParams,
          body: PutCategoryBody,
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (request, reply) => {
        await service.putCategory(request.principal, request.params.code, request.body, request.ip);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/departments',
      { schema: { tags: ['tickets'], summary: 'The departments a district centre escalates to', response: { 200: DepartmentList, 401: ErrorResponse } } },
      async () => repo.listDepartments(app.db),
    );

    app.get(
      '/api/ticket-deadlines',
      { schema: { tags: ['tickets'], summary: 'Minutes allowed per stage, by urgency', response: { 200: DeadlineRulesDto, 401: ErrorResponse } } },
      async () => service.rules(app.db),
    );

    app.put(
      '/api/ticket-deadlines',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['tickets'],
          summary: 'Change the deadline table (admin); applies to stages that start afterwards',
          body: DeadlineRulesDto,
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (request, reply) => {
        await service.putDeadlineRules(request.principal, request.body, request.ip);
        return reply.code(204).send(null);
      },
    );
  },
  { name: 'tickets' },
);
