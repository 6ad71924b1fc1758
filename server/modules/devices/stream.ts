import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { App } from '../../app';
import { AppError, RETRY_AFTER_S } from '../../platform/errors';
import type { Principal } from '../../platform/auth/scope';
import type { ErrorCode } from '@shared/errors';
import type { DeviceFix } from '../positions/ingest';
import { decodeOsmAndParams, OsmAndError } from './osmand';

/** Fixes in one message at most. */
export const STREAM_MAX_FIXES = 5000;
/** Bytes in one message at most (5,000 fixes in OsmAnd's parameter names fit well inside). */
export const STREAM_MAX_PAYLOAD = 2 * 1024 * 1024;
/** Batches of one socket worked on at once; the next ones wait (past PAUSE_AT waiting, the socket stops reading). */
const MAX_IN_FLIGHT = 4;
/** Messages of one socket waiting their turn before it stops reading from the network. */
const PAUSE_AT = 8;
/** Messages that may still arrive after the pause (already in the buffers); beyond, each is refused. */
const MAX_WAITING = 32;

/** The subprotocol a client offers beside its token (`gridline.token.<jwt>`); the server selects it. */
export const STREAM_PROTOCOL = 'gridline.v1';
export const STREAM_TOKEN_PREFIX = 'gridline.token.';

export interface FixResult {
  index: number;
  status: 'stored' | 'duplicate' | 'rejected';
  code?: ErrorCode;
  message?: string;
}

/** The answer to one batch: one result per fix, in order, and the counts. */
export interface StreamReply {
  ref: string | number | null;
  results: FixResult[];
  stored: number;
  duplicate: number;
  rejected: number;
  /** Present when some fix could not be stored now (SERVICE_UNAVAILABLE): send those again after this long. */
  retryAfterS?: number;
}

/** The answer to a message that is not a batch at all (or is refused whole): nothing of it was stored. */
export interface StreamError {
  ref: string | number | null;
  code: ErrorCode;
  message: string;
  retryAfterS?: number;
}

/** A token from `Authorization: Bearer …` (gateways) or the offered subprotocols (browsers). Never from the URL. */
function streamToken(request: FastifyRequest): string | undefined {
  const [scheme, value] = (request.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() === 'bearer' && value) return value;
  const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const entry = offered.find((p) => p.startsWith(STREAM_TOKEN_PREFIX));
  return entry ? entry.slice(STREAM_TOKEN_PREFIX.length) : undefined;
}

const refOf = (ref: unknown): string | number | null | undefined =>
  ref === undefined || ref === null ? null
    : typeof ref === 'number' && Number.isFinite(ref) ? ref
      : typeof ref === 'string' && ref.length <= 128 ? ref
        : undefined;

/** One fix of a batch in OsmAnd's parameter names → a fix, or why not. */
function decodeStreamFix(f: unknown): DeviceFix | FixResult {
  if (f === null || typeof f !== 'object' || Array.isArray(f)) {
    return { index: -1, status: 'rejected', code: 'VALIDATION_FAILED', message: 'Each fix must be an object in OsmAnd’s parameter names.' };
  }
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params.set(k, String(v));
  }
  try {
    return decodeOsmAndParams(params);
  } catch (error) {
    if (error instanceof OsmAndError) return { index: -1, status: 'rejected', code: error.code, message: error.message };
    throw error;
  }
}

/**
 * `GET /api/devices/stream` (WebSocket): gateways, tracker platforms and the stress simulator push
 * batches of fixes — `{"ref": 7, "fixes": [{"id": "…", "lat": …, "lon": …, "timestamp": …,
 * "speed": knots, "batt": …}, …]}` — and get, once every fix of the batch is settled,
 * `{"ref": 7, "results": [{"index": 0, "status": "stored"}, …], "stored", "duplicate", "rejected"}`.
 * Each fix goes through the same ingest as an OsmAnd request, and only for devices whose worker lies
 * in the token's jurisdiction.
 *
 * Authenticated with an administrator's token at the upgrade: `Authorization: Bearer …` (gateways),
 * or the subprotocols `gridline.v1, gridline.token.<jwt>` (browsers, which cannot set headers); the
 * server selects `gridline.v1`. A token in the URL is not accepted (URLs end up in logs).
 */
export async function registerDeviceStream(app: App, options: { maxFixesPerS: number }): Promise<void> {
  // socket.io owns /socket.io/ upgrades and the video proxy /api/video/janus (modules/video/proxy.ts);
  // every other upgrade goes to @fastify/websocket.
  const upgrades = new EventEmitter();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!req.url?.startsWith('/socket.io/') && req.url?.split('?')[0] !== '/api/video/janus') upgrades.emit('upgrade', req, socket, head);
  });
  await app.register(websocket, {
    options: {
      server: upgrades as never,
      maxPayload: STREAM_MAX_PAYLOAD,
      // Never echo the token protocol back: select the plain one (a client offering protocols needs one selected).
      // The cameras' Janus proxy (/api/cameras/live) speaks Janus's own subprotocol to janus.js.
      handleProtocols: (protocols: Set<string>) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : protocols.has('janus-protocol') ? 'janus-protocol' : false),
    },
    errorHandler: (error, socket, request) => {
      request.log.warn({ err: error, user: request.principal?.username }, 'device stream socket error');
      socket.terminate();
    },
  });

  app.get(
    '/api/devices/stream',
    {
      websocket: true,
      // Authenticated below, from the header or the subprotocol (the plugin reads only the header).
      config: { auth: 'public' },
      schema: { tags: ['devices'], summary: 'WebSocket stream of position batches from gateways (admin token)' },
      preValidation: async (request) => {
        const principal = app.authenticate(streamToken(request));
        if (principal.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator’s token may stream positions for devices.');
        request.principal = principal;
      },
    },
    (socket, request) => {
      serveStream(app, socket, request.principal, streamToken(request), options.maxFixesPerS);
    },
  );
}

