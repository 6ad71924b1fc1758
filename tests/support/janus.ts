/**
 * A real Janus for tests: Debian's `janus` as a child process with the repository's configuration,
 * on free ports, in a scratch folder. Tests that need it call `janusOrSkip()`: without the binary
 * they are skipped with the reason — except under CI=true (.ci/run installs janus), where its
 * absence fails them.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { loadVideoConfig, type VideoConfig } from '../../server/modules/video/config';
import { JanusSupervisor } from '../../server/modules/video/janus';

export function janusInstalled(): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return dirs.some((d) => d && existsSync(path.join(d, 'janus')));
}

/** True when the Janus tests must run; false (with a logged reason) when they may be skipped here. */
export function janusRequired(suite: string): boolean {
  if (janusInstalled()) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`${suite}: CI needs Janus (apt-get install -y janus, as .ci/run does), and it is not installed.`);
  }
  console.warn(`[skip] ${suite}: Janus is not installed here (sudo apt-get install -y janus); these tests run in CI.`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts a private Janus; `env` overrides settings (CONSULT_RING_TIMEOUT_S, CONSULT_GRANT_TTL_S …). */
export async function startTestJanus(env: Record<string, string> = {}): Promise<JanusSupervisor> {
  const wsPort = await freePort();
  let adminPort = await freePort();
  while (adminPort === wsPort) adminPort = await freePort();
  const runDir = mkdtempSync(path.join(tmpdir(), 'gridline-janus-'));
  const rtpStart = 20000 + Math.floor(Math.random() * 400) * 100;
  const config: VideoConfig = loadVideoConfig(
    { PATH: process.env.PATH, JANUS_WS_PORT: String(wsPort), JANUS_ADMIN_PORT: String(adminPort), JANUS_RUN_DIR: runDir, JANUS_RTP_PORTS: `${rtpStart}-${rtpStart + 99}`, ...env },
    runDir,
    '127.0.0.1',
  );
  const janus = new JanusSupervisor(config);
  if (!(await janus.start(20_000))) {
    await janus.stop();
    throw new Error(`Janus did not start (log: ${runDir}/janus.log)`);
  }
  return janus;
}

/**
 * In the page: Janus's WebSocket API by hand — a session with the grant's token, the videoroom's
 * joinandconfigure as publisher with a non-trickle offer of the fake camera and microphone; a few
 * seconds of media; the encoder's frame count. Plain JavaScript in a string: the test's TypeScript
 * transform must not touch what runs in the page.
 */
export const PUBLISH_JS = `async (g) => {
  const ws = new WebSocket(g.url, 'janus-protocol');
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('websocket')); });
  let n = 0;
  const waiting = new Map();
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data));
    if (m.janus === 'ack') return;
    if (m.transaction && waiting.has(m.transaction)) { waiting.get(m.transaction)(m); waiting.delete(m.transaction); }
  };
  const send = (m) => new Promise((resolve, reject) => {
    const transaction = 't' + (++n);
    waiting.set(transaction, (r) => (r.janus === 'error' ? reject(new Error(JSON.stringify(r.error))) : resolve(r)));
    ws.send(JSON.stringify(Object.assign({}, m, { transaction, token: g.token })));
  });
  const session = (await send({ janus: 'create' })).data.id;
  const handle = (await send({ janus: 'attach', session_id: session, plugin: 'janus.plugin.videoroom' })).data.id;
  const message = async (body, jsep) => {
    const r = await send(Object.assign({ janus: 'message', session_id: session, handle_id: handle, body }, jsep ? { jsep } : {}));
    const data = r.plugindata.data;
    if (data.error) throw new Error(String(data.error));
    return { data, jsep: r.jsep };
  };
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    setTimeout(resolve, 3000);
  });
  // Joined and published in one request, with what a tampered browser could add: no recording of
  // itself, and a file name outside the folder (Janus 1.1.2 takes both from joinandconfigure even in a
  // room whose recording is locked).
  const answer = await message(
    { request: 'joinandconfigure', ptype: 'publisher', room: g.room, pin: g.pin, token: g.token, id: g.feedId, display: g.display, record: false, filename: '../escaped' },
    { type: 'offer', sdp: pc.localDescription.sdp, trickle: false },
  );
  await pc.setRemoteDescription(answer.jsep);
  const keepalive = setInterval(() => { send({ janus: 'keepalive', session_id: session }).catch(() => {}); }, 10000);
  let framesEncoded = 0;
  for (let i = 0; i < 40 && framesEncoded < 60; i++) {
    await new Promise((r) => setTimeout(r, 250));
    (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') framesEncoded = Math.max(framesEncoded, s.framesEncoded || 0); });
  }
  // A little more for the recorder, then leave as a browser hanging up would.
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(keepalive);
  const state = pc.connectionState;
  pc.close();
  ws.close();
  return { framesEncoded, state };
}`;

/** A Janus API client over one WebSocket (`janus-protocol`), as janus.js speaks it: for the cameras' grant proxy. */
export class JanusSocket {
  private next = 0;
  private readonly waiting = new Map<string, (msg: Record<string, unknown>) => void>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Record<string, unknown>;
      const t = typeof msg.transaction === 'string' ? msg.transaction : '';
      if (msg.janus === 'ack' || !this.waiting.has(t)) return;
      this.waiting.get(t)!(msg);
      this.waiting.delete(t);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string): Promise<JanusSocket> {
    const ws = new WebSocket(url, 'janus-protocol');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new JanusSocket(ws);
  }

  /** Sends one request and resolves with Janus's answer (the event, past the ack), or a refusal. */
  request(msg: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const transaction = `t${++this.next}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(msg)}`)), timeoutMs);
      this.waiting.set(transaction, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.ws.send(JSON.stringify({ ...msg, transaction }), (err) => err && reject(err));
    });
  }

  close(): void {
    this.ws.close();
  }
}
