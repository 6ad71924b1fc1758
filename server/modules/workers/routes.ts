import type { App } from '../../app';
import { ErrorResponse, WorkerList, WorkersQuery } from '@shared/api';
import { OnlineHistory, OnlineHistoryQuery, ONLINE_HISTORY_ROLES, ONLINE_HISTORY_STEP_S } from '@shared/workers-api';
import { listWorkers, onlineCounts, presenceIslands } from './repository';
import { LiveState } from '../positions/live-state';

export default async function workerRoutes(app: App): Promise<void> {
  app.get(
    '/api/workers',
    {
      schema: {
        tags: ['workers'],
        summary: 'Workers in the caller’s jurisdiction, with role and home grid',
        querystring: WorkersQuery,
        response: { 200: WorkerList, 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (request) => {
      const workers = await listWorkers(app.db, request.principal.scope, request.query);
      if (request.query.online === undefined) return workers;
      // Live state lives in memory (kept in step with every fix); the database list gives the scope.
      const live = app.ingest.state.workers;
      return workers.flatMap((w) => {
        const lw = live.get(w.id);
        const online = lw !== undefined && LiveState.isOnline(lw);
        if (online !== request.query.online) return [];
        if (!lw?.hasFix) return [w];
        return [{
          ...w,
          position: {
            lon: lw.lon,
            lat: lw.lat,
            time: new Date(lw.time).toISOString(),
            speed: Number.isNaN(lw.speed) ? null : lw.speed,
            battery: lw.battery < 0 ? null : lw.battery,
          },
        }];
      });
    },
  );

  app.get(
    '/api/workers/online-history',
    {
      config: { auth: ONLINE_HISTORY_ROLES },
      schema: {
        tags: ['workers'],
        summary: 'Field workers online per minute over the last hours, from stored positions, in the caller’s jurisdiction',
        querystring: OnlineHistoryQuery,
        response: { 200: OnlineHistory, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (request) => {
      const to = app.clock.now();
      const from = to - (request.query.hours ?? 2) * 3_600_000;
      const offlineAfterMs = app.ingest.offlineAfterMs;
      const islands = await presenceIslands(app.db, request.principal.scope, new Date(from), new Date(to), offlineAfterMs);
      return { stepS: ONLINE_HISTORY_STEP_S, offlineAfterMs, ...onlineCounts(islands, from, to, offlineAfterMs, ONLINE_HISTORY_STEP_S * 1000) };
    },
  );
}
