/**
 * SOS benchmark: a worker's SOS (Traccar Client's `alarm=sos` on the OsmAnd endpoint) → the
 * `alarm.raised` event on 100 live dashboards, while 10,000 fixes a second of background ingest
 * stream in over the device stream — against the targets (p99 ≤ 1 s; aim ≤ 250 ms).
 *
 * Three processes on one machine: this one is the server (the real app from `build()`); the
 * background devices are the ingest benchmark's load child (lib/load-child.ts, no dashboards of its
 * own); the 100 dashboards and the SOS senders are a second child (this file with `--child`), which
 * times each SOS from just before its HTTP request to the event's arrival on every dashboard.
 *
 *   node --import tsx tests/bench/sos.ts [--quick]
 *
 *   --quick   fewer alarms and a shorter background, for checking the benchmark itself
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { AlarmSummary } from '../../shared/alarms-api';
import { build } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { sql } from '../../server/platform/db';
import { Histogram, type LatencySummary } from './lib/histogram';
import { cpuBetween, sampleCpu } from './lib/cpu';
import { BENCH_DEMO_PASSWORD, openScratchDb, prepareWorkforce, workerPoints } from './lib/scratch-db';
import { fmt, machineInfo, printReport } from './lib/report';
import type { ChildMessage, ParentMessage, PhaseResult, StreamPhase } from './lib/protocol';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const QUICK = process.argv.includes('--quick');
const DASHBOARDS = 100;
const WORKERS = 20_000;
const BACKGROUND_RATE = 10_000;
const ALARMS = QUICK ? 20 : 80;
/** Between two SOS, ms: alarms are rare, but the run must gather enough of them. */
const ALARM_GAP_MS = 200;
const TARGET_P99_MS = 250;
const LIMIT_P99_MS = 1000;

const log = (m: string) => console.error(`[bench:sos] ${m}`);

// ---------------------------------------------------------------------------------------------
// The dashboards and SOS senders (child)

interface SosInit {
  type: 'init';
  baseUrl: string;
  operatorToken: string;
  dashboards: number;
  /** Workers who press SOS, one alarm each, and a point in their grid. */
  sos: { id: number; lon: number; lat: number }[];
}
type SosParentMessage = SosInit | { type: 'run'; gapMs: number } | { type: 'stop' };
interface SosResult {
  alarms: number;
  /** SOS request → `alarm.raised` on a dashboard, every (alarm, dashboard) pair. */
  delivery: LatencySummary;
  /** SOS request → the last of the dashboards has it, per alarm. */
  lastDashboard: LatencySummary;
  /** The OsmAnd request's own round trip (the reply comes once the alarm is recorded). */
  reply: LatencySummary;
  /** Deliveries seen / alarms × dashboards. */
  deliveredRatio: number;
  failures: string[];
}
type SosChildMessage = { type: 'ready'; dashboards: number } | { type: 'result'; result: SosResult } | { type: 'error'; message: string };

