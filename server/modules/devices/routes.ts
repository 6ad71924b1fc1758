import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AppError, handleError, RETRY_AFTER_S } from '../../platform/errors';
import type { PositionIngest } from '../positions/ingest';
import { decodeOsmAndJson, decodeOsmAndParams, OsmAndError } from './osmand';

/**
 * OsmAnd endpoint: one position per request, any method. Devices identify themselves by their
 * registered id (the protocol has no other credential), so the route is reachable without a user
 * token; an unregistered id is refused. Replies 200 with an empty body once the fix is stored (or
 * was already: a resend), 503 SERVICE_UNAVAILABLE with Retry-After when it could not be stored now.
 */
export function osmAndHandler(ingest: PositionIngest) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const isJson = (request.headers['content-type'] ?? '').startsWith('application/json');
    let fix;
    try {
      if (isJson) fix = decodeOsmAndJson(request.body);
      else {
        const query = request.raw.url?.split('?')[1] ?? '';
        const form = typeof request.body === 'string' ? request.body : '';
        fix = decodeOsmAndParams(new URLSearchParams(query || form));
      }
    } catch (error) {
      if (error instanceof OsmAndError) return reply.code(400).send({ code: error.code, message: error.message });
      throw error;
    }
    const outcome = await ingest.submit(fix);
    if (outcome.status === 'rejected') {
      // Traccar's decoder answers an unknown device in a JSON body with 404, in a query with 400.
      const status = outcome.error.code === 'DEVICE_UNKNOWN' && isJson ? 404 : outcome.error.statusCode;
      // The database is away or behind: Traccar Client keeps the fix and sends it again.
      if (outcome.error.code === 'SERVICE_UNAVAILABLE') void reply.header('retry-after', String(RETRY_AFTER_S));
      return reply.code(status).send({ code: outcome.error.code, message: outcome.error.message });
    }
    return reply.code(200).send('');
  };
}

/** Registers the OsmAnd route at `path` in an encapsulated context that reads any body as text. */
export async function registerOsmAnd(app: FastifyInstance, ingest: PositionIngest, path: string): Promise<void> {
  await app.register(async (scope) => {
    // Also on the separate OsmAnd port, whose Fastify has no handler of its own: stable codes, no internal text.
    scope.setErrorHandler(handleError);
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      try {
        done(null, body === '' ? {} : JSON.parse(body as string));
      } catch {
        done(new AppError('POSITION_INVALID', 'The JSON body could not be parsed.'), undefined);
      }
    });
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    scope.route({
      method: ['GET', 'POST', 'PUT'],
      url: path,
      config: { auth: 'public' },
      schema: { tags: ['devices'], summary: 'OsmAnd / Traccar Client position report (one fix per request)', hide: path === '/' },
      handler: osmAndHandler(ingest),
    });
  });
}

/**
 * The OsmAnd endpoint alone at `/` on its own Fastify (Traccar's port 5055), with the app's logger
 * and the same error handling as the app: stable codes, never internal text.
 */
export async function buildOsmAndServer(ingest: PositionIngest, logger?: FastifyBaseLogger): Promise<FastifyInstance> {
  const server = Fastify({ ...(logger ? { loggerInstance: logger } : {}), logController: new LogController({ disableRequestLogging: true }) });
  server.setErrorHandler(handleError);
  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `No route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}` }));
  await registerOsmAnd(server, ingest, '/');
  return server;
}
