import fp from 'fastify-plugin';
import type { App } from '../../app';
import { AppError } from '../../platform/errors';
import type { PeriodicJob } from '../../platform/jobs';
import { ErrorResponse } from '@shared/api';
import {
  CoverageList, CoverageQuery, MicroGridVisits, MicroGridVisitsQuery, TRACK_ROLES, WorkerPatrolList, WorkerPatrolQuery,
} from '@shared/tracks-api';
import { patrolCoverageJob, type PatrolPass } from './coverage-job';
import { coverageByRegion, microGridVisits, regionPathInScope, workerPatrol } from './repository';

declare module 'fastify' {
  interface FastifyInstance {
    /** Computes patrol coverage for each closed hour. */
    patrolCoverage: PeriodicJob<PatrolPass>;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

/**
 * Patrol coverage (巡查覆盖), the KPI: per region and Shanghai day, the share of its micro-grids that
 * workers' tracks (buffered 15 m, no gaps, no jumps) touched; per micro-grid the visits (the wall's
 * layer); per worker distance, micro-grids and time inside their own grid. Computed hourly by the job
 * runner and stored; read inside the caller's jurisdiction (a `parent` outside it is 404).
 */
export default fp(
  async function patrolRoutes(app: App): Promise<void> {
    const job = patrolCoverageJob(app.db, app.clock, app.log);
    app.decorate('patrolCoverage', job);
    app.addHook('onReady', async () => job.start());
    app.addHook('onClose', async () => job.stop());

    const parentPath = async (scope: Parameters<typeof regionPathInScope>[1], code: string | undefined) => {
      if (code === undefined) return undefined;
      const path = await regionPathInScope(app.db, scope, code);
      if (!path) throw new AppError('NOT_FOUND', 'No such region in your jurisdiction');
      return path;
    };

    app.get(
      '/api/patrol/coverage',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['patrol'],
          summary: 'Patrol coverage of a Shanghai day per region of a level (grid by default) under `parent`: micro-grids visited ÷ micro-grids, distance walked by the workers based there',
          querystring: CoverageQuery,
          response: { 200: CoverageList, ...errors },
        },
      },
      async (request) => {
        const scope = request.principal.scope;
        return coverageByRegion(app.db, scope, {
          day: request.query.date,
          level: request.query.level ?? 'grid',
          parentPath: await parentPath(scope, request.query.parent),
        });
      },
    );

    app.get(
      '/api/patrol/micro-grids',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['patrol'],
          summary: 'Micro-grids visited on a Shanghai day with their worker-hours and workers (the wall’s coverage layer)',
          querystring: MicroGridVisitsQuery,
          response: { 200: MicroGridVisits, ...errors },
        },
      },
      async (request) => {
        const scope = request.principal.scope;
        return microGridVisits(app.db, scope, { day: request.query.date, parentPath: await parentPath(scope, request.query.parent) });
      },
    );

    app.get(
      '/api/patrol/workers',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['patrol'],
          summary: 'Per worker on a Shanghai day: distance, micro-grids visited, time inside their own grid',
          querystring: WorkerPatrolQuery,
          response: { 200: WorkerPatrolList, ...errors },
        },
      },
      async (request) => {
        const scope = request.principal.scope;
        return workerPatrol(app.db, scope, { day: request.query.date, parentPath: await parentPath(scope, request.query.parent) });
      },
    );
  },
  { name: 'patrol' },
);
