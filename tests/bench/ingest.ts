/**
 * Ingest benchmark: positions in through the device entry points, durable in PostGIS, out to 100
 * live dashboards — against the targets of the issue (≥ 10,000 fixes/s; device → dashboard
 * p99 ≤ 100 ms) and against naive baselines measured in the same run on the same database.
 *
 * This process is the server (the real app from `build()`, listening on 127.0.0.1); the devices and
 * the dashboards live in a forked child (lib/load-child.ts) so the server has a core of its own as
 * far as two cores allow.
 *
 *   node --import tsx tests/bench/ingest.ts [--pglite | --engine=pglite] [--quick]
 *
 *   --pglite         after the PostgreSQL run, run again on embedded PGlite and report it separately
 *   --engine=pglite  only the PGlite run
 *   --quick          short phases, for checking the benchmark itself (figures not for the docs)
 *   --tick-ms=N      the hub's delta tick (default: the configured TICK_MS default, 50)
 *   --steady-only    only the warm-up and the steady phase (with the durability check), printed as
 *                    one line: for comparing two versions of the pipeline run after run (no report)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from 'socket.io';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { LiveState } from '../../server/modules/positions/live-state';
import { Histogram } from './lib/histogram';
import { cpuBetween, sampleCpu, type CpuSample, type CpuWindow } from './lib/cpu';
import { BENCH_DEMO_PASSWORD, countPositions, openScratchDb, prepareWorkforce, workerPoints, type ScratchDb } from './lib/scratch-db';
import { batchedWriter, deviceIds, naiveInserts, type BaselineResult, type Window } from './lib/baselines';
import { bytes, fmt, machineInfo, printReport, type BenchReport, type Headline, type Table } from './lib/report';
import type { ChildMessage, ParentMessage, Phase, PhaseResult } from './lib/protocol';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const STEADY_ONLY = args.includes('--steady-only');
const ENGINES: ('postgres' | 'pglite')[] = args.includes('--engine=pglite') ? ['pglite'] : args.includes('--pglite') ? ['postgres', 'pglite'] : ['postgres'];
const WORKERS = 100_000;
const DASHBOARDS = 100;
const TICK_MS = Number(args.find((a) => a.startsWith('--tick-ms='))?.split('=')[1] ?? loadConfig({}).tickMs);
/** Everything, set-up and tear-down included, must end within this; then the watchdog cleans up and exits. */
const BUDGET_MS = (ENGINES.length > 1 ? 16 : 9) * 60_000;

const log = (m: string) => console.error(`[bench:ingest] ${m}`);

/** The targets of the issue. */
const TARGET_RATE = 10_000;
const TARGET_P99_MS = 100;

interface ServerWindow {
  cpu: CpuWindow;
  loopDelayP99: number;
  loopDelayMax: number;
  hubTick: { ticks: number; frames: number; workersSent: number; p50: number; p99: number; max: number };
  writer: { batches: number; rows: number };
}

interface MeasuredPhase {
  phase: Phase;
  child: PhaseResult;
  server: ServerWindow;
  naiveLive: boolean;
  /** Fixes the server counted as stored in the phase, warm-up and drain included. */
  acceptedByServer: number;
}

interface EngineRun {
  engine: 'postgres' | 'pglite';
  versions: { postgres: string; postgis: string };
  setupS: number;
  phases: MeasuredPhase[];
  maxSustained: { rate: number; achieved: number } | undefined;
  saturation: MeasuredPhase | undefined;
  baselines: BaselineResult[];
  verified: { expected: number; found: number };
}

/** Resources to release if anything fails or the watchdog fires, newest first. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await fn().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
  }
}

class LoadChild {
  private readonly proc: ChildProcess;
  private waiters: ((m: ChildMessage) => void)[] = [];
  onMark: (m: Extract<ChildMessage, { type: 'mark' }>) => void = () => undefined;

  constructor() {
    this.proc = fork(path.join(HERE, 'lib/load-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: ChildMessage) => {
      if (m.type === 'mark') return this.onMark(m);
      const w = this.waiters.shift();
      w?.(m);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiters.splice(0)) w({ type: 'error', message: `load child exited (${code})` });
    });
  }

  request(m: ParentMessage, timeoutMs: number): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load child did not answer ${m.type} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((reply) => {
        clearTimeout(timer);
        if (reply.type === 'error') reject(new Error(reply.message));
        else resolve(reply);
      });
      this.proc.send(m);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    if (this.proc.connected) this.proc.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** Times the hub's ticks (a wrapper on this app instance; the server code is untouched). */
