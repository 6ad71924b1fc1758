/**
 * `GET /api/cameras/live` (WebSocket, Janus's `janus-protocol`): where a browser watches a WebRTC
 * play grant. It speaks Janus's own API, so janus.js connects to it as to Janus, with the grant as
 * its `token`; the first message redeems the grant (once: a second session presenting it gets
 * CAMERA_GRANT_USED, a late one CAMERA_GRANT_INVALID) and opens a session to Janus with a Janus token
 * made for it. Every message then goes on with that token in place of the grant, and a `watch` on
 * the grant's mountpoint gets its pin filled in: neither the token nor the pin reaches a browser.
 * Only the streaming plugin's viewer requests pass.
 */
import WebSocket, { type RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import type { App } from '../../app';
import { AppError } from '../../platform/errors';
import { CAMERA_LIVE_PATH, type CameraMedia, type RedeemedGrant } from './media';

/** Close code for a session refused its grant (4000–4999: the application's own); the reason is the error code. */
export const LIVE_CLOSE_REFUSED = 4403;
/** What a viewer may ask of the streaming plugin. */
const VIEWER_REQUESTS = new Set(['watch', 'start', 'pause', 'stop', 'configure']);
const STREAMING = 'janus.plugin.streaming';

type JanusMessage = { janus?: unknown; transaction?: unknown; token?: unknown; plugin?: unknown; body?: Record<string, unknown> } & Record<string, unknown>;

export function registerLiveRoute(app: App, media: CameraMedia): void {
  app.get(CAMERA_LIVE_PATH, {
    websocket: true,
    // The grant is the credential (a browser's WebSocket cannot carry a bearer header): one session, once, shortly.
    config: { auth: 'public' },
    schema: { tags: ['cameras'], summary: 'WebSocket to Janus (janus-protocol) for a WebRTC play grant: send the grant as the session token' },
  }, (socket) => {
    const target = app.video?.config.controlUrl;
    if (!target) {
      socket.close(LIVE_CLOSE_REFUSED, 'VIDEO_UNAVAILABLE');
      return;
    }
    serveLive(socket, media, target, app.log.child({ route: CAMERA_LIVE_PATH }));
  });
}

function serveLive(client: WebSocket, media: CameraMedia, target: string, log: FastifyBaseLogger): void {
  let grant: string | null = null;
  let redeemed: RedeemedGrant | null = null;
  let upstream: WebSocket | null = null;
  let closed = false;
  let claiming: Promise<boolean> = Promise.resolve(false);
  const pending: string[] = [];

  const reply = (msg: JanusMessage, reason: string) => {
    if (client.readyState !== WebSocket.OPEN) return;
    client.send(JSON.stringify({ janus: 'error', ...(typeof msg.transaction === 'string' ? { transaction: msg.transaction } : {}), error: { code: 403, reason } }));
  };
  const refuse = (msg: JanusMessage, code: string, message: string) => {
    reply(msg, `${code}: ${message}`);
    client.close(LIVE_CLOSE_REFUSED, code);
  };
  const end = () => {
    if (closed) return;
    closed = true;
    upstream?.close();
    if (client.readyState === WebSocket.OPEN) client.close(1000);
    void redeemed?.release();
  };

  const forward = (msg: JanusMessage) => {
    if (msg.token !== grant) {
      reply(msg, 'CAMERA_GRANT_INVALID: one session, one grant');
      return;
    }
    if (msg.janus === 'attach' && msg.plugin !== STREAMING) {
      reply(msg, 'FORBIDDEN: only the streaming plugin');
      return;
    }
    if (msg.janus === 'message') {
      const body = msg.body ?? {};
      if (!VIEWER_REQUESTS.has(String(body.request))) {
        reply(msg, `FORBIDDEN: ${String(body.request)} is not a viewer's request`);
        return;
      }
      if (body.request === 'watch') {
        if (Number(body.id) !== redeemed!.mountpoint) {
          reply(msg, 'CAMERA_GRANT_INVALID: this grant opens its own camera only');
          return;
        }
        msg.body = { ...body, pin: redeemed!.pin };
      }
    }
    const text = JSON.stringify({ ...msg, token: redeemed!.janusToken });
    if (upstream?.readyState === WebSocket.OPEN) upstream.send(text);
    else pending.push(text);
  };

  const open = (first: JanusMessage) => {
    upstream = new WebSocket(target, 'janus-protocol');
    upstream.on('open', () => {
      for (const text of pending.splice(0)) upstream!.send(text);
    });
    upstream.on('message', (data: RawData) => {
      if (client.readyState === WebSocket.OPEN) client.send(data.toString());
    });
    upstream.on('error', (err) => log.warn({ err }, 'camera live: Janus connection'));
    upstream.on('close', () => end());
    forward(first);
  };

  client.on('message', (data: RawData, isBinary: boolean) => {
    if (closed) return;
    let msg: JanusMessage;
    try {
      msg = isBinary ? {} : (JSON.parse(data.toString()) as JanusMessage);
    } catch {
      msg = {};
    }
    if (!msg || typeof msg !== 'object' || typeof msg.janus !== 'string') {
      refuse({}, 'VALIDATION_FAILED', 'Janus API messages (JSON) only.');
      return;
    }
    if (redeemed) {
      forward(msg);
      return;
    }
    if (grant !== null) {
      // Redeeming: hold this one until the grant is settled.
      void claiming.then((ok) => ok && !closed && forward(msg));
      return;
    }
    if (typeof msg.token !== 'string' || msg.token === '') {
      refuse(msg, 'CAMERA_GRANT_INVALID', 'Send the play grant as the token.');
      return;
    }
    grant = msg.token;
    claiming = media.redeem(grant).then(
      (r) => {
        redeemed = r;
        if (closed) {
          void r.release();
          return false;
        }
        open(msg);
        return true;
      },
      (error: unknown) => {
        const e = error instanceof AppError ? error : null;
        if (!e) log.warn({ err: error }, 'camera live: grant not redeemed');
        refuse(msg, e?.code ?? 'INTERNAL', e?.message ?? 'The grant could not be redeemed.');
        return false;
      },
    );
  });
  client.on('close', () => end());
  client.on('error', () => end());
}
