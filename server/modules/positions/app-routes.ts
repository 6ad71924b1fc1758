import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import { APP_FIX_MAX_ACCURACY_M, AppFixesBody, AppFixesReply, type AppFixResult } from '@shared/field';
import { AppError, RETRY_AFTER_S } from '../../platform/errors';

/**
 * `POST /api/positions`: the worker's phone (/field) shares its position with the worker's own
 * token — only that worker's (the account's users.worker_id), through the same ingest as every
 * device, so the wall sees the worker online at the first stored fix and a phone that also runs
 * Traccar Client is still one worker. Answered once every fix is settled, one result per fix:
 * stored (committed), duplicate (a resend of a fix already stored: the phone's retry never counts
 * twice) or rejected with a code. When nothing could be stored because the server is under
 * pressure: 503 SERVICE_UNAVAILABLE with Retry-After, and the phone keeps its queue.
 */
export default async function appPositionRoutes(app: App): Promise<void> {
  app.post(
    '/api/positions',
    {
      config: { auth: ['worker'] },
      schema: {
        tags: ['devices'],
        summary: 'The worker’s phone reports its own positions (the signed-in worker’s token); one result per fix',
        description: `Fixes less accurate than ${APP_FIX_MAX_ACCURACY_M} m are refused (POSITION_INVALID). `
          + 'A fix already stored (same time) is a duplicate. 503 with Retry-After when none could be stored now.',
        body: AppFixesBody,
        response: { 200: AppFixesReply, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { workerId } = request.principal;
      if (workerId === null || !app.ingest.state.workers.has(workerId)) {
        throw new AppError('FORBIDDEN', 'This account is not linked to a grid worker: it has no position to share.');
      }
      const results = await Promise.all(request.body.fixes.map(async (f, index): Promise<AppFixResult> => {
        const echo = f.clientId === undefined ? {} : { clientId: f.clientId };
        if (f.accuracy !== undefined && f.accuracy > APP_FIX_MAX_ACCURACY_M) {
          return { index, ...echo, status: 'rejected', code: 'POSITION_INVALID', message: `Less accurate than ${APP_FIX_MAX_ACCURACY_M} m.` };
        }
        const outcome = await app.ingest.submitForWorker(workerId, {
          time: Date.parse(f.time),
          lon: f.lon,
          lat: f.lat,
          accuracy: f.accuracy,
          speed: f.speed,
          heading: f.heading,
        });
        return outcome.status === 'rejected'
          ? { index, ...echo, status: 'rejected', code: outcome.error.code, message: outcome.error.message }
          : { index, ...echo, status: outcome.status };
      }));
      const count = (s: AppFixResult['status']) => results.filter((r) => r.status === s).length;
      const unavailable = results.some((r) => r.code === 'SERVICE_UNAVAILABLE');
      const settled = count('stored') + count('duplicate');
      if (unavailable && settled === 0) {
        throw new AppError('SERVICE_UNAVAILABLE', `The positions could not be stored right now; send them again in ${RETRY_AFTER_S} s.`);
      }
      if (unavailable) void reply.header('retry-after', String(RETRY_AFTER_S));
      return {
        results,
        stored: count('stored'),
        duplicate: count('duplicate'),
        rejected: count('rejected'),
        ...(unavailable ? { retryAfterS: RETRY_AFTER_S } : {}),
      };
    },
  );
}
