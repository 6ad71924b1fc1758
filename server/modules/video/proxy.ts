/**
 * Browsers reach Janus's WebSocket API through the app's own origin (`/api/video/janus`): one port,
 * the same TLS as the dashboard behind a proxy, and nothing to add to the Content-Security-Policy
 * ('self' covers it). A byte-level pipe of the upgrade to Janus's WebSocket port; only upgrades
 * asking for Janus's subprotocol pass. Janus itself still refuses anyone without a grant's token.
 *
 * The browser's side is read frame by frame (no compression is negotiated): a plugin message's
 * `record` and `filename` are removed before Janus sees them. Janus 1.1.2 lets a publisher set both
 * when joining even in a room whose recording is locked — turning its own recording off, or writing
 * .mjr files to any path Janus may write. Recording is the server's decision (CONSULT_RECORDING).
 */
import { connect } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export const JANUS_PROXY_PATH = '/api/video/janus';

/** The largest frame a browser may send (an offer with candidates is a few kB). */
const MAX_FRAME = 1 << 20;

/** Removes what a browser may not decide from one Janus API message; null: unchanged. */
export function sanitizeJanusMessage(text: string): string | null {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  const body = (m as { body?: unknown } | null)?.body;
  if (!body || typeof body !== 'object') return null;
  const b = body as Record<string, unknown>;
  if (!('record' in b) && !('filename' in b)) return null;
  delete b.record;
  delete b.filename;
  return JSON.stringify(m);
}

/**
 * Reads a browser's WebSocket frames (masked, client to server) and passes them on, rewriting the
 * text frames `sanitizeJanusMessage` changes. Fragmented text, reserved bits (an extension) or an
 * oversized frame end the connection: browsers send Janus's JSON as single frames.
 */
export class ClientFrameFilter {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly out: (chunk: Buffer) => void, private readonly fail: () => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const rsv = b[0]! & 0x70;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) return this.fail();
        len = Number(big);
        at = 10;
      }
      if (rsv !== 0 || !masked || len > MAX_FRAME || opcode === 0 || (opcode === 1 && !fin)) return this.fail();
      const total = at + 4 + len;
      if (b.length < total) return;
      const frame = b.subarray(0, total);
      this.buf = b.subarray(total);
      if (opcode !== 1) {
        this.out(frame);
        continue;
      }
      const mask = frame.subarray(at, at + 4);
      const payload = Buffer.from(frame.subarray(at + 4));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      const changed = sanitizeJanusMessage(payload.toString('utf8'));
      if (changed === null) {
        this.out(frame);
        continue;
      }
      this.out(encodeClientTextFrame(changed, mask));
    }
  }
}

function encodeClientTextFrame(text: string, mask: Buffer): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x81;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x81;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  for (let i = 0; i < n; i++) payload[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, payload]);
}

export function attachJanusProxy(server: Server, targetUrl: string): () => void {
  const target = new URL(targetUrl);
  const port = Number(target.port || (target.protocol === 'wss:' ? 443 : 80));
  /** Open pipes: ended when the app closes, so a call in progress never holds the shutdown. */
  const open = new Set<Duplex>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== JANUS_PROXY_PATH) return; // socket.io's, or nobody's
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!protocols.includes('janus-protocol') || target.protocol !== 'ws:') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = connect(port, target.hostname);
    open.add(socket).add(upstream);
    const fail = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.once('error', () => {
      if (socket.writable) socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      fail();
    });
    socket.once('error', fail);
    upstream.once('connect', () => {
      const lines = [`GET ${target.pathname || '/'} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        // No extension (permessage-deflate): the filter reads the browser's frames as they are.
        if (/^(host|x-forwarded-.*|sec-websocket-extensions)$/i.test(name)) continue;
        lines.push(`${name}: ${req.rawHeaders[i + 1]!}`);
      }
      lines.push(`Host: ${target.host}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      const filter = new ClientFrameFilter(
        (chunk) => {
          if (!upstream.write(chunk)) {
            socket.pause();
            upstream.once('drain', () => socket.resume());
          }
        },
        fail,
      );
      upstream.pipe(socket);
      if (head.length) filter.push(head);
      socket.on('data', (chunk: Buffer) => filter.push(chunk));
    });
    upstream.once('close', () => {
      open.delete(upstream);
      socket.destroy();
    });
    socket.once('close', () => {
      open.delete(socket);
      upstream.destroy();
    });
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const s of open) s.destroy();
    open.clear();
  };
}
