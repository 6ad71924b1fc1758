import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '@shared/errors';

/** An error the client can act on: stable code, HTTP status from the code, human message. */
export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = ERROR_CODES[code];
  }
}

/**
 * The one error handler of every Fastify instance we run (the app, the OsmAnd port): an AppError
 * keeps its code and status; Fastify's own 4xx become stable codes; anything else is logged with
 * its request and answered 500 INTERNAL without internal text (no SQL, no stack).
 */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof AppError) {
    // A retryable refusal says when to come back (an error may carry its own `retryAfterS`).
    const retryAfterS = (error as { retryAfterS?: unknown }).retryAfterS;
    if (typeof retryAfterS === 'number') void reply.header('retry-after', String(retryAfterS));
    else if (error.code === 'SERVICE_UNAVAILABLE') void reply.header('retry-after', String(RETRY_AFTER_S));
    return reply.code(error.statusCode).send({ code: error.code, message: error.message });
  }
  const err = error as { validation?: unknown; statusCode?: number; code?: string; message: string };
  if (err.validation) {
    return reply.code(400).send({ code: 'VALIDATION_FAILED', message: err.message });
  }
  if (err.statusCode === 413) return reply.code(413).send({ code: 'PAYLOAD_TOO_LARGE', message: err.message });
  if (err.statusCode === 415) return reply.code(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Fastify's own refusals and a body's JSON syntax describe the request; a library's other text is not for the caller.
    const own = err.code?.startsWith('FST_') || error instanceof SyntaxError;
    return reply.code(err.statusCode).send({ code: 'VALIDATION_FAILED', message: own ? err.message : 'The request could not be processed.' });
  }
  if (isDatabaseUnavailable(error)) {
    // The database is away (restarting, unreachable, out of connections): nothing was stored, try again.
    request.log.warn({ err: error, method: request.method, url: request.url.split('?')[0] }, 'database unavailable');
    void reply.header('retry-after', String(RETRY_AFTER_S));
    return reply.code(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'The database is unavailable for a moment: nothing was stored; send it again shortly.' });
  }
  if (isDataException(error)) {
    // A value the database could not take (out of range, malformed): the request's fault, without the database's words.
    request.log.warn({ err: error, method: request.method, url: request.url.split('?')[0] }, 'value refused by the database');
    return reply.code(400).send({ code: 'VALIDATION_FAILED', message: 'A value in the request is out of range or malformed.' });
  }
  request.log.error({ err: error, method: request.method, url: request.url.split('?')[0] }, 'unhandled error');
  return reply.code(500).send({ code: 'INTERNAL', message: 'Something went wrong on the server; it has been logged.' });
}

/** A PostgreSQL error (pg or PGlite) of SQLSTATE class 22, data exception: invalid input, numeric or date out of range. */
function isDataException(error: unknown): boolean {
  const e = error as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';
}

/**
 * The database cannot be reached or refused the session: SQLSTATE class 08 (connection exception),
 * 57P01–57P03 (shut down / restarting), 53300 (too many connections), the socket errors of a
 * server that is away, and the pool's own timeouts and lost connections.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated unexpectedly)/.test(message);
}

/** Seconds a client is asked to wait before retrying a 503 SERVICE_UNAVAILABLE. */
export const RETRY_AFTER_S = 5;
