import type { App } from '../../app';
import { ErrorResponse, WorkerList, WorkersQuery } from '@shared/api';
import { listWorkers } from './repository';
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
}
