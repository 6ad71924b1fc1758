/**
 * The Janus proxy's reading of browser frames: a plugin message's `record` and `filename` are
 * removed (Janus 1.1.2 would let a publisher turn its own recording off, or write anywhere, on join),
 * frames split across chunks are reassembled, other messages pass byte for byte, and fragmented text
 * or an extension's bits end the connection.
 */
import { describe, expect, it } from 'vitest';
import { ClientFrameFilter, sanitizeJanusMessage } from '../../server/modules/video/proxy';

function clientFrame(text: string, opts: { fin?: boolean; opcode?: number; rsv?: number } = {}): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const n = payload.length;
  const b0 = ((opts.fin ?? true) ? 0x80 : 0) | (opts.rsv ?? 0) | (opts.opcode ?? 1);
  const head = n < 126 ? Buffer.from([b0, 0x80 | n]) : Buffer.from([b0, 0x80 | 126, n >> 8, n & 0xff]);
  const masked = Buffer.from(payload.map((c, i) => c ^ mask[i & 3]!));
  return Buffer.concat([head, mask, masked]);
}

function readClientFrames(b: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < b.length) {
    let len = b[at + 1]! & 0x7f;
    let h = 2;
    if (len === 126) {
      len = b.readUInt16BE(at + 2);
      h = 4;
    }
    const mask = b.subarray(at + h, at + h + 4);
    const p = Buffer.from(b.subarray(at + h + 4, at + h + 4 + len)).map((c, i) => c ^ mask[i & 3]!);
    out.push(Buffer.from(p).toString('utf8'));
    at += h + 4 + len;
  }
  return out;
}

describe('the Janus proxy’s frame filter', () => {
  it('removes record and filename from a plugin message, leaves everything else alone', () => {
    expect(JSON.parse(sanitizeJanusMessage(JSON.stringify({ janus: 'message', body: { request: 'join', room: 1, record: false, filename: '../x' } }))!)).toEqual({ janus: 'message', body: { request: 'join', room: 1 } });
    expect(sanitizeJanusMessage(JSON.stringify({ janus: 'message', body: { request: 'configure', bitrate: 1 } }))).toBeNull();
    expect(sanitizeJanusMessage('not json')).toBeNull();
  });

  it('rewrites such a frame (split across chunks, long enough for a 16-bit length), passes the others byte for byte', () => {
    const sdp = 'v=0'.padEnd(400, 'x');
    const tampered = clientFrame(JSON.stringify({ janus: 'message', body: { request: 'join', record: false, filename: '/etc/cron.d/x' }, jsep: { sdp } }));
    const plain = clientFrame(JSON.stringify({ janus: 'keepalive' }));
    const ping = clientFrame('', { opcode: 9 });
    const chunks: Buffer[] = [];
    let failed = false;
    const filter = new ClientFrameFilter((c) => chunks.push(c), () => (failed = true));
    const all = Buffer.concat([tampered, plain, ping]);
    for (let i = 0; i < all.length; i += 7) filter.push(all.subarray(i, i + 7));
    expect(failed).toBe(false);
    const [first, second, third] = readClientFrames(Buffer.concat(chunks));
    expect(JSON.parse(first!)).toEqual({ janus: 'message', body: { request: 'join' }, jsep: { sdp } });
    expect(second).toBe(JSON.stringify({ janus: 'keepalive' }));
    expect(third).toBe('');
    expect(Buffer.concat(chunks).subarray(-ping.length).equals(ping)).toBe(true);
  });

  it('ends the connection on fragmented text or an extension’s bits', () => {
    for (const frame of [clientFrame('{"janus":', { fin: false }), clientFrame('{}', { rsv: 0x40 })]) {
      let failed = false;
      new ClientFrameFilter(() => {}, () => (failed = true)).push(frame);
      expect(failed).toBe(true);
    }
  });
});
