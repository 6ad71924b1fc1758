import fp from 'fastify-plugin';
import { Type } from 'typebox';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  Assessment, AssessmentQuery, AssessmentWeights, KpiList, KpiQuery, STATS_ROLES,
} from '@shared/stats-api';
import { shanghaiDate } from '@shared/shanghai-time';
import { sendTable } from '../../platform/exports';
import { StatsService, assessmentTable, kpiTable } from './service';
import { StatsBroadcaster } from './broadcast';

declare module 'fastify' {
  interface FastifyInstance {
    stats: StatsService;
    statsPush: StatsBroadcaster;
  }
}

/** A burst of ticket transitions becomes at most one `stats.update` per room per this interval. */
export const STATS_PUSH_THROTTLE_MS = 1000;

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

const OverviewQuery = Type.Object(
  { parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,40}$' })) },
  { additionalProperties: false },
);

const Overview = Type.Object({
  parent: Type.Object({ code: Type.String(), name: Type.String(), level: Type.String() }),
  at: Type.String(),
  overdueTickets: Type.Array(Type.Object({
    id: Type.Integer(), number: Type.String(), category: Type.String(), status: Type.String(), level: Type.String(),
    gridName: Type.String(), streetName: Type.String(), dueAt: Type.String(), overdueMin: Type.Integer(),
  })),
  workersByRole: Type.Array(Type.Object({ role: Type.String(), online: Type.Integer(), onShift: Type.Integer(), total: Type.Integer() })),
  receivedByHour: Type.Object({
    today: Type.Array(Type.Integer()),
    lastWeek: Type.Array(Type.Integer()),
    hourNow: Type.Integer(),
    todaySoFar: Type.Integer(),
    lastWeekSoFar: Type.Integer(),
  }),
});

/**
 * Statistics (issue 12): KPIs per level and window, the leader's overview, the grid assessment and
 * its weights, with xlsx/csv exports. Everything inside the caller's jurisdiction; after ticket
 * changes the figures are pushed to the rooms concerned (`stats.update`).
 */
export default fp(
  async function statsRoutes(app: App): Promise<void> {
    const service = new StatsService(app.db, app.clock);
    const push = new StatsBroadcaster({
      db: app.db,
      clock: app.clock,
      service,
      io: () => app.hub?.io,
      throttleMs: STATS_PUSH_THROTTLE_MS,
      log: app.log,
    });
    app.decorate('stats', service);
    app.decorate('statsPush', push);
    app.tickets.onChange((gridPath) => push.touch(gridPath));
    app.addHook('preClose', async () => push.close());

    app.get(
      '/api/stats/kpis',
      {
        config: { auth: STATS_ROLES },
        schema: {
          tags: ['stats'],
          summary: 'KPIs (GB/T 30428.4): per region of `level` (district, street, community, grid) or worker under `parent` (default: your jurisdiction), for a window (today, 7d, 30d, month, or from/to) in Asia/Shanghai; each rate {num, den, rate}; ranked by 按期结案率; format=xlsx|csv downloads the table',
          querystring: KpiQuery,
          response: { 200: KpiList, ...errors },
        },
      },
      async (request, reply) => {
        const { rows, window, parent, level } = await service.kpis(request.principal.scope, request.query);
        const format = request.query.format ?? 'json';
        if (format === 'json') return rows;
        const name = `指标-${parent.name}-${shanghaiDate(window.from)}至${shanghaiDate(window.to)}`;
        return sendTable(reply, format, kpiTable(rows, level), name);
      },
    );

    app.get(
      '/api/stats/overview',
      {
        config: { auth: STATS_ROLES },
        schema: {
          tags: ['stats'],
          summary: 'The leader’s screen: the most overdue open tickets, workers online by role, tickets received per hour today and the same weekday last week',
          querystring: OverviewQuery,
          response: { 200: Overview, ...errors },
        },
      },
      async (request) => service.overview(request.principal.scope, request.query.parent),
    );

    app.get(
      '/api/stats/assessment',
      {
        config: { auth: STATS_ROLES },
        schema: {
          tags: ['stats'],
          summary: 'Grid assessment (网格考核) of a month (YYYY-MM, Asia/Shanghai): a score per grid (or worker) from the weighted indicators, ranked; format=xlsx|csv downloads it',
          querystring: AssessmentQuery,
          response: { 200: Assessment, ...errors },
        },
      },
      async (request, reply) => {
        const a = await service.assessment(request.principal.scope, request.query);
        const format = request.query.format ?? 'json';
        if (format === 'json') return a;
        return sendTable(reply, format, assessmentTable(a), `网格考核-${a.month}`);
      },
    );

    app.get(
      '/api/stats/assessment/weights',
      {
        config: { auth: STATS_ROLES },
        schema: { tags: ['stats'], summary: 'The assessment’s indicators and weights', response: { 200: AssessmentWeights, ...errors } },
      },
      async () => service.weights(),
    );

    app.put(
      '/api/stats/assessment/weights',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['stats'],
          summary: 'Replaces the assessment’s indicators and weights (administrators; audited)',
          body: AssessmentWeights,
          response: { 200: AssessmentWeights, ...errors },
        },
      },
      async (request) => service.putWeights(request.principal, request.body, request.ip),
    );
  },
  { name: 'stats' },
);
