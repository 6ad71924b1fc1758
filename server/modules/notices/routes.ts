import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  CreatedNotice,
  CreateNoticeBody,
  NoticeDetail,
  NoticeIdParams,
  NoticeList,
  NoticeRecipientCount,
  NoticeRecipientsBody,
  NoticeReminded,
  NoticeReplyBody,
  NoticesQuery,
  NoticeSummary,
} from '@shared/notices-api';
import { NoticeBroadcaster } from './broadcast';
import { NoticeService } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Notices (信息发布) with read receipts. */
    notices: NoticeService;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
/** The desks that may send notices and follow their receipts. */
const DESKS = ['admin', 'leader', 'operator', 'dispatcher'] as const;

/**
 * Notices: a desk sends one to the grid workers of regions, roles or a drawn area inside its
 * jurisdiction; the phones get `notice.published` and answer with receipts (delivered when the
 * worker's phone fetches the notice, read when they open it, replied), which come back live to the
 * sender as `notice.receipts`. Registered after the hub, which carries the events.
 */
export default fp(
  async function noticeRoutes(app: App): Promise<void> {
    const broadcast = new NoticeBroadcaster(() => app.hub.io, app.db, 100, (error) => app.log.error({ err: error }, 'notice receipts broadcast failed'));
    const service = new NoticeService({ db: app.db, clock: app.clock, broadcast, log: app.log });
    app.decorate('notices', service);
    app.addHook('preClose', async () => broadcast.close());

    app.post(
      '/api/notices',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['notices'],
          summary: 'Send a notice to the active grid workers of regions and/or a drawn area inside your jurisdiction (all of it if neither), of the roles given',
          description:
            'The notice and one receipt per recipient are written in one statement. 403 NOTICE_TARGET_OUT_OF_JURISDICTION when a region lies ' +
            'outside your jurisdiction, 400 NOTICE_TARGET_UNKNOWN for unknown region codes, 400 NOTICE_NO_RECIPIENTS when nobody is in the target.',
          body: CreateNoticeBody,
          response: { 201: CreatedNotice, ...errors },
        },
      },
      async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body, request.ip)),
    );

    app.post(
      '/api/notices/recipients',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['notices'],
          summary: 'How many workers a target reaches now (a dry run of sending: the same checks and errors, nothing is written)',
          body: NoticeRecipientsBody,
          response: { 200: NoticeRecipientCount, ...errors },
        },
      },
      async (request) => service.countRecipients(request.principal, request.body.target),
    );

    app.get(
      '/api/notices',
      {
        schema: {
          tags: ['notices'],
          summary: 'Desks: the notices issued inside your jurisdiction; workers: the notices you received (fetching them marks them delivered). Newest first, with counts',
          querystring: NoticesQuery,
          response: { 200: NoticeList, 400: ErrorResponse, 401: ErrorResponse },
        },
      },
      async (request) => service.list(request.principal, request.query),
    );

    app.get(
      '/api/notices/:id',
      {
        schema: {
          tags: ['notices'],
          summary: 'One notice with its counts; for a desk whose jurisdiction covers it also who has not read (name, grid, phone) and the replies; for its recipient their receipt (fetching marks it delivered)',
          params: NoticeIdParams,
          response: { 200: NoticeDetail, ...errors },
        },
      },
      async (request) => service.detail(request.principal, request.params.id),
    );

    app.post(
      '/api/notices/:id/read',
      {
        config: { auth: ['worker'] },
        schema: {
          tags: ['notices'],
          summary: 'The recipient opened the notice (idempotent: reading again changes nothing)',
          params: NoticeIdParams,
          response: { 200: NoticeSummary, ...errors },
        },
      },
      async (request) => service.read(request.principal, request.params.id, request.ip),
    );

    app.post(
      '/api/notices/:id/reply',
      {
        config: { auth: ['worker'] },
        schema: {
          tags: ['notices'],
          summary: 'The recipient’s reply (回执); it also reads the notice. The first reply counts; another replaces its text',
          params: NoticeIdParams,
          body: NoticeReplyBody,
          response: { 200: NoticeSummary, ...errors },
        },
      },
      async (request) => service.reply(request.principal, request.params.id, request.body.body, request.ip),
    );

    app.post(
      '/api/notices/:id/remind',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['notices'],
          summary: 'Send the notice again to the recipients who have not read it; returns how many',
          params: NoticeIdParams,
          response: { 200: NoticeReminded, ...errors },
        },
      },
      async (request) => service.remind(request.principal, request.params.id, request.ip),
    );
  },
  { name: 'notices' },
);
