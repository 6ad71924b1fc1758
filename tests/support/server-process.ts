/**
 * The real server (`node --import tsx server/main.ts`) as a child process, for tests and benchmarks
 * that must kill it, restart it or watch its memory from outside. Nothing here touches server code:
 * the child is configured by environment variables only, exactly as `npm start` is.
 *
 * Every child started here is remembered and SIGKILLed when this process exits, so a failing test
 * never leaves a server behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A TCP port nobody listens on right now (bound once on port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One GET with a short timeout: the status, or 0 when nothing answered. */
export function probe(url: string, timeoutMs = 2_000, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

export interface ServerProcessOptions {
  port: number;
  /** DATABASE_URL (server engine) or DATA_DIR (PGlite), plus anything else to set. */
  env: Record<string, string>;
  /** Node flags after tsx's and before the entry point, e.g. ['--import', probeFile] (TypeScript works). */
  nodeArgs?: string[];
  /** Open an IPC channel (for a preloaded probe that reports over process.send). */
  ipc?: boolean;
  /** How long to wait for /api/health to answer 200. */
  readyTimeoutMs?: number;
  label?: string;
}

/** Variables the server reads: anything the parent has set for them is not inherited. */
const SERVER_VARS = [
  'PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'NODE_ENV', 'DEMO_PASSWORD', 'JWT_SECRET', 'TOKEN_TTL_S', 'SEED_REGION',
  'SERVE_CLIENT', 'LOG_LEVEL', 'SIMULATE', 'SIMULATE_INTERVAL_S', 'SIMULATE_TICKETS', 'SIMULATE_TICKET_RATE',
  'SIMULATE_DESK_GRACE_S', 'OFFLINE_AFTER_S', 'TICK_MS', 'OSMAND_PORT', 'BASEMAP_URL', 'JWT_SECRET_FILE', 'FIX_MAX_AGE_DAYS',
  'WRITER_MAX_QUEUE', 'STREAM_MAX_FIXES_PER_S', 'DISPATCH_OFFER_TIMEOUT_S', 'DISPATCH_MAX_FIX_AGE_S', 'DISPATCH_MAX_OPEN_TASKS',
  'LOGIN_LIMIT_PER_ACCOUNT', 'LOGIN_LIMIT_PER_ADDRESS', 'LOGIN_LIMIT_WINDOW_S', 'PASSWORD_HASH_CONCURRENCY', 'PASSWORD_HASH_QUEUE',
  'RESYNC_LIMIT_PER_MINUTE',
];

/**
 * The server as `npm start` runs it, but quiet and bare: no simulator, no dashboard files, no
 * OsmAnd side port, no seeding (the database is prepared beforehand), no Janus child (VIDEO=0: parallel
 * servers would contend for its ports), warnings only.
 */
export function serverEnv(port: number, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of SERVER_VARS) delete env[k];
  return {
    ...env,
    HOST: '127.0.0.1',
    PORT: String(port),
    OSMAND_PORT: '0',
    SIMULATE: '0',
    SERVE_CLIENT: '0',
    SEED_REGION: '',
    VIDEO: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export class ServerProcess {
  readonly baseUrl: string;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly options: ServerProcessOptions,
  ) {
    this.baseUrl = `http://127.0.0.1:${options.port}`;
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      });
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        this.lines.push(line);
        if (this.lines.length > 400) this.lines.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Starts the server and waits until /api/health answers 200 (or throws with its output). */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), 'server/main.ts'], {
      cwd: REPO_ROOT,
      env: serverEnv(options.port, options.env),
      stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
    });
    const server = new ServerProcess(child, options);
    const started = Date.now();
    const deadline = started + (options.readyTimeoutMs ?? 120_000);
    let exited = false;
    void server.exited.then(() => (exited = true));
    while (Date.now() < deadline && !exited) {
      if ((await probe(`${server.baseUrl}/api/health`, 2_000)) === 200) {
        server.readyMs = Date.now() - started;
        return server;
      }
      await sleep(200);
    }
    const why = exited ? `exited (${JSON.stringify(await server.exited)})` : `not ready after ${Date.now() - started} ms`;
    await server.kill('SIGKILL');
    throw new Error(`server ${options.label ?? ''} ${why}; its output:\n${server.output(80)}`);
  }

  /** How long start() waited for the first healthy answer, ms. */
  readyMs = NaN;

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last `n` lines the server wrote (stdout and stderr). */
  output(n = 60): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs` if it lingers). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A clean shutdown (SIGTERM: the server drains its writer and closes the database). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.kill('SIGTERM');
  }
}
