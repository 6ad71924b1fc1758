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