/** WebSocket close code for a stream whose token expired or was revoked (4000–4999: the application's own). */
export const STREAM_CLOSE_AUTH = 4401;

function serveStream(app: App, socket: WebSocket, principal: Principal, token: string | undefined, maxFixesPerS: number): void {
  const log = app.log.child({ stream: principal.username });
  // A stream lives for days: the token checked at the upgrade must stay good for every batch, and a
  // revocation (deactivation, password or jurisdiction change) ends the stream at once.
  const endForAuth = (code: ErrorCode, message: string) => {
    send({ ref: null, code, message });
    socket.close(STREAM_CLOSE_AUTH, code);
  };
  const stillValid = (): boolean => {
    try {
      app.authenticate(token);
      return true;
    } catch (error) {
      const e = error as { code?: ErrorCode; message?: string };
      endForAuth(e.code ?? 'AUTH_TOKEN_INVALID', e.message ?? 'Sign in again.');
      return false;
    }
  };
  const offRevoked = app.sessions.onRevoked((userId) => {
    if (userId === principal.userId) endForAuth('AUTH_TOKEN_REVOKED', 'This account’s tokens were revoked: connect again with a new token.');
  });
  socket.on('close', () => offRevoked());
  const waiting: Buffer[] = [];
  let inFlight = 0;
  let paused = false;
  // Token bucket: up to a second's worth (at least one full batch) at once, refilled continuously.
  const capacity = Math.max(maxFixesPerS, STREAM_MAX_FIXES);
  let tokens = capacity;
  let filledAt = performance.now();

  const send = (body: StreamReply | StreamError) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(JSON.stringify(body), (error) => {
      if (error) log.warn({ err: error }, 'device stream reply not sent');
    });
  };

  const pump = () => {
    while (inFlight < MAX_IN_FLIGHT && waiting.length > 0) {
      const raw = waiting.shift()!;
      inFlight++;
      handle(raw)
        .catch((error: unknown) => {
          // handle() answers every failure itself; this is the last line, never a crash.
          log.error({ err: error }, 'device stream message failed');
          send({ ref: null, code: 'INTERNAL', message: 'The message could not be handled; it has been logged.' });
        })
        .finally(() => {
          inFlight--;
          pump();
        });
    }
    if (!paused && waiting.length >= PAUSE_AT) {
      paused = true;
      socket.pause();
    } else if (paused && waiting.length < PAUSE_AT / 2) {
      paused = false;
      socket.resume();
    }
  };

  const handle = async (raw: Buffer): Promise<void> => {
    let message: unknown;
    try {
      message = JSON.parse(raw.toString('utf8'));
    } catch {
      send({ ref: null, code: 'VALIDATION_FAILED', message: 'Messages must be JSON.' });
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      send({ ref: null, code: 'VALIDATION_FAILED', message: 'A message is an object: {"ref": …, "fixes": […]}.' });
      return;
    }
    const { ref: rawRef, fixes } = message as { ref?: unknown; fixes?: unknown };
    const ref = refOf(rawRef);
    if (ref === undefined) {
      send({ ref: null, code: 'VALIDATION_FAILED', message: '"ref" must be a number or a string of at most 128 characters.' });
      return;
    }
    if (!Array.isArray(fixes) || fixes.length > STREAM_MAX_FIXES) {
      send({ ref, code: 'VALIDATION_FAILED', message: `"fixes" must be an array of at most ${STREAM_MAX_FIXES}.` });
      return;
    }
    const now = performance.now();
    tokens = Math.min(capacity, tokens + ((now - filledAt) / 1000) * maxFixesPerS);
    filledAt = now;
    if (fixes.length > tokens) {
      const retryAfterS = Math.max(1, Math.ceil((fixes.length - tokens) / maxFixesPerS));
      send({ ref, code: 'RATE_LIMITED', message: `At most ${maxFixesPerS} fixes a second on one stream: send this batch again later.`, retryAfterS });
      return;
    }
    tokens -= fixes.length;

    const results = await Promise.all(fixes.map(async (f, index): Promise<FixResult> => {
      try {
        const fix = decodeStreamFix(f);
        if ('status' in fix) return { ...fix, index };
        const outcome = await app.ingest.submit(fix, { scope: principal.scope });
        return outcome.status === 'rejected'
          ? { index, status: 'rejected', code: outcome.error.code, message: outcome.error.message }
          : { index, status: outcome.status };
      } catch (error) {
        log.error({ err: error, ref, index }, 'device stream fix failed');
        return { index, status: 'rejected', code: 'INTERNAL', message: 'This fix could not be handled; it has been logged.' };
      }
    }));
    const reply: StreamReply = { ref, results, stored: 0, duplicate: 0, rejected: 0 };
    for (const r of results) reply[r.status === 'rejected' ? 'rejected' : r.status]++;
    if (results.some((r) => r.code === 'SERVICE_UNAVAILABLE')) reply.retryAfterS = RETRY_AFTER_S;
    send(reply);
  };

  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const raw = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (waiting.length >= MAX_WAITING) {
      send({ ref: null, code: 'RATE_LIMITED', message: `Wait for replies: at most ${MAX_IN_FLIGHT + MAX_WAITING} batches may be outstanding on one stream.`, retryAfterS: 1 });
      return;
    }
    if (!stillValid()) return;
    waiting.push(raw);
    pump();
  });
}
