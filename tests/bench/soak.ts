/**
 * Soak benchmark: the real server (`server/main.ts`, a child process, as `npm start` runs it) under
 * 10× the simulator's load for a long stretch, watched from outside every 10 s: does memory grow,
 * does latency creep up once it has warmed up?
 *
 *   npm run bench -- soak [--minutes=N]            (opt-in: a plain `npm run bench` skips it)
 *   node --import tsx tests/bench/soak.ts [--minutes N] [--rate N] [--workers N] [--dashboards N] [--in-flight N]
 *
 * Load. The simulator walks ~3,600 workers, one fix every 10 s each (~360 fixes/s). 10× that is
 * ~3,600 fixes/s: by default 36,000 workers (Yingze's seeded work force plus synthetic auxiliaries,
 * each with a device `bench-<id>`), each reporting every 10 s over OsmAnd HTTP (one fix per request,
 * the simulator's and the phones' path), paced, at most `--in-flight` requests outstanding; plus 100
 * dashboards on socket.io with the operator's token (district-wide), decoding every delta frame.
 * The devices and dashboards live in a forked child (this file with --soak-child) so neither the
 * measuring process nor the server shares an event loop with them.
 *
 * What is measured every 10 s, and how:
 * - server RSS: VmRSS (and VmHWM) from /proc/<pid>/status of the server process;
 * - server heap and event-loop delay: a preload (tests/support/loop-probe.ts, `--import`ed into the
 *   server process; no server code changes) answers over IPC with process.memoryUsage() and
 *   perf_hooks.monitorEventLoopDelay (10 ms resolution) since the previous sample;
 * - request latency from outside: GET /api/health (one database query) and GET /api/config (no
 *   database) every 250 ms from this process, round trip on a keep-alive connection — this is what a
 *   client sees, event-loop queueing included, not the loop delay itself;
 * - device acknowledgement round trip (commit included) and device → dashboard latency, in the child;
 * - CPU of the server, of its PostgreSQL backends and of the whole machine, from /proc.
 * The verdict compares the first and the last third of the samples after a warm-up (the first
 * minute, or the first quarter of a shorter run): memory by its lowest sample in each third (the
 * floor the garbage collector returns to; a leak raises it), latency by the median of the p99s.
 *
 * PostgreSQL only (DATABASE_URL's server, else postgres://postgres@127.0.0.1:5432/): a scratch
 * database `gridline_bench_<pid>`, dropped at the end. run.ts gives it its own 25-minute limit (a
 * plain `npm run bench` leaves it out). On SIGTERM the run stops early and reports the samples it has.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Headline } from './lib/report';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);

/** `--name N` or `--name=N`. */
function numberFlag(name: string, fallback: number): number {
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  const i = args.indexOf(`--${name}`);
  const raw = eq ? eq.split('=')[1] : i >= 0 ? args[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, got "${raw}"`);
  return n;
}

const SAMPLE_MS = 10_000;

// -------------------------------------------------------------------------------------------------
// The load child: devices (paced OsmAnd HTTP) and dashboards (socket.io)

interface ChildInit {
  type: 'init';
  baseUrl: string;
  token: string;
  dashboards: number;
  workerIds: number[];
  lon: number[];
  lat: number[];
  rate: number;
  inFlight: number;
}
type ToChild = ChildInit | { type: 'start' } | { type: 'sample' } | { type: 'stop' };

interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

interface ChildWindow {
  type: 'window';
  sent: number;
  acked: number;
  /** Answers other than 200 and failures, by status or error code. */
  failed: Record<string, number>;
  /** Scheduled fixes not sent because `inFlight` requests were outstanding (over 1 s behind). */
  heldBack: number;
  ack: LatencySummary;
  dashboard: LatencySummary;
  /** Records for this window's fixes seen by dashboards ÷ (fixes acknowledged × dashboards). */
  deliveredRatio: number;
  childCpuPct: number;
  connectedDashboards: number;
}
type FromChild =
  | { type: 'ready'; dashboards: number; snapshotWorkers: number }
  | ChildWindow
  | { type: 'stopped'; sent: number; acked: number; unanswered: number }
  | { type: 'error'; message: string };

async function runChild(): Promise<void> {
  const { io } = await import('socket.io-client');
  const { viewWorkerFrame } = await import('../../shared/realtime');
  const { Histogram } = await import('./lib/histogram');
  type Socket = ReturnType<typeof io>;
  const send = (m: FromChild) => process.send?.(m);
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  let init: ChildInit;
  let sentSec: Uint32Array;
  let sentAt: Float64Array;
  let curLon: Float64Array;
  let curLat: Float64Array;
  const sockets: Socket[] = [];
  let win = { sent: 0, acked: 0, failed: {} as Record<string, number>, heldBack: 0, ack: new Histogram(), dashboard: new Histogram(), delivered: 0, cpu: process.cpuUsage(), at: performance.now() };
  const totals = { sent: 0, acked: 0 };
  let running = false;
  let inFlight = 0;
  let cursor = 0;
  let agent: http.Agent;

  const onFrame = (frame: { n: number; data: ArrayBuffer | ArrayBufferView }) => {
    const now = performance.now();
    const v = viewWorkerFrame(frame.data, frame.n);
    for (let i = 0; i < v.n; i++) {
      const id = v.ids[i]!;
      if (v.time[i] !== sentSec[id]) continue;
      win.dashboard.record(now - sentAt[id]!);
      win.delivered++;
    }
  };

  const connectDashboards = async (): Promise<number> => {
    let snapshotWorkers = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const socket = io(init.baseUrl, { auth: { token: init.token }, transports: ['websocket'], reconnection: true, forceNew: true, timeout: 20_000 });
        const timer = setTimeout(() => reject(new Error('dashboard snapshot timed out')), 30_000);
        socket.once('connect_error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        socket.once('workers.snapshot', (frame: { n: number }) => {
          clearTimeout(timer);
          snapshotWorkers = frame.n;
          sockets.push(socket);
          resolve();
        });
        socket.on('workers.delta', onFrame);
      });
    for (let i = 0; i < init.dashboards; i += 10) await Promise.all(Array.from({ length: Math.min(10, init.dashboards - i) }, one));
    return snapshotWorkers;
  };

  const fire = () => {
    const idx = cursor++ % init.workerIds.length;
    const id = init.workerIds[idx]!;
    let sec = Math.floor(Date.now() / 1000);
    if (sec <= sentSec[id]!) sec = sentSec[id]! + 1;
    const at = performance.now();
    sentSec[id] = sec;
    sentAt[id] = at;
    // A slow walk around the worker's grid point (±0.002°, about 200 m).
    const clamp = (v: number, base: number) => Math.min(base + 0.002, Math.max(base - 0.002, v));
    curLon[idx] = clamp(curLon[idx]! + (Math.random() - 0.5) * 1e-4, init.lon[idx]!);
    curLat[idx] = clamp(curLat[idx]! + (Math.random() - 0.5) * 1e-4, init.lat[idx]!);
    const url = new URL(init.baseUrl);
    const p = `/api/osmand?id=bench-${id}&lat=${curLat[idx]!.toFixed(6)}&lon=${curLon[idx]!.toFixed(6)}&timestamp=${sec}&speed=${(Math.random() * 3).toFixed(2)}&batt=${20 + (id % 80)}`;
    inFlight++;
    win.sent++;
    totals.sent++;
    const w = win;
    const done = (key: string) => {
      inFlight--;
      if (key === '200') {
        w.ack.record(performance.now() - at);
        w.acked++;
        totals.acked++;
      } else {
        w.failed[key] = (w.failed[key] ?? 0) + 1;
      }
    };
    const req = http.request({ host: url.hostname, port: url.port, path: p, method: 'POST', agent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => done(String(res.statusCode)));
      res.on('error', () => undefined);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    req.end();
  };

  const load = async () => {
    const t0 = performance.now();
    let scheduled = 0;
    while (running) {
      const due = ((performance.now() - t0) * init.rate) / 1000;
      if (due - scheduled > init.rate) {
        const skip = Math.floor(due - scheduled - init.rate);
        win.heldBack += skip;
        scheduled += skip;
      }
      while (scheduled < due && inFlight < init.inFlight) {
        scheduled++;
        fire();
      }
      await sleep(5);
    }
  };

  process.on('message', (m: ToChild) => {
    void (async () => {
      try {
        if (m.type === 'init') {
          init = m;
          const maxId = Math.max(...m.workerIds);
          sentSec = new Uint32Array(maxId + 1);
          sentAt = new Float64Array(maxId + 1).fill(-Infinity);
          curLon = Float64Array.from(m.lon);
          curLat = Float64Array.from(m.lat);
          agent = new http.Agent({ keepAlive: true, maxSockets: m.inFlight });
          const snapshotWorkers = await connectDashboards();
          send({ type: 'ready', dashboards: sockets.length, snapshotWorkers });
        } else if (m.type === 'start') {
          running = true;
          win = { ...win, cpu: process.cpuUsage(), at: performance.now() };
          void load();
        } else if (m.type === 'sample') {
          const w = win;
          win = { sent: 0, acked: 0, failed: {}, heldBack: 0, ack: new Histogram(), dashboard: new Histogram(), delivered: 0, cpu: process.cpuUsage(), at: performance.now() };
          const cpu = process.cpuUsage(w.cpu);
          send({
            type: 'window',
            sent: w.sent,
            acked: w.acked,
            failed: w.failed,
            heldBack: w.heldBack,
            ack: w.ack.summary(),
            dashboard: w.dashboard.summary(),
            deliveredRatio: w.acked > 0 ? w.delivered / (w.acked * sockets.length) : NaN,
            childCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - w.at),
            connectedDashboards: sockets.filter((s) => s.connected).length,
          });
        } else if (m.type === 'stop') {
          running = false;
          const until = performance.now() + 15_000;
          while (inFlight > 0 && performance.now() < until) await sleep(20);
          send({ type: 'stopped', sent: totals.sent, acked: totals.acked, unanswered: inFlight });
          for (const s of sockets) s.disconnect();
          agent?.destroy();
          process.disconnect();
          setTimeout(() => process.exit(0), 300).unref();
        }
      } catch (error) {
        send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
  // The parent going away must not leave this process behind.
  process.on('disconnect', () => {
    running = false;
    for (const s of sockets) s.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  });
}

// -------------------------------------------------------------------------------------------------
// The parent: database, server child, sampling, report

interface Sample {
  /** Seconds since the load started, at the end of the window. */
  t: number;
  windowS: number;
  child: ChildWindow;
  rssMiB: number;
  hwmMiB: number;
  probe: { p50: number; p99: number; max: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number } | undefined;
  health: LatencySummary;
  config: LatencySummary;
  healthFailures: number;
  serverCpuPct: number;
  postgresCpuPct: number;
  machinePct: number;
  otherPct: number;
}

function procStatus(pid: number): { rssMiB: number; hwmMiB: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}

/** utime + stime of a process, in ms. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
const min = (xs: number[]) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? Math.min(...v) : NaN;
};
const mean = (xs: number[]) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};
/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  const mx = mean(pts.map((p) => p[0]));
  const my = mean(pts.map((p) => p[1]));
  const num = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

async function main(): Promise<void> {
  const { fmt, machineInfo, printReport } = await import('./lib/report');
  const log = (m: string) => console.error(`[bench:soak] ${m}`);

  const MINUTES = numberFlag('minutes', 10);
  const RATE = numberFlag('rate', 3_600);
  const WORKERS = Math.round(numberFlag('workers', 36_000));
  const DASHBOARDS = Math.round(numberFlag('dashboards', 100));
  const IN_FLIGHT = Math.round(numberFlag('in-flight', 256));
  if (args.includes('--pglite') || args.includes('--engine=pglite')) log('PGlite is not soaked: this benchmark runs on the PostgreSQL server only');
  const { BENCH_DEMO_PASSWORD, countPositions, openScratchDb, prepareWorkforce, workerPoints } = await import('./lib/scratch-db');
  const { cpuBetween, sampleCpu } = await import('./lib/cpu');
  const { Histogram } = await import('./lib/histogram');
  const { freePort, ServerProcess, sleep } = await import('../support/server-process');
  type LoopProbeSample = import('../support/loop-probe').LoopProbeSample;

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
  };
  let stopEarly = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopEarly) {
        log(`${signal} again: cleaning up and exiting`);
        void cleanup().finally(() => process.exit(130));
        return;
      }
      log(`${signal}: stopping the load early; reporting the samples so far`);
      stopEarly = true;
    });
  }
  const budgetMs = (MINUTES + 6) * 60_000;
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${budgetMs / 60_000} min; cleaning up and giving up`);
    void cleanup().finally(() => process.exit(2));
  }, budgetMs);

  const samples: Sample[] = [];
  let totals: { sent: number; acked: number; unanswered: number } | undefined;
  const rows = { before: NaN, after: NaN };
  let versions = { postgres: '?', postgis: '?' };
  let setupS = NaN;
  let serverExit: string | undefined;
  try {
    const setupStarted = performance.now();
    const scratch = await openScratchDb('postgres', log);
    cleanups.push(() => scratch.close());
    versions = scratch.versions;
    await prepareWorkforce(scratch.db, WORKERS, log);
    const workforce = await workerPoints(scratch.db);
    rows.before = await countPositions(scratch.db);

    const port = await freePort();
    let stopping = false;
    const server = await ServerProcess.start({
      port,
      env: { DATABASE_URL: scratch.url!, JWT_SECRET: randomBytes(32).toString('hex'), DEMO_PASSWORD: BENCH_DEMO_PASSWORD },
      nodeArgs: ['--import', path.join(HERE, '../support/loop-probe.ts')],
      ipc: true,
      label: 'soak',
    });
    cleanups.push(() => {
      stopping = true;
      return server.stop();
    });
    log(`server pid ${server.pid} healthy after ${fmt(server.readyMs / 1000, 1)} s`);
    void server.exited.then((e) => {
      if (!stopping) serverExit = JSON.stringify(e);
    });

    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    cleanups.push(async () => agent.destroy());
    const call = (method: string, p: string, body?: unknown, token?: string) =>
      new Promise<{ status: number; body: string; ms: number }>((resolve) => {
        const t = performance.now();
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(
          { host: '127.0.0.1', port, path: p, method, agent, timeout: 10_000, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - t }));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - t }));
        req.end(payload);
      });
    const login = await call('POST', '/api/auth/login', { username: 'operator', password: BENCH_DEMO_PASSWORD });
    if (login.status !== 200) throw new Error(`login operator: ${login.status} ${login.body}`);
    const token = (JSON.parse(login.body) as { token: string }).token;

    // The load child.
    const child: ChildProcess = fork(SELF, ['--soak-child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const waiters: ((m: FromChild) => void)[] = [];
    child.on('message', (m: FromChild) => waiters.shift()?.(m));
    child.on('exit', (code) => {
      for (const w of waiters.splice(0)) w({ type: 'error', message: `load child exited (${code})` });
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const ask = <T extends FromChild['type']>(m: ToChild | undefined, expect: T, timeoutMs: number) =>
      new Promise<Extract<FromChild, { type: T }>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`load child did not answer within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((reply) => {
          clearTimeout(timer);
          if (reply.type === expect) resolve(reply as Extract<FromChild, { type: T }>);
          else reject(new Error(reply.type === 'error' ? reply.message : `unexpected ${reply.type}`));
        });
        if (m) child.send(m);
      });
    const ready = await ask(
      { type: 'init', baseUrl: server.baseUrl, token, dashboards: DASHBOARDS, workerIds: workforce.ids, lon: workforce.lon, lat: workforce.lat, rate: RATE, inFlight: IN_FLIGHT },
      'ready',
      180_000,
    );
    setupS = (performance.now() - setupStarted) / 1000;
    log(`${ready.dashboards} dashboards connected (snapshot of ${ready.snapshotWorkers} workers); set-up took ${fmt(setupS, 0)} s. ` +
      `Load: ${fmt(RATE)} fixes/s over OsmAnd HTTP (${fmt(workforce.ids.length)} workers, each every ${fmt(workforce.ids.length / RATE, 1)} s), ≤ ${IN_FLIGHT} in flight, for ${MINUTES} min`);

    // The server probe (IPC) answers one sample per request.
    let probeWaiter: ((s: LoopProbeSample) => void) | undefined;
    server.child.on('message', (m: LoopProbeSample) => {
      if (m?.type === 'loop-probe') probeWaiter?.(m);
    });
    const askProbe = () =>
      new Promise<LoopProbeSample | undefined>((resolve) => {
        if (!server.child.connected) return resolve(undefined);
        const timer = setTimeout(() => resolve(undefined), 5_000);
        probeWaiter = (s) => {
          clearTimeout(timer);
          resolve(s);
        };
        server.child.send({ type: 'loop-probe.sample' });
      });

    // Round trips from outside, every 250 ms, alternating a database query and none.
    let health = new Histogram();
    let config = new Histogram();
    let healthFailures = 0;
    let probing = true;
    const prober = (async () => {
      let i = 0;
      while (probing) {
        const r = i++ % 2 === 0 ? await call('GET', '/api/health') : await call('GET', '/api/config', undefined, token);
        if (r.status !== 200) healthFailures++;
        else (i % 2 === 1 ? health : config).record(r.ms);
        await sleep(250);
      }
    })();

    await askProbe(); // resets the loop-delay window
    child.send({ type: 'start' } satisfies ToChild);
    const loadStart = performance.now();
    let cpuBefore = sampleCpu(scratch.name);
    let serverCpuBefore = procCpuMs(server.pid);
    let windowStart = performance.now();
    const end = loadStart + MINUTES * 60_000;
    for (let k = 1; !stopEarly && server.alive; k++) {
      const at = Math.min(end, loadStart + k * SAMPLE_MS);
      while (performance.now() < at && !stopEarly && server.alive) await sleep(Math.min(250, at - performance.now()));
      if (stopEarly || !server.alive) break;
      const [win, probe] = await Promise.all([ask({ type: 'sample' }, 'window', 10_000), askProbe()]);
      const now = performance.now();
      const cpuAfter = sampleCpu(scratch.name);
      const cpu = cpuBetween(cpuBefore, cpuAfter);
      const serverCpuAfter = procCpuMs(server.pid);
      const windowS = (now - windowStart) / 1000;
      const serverCpuPct = (100 * (serverCpuAfter - serverCpuBefore)) / (now - windowStart);
      const cores = Number(machineInfo().cores);
      const { rssMiB, hwmMiB } = procStatus(server.pid);
      const sample: Sample = {
        t: (now - loadStart) / 1000,
        windowS,
        child: win,
        rssMiB,
        hwmMiB,
        probe: probe && {
          p50: probe.p50,
          p99: probe.p99,
          max: probe.max,
          heapUsedMiB: probe.heapUsed / 2 ** 20,
          externalMiB: probe.external / 2 ** 20,
          arrayBuffersMiB: probe.arrayBuffers / 2 ** 20,
        },
        health: health.summary(),
        config: config.summary(),
        healthFailures,
        serverCpuPct,
        postgresCpuPct: cpu.postgresPct,
        machinePct: cpu.machinePct,
        // Machine busy time minus the server, its PostgreSQL backends, the load child and this process.
        otherPct: Math.max(0, cpu.machinePct * cores - serverCpuPct - cpu.postgresPct - win.childCpuPct - cpu.selfPct),
      };
      samples.push(sample);
      health = new Histogram();
      config = new Histogram();
      healthFailures = 0;
      cpuBefore = cpuAfter;
      serverCpuBefore = serverCpuAfter;
      windowStart = now;
      const failed = Object.entries(win.failed).map(([k, v]) => `${k}×${v}`).join(' ');
      log(
        `t=${fmt(sample.t, 0)} s: acked ${fmt(win.acked / windowS)}/s${win.heldBack ? ` (held back ${win.heldBack})` : ''}${failed ? ` FAILED ${failed}` : ''}, ack p99 ${fmt(win.ack.p99)} ms, ` +
          `dashboard p99 ${fmt(win.dashboard.p99)} ms, RSS ${fmt(rssMiB, 0)} MiB, heap ${fmt(sample.probe?.heapUsedMiB ?? NaN, 0)} MiB, loop p99 ${fmt(sample.probe?.p99 ?? NaN)} ms, ` +
          `health p99 ${fmt(sample.health.p99)} ms, CPU server ${fmt(serverCpuPct, 0)} % pg ${fmt(cpu.postgresPct, 0)} % other ${fmt(sample.otherPct, 0)} %`,
      );
      if (now >= end) break;
    }
    if (!server.alive) log(`the server exited during the soak (${serverExit}); its output:\n${server.output(40)}`);
    probing = false;
    await prober;
    const stopped = await ask({ type: 'stop' }, 'stopped', 30_000).catch((e: unknown) => {
      log(`load child: ${(e as Error).message}`);
      return undefined;
    });
    if (stopped) totals = stopped;
    if (server.alive) {
      stopping = true;
      await server.stop();
      rows.after = await countPositions(scratch.db);
    }
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  // --------------------------------------------------------------------------------------------
  // Report
  const runS = samples.at(-1)?.t ?? 0;
  const warmS = Math.min(60, (MINUTES * 60) / 4);
  const post = samples.filter((s) => s.t - s.windowS >= warmS - 0.5);
  const judged = post.length >= 3;
  const third = Math.max(1, Math.floor(post.length / 3));
  const first = post.slice(0, third);
  const last = post.slice(-third);
  interface Metric {
    name: string;
    unit: string;
    get: (s: Sample) => number;
    agg: (xs: number[]) => number;
    kind: 'memory' | 'latency' | 'context';
  }
  const metrics: Metric[] = [
    // The JS heap saws up and down with the garbage collector: a leak shows as a rising floor.
    { name: 'Server RSS (VmRSS), lowest sample', unit: 'MiB', get: (s) => s.rssMiB, agg: min, kind: 'memory' },
    { name: 'Server JS heap used, lowest sample', unit: 'MiB', get: (s) => s.probe?.heapUsedMiB ?? NaN, agg: min, kind: 'memory' },
    { name: 'Server external memory, lowest sample', unit: 'MiB', get: (s) => (s.probe ? s.probe.externalMiB : NaN), agg: min, kind: 'memory' },
    { name: 'Server RSS (VmRSS), mean (context)', unit: 'MiB', get: (s) => s.rssMiB, agg: mean, kind: 'context' },
    { name: 'Event-loop delay p99 (in-process probe)', unit: 'ms', get: (s) => s.probe?.p99 ?? NaN, agg: median, kind: 'latency' },
    { name: 'GET /api/health round trip p99 (outside)', unit: 'ms', get: (s) => s.health.p99, agg: median, kind: 'latency' },
    { name: 'GET /api/config round trip p99 (outside, no DB)', unit: 'ms', get: (s) => s.config.p99, agg: median, kind: 'latency' },
    { name: 'Device ack round trip p99', unit: 'ms', get: (s) => s.child.ack.p99, agg: median, kind: 'latency' },
    { name: 'Device → dashboard p99', unit: 'ms', get: (s) => s.child.dashboard.p99, agg: median, kind: 'latency' },
  ];
  const verdicts = metrics.map((m) => {
    const a = m.agg(first.map(m.get));
    const b = m.agg(last.map(m.get));
    const perMin = slope(post.map((s) => s.t / 60), post.map(m.get));
    // Memory: flat if the last third is within 10 % (and 16 MiB) of the first. Latency on a shared
    // 2-core machine is noisy: flat if the last third's p99 is within 1.5× (+5 ms) of the first's.
    const flat = m.kind === 'memory' ? b <= a * 1.1 || b - a <= 16 : b <= a * 1.5 + 5;
    return { m, a, b, perMin, flat: m.kind !== 'context' && judged && Number.isFinite(a) && Number.isFinite(b) ? flat : undefined };
  });
  const overall = (kind: Metric['kind']): boolean | undefined => {
    const vs = verdicts.filter((v) => v.m.kind === kind);
    if (!judged || vs.every((v) => v.flat === undefined)) return undefined;
    return vs.every((v) => v.flat !== false);
  };
  const memoryFlat = overall('memory');
  const latencyFlat = overall('latency');
  const verdictText = (flat: boolean | undefined) => (flat === undefined ? `not judged (${post.length} samples after warm-up; 3 or more needed)` : flat ? 'yes' : 'NO');
  const ackedAll = samples.reduce((a, s) => a + s.child.acked, 0);
  const loadS = samples.reduce((a, s) => a + s.windowS, 0);
  const failedAll: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.child.failed)) failedAll[k] = (failedAll[k] ?? 0) + v;
  const heldBack = samples.reduce((a, s) => a + s.child.heldBack, 0);
  const avgOther = mean(post.map((s) => s.otherPct));

  const sampleTable = {
    title: `Samples every ${SAMPLE_MS / 1000} s (${fmt(RATE)} fixes/s offered, ${fmt(WORKERS)} workers, ${DASHBOARDS} dashboards)`,
    headers: ['t s', 'acked /s', 'ack p50 / p99 ms', 'dashboard p50 / p99 ms', 'delivered', 'RSS MiB', 'heap MiB', 'loop delay p50 / p99 / max ms', 'health p50 / p99 ms', 'config p99 ms', 'CPU server / pg / other %'],
    rows: samples.map((s) => [
      fmt(s.t, 0),
      fmt(s.child.acked / s.windowS) + (s.child.heldBack ? ` (held ${s.child.heldBack})` : '') + (Object.keys(s.child.failed).length ? ` (failed ${Object.values(s.child.failed).reduce((a, b) => a + b, 0)})` : ''),
      `${fmt(s.child.ack.p50)} / ${fmt(s.child.ack.p99)}`,
      `${fmt(s.child.dashboard.p50)} / ${fmt(s.child.dashboard.p99)}`,
      fmt(s.child.deliveredRatio, 3),
      fmt(s.rssMiB, 0),
      fmt(s.probe?.heapUsedMiB ?? NaN, 0),
      s.probe ? `${fmt(s.probe.p50)} / ${fmt(s.probe.p99)} / ${fmt(s.probe.max)}` : '–',
      `${fmt(s.health.p50)} / ${fmt(s.health.p99)}`,
      fmt(s.config.p99),
      `${fmt(s.serverCpuPct, 0)} / ${fmt(s.postgresCpuPct, 0)} / ${fmt(s.otherPct, 0)}`,
    ]),
    note:
      'RSS from /proc/<pid>/status of the server process; heap and event-loop delay from a preloaded probe inside it (monitorEventLoopDelay, 10 ms resolution, ' +
      'reset every sample); health and config: round trips timed from the benchmark process every 500 ms each; ack: OsmAnd request round trip (the server answers after commit); ' +
      'dashboard: device send → record decoded, over every dashboard; delivered: dashboard records ÷ (fixes acknowledged × dashboards) in the same window (≈ 1; ' +
      'window edges and a worker shown twice make it drift a little either side). CPU in percent of one core; ' +
      '"other" is the machine busy time minus the server, its PostgreSQL backends, the load child and the benchmark process.',
  };
  const flatTable = {
    title: `After warm-up (${fmt(warmS, 0)} s): first third vs last third of the samples (${first.length} vs ${last.length} samples of ${post.length})`,
    headers: ['Metric', 'First third', 'Last third', 'Change', 'Trend per minute', 'Flat?'],
    rows: verdicts.map((v) => [
      v.m.name,
      `${fmt(v.a)} ${v.m.unit}`,
      `${fmt(v.b)} ${v.m.unit}`,
      Number.isFinite(v.a) && v.a !== 0 ? `${v.b >= v.a ? '+' : ''}${fmt((100 * (v.b - v.a)) / v.a, 1)} %` : '–',
      `${v.perMin >= 0 ? '+' : ''}${fmt(v.perMin)} ${v.m.unit}/min`,
      v.m.kind === 'context' ? '' : v.flat === undefined ? '–' : v.flat ? 'yes' : 'NO',
    ]),
    note:
      'Memory: the lowest sample of each third (the floor the garbage collector comes back to; a leak raises it); flat when the last third’s is within 10 % (or 16 MiB) of the first’s. ' +
      'Latency: the median of the samples’ p99 in each third; flat when within 1.5× + 5 ms (the machine is shared: see "other" CPU). Trend: least-squares slope over every sample after warm-up.',
  };
  const headlines: Headline[] = [
    { metric: 'Soak length', value: `${fmt(runS / 60, 1)} min of load${stopEarly ? ' (stopped early)' : ''}${MINUTES !== 10 ? ` (--minutes ${MINUTES}; the issue's soak is 10 min)` : ''}` },
    { metric: 'Offered / achieved', value: `${fmt(RATE)} fixes/s offered, ${fmt(ackedAll / Math.max(1, loadS))} acknowledged/s${heldBack ? `, ${fmt(heldBack)} held back (sender at ${IN_FLIGHT} in flight)` : ''}` },
    { metric: 'Failed requests', value: Object.keys(failedAll).length ? Object.entries(failedAll).map(([k, v]) => `${k}: ${v}`).join(', ') : 'none' },
    {
      metric: 'Durability',
      value: totals && Number.isFinite(rows.after)
        ? `${fmt(totals.acked)} fixes acknowledged, ${fmt(rows.after - rows.before)} rows written${totals.unanswered ? `, ${totals.unanswered} unanswered at stop` : ''}`
        : 'not checked (the run did not finish cleanly)',
      pass: totals && Number.isFinite(rows.after) ? rows.after - rows.before >= totals.acked : undefined,
    },
    ...verdicts
      .filter((v) => v.m.kind !== 'context')
      .map((v) => ({ metric: `${v.m.name}: first → last third`, value: `${fmt(v.a)} → ${fmt(v.b)} ${v.m.unit}`, target: v.m.kind === 'memory' ? 'flat (≤ +10 %)' : 'flat (≤ 1.5× + 5 ms)', pass: v.flat })),
    { metric: 'Memory flat after warm-up', value: verdictText(memoryFlat), pass: memoryFlat },
    { metric: 'Latency flat after warm-up', value: verdictText(latencyFlat), pass: latencyFlat },
    { metric: 'Other processes’ CPU after warm-up (mean)', value: `${fmt(avgOther, 0)} % of a core` },
  ];
  if (serverExit) headlines.push({ metric: 'Server', value: `EXITED during the soak: ${serverExit}`, pass: false });
  const rep = {
    bench: 'soak',
    headlines,
    tables: [sampleTable, flatTable],
    machine: { ...machineInfo(), postgres: versions.postgres, postgis: versions.postgis, setup: `${fmt(setupS, 0)} s` },
  };
  console.log(Object.entries(rep.machine).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  printReport(rep);
}

if (args.includes('--soak-child')) {
  void runChild();
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
