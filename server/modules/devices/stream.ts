import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import type { App } from '../../app';
import { AppError } from '../../platform/errors';
import type { DeviceFix, IngestOutcome } from '../positions/ingest';
import { decodeOsmAndParams, OsmAndError } from './osmand';

/** One message from a gateway: fixes in OsmAnd's parameter names, and a reference echoed back. */
interface StreamMessage {
  ref?: unknown;
  fixes?: unknown;
}

const MAX_FIXES = 5000;

export interface StreamReply {
  ref: unknown;
  stored: number;
  duplicate: number;
  rejected: { index: number; code: string; message: string }[];
}

/**
 * `GET /api/devices/stream` (WebSocket): gateways, tracker platforms and the stress simulator push
 * batches of fixes — `{"ref": 7, "fixes": [{"id": "…", "lat": …, "lon": …, "timestamp": …,
 * "speed": knots, "batt": …}, …]}` — and get `{"ref": 7, "stored", "duplicate", "rejected": […]}` once
 * every fix of the batch is stored. Each fix goes through the same ingest as an OsmAnd request.
 * Authenticated with an admin's bearer token (header or `?token=`): a gateway speaks for many devices.
 */
export async function registerDeviceStream(app: App): Promise<void> {
  // socket.io owns /socket.io/ upgrades; every other upgrade goes to @fastify/websocket.
  const upgrades = new EventEmitter();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!req.url?.startsWith('/socket.io/')) upgrades.emit('upgrade', req, socket, head);
  });
  await app.register(websocket, { options: { server: upgrades as never, maxPayload: 4 * 1024 * 1024 } });

  app.get(
    '/api/devices/stream',
    {
      websocket: true,
      config: { auth: 'public' },
      schema: { tags: ['devices'], summary: 'WebSocket stream of position batches from gateways (admin token)' },
      preValidation: async (request) => {
        const header = request.headers.authorization?.replace(/^Bearer /i, '');
        const query = (request.query as { token?: string }).token;
        const principal = app.authenticate(header || query);
        if (principal.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator’s token may stream positions for devices.');
        request.principal = principal;
      },
    },
    (socket) => {
      socket.on('message', async (raw: Buffer) => {
        let message: StreamMessage;
        try {
          message = JSON.parse(raw.toString('utf8')) as StreamMessage;
        } catch {
          socket.send(JSON.stringify({ code: 'VALIDATION_FAILED', message: 'Messages must be JSON.' }));
          return;
        }
        if (!Array.isArray(message.fixes) || message.fixes.length > MAX_FIXES) {
          socket.send(JSON.stringify({ ref: message.ref ?? null, code: 'VALIDATION_FAILED', message: `"fixes" must be an array of at most ${MAX_FIXES}.` }));
          return;
        }
        const reply: StreamReply = { ref: message.ref ?? null, stored: 0, duplicate: 0, rejected: [] };
        const outcomes = await Promise.all(
          message.fixes.map(async (f, index): Promise<[number, IngestOutcome]> => {
            let fix: DeviceFix;
            try {
              const params = new URLSearchParams();
              for (const [k, v] of Object.entries((f ?? {}) as Record<string, unknown>)) params.set(k, String(v));
              fix = decodeOsmAndParams(params);
            } catch (error) {
              if (error instanceof OsmAndError) return [index, { status: 'rejected', error: new AppError(error.code, error.message) }];
              throw error;
            }
            return [index, await app.ingest.submit(fix)];
          }),
        ).catch((error: unknown) => {
          app.log.error({ err: error }, 'device stream batch failed');
          return undefined;
        });
        if (!outcomes) {
          socket.send(JSON.stringify({ ref: message.ref ?? null, code: 'SERVICE_UNAVAILABLE', message: 'The batch could not be stored; send it again.' }));
          return;
        }
        for (const [index, o] of outcomes) {
          if (o.status === 'stored') reply.stored++;
          else if (o.status === 'duplicate') reply.duplicate++;
          else if (o.status === 'rejected') reply.rejected.push({ index, code: o.error.code, message: o.error.message });
        }
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(reply));
      });
    },
  );
}