function instrumentHub(app: App): { reset(): Histogram } {
  let hist = new Histogram();
  const hub = app.hub;
  const tick = hub.tick.bind(hub);
  hub.tick = () => {
    const t = performance.now();
    tick();
    hist.record(performance.now() - t);
  };
  return {
    reset() {
      const h = hist;
      hist = new Histogram();
      return h;
    },
  };
}

async function runEngine(engine: 'postgres' | 'pglite'): Promise<EngineRun> {
  const setupStarted = performance.now();
  const scratch: ScratchDb = await openScratchDb(engine, log);
  cleanups.push(() => scratch.close());
  const { db } = scratch;
  log(`${engine}: PostgreSQL ${scratch.versions.postgres}, PostGIS ${scratch.versions.postgis}; migrating and seeding Yingze…`);
  await prepareWorkforce(db, WORKERS, log);
  const workforce = await workerPoints(db);

  const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, tickMs: TICK_MS, simulate: false, serveClient: false, osmandPort: 0 };
  const app = await build({ db, config });
  await app.listen({ port: 0, host: '127.0.0.1' });
  let appClosed = false;
  const closeApp = async () => {
    if (appClosed) return;
    appClosed = true;
    await app.close();
  };
  cleanups.push(closeApp);
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const tokenOf = async (username: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: BENCH_DEMO_PASSWORD } });
    if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
    return (res.json() as { token: string }).token;
  };
  const hubTimer = instrumentHub(app);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const child = new LoadChild();
  cleanups.push(() => child.stop());
  const ready = await child.request(
    { type: 'init', baseUrl, adminToken: await tokenOf('admin'), operatorToken: await tokenOf('operator'), dashboards: DASHBOARDS, workerIds: workforce.ids, lon: workforce.lon, lat: workforce.lat },
    120_000,
  );
  if (ready.type !== 'ready') throw new Error('load child not ready');
  const setupS = (performance.now() - setupStarted) / 1000;
  log(`${engine}: ${ready.dashboards} dashboards connected (snapshot of ${ready.snapshotWorkers} workers); set-up took ${fmt(setupS, 1)} s`);

  const phases: MeasuredPhase[] = [];
  const runPhase = async (phase: Phase, naiveLive = false): Promise<MeasuredPhase> => {
    let unsubscribe: (() => void) | undefined;
    if (naiveLive) {
      // What a naive server does: one JSON event per fix to every dashboard, no coalescing.
      const io = app.hub.io as unknown as Server;
      unsubscribe = app.ingest.subscribe({ changed: (w) => void io.emit('worker.moved', LiveState.record(w)), presence: () => undefined });
    }
    const acceptedBefore = app.ingest.stats.accepted;
    let start: { cpu: CpuSample; writer: { batches: number; rows: number }; hub: { ticks: number; frames: number; workersSent: number } } | undefined;
    let server: ServerWindow | undefined;
    child.onMark = (m) => {
      if (m.at === 'start') {
        loopDelay.reset();
        hubTimer.reset();
        start = { cpu: sampleCpu(scratch.name), writer: { ...app.ingest.writer.stats }, hub: { ...app.hub.stats } };
      } else if (start) {
        const ticks = hubTimer.reset().summary();
        server = {
          cpu: cpuBetween(start.cpu, sampleCpu(scratch.name)),
          loopDelayP99: loopDelay.percentile(99) / 1e6,
          loopDelayMax: loopDelay.max / 1e6,
          hubTick: {
            ticks: app.hub.stats.ticks - start.hub.ticks,
            frames: app.hub.stats.frames - start.hub.frames,
            workersSent: app.hub.stats.workersSent - start.hub.workersSent,
            p50: ticks.p50,
            p99: ticks.p99,
            max: ticks.max,
          },
          writer: { batches: app.ingest.writer.stats.batches - start.writer.batches, rows: app.ingest.writer.stats.rows - start.writer.rows },
        };
      }
    };
    log(`${engine}: phase ${phase.name}…`);
    const reply = await child.request({ type: 'phase', phase }, phase.warmupMs + phase.durationMs + 60_000);
    unsubscribe?.();
    if (reply.type !== 'result' || !server) throw new Error(`phase ${phase.name}: no result`);
    await app.ingest.writer.drainAll();
    const measured: MeasuredPhase = {
      phase,
      child: reply.result,
      server,
      naiveLive,
      acceptedByServer: app.ingest.stats.accepted - acceptedBefore,
    };
    phases.push(measured);
    const r = reply.result;
    log(
      `${engine}: ${phase.name}: sent ${fmt(r.sentPerS)}/s, stored ${fmt(r.storedPerS)}/s, ack p99 ${fmt(r.ack.p99)} ms, ` +
        `dashboard p50/p99 ${fmt(r.dashboard.p50)}/${fmt(r.dashboard.p99)} ms, server CPU ${fmt(server.cpu.selfPct)} %, postgres ${fmt(server.cpu.postgresPct)} %, ` +
        `child ${fmt(r.childCpuPct)} %, machine ${fmt(server.cpu.machinePct)} % of ${machineInfo().cores} cores` + (r.rejected ? `, REJECTED ${r.rejected}: ${r.rejections.join('; ')}` : ''),
    );
    return measured;
  };

  const s = (seconds: number) => (QUICK ? Math.min(seconds, 3) : seconds) * 1000;
  const stream = (name: string, rate: number, warmupS: number, durationS: number): Phase => ({
    kind: 'stream', name, rate, warmupMs: s(warmupS), durationMs: s(durationS), batch: batchFor(rate), connections: 4, maxInFlight: 8,
  });
  const lite = engine === 'pglite';
  const steadyRate = lite ? 2_000 : TARGET_RATE;

  // One full round of the work force first: every worker's first fix also turns them online.
  await runPhase(stream('warm-up (first fix of every worker)', steadyRate, 0, WORKERS / steadyRate));
  const steady = await runPhase(stream(`steady ${fmt(steadyRate)}/s`, steadyRate, 2, 25));
  if (STEADY_ONLY) {
    await child.stop();
    const acknowledged = phases.reduce((a, p) => a + p.child.acknowledgedAll, 0);
    await closeApp();
    const rows = await countPositions(db);
    const c = steady.child;
    const w = steady.server.writer;
    console.log(
      `STEADY ${engine}: offered ${fmt(c.offeredPerS)}/s achieved ${fmt(c.storedPerS)}/s; ack p50/p99 ${fmt(c.ack.p50)}/${fmt(c.ack.p99)} ms; ` +
        `dashboard p50/p95/p99 ${fmt(c.dashboard.p50)}/${fmt(c.dashboard.p95)}/${fmt(c.dashboard.p99)} ms; send→tick p50/p99 ${fmt(c.toTick.p50)}/${fmt(c.toTick.p99)} ms; ` +
        `tick→dashboard p50/p99 ${fmt(c.fromTick.p50)}/${fmt(c.fromTick.p99)} ms; server ${fmt(steady.server.cpu.selfPct)} %, postgres ${fmt(steady.server.cpu.postgresPct)} %, ` +
        `child ${fmt(c.childCpuPct)} %, other ${fmt(otherCpu(steady))} % of a core; rows/batch ${fmt(w.batches ? w.rows / w.batches : 0)}; ` +
        `rows ${rows} = acknowledged ${acknowledged}: ${rows === acknowledged ? 'ok' : 'MISMATCH'}`,
    );
    cleanups.pop();
    cleanups.pop();
    await cleanups.pop()!();
    return { engine, versions: scratch.versions, setupS, phases, maxSustained: undefined, saturation: undefined, baselines: [], verified: { expected: acknowledged, found: rows } };
  }

  // Step up from the steady rate until the achieved rate falls short of the offered one; if the
  // steady rate itself was not sustained, step down until one is.
  let maxSustained: EngineRun['maxSustained'];
  let saturation: MeasuredPhase | undefined;
  if (sustained(steady)) {
    maxSustained = { rate: steadyRate, achieved: steady.child.storedPerS };
    for (const rate of lite ? [3_000, 4_000, 6_000, 8_000] : [12_500, 15_000, 17_500, 20_000, 25_000, 30_000]) {
      const m = await runPhase(stream(`step up ${fmt(rate)}/s`, rate, 2, 8));
      if (!sustained(m)) {
        saturation = m;
        break;
      }
      maxSustained = { rate, achieved: m.child.storedPerS };
    }
  } else {
    saturation = steady;
    for (const rate of lite ? [1_500, 1_000, 500] : [8_000, 6_000, 4_000]) {
      const m = await runPhase(stream(`step down ${fmt(rate)}/s`, rate, 2, 8));
      if (sustained(m)) {
        maxSustained = { rate, achieved: m.child.storedPerS };
        break;
      }
    }
  }

  // The phone path: one fix per HTTP request.
  for (const concurrency of [64, 256]) {
    await runPhase({ kind: 'osmand', name: `OsmAnd HTTP, ${concurrency} in flight`, concurrency, warmupMs: s(2), durationMs: s(10) });
  }

  // The wire, measured live at a rate a naive server can still serve: packed only, then packed + per-fix JSON.
  const wireRate = lite ? 200 : 500;
  await runPhase(stream(`wire: packed only @ ${wireRate}/s`, wireRate, 2, 8));
  await runPhase(stream(`wire: packed + naive JSON per fix @ ${wireRate}/s`, wireRate, 2, 8), true);

  await child.stop();
  // Durability: every fix a device was told is stored must be a row (the server's own count must agree).
  const live = phases.reduce((a, p) => a + p.child.acknowledgedAll, 0);
  const accepted = phases.reduce((a, p) => a + p.acceptedByServer, 0);
  await closeApp();
  const afterLive = await countPositions(db);
  log(`${engine}: ${afterLive} rows in worker_positions; ${live} fixes acknowledged to the devices as stored; the server counted ${accepted}`);
  if (accepted !== live) log(`${engine}: WARNING: acknowledgements seen by the devices (${live}) and the server's count (${accepted}) differ`);

  // Database baselines, same database, with the server stopped so each has the machine.
  const devices = await deviceIds(db);
  const hour = 3_600_000;
  const base = Date.now() + hour; // newer than every live fix, so the latest upserts really update
  const baselines: BaselineResult[] = [];
  const seconds = QUICK ? 3 : 10;
  const measure = async (fn: (window: Window) => Promise<BaselineResult>) => {
    let before = sampleCpu(scratch.name);
    let cpu: CpuWindow | undefined;
    const b = await fn({ start: () => void (before = sampleCpu(scratch.name)), end: () => void (cpu = cpuBetween(before, sampleCpu(scratch.name))) });
    b.cpu = cpu;
    baselines.push(b);
    log(`${engine}: ${b.name}: ${fmt(b.fixesPerS)} fixes/s (${b.detail}); node ${fmt(cpu?.selfPct ?? NaN)} %, postgres ${fmt(cpu?.postgresPct ?? NaN)} %, machine ${fmt(cpu?.machinePct ?? NaN)} %`);
  };
  if (scratch.url) {
    const url = scratch.url;
    for (const connections of [4, 16]) {
      await measure((w) => naiveInserts({ url }, workforce, devices, base + baselines.length * hour, { connections, seconds }, w));
    }
  } else {
    await measure((w) => naiveInserts({ db: db as never }, workforce, devices, base, { connections: 1, seconds }, w));
  }
  await measure((w) => batchedWriter(db, workforce, devices, base + 3 * hour, { seconds, outstanding: 20_000 }, w));
  const found = await countPositions(db);
  const expected = live + baselines.reduce((a, b) => a + b.fixes, 0);

  cleanups.pop(); // the child, stopped
  cleanups.pop(); // the app, closed
  await cleanups.pop()!(); // the scratch database
  return { engine, versions: scratch.versions, setupS, phases, maxSustained, saturation, baselines, verified: { expected, found } };
}

