/**
 * Browsers reach Janus's WebSocket API through the app's own origin (`/api/video/janus`): one port,
 * the same TLS as the dashboard behind a proxy, and nothing to add to the Content-Security-Policy
 * ('self' covers it). A byte-level pipe of the upgrade to Janus's WebSocket port; only upgrades
 * asking for Janus's subprotocol pass. Janus itself still refuses anyone without a grant's token.
 */
import { connect } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

export const JANUS_PROXY_PATH = '/api/video/janus';

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
        if (/^(host|x-forwarded-.*)$/i.test(name)) continue;
        lines.push(`${name}: ${req.rawHeaders[i + 1]!}`);
      }
      lines.push(`Host: ${target.host}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
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