async function child(): Promise<void> {
  const send = (m: SosChildMessage) => process.send?.(m);
  let init: SosInit;
  const sockets: Socket[] = [];
  /** Worker id → when their SOS request left, performance.now(). */
  const sentAt = new Map<number, number>();
  const perAlarm = new Map<number, { n: number; last: number }>();
  const delivery = new Histogram();
  let deliveries = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const onRaised = (a: AlarmSummary) => {
    const at = sentAt.get(a.worker.id);
    if (at === undefined) return;
    const ms = performance.now() - at;
    delivery.record(ms);
    deliveries++;
    const p = perAlarm.get(a.worker.id) ?? { n: 0, last: 0 };
    p.n++;
    p.last = Math.max(p.last, ms);
    perAlarm.set(a.worker.id, p);
  };

  const osmand = (worker: { id: number; lon: number; lat: number }) =>
    new Promise<number>((resolve, reject) => {
      const q = new URLSearchParams({ id: `bench-${worker.id}`, lat: worker.lat.toFixed(6), lon: worker.lon.toFixed(6), accuracy: '8', alarm: 'sos' });
      const req = http.request(`${init.baseUrl}/api/osmand?${q}`, { method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  process.on('message', (m: SosParentMessage) => {
    void (async () => {
      try {
        if (m.type === 'init') {
          init = m;
          for (let i = 0; i < m.dashboards; i += 10) {
            await Promise.all(Array.from({ length: Math.min(10, m.dashboards - i) }, () => new Promise<void>((resolve, reject) => {
              const s = io(m.baseUrl, { auth: { token: m.operatorToken }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20_000 });
              s.once('connect_error', reject);
              s.once('session.ready', () => resolve());
              s.on('alarm.raised', onRaised);
              sockets.push(s);
            })));
          }
          send({ type: 'ready', dashboards: sockets.length });
        } else if (m.type === 'run') {
          const reply = new Histogram();
          const failures: string[] = [];
          for (const w of init.sos) {
            const t = performance.now();
            sentAt.set(w.id, t);
            const status = await osmand(w);
            reply.record(performance.now() - t);
            if (status !== 200) failures.push(`worker ${w.id}: HTTP ${status}`);
            await new Promise((r) => setTimeout(r, Math.max(0, m.gapMs - (performance.now() - t))));
          }
          // Stragglers: up to 5 s for the last deliveries.
          const expected = init.sos.length * sockets.length;
          const deadline = performance.now() + 5000;
          while (deliveries < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          const last = new Histogram();
          for (const p of perAlarm.values()) last.record(p.n === sockets.length ? p.last : Infinity);
          send({
            type: 'result',
            result: {
              alarms: init.sos.length,
              delivery: delivery.summary(),
              lastDashboard: last.summary(),
              reply: reply.summary(),
              deliveredRatio: deliveries / expected,
              failures: failures.slice(0, 5),
            },
          });
        } else {
          for (const s of sockets) s.disconnect();
          agent.destroy();
          process.disconnect();
          setTimeout(() => process.exit(0), 300).unref();
        }
      } catch (error) {
        send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
}

// ---------------------------------------------------------------------------------------------
// The server and the run (parent)

class Child<Out, In extends { type: string }> {
  readonly proc: ChildProcess;
  private waiters: ((m: In) => void)[] = [];
  constructor(file: string, args: string[] = []) {
    this.proc = fork(file, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: In) => {
      if (m.type === 'mark') return;
      this.waiters.shift()?.(m);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiters.splice(0)) w({ type: 'error', message: `child exited (${code})` } as unknown as In);
    });
  }
  request(m: Out, timeoutMs: number): Promise<In> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((reply) => {
        clearTimeout(timer);
        if (reply.type === 'error') reject(new Error((reply as unknown as { message: string }).message));
        else resolve(reply);
      });
      this.proc.send(m as object);
    });
  }
  stop(): void {
    if (this.proc.connected) this.proc.send({ type: 'stop' });
    setTimeout(() => this.proc.kill('SIGKILL'), 3000).unref();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const load1 = os.loadavg()[0]!;
  const scratch = await openScratchDb('postgres', log);
  cleanups.push(() => scratch.close());
  const watchdog = setTimeout(() => {
    log('watchdog: out of time');
    void cleanup().finally(() => process.exit(2));
  }, 9 * 60_000);
  try {
    await prepareWorkforce(scratch.db, WORKERS, log);
    const points = await workerPoints(scratch.db);
    // The SOS workers (one alarm each) get no background fixes: each alarm is a new one.
    const sosIdx = Array.from({ length: ALARMS }, (_, i) => Math.floor((i * points.ids.length) / ALARMS));
    const sosSet = new Set(sosIdx);
    const sos = sosIdx.map((i) => ({ id: points.ids[i]!, lon: points.lon[i]!, lat: points.lat[i]! }));
    const background = { ids: [] as number[], lon: [] as number[], lat: [] as number[] };
    points.ids.forEach((id, i) => {
      if (sosSet.has(i)) return;
      background.ids.push(id);
      background.lon.push(points.lon[i]!);
      background.lat.push(points.lat[i]!);
    });

    const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, simulate: false, serveClient: false, osmandPort: 0 };
    const app = await build({ db: scratch.db, config });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const tokenOf = async (username: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: BENCH_DEMO_PASSWORD } });
      if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode}`);
      return (res.json() as { token: string }).token;
    };
    const operatorToken = await tokenOf('operator');

    const load = new Child<ParentMessage, ChildMessage>(path.join(HERE, 'lib/load-child.ts'));
    cleanups.push(() => load.stop());
    await load.request({ type: 'init', baseUrl, adminToken: await tokenOf('admin'), operatorToken, dashboards: 0, workerIds: background.ids, lon: background.lon, lat: background.lat }, 60_000);
    const dash = new Child<SosParentMessage, SosChildMessage>(fileURLToPath(import.meta.url), ['--child']);
    cleanups.push(() => dash.stop());
    const ready = await dash.request({ type: 'init', baseUrl, operatorToken, dashboards: DASHBOARDS, sos }, 120_000);
    if (ready.type !== 'ready') throw new Error('dashboards not ready');
    log(`${ready.dashboards} dashboards connected; ${background.ids.length} workers in the background, ${sos.length} will press SOS`);

    // Background first (a warm-up, then the window the alarms fall in).
    const alarmsMs = ALARMS * ALARM_GAP_MS + 6000;
    const phase: StreamPhase = {
      kind: 'stream', name: `background ${fmt(BACKGROUND_RATE)}/s`, rate: BACKGROUND_RATE, batch: 500, connections: 4, maxInFlight: 8,
      warmupMs: 5000, durationMs: alarmsMs + 2000,
    };
    const backgroundDone = load.request({ type: 'phase', phase }, phase.warmupMs + phase.durationMs + 60_000);
    await new Promise((r) => setTimeout(r, phase.warmupMs + 1000));
    const cpu0 = sampleCpu(scratch.name);
    const accepted0 = app.ingest.stats.accepted;
    const t0 = performance.now();
    log(`raising ${ALARMS} SOS, one every ${ALARM_GAP_MS} ms…`);
    const run = await dash.request({ type: 'run', gapMs: ALARM_GAP_MS }, alarmsMs + 60_000);
    const windowS = (performance.now() - t0) / 1000;
    const cpu = cpuBetween(cpu0, sampleCpu(scratch.name));
    const ingestPerS = (app.ingest.stats.accepted - accepted0) / windowS;
    const bg = await backgroundDone;
    if (run.type !== 'result' || bg.type !== 'result') throw new Error('no result');
    const r = run.result;
    const b: PhaseResult = bg.result;
    const { rows: [stored] } = await scratch.db.query<{ n: number; open: number }>(sql`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'raised')::int AS open FROM alarms`);

    const cores = machineInfo().cores;
    log(`SOS → alarm.raised on ${DASHBOARDS} dashboards: p50 ${fmt(r.delivery.p50)} ms, p99 ${fmt(r.delivery.p99)} ms, max ${fmt(r.delivery.max)} ms; ` +
      `last dashboard per alarm p99 ${fmt(r.lastDashboard.p99)} ms; delivered ${fmt(r.deliveredRatio * 100, 1)} %`);
    log(`background: ${fmt(ingestPerS)} fixes/s stored during the alarms (offered ${fmt(b.offeredPerS)}/s, stored ${fmt(b.storedPerS)}/s over its window, batch ack p99 ${fmt(b.ack.p99)} ms); ` +
      `server ${fmt(cpu.selfPct)} %, postgres ${fmt(cpu.postgresPct)} %, machine ${fmt(cpu.machinePct)} % of ${cores} cores; load average before: ${fmt(load1, 2)}`);
    printReport({
      bench: 'SOS → alarm.raised on 100 dashboards under 10,000 fixes/s of ingest',
      machine: machineInfo(),
      headlines: [
        { metric: 'SOS → alarm.raised, p50 (every dashboard)', value: `${fmt(r.delivery.p50)} ms` },
        { metric: 'SOS → alarm.raised, p99 (every dashboard)', value: `${fmt(r.delivery.p99)} ms`, target: `≤ ${TARGET_P99_MS} ms (must ≤ ${LIMIT_P99_MS} ms)`, pass: r.delivery.p99 <= TARGET_P99_MS },
        { metric: 'SOS → the last of 100 dashboards, p99 per alarm', value: `${fmt(r.lastDashboard.p99)} ms`, target: `≤ ${LIMIT_P99_MS} ms`, pass: r.lastDashboard.p99 <= LIMIT_P99_MS },
        { metric: 'background ingest during the alarms', value: `${fmt(ingestPerS)} fixes/s`, target: `≥ ${fmt(BACKGROUND_RATE)}/s`, pass: ingestPerS >= 0.97 * BACKGROUND_RATE },
      ],
      tables: [
        {
          title: 'Figures',
          headers: ['measure', 'value'],
          rows: [
            ['alarms raised (one per worker) / stored / still raised', `${r.alarms} / ${stored!.n} / ${stored!.open}`],
            ['deliveries (alarms × dashboards)', `${fmt(r.deliveredRatio * 100, 1)} %`],
            ['SOS → alarm.raised p50 / p95 / p99 / max', `${fmt(r.delivery.p50)} / ${fmt(r.delivery.p95)} / ${fmt(r.delivery.p99)} / ${fmt(r.delivery.max)} ms`],
            ['SOS → last of 100 dashboards p50 / p99', `${fmt(r.lastDashboard.p50)} / ${fmt(r.lastDashboard.p99)} ms`],
            ['OsmAnd SOS reply p50 / p99 (after the alarm is recorded)', `${fmt(r.reply.p50)} / ${fmt(r.reply.p99)} ms`],
            ['background stored during the alarms', `${fmt(ingestPerS)} fixes/s`],
            ['background batch ack p99', `${fmt(b.ack.p99)} ms`],
            ['CPU: server / postgres / machine', `${fmt(cpu.selfPct)} % / ${fmt(cpu.postgresPct)} % / ${fmt(cpu.machinePct)} % of ${cores} cores`],
            ['load average (1 min) before the run', fmt(load1, 2)],
            ['failures', r.failures.length ? r.failures.join('; ') : 'none'],
          ],
          note: `${new Date().toISOString().slice(0, 10)}; ${machineInfo().cpu}; ${cores} cores; the run took ${fmt((Date.now() - started) / 1000)} s`,
        },
      ],
    });
    if (r.failures.length > 0 || r.deliveredRatio < 1 || stored!.n !== ALARMS) process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

/** What to release if anything fails, the watchdog fires or the runner stops us, newest first. */
const cleanups: (() => Promise<void> | void)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
}

if (process.argv.includes('--child')) void child();
else {
  // `npm run bench` stops a script at its limit with SIGTERM: drop the scratch database first.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  void main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