/** Percent of one core that the machine spent outside the server, its database backends and the load child. */
function otherCpu(p: MeasuredPhase): number {
  const cores = Number(machineInfo().cores);
  return Math.max(0, p.server.cpu.machinePct * cores - p.server.cpu.selfPct - p.server.cpu.postgresPct - p.child.childCpuPct);
}

/** About 20 batches a second, 25 to 1,000 fixes each (a gateway's batch). */
const batchFor = (rate: number) => Math.max(25, Math.min(1000, Math.round(rate / 20)));

/** Sustained: everything offered sent and stored (within 3 %), every batch acknowledged within 1 s. */
function sustained(m: MeasuredPhase): boolean {
  const r = m.child;
  return r.storedPerS >= 0.97 * r.offeredPerS && r.sentPerS >= 0.97 * r.offeredPerS && r.ack.p99 <= 1000 && r.rejected === 0 && r.unacknowledged === 0;
}

function report(runs: EngineRun[]): BenchReport {
  const tables: Table[] = [];
  const headlines: Headline[] = [];
  for (const run of runs) {
    const tag = run.engine === 'postgres' ? `PostgreSQL ${run.versions.postgres} + PostGIS ${run.versions.postgis}` : `PGlite (PostgreSQL ${run.versions.postgres} + PostGIS ${run.versions.postgis}, in the server process)`;
    tables.push({
      title: `Device entry points → PostGIS → ${DASHBOARDS} dashboards — ${tag}`,
      headers: ['Phase', 'Offered /s', 'Achieved /s', 'Ack p50 / p99 ms', 'Dashboard p50 / p95 / p99 ms', 'Send → tick p50 / p99 ms', 'Tick → dashboard p50 / p99 ms', 'Delivered', 'Server CPU %', 'Postgres CPU %', 'Load child CPU %', 'Other processes CPU %', 'Server loop delay p99 ms', 'Hub tick p50 / p99 ms', 'Rows/batch'],
      rows: run.phases.map((p) => {
        const r = p.child;
        return [
          p.phase.name,
          r.kind === 'stream' ? fmt(r.offeredPerS) : `(${(p.phase as { concurrency: number }).concurrency} in flight)`,
          fmt(r.storedPerS),
          `${fmt(r.ack.p50)} / ${fmt(r.ack.p99)}`,
          `${fmt(r.dashboard.p50)} / ${fmt(r.dashboard.p95)} / ${fmt(r.dashboard.p99)}`,
          `${fmt(r.toTick.p50)} / ${fmt(r.toTick.p99)}`,
          `${fmt(r.fromTick.p50)} / ${fmt(r.fromTick.p99)}`,
          `${fmt(100 * r.deliveredRatio, 1)} %`,
          fmt(p.server.cpu.selfPct),
          fmt(p.server.cpu.postgresPct),
          fmt(r.childCpuPct),
          fmt(otherCpu(p)),
          fmt(p.server.loopDelayP99),
          `${fmt(p.server.hubTick.p50)} / ${fmt(p.server.hubTick.p99)}`,
          fmt(p.server.writer.rows / Math.max(1, p.server.writer.batches), 0),
        ];
      }),
      note:
        'Achieved = fixes acknowledged as stored (after commit) during the window. Dashboard latency = device send → record decoded, over all dashboards, ' +
        `same clock. CPU: percent of one core (the machine has ${machineInfo().cores}); "other processes" is the machine's busy time minus the server, its PostgreSQL backends and the load child — ` +
        'work outside the benchmark (other users of the machine) and kernel time it could not attribute. Ack: one batch (stream) or one request (OsmAnd). ' +
        'The dashboard latency splits at the server time each frame carries: send → tick (ingest, then the wait for the next ' + `${TICK_MS} ms tick) and tick → dashboard (packing, emitting to ${DASHBOARDS} sockets, delivery, decoding). ` +
        'Hub tick: time the server spends in one delta tick (pack the changed workers, emit to the room). Rows/batch: the writer’s average transaction.',
    });
    tables.push({
      title: `Wire per dashboard — ${tag}`,
      headers: ['Phase', 'Fixes /s', 'Packed: bytes /s', 'Packed: messages /s', 'Naive JSON: bytes /s', 'Naive JSON: messages /s', 'Bytes ratio', 'Messages ratio'],
      rows: run.phases
        .filter((p) => p.child.storedPerS > 0)
        .map((p) => {
          const r = p.child;
          const packedBytes = p.naiveLive ? NaN : r.wire.bytesPerS;
          return [
            p.phase.name,
            fmt(r.storedPerS),
            p.naiveLive ? `${bytes(r.wire.bytesPerS)} (both)` : bytes(packedBytes),
            p.naiveLive ? `${fmt(r.wire.messagesPerS)} (both)` : fmt(r.wire.messagesPerS),
            bytes(r.naiveWire.bytesPerS),
            fmt(r.naiveWire.messagesPerS),
            p.naiveLive ? '' : `${fmt(r.naiveWire.bytesPerS / packedBytes, 1)}×`,
            p.naiveLive ? '' : `${fmt(r.naiveWire.messagesPerS / r.wire.messagesPerS, 0)}×`,
          ];
        }),
      note:
        'Packed: measured on each dashboard’s TCP socket (bytes read, WebSocket frames; pings, presence and the header text frame of each binary event included). ' +
        'Naive JSON: computed by serialising each stored fix as the socket.io event a naive server would send — 42["worker.moved",{id,lon,lat,time,speed,battery,flags}] plus its WebSocket header — to every dashboard; ' +
        'in the "packed + naive" phase the server really emitted those events too (see the CPU table).',
    });
    const packed = run.phases.find((p) => p.phase.name.startsWith('wire: packed only'));
    const naive = run.phases.find((p) => p.naiveLive);
    if (packed && naive) {
      const perFix = (p: MeasuredPhase) => (p.server.cpu.selfPct * 10) / p.child.storedPerS; // ms of server CPU per fix
      tables.push({
        title: `Live wire cost, same fix rate — ${tag}`,
        headers: ['Server emits', 'Fixes /s', 'Server CPU %', 'Server CPU per fix (µs)', 'Load child CPU %', 'Bytes /s per dashboard', 'Messages /s per dashboard', 'Dashboard p99 ms'],
        rows: [
          [`packed frames (hub, ${TICK_MS} ms tick)`, fmt(packed.child.storedPerS), fmt(packed.server.cpu.selfPct), fmt(perFix(packed) * 1000), fmt(packed.child.childCpuPct), bytes(packed.child.wire.bytesPerS), fmt(packed.child.wire.messagesPerS), fmt(packed.child.dashboard.p99)],
          [
            'packed frames + one JSON event per fix',
            fmt(naive.child.storedPerS),
            fmt(naive.server.cpu.selfPct),
            fmt(perFix(naive) * 1000),
            fmt(naive.child.childCpuPct),
            bytes(naive.child.wire.bytesPerS),
            fmt(naive.child.wire.messagesPerS),
            `${fmt(naive.child.dashboard.p99)} (JSON events: ${fmt(naive.child.naiveDashboard.p99)})`,
          ],
        ],
        note:
          `The difference between the rows is what per-fix JSON costs on top of the packed frames, measured with ${DASHBOARDS} real dashboards: ` +
          `${fmt(((naive.server.cpu.selfPct - packed.server.cpu.selfPct) * 10) / naive.child.storedPerS, 2)} ms of server CPU per fix, ` +
          `${fmt(((naive.server.cpu.selfPct - packed.server.cpu.selfPct) * 10_000) / naive.child.storedPerS / DASHBOARDS, 1)} µs per event per dashboard.`,
      });
    }
    const naiveDb = run.baselines.filter((b) => b.name.startsWith('naive'));
    const batched = run.baselines.find((b) => b.name.startsWith('batched'))!;
    tables.push({
      title: `Database writes, same database, server stopped — ${tag}`,
      headers: ['Writer', 'Fixes', 'Seconds', 'Fixes /s (history row + latest upsert each)', 'Statements or batches /s', 'Node CPU %', 'Postgres CPU %', 'Other processes CPU %', 'CPU ms per 1,000 fixes', 'vs best naive'],
      rows: run.baselines.map((b) => [
        b.name,
        fmt(b.fixes),
        fmt(b.seconds, 1),
        fmt(b.fixesPerS),
        fmt(b.statementsPerS),
        fmt(b.cpu?.selfPct ?? NaN),
        fmt(b.cpu?.postgresPct ?? NaN),
        fmt(b.cpu ? Math.max(0, b.cpu.machinePct * Number(machineInfo().cores) - b.cpu.selfPct - b.cpu.postgresPct) : NaN),
        fmt(b.cpu ? ((b.cpu.selfPct + b.cpu.postgresPct) * 10_000) / b.fixesPerS : NaN),
        `${fmt(b.fixesPerS / Math.max(...naiveDb.map((n) => n.fixesPerS)), 1)}×`,
      ]),
      note: `${batched.detail}. Rows verified at the end: ${fmt(run.verified.found)} in worker_positions, ${fmt(run.verified.expected)} acknowledged or written.`,
    });

    const steady = run.phases.find((p) => p.phase.name.startsWith('steady'))!;
    const osmand64 = run.phases.find((p) => p.phase.name.includes('64 in flight'));
    const packedMeasured = run.phases.find((p) => p.phase.name.startsWith('steady'))!;
    const e = run.engine === 'postgres' ? '' : ' [PGlite]';
    const bestNaive = Math.max(...naiveDb.map((n) => n.fixesPerS));
    headlines.push(
      {
        metric: `Stream ingest at ${fmt(steady.child.offeredPerS)}/s offered for ${fmt(steady.child.windowS, 0)} s: achieved${e}`,
        value: `${fmt(steady.child.storedPerS)} /s; ${fmt(steady.child.stored)} of ${fmt(steady.child.sent)} fixes sent stored, ack p99 ${fmt(steady.child.ack.p99)} ms`,
        target: `≥ ${fmt(TARGET_RATE)} /s sustained`,
        pass: steady.child.offeredPerS >= TARGET_RATE && sustained(steady),
      },
      { metric: `Device → dashboard p99, ${DASHBOARDS} dashboards, steady${e}`, value: `${fmt(steady.child.dashboard.p99)} ms`, target: `≤ ${TARGET_P99_MS} ms`, pass: steady.child.dashboard.p99 <= TARGET_P99_MS },
      { metric: `Device → dashboard p50 / p95, steady${e}`, value: `${fmt(steady.child.dashboard.p50)} / ${fmt(steady.child.dashboard.p95)} ms` },
      { metric: `…of which send → tick p50 / p99 (${TICK_MS} ms tick)${e}`, value: `${fmt(steady.child.toTick.p50)} / ${fmt(steady.child.toTick.p99)} ms` },
      { metric: `Max sustained stream rate (steps)${e}`, value: run.maxSustained ? `${fmt(run.maxSustained.rate)} /s` : 'none', ...(run.saturation ? { target: `lowest rate not sustained: ${fmt(run.saturation.child.offeredPerS)}/s offered, ${fmt(run.saturation.child.storedPerS)}/s achieved, ack p99 ${fmt(run.saturation.child.ack.p99)} ms` } : {}) },
      { metric: `OsmAnd HTTP, 64 in flight${e}`, value: osmand64 ? `${fmt(osmand64.child.storedPerS)} /s` : '–' },
      { metric: `Server CPU at steady rate${e}`, value: `${fmt(steady.server.cpu.selfPct)} % of a core (postgres ${fmt(steady.server.cpu.postgresPct)} %, load child ${fmt(steady.child.childCpuPct)} %)` },
      { metric: `CPU taken by other processes during the steady phase${e}`, value: `${fmt(otherCpu(steady))} % of a core` },
      { metric: `Durable: rows in worker_positions = acknowledged${e}`, value: `${fmt(run.verified.found)} / ${fmt(run.verified.expected)}`, pass: run.verified.found === run.verified.expected },
      { metric: `Batched writer vs naive per-row inserts${e}`, value: `${fmt(batched.fixesPerS)} vs ${fmt(bestNaive)} fixes/s = ${fmt(batched.fixesPerS / bestNaive, 1)}×` },
      {
        metric: `Wire per dashboard at steady rate, naive JSON vs packed${e}`,
        value:
          `${bytes(packedMeasured.child.naiveWire.bytesPerS)}/s vs ${bytes(packedMeasured.child.wire.bytesPerS)}/s = ${fmt(packedMeasured.child.naiveWire.bytesPerS / packedMeasured.child.wire.bytesPerS, 1)}× bytes; ` +
          `${fmt(packedMeasured.child.naiveWire.messagesPerS)} vs ${fmt(packedMeasured.child.wire.messagesPerS)} msg/s = ${fmt(packedMeasured.child.naiveWire.messagesPerS / packedMeasured.child.wire.messagesPerS, 0)}×`,
      },
    );
  }
  const m = machineInfo();
  const r0 = runs[0]!;
  return {
    bench: 'ingest',
    headlines,
    tables,
    machine: { ...m, postgres: r0.versions.postgres, postgis: r0.versions.postgis, setup: runs.map((r) => `${r.engine} ${fmt(r.setupS, 0)} s`).join(', ') },
  };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${BUDGET_MS / 60_000} min; cleaning up and giving up`);
    void cleanup().finally(() => process.exit(2));
  }, BUDGET_MS);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const runs: EngineRun[] = [];
  try {
    for (const engine of ENGINES) runs.push(await runEngine(engine));
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  if (STEADY_ONLY) return;
  const rep = report(runs);
  console.log(Object.entries(rep.machine).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  printReport(rep);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
