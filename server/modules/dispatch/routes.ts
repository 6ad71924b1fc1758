import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  AutoDispatchBody,
  AutoDispatchCategories,
  CandidatesQuery,
  CategoryParams,
  DispatchCandidateList,
  TicketIdParams,
} from '@shared/tickets-api';
import { dispatchOfferJob } from './offer-job';
import type { PeriodicJob } from '../../platform/jobs';
import { DispatchService } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Dispatch to the nearest free worker: recommendations, offers, re-offers, auto-dispatch (派单). */
    dispatch: DispatchService;
    /** Re-offers tickets whose offer went unanswered; `sweep()` runs one pass (tests drive it with a ManualClock). */
    dispatchOffers: PeriodicJob<number[]>;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

/**
 * Dispatch on top of the ticket workflow: whom to send (from the nearest-worker index the app
 * holds), and the follow-up of every dispatch — the offer to the worker's phone, the re-offer when
 * they decline or stay silent, a category's auto-dispatch. Needs `app.nearest`, `app.tickets` and
 * the live hub, so the app registers it after those.
 */
export default fp(
  async function dispatchRoutes(app: App): Promise<void> {
    const service = new DispatchService({
      db: app.db,
      clock: app.clock,
      tickets: app.tickets,
      nearest: app.nearest,
      io: () => app.hub.io,
      position: (workerId) => {
        const w = app.ingest.state.workers.get(workerId);
        return w?.hasFix ? { lon: w.lon, lat: w.lat } : undefined;
      },
      offerTimeoutMs: app.config.dispatchOfferTimeoutS * 1000,
      log: app.log,
    });
    app.tickets.useDispatch(service);
    const job = dispatchOfferJob(service, app.log);
    app.decorate('dispatch', service);
    app.decorate('dispatchOffers', job);
    app.addHook('onReady', async () => job.start());
    app.addHook('onClose', async () => job.stop());

    app.get(
      '/api/tickets/:id/candidates',
      {
        config: { auth: ['admin', 'dispatcher', 'operator'] },
        schema: {
          tags: ['tickets'],
          summary: 'Whom to send: on-duty, online workers with a fresh position and room for another task, inside your jurisdiction; the ticket’s own grid first (属地), then by true ground distance',
          params: TicketIdParams,
          querystring: CandidatesQuery,
          response: { 200: DispatchCandidateList, ...errors },
        },
      },
      async (request) => service.candidates(request.principal, request.params.id, request.query.limit ?? 10),
    );

    app.get(
      '/api/ticket-categories/auto-dispatch',
      {
        schema: {
          tags: ['tickets'],
          summary: 'Categories whose registered tickets go to the nearest free worker without a person (a class covers its sub-categories)',
          response: { 200: AutoDispatchCategories, 401: ErrorResponse },
        },
      },
      async () => service.autoDispatchCategories(),
    );

    app.put(
      '/api/ticket-categories/:code/auto-dispatch',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['tickets'],
          summary: 'Turn a category’s auto-dispatch on or off (admin)',
          params: CategoryParams,
          body: AutoDispatchBody,
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (request, reply) => {
        await service.setAutoDispatch(request.principal, request.params.code, request.body.enabled, request.ip);
        return reply.code(204).send(null);
      },
    );
  },
  { name: 'dispatch', dependencies: ['tickets'] },
);
