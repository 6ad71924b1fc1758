/**
 * An RTSP camera for tests. ffmpeg cannot serve RTSP to a player (its `-rtsp_flags listen` is the
 * demuxer's: it waits for someone to push), so ffmpeg encodes testsrc2 to H.264 (baseline) RTP on a
 * loopback UDP port and this small server answers the player: OPTIONS, DESCRIBE (SDP), SETUP (RTP
 * over UDP `client_port`, or interleaved over the RTSP connection), PLAY, GET_PARAMETER, TEARDOWN;
 * with credentials it refuses requests without them (401, offering Digest and Basic) as cameras do.
 * RTSP_DEBUG=1 prints each request and answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';

export interface TestRtspServer {
  /** rtsp://127.0.0.1:<port>/<path>, without credentials. */
  readonly url: string;
  readonly port: number;
  /** Requests answered with and without valid credentials. */
  readonly auth: { ok: number; refused: number };
  /** Sessions receiving RTP now. */
  playing(): number;
  /** RTP packets sent to players so far. */
  readonly relayed: { packets: number };
  close(): Promise<void>;
}

interface Session {
  id: string;
  owner: Socket;
  udp?: { host: string; port: number };
  channel?: number;
  playing: boolean;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function bindUdp(): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return socket;
}

export async function startRtspServer(options: { user?: string; password?: string; path?: string; size?: string; fps?: number } = {}): Promise<TestRtspServer> {
  const path = options.path ?? 'cam';
  const realm = 'gridline-test-camera';
  const nonce = randomBytes(8).toString('hex');
  const rtpIn = await bindUdp();
  // Players get RTP from this one (its port is the server_port they are told), so what they send
  // there (NAT punching, RTCP) never mixes with ffmpeg's packets.
  const rtpOut = await bindUdp();
  const sessions = new Map<string, Session>();
  const auth = { ok: 0, refused: 0 };
  const relayed = { packets: 0 };

  rtpIn.on('message', (packet) => {
    for (const s of sessions.values()) {
      if (!s.playing) continue;
      relayed.packets++;
      if (s.udp) rtpOut.send(packet, s.udp.port, s.udp.host);
      else if (s.channel !== undefined && s.owner.writable) {
        const head = Buffer.from([0x24, s.channel, packet.length >> 8, packet.length & 0xff]);
        s.owner.write(Buffer.concat([head, packet]));
      }
    }
  });

  const fps = options.fps ?? 15;
  const ffmpeg: ChildProcess = spawn('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${options.size ?? '640x360'}:rate=${fps}`,
    '-an', '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-g', String(fps), '-keyint_min', String(fps), '-bf', '0', '-b:v', '500k',
    '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${(rtpIn.address()).port}?pkt_size=1200`,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });

  const authorised = (method: string, headers: Map<string, string>): boolean => {
    if (!options.user) return true;
    const header = headers.get('authorization') ?? '';
    if (header.startsWith('Basic ')) return Buffer.from(header.slice(6), 'base64').toString() === `${options.user}:${options.password ?? ''}`;
    if (header.startsWith('Digest ')) {
      const p = new Map([...header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1]!, m[2] ?? m[3] ?? '']));
      if (p.get('username') !== options.user || p.get('nonce') !== nonce) return false;
      const ha1 = md5(`${options.user}:${realm}:${options.password ?? ''}`);
      const ha2 = md5(`${method}:${p.get('uri') ?? ''}`);
      const expected = p.get('qop') ? md5(`${ha1}:${nonce}:${p.get('nc')}:${p.get('cnonce')}:${p.get('qop')}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
      return p.get('response') === expected;
    }
    return false;
  };

  const handle = (socket: Socket, method: string, uri: string, headers: Map<string, string>): string => {
    const cseq = headers.get('cseq') ?? '0';
    const answer = (status: string, extra: string[] = [], body = '') =>
      [`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, ...extra, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), '', body].join('\r\n');
    if (method !== 'OPTIONS' && !authorised(method, headers)) {
      auth.refused++;
      return answer('401 Unauthorized', [`WWW-Authenticate: Digest realm="${realm}", nonce="${nonce}"`, `WWW-Authenticate: Basic realm="${realm}"`]);
    }
    if (method !== 'OPTIONS') auth.ok++;
    const session = sessions.get((headers.get('session') ?? '').split(';')[0]!.trim());
    switch (method) {
      case 'OPTIONS':
        return answer('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
      case 'DESCRIBE': {
        if (!uri.replace(/\/$/, '').endsWith(`/${path}`)) return answer('404 Not Found');
        const sdp = [
          'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=Gridline test camera', 'c=IN IP4 0.0.0.0', 't=0 0', 'a=control:*',
          'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f', 'a=control:trackID=0', '',
        ].join('\r\n');
        return answer('200 OK', ['Content-Type: application/sdp', `Content-Base: ${uri.replace(/\/$/, '')}/`], sdp);
      }
      case 'SETUP': {
        const transport = headers.get('transport') ?? '';
        const s: Session = session ?? { id: randomBytes(6).toString('hex'), owner: socket, playing: false };
        const interleaved = /interleaved=(\d+)/.exec(transport);
        const clientPort = /client_port=(\d+)/.exec(transport);
        let reply: string;
        if (/RTP\/AVP\/TCP/.test(transport) && interleaved) {
          s.channel = Number(interleaved[1]);
          reply = `RTP/AVP/TCP;unicast;interleaved=${s.channel}-${s.channel + 1}`;
        } else if (clientPort) {
          const rtp = Number(clientPort[1]);
          s.udp = { host: socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1', port: rtp };
          const out = rtpOut.address().port;
          reply = `RTP/AVP;unicast;client_port=${rtp}-${rtp + 1};server_port=${out}-${out + 1}`;
        } else {
          return answer('461 Unsupported Transport');
        }
        sessions.set(s.id, s);
        return answer('200 OK', [`Transport: ${reply}`, `Session: ${s.id};timeout=60`]);
      }
      case 'PLAY':
        if (!session) return answer('454 Session Not Found');
        session.playing = true;
        return answer('200 OK', [`Session: ${session.id}`, 'Range: npt=0.000-']);
      case 'GET_PARAMETER':
        return answer('200 OK', session ? [`Session: ${session.id}`] : []);
      case 'TEARDOWN':
        if (session) sessions.delete(session.id);
        return answer('200 OK');
      default:
        return answer('405 Method Not Allowed');
    }
  };

  const connections = new Set<Socket>();
  const server: Server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    connections.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      connections.delete(socket);
      for (const [id, s] of sessions) if (s.owner === socket) sessions.delete(id);
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf[0] === 0x24) {
          // The player's interleaved RTCP: read past it.
          if (buf.length < 4) return;
          const len = 4 + buf.readUInt16BE(2);
          if (buf.length < len) return;
          buf = buf.subarray(len);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString().split('\r\n');
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        const length = Number(headers.get('content-length') ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        const [method = '', uri = ''] = lines[0]!.split(' ');
        const answer = handle(socket, method, uri, headers);
        if (process.env.RTSP_DEBUG) console.error(`[rtsp] ${lines.join(' | ')}\n[rtsp] → ${answer.split('\r\n').join(' | ')}`);
        socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;

  return {
    url: `rtsp://127.0.0.1:${port}/${path}`,
    port,
    auth,
    relayed,
    playing: () => [...sessions.values()].filter((s) => s.playing).length,
    async close() {
      if (ffmpeg.exitCode === null) {
        const exited = new Promise<void>((resolve) => ffmpeg.once('exit', () => resolve()));
        ffmpeg.kill('SIGTERM');
        await exited;
      }
      for (const c of connections) c.destroy();
      sessions.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rtpIn.close();
      rtpOut.close();
    },
  };
}
