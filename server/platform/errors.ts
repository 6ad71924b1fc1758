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

/** Seconds a client is asked to wait before retrying a 503 SERVICE_UNAVAILABLE. */
export const RETRY_AFTER_S = 5;
