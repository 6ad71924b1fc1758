/**
 * The load child of the ingest benchmark, forked so the server keeps a core to itself as far as
 * two cores allow: it plays the devices (WebSocket device stream or OsmAnd HTTP, paced) and the
 * dashboards (socket.io clients), and measures device → dashboard latency on one clock — the send
 * time of each fix is remembered per (worker, fix second), and each dashboard looks a record up as it
 * arrives. Nothing here allocates per record on the dashboard side: at 10,000 fixes/s and 100
 * dashboards that is a million records a second.
 */
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { viewWorkerFrame, type WorkerFrame, type WorkerRecord } from '../../../shared/realtime';
import { Histogram } from './histogram';
import type { ChildInit, ChildMessage, OsmAndPhase, ParentMessage, Phase, PhaseResult, StreamPhase } from './protocol';

const KNOTS_TO_MS = 0.514444;
/** How far a simulated worker strays from the point in their grid, degrees (≈ 200 m). */
const ROAM_DEG = 0.002;

const send = (m: ChildMessage) => process.send?.(m);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let init: ChildInit;
let baseLon: Float64Array, baseLat: Float64Array, curLon: Float64Array, curLat: Float64Array;
/** Indexed by worker id: the second of the newest fix sent, and when it was sent (performance.now()). */
let sentSec: Uint32Array, sentAt: Float64Array;
let cursor = 0;

interface Dashboard {
  socket: Socket;
  ws: WebSocket;
  messages: number;
}
const dashboards: Dashboard[] = [];

/** The measurement window currently open, read by the dashboard handlers. */
const win = {
  start: Infinity,
  end: -Infinity,
  dashboard: new Histogram(),
  /** The same latency split at the server's tick time carried by the frame: send → tick, tick → dashboard. */
  toTick: new Histogram(),
  fromTick: new Histogram(),
  naive: new Histogram(),
  delivered: 0,
};
/** performance.now() + this = wall-clock ms, comparable with the server's Date.now() on the same machine. */
const ORIGIN = performance.timeOrigin;

function onFrame(frame: WorkerFrame): void {
  const now = performance.now();
  const tick = frame.t - ORIGIN;
  const v = viewWorkerFrame(frame.data as ArrayBuffer | ArrayBufferView, frame.n);
  for (let i = 0; i < v.n; i++) {
    const id = v.ids[i]!;
    if (v.time[i] !== sentSec[id]) continue;
    const at = sentAt[id]!;
    if (at >= win.start && at < win.end) {
      win.dashboard.record(now - at);
      win.toTick.record(tick - at);
      win.fromTick.record(now - tick);
      win.delivered++;
    }
  }
}

function onNaive(r: WorkerRecord): void {
  const now = performance.now();
  if (Math.floor(r.time / 1000) !== sentSec[r.id]) return;
  const at = sentAt[r.id]!;
  if (at >= win.start && at < win.end) win.naive.record(now - at);
}

async function connectDashboards(): Promise<number> {
  let snapshotWorkers = 0;
  const connectOne = () =>
    new Promise<void>((resolve, reject) => {
      const socket = io(init.baseUrl, { auth: { token: init.operatorToken }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20_000 });
      const timer = setTimeout(() => reject(new Error('dashboard snapshot timed out')), 30_000);
      socket.once('connect_error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('workers.snapshot', (frame: WorkerFrame) => {
        clearTimeout(timer);
        snapshotWorkers = frame.n;
        // The engine's transport is a `ws` WebSocket: count its messages, read its TCP socket's bytes.
        const ws = (socket.io.engine as unknown as { transport: { ws: WebSocket } }).transport.ws;
        const d: Dashboard = { socket, ws, messages: 0 };
        ws.on('message', () => d.messages++);
        dashboards.push(d);
        resolve();
      });
      socket.on('workers.delta', onFrame);
      socket.on('worker.moved', onNaive);
    });
  // A few at a time: a hundred handshakes at once only measures the accept queue.
  for (let i = 0; i < init.dashboards; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, init.dashboards - i) }, connectOne));
  }
  return snapshotWorkers;
}

const wireBytes = () => dashboards.reduce((a, d) => a + ((d.ws as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0), 0);
const wireMessages = () => dashboards.reduce((a, d) => a + d.messages, 0);

/** One fix for the worker at `idx`: a random walk around their grid point, strictly newer second. */
function nextFix(idx: number, nowPerf: number) {
  const id = init.workerIds[idx]!;
  let sec = Math.floor(Date.now() / 1000);
  if (sec <= sentSec[id]!) sec = sentSec[id]! + 1;
  sentSec[id] = sec;
  sentAt[id] = nowPerf;
  const lon = Math.min(baseLon[idx]! + ROAM_DEG, Math.max(baseLon[idx]! - ROAM_DEG, curLon[idx]! + (Math.random() - 0.5) * 1e-4));
  const lat = Math.min(baseLat[idx]! + ROAM_DEG, Math.max(baseLat[idx]! - ROAM_DEG, curLat[idx]! + (Math.random() - 0.5) * 1e-4));
  curLon[idx] = lon;
  curLat[idx] = lat;
  const speed = Math.round(Math.random() * 400) / 100;
  return { id, device: `bench-${id}`, lat: Math.round(lat * 1e6) / 1e6, lon: Math.round(lon * 1e6) / 1e6, timestamp: sec, speed, batt: 20 + (id % 80) };
}

/** What a naive server would put on the wire for this fix, per dashboard: one socket.io event. */
function naiveEventBytes(f: ReturnType<typeof nextFix>): number {
  const record = { id: f.id, lon: f.lon, lat: f.lat, time: f.timestamp * 1000, speed: f.speed * KNOTS_TO_MS, battery: f.batt, flags: 1 };
  const text = `42["worker.moved",${JSON.stringify(record)}]`;
  const len = Buffer.byteLength(text);
  return len + (len <= 125 ? 2 : 4); // WebSocket frame header, server → client (unmasked)
}

interface Outcomes {
  sent: number;
  stored: number;
  duplicate: number;
  rejected: number;
  storedInWindow: number;
  /** Stored acknowledgements of the whole phase, warm-up included. */
  acknowledgedAll: number;
  /** Fixes the schedule asked for in the window. */
  offered: number;
  rejections: string[];
  ack: Histogram;
  naiveBytes: number;
}

function newOutcomes(): Outcomes {
  return { acknowledgedAll: 0, offered: 0, sent: 0, stored: 0, duplicate: 0, rejected: 0, storedInWindow: 0, rejections: [], ack: new Histogram(), naiveBytes: 0 };
}

function openWindow(phase: Phase, start: number): void {
  win.start = start;
  win.end = start + phase.durationMs;
  win.dashboard = new Histogram();
  win.toTick = new Histogram();
  win.fromTick = new Histogram();
  win.naive = new Histogram();
  win.delivered = 0;
}

/** The server's answer to a batch (one result per fix and the counts), or to a message refused whole (`code`). */
interface StreamAnswer {
  ref: number;
  results?: { index: number; status: 'stored' | 'duplicate' | 'rejected'; code?: string; message?: string }[];
  stored?: number;
  duplicate?: number;
  rejected?: number;
  code?: string;
  message?: string;
}

interface StreamConn {
  ws: WebSocket;
  inFlight: Map<number, { at: number; n: number; inWindow: boolean }>;
}

async function openStream(): Promise<StreamConn> {
  // A gateway authenticates with its admin token in the Authorization header (never in the URL).
  const url = `${init.baseUrl.replace(/^http/, 'ws')}/api/devices/stream`;
  const ws = new WebSocket(url, { perMessageDeflate: false, headers: { authorization: `Bearer ${init.adminToken}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, inFlight: new Map() };
}

async function runStream(p: StreamPhase): Promise<PhaseResult> {
  const conns = await Promise.all(Array.from({ length: p.connections }, openStream));
  const out = newOutcomes();
  let ref = 0;
  let heldBack = 0;
  const t0 = performance.now();
  const start = t0 + p.warmupMs;
  const end = start + p.durationMs;
  for (const c of conns) {
    c.ws.on('message', (raw: Buffer) => {
      const now = performance.now();
      const reply = JSON.parse(raw.toString()) as StreamAnswer;
      const batch = c.inFlight.get(reply.ref);
      c.inFlight.delete(reply.ref);
      if (!batch) return;
      if (reply.code) {
        if (batch.inWindow) {
          out.rejected += batch.n;
          if (out.rejections.length < 5) out.rejections.push(`${reply.code}: ${reply.message}`);
        }
        return;
      }
      out.acknowledgedAll += reply.stored ?? 0;
      if (now >= start && now < end) out.storedInWindow += reply.stored ?? 0;
      if (!batch.inWindow) return;
      out.ack.record(now - batch.at);
      out.stored += reply.stored ?? 0;
      out.duplicate += reply.duplicate ?? 0;
      out.rejected += reply.rejected ?? 0;
      for (const r of reply.results ?? []) {
        if (r.status === 'rejected' && out.rejections.length < 5) out.rejections.push(`${r.code}: ${r.message}`);
      }
    });
  }

  // Batch i goes at a uniformly random moment of its slot [i, i+1) × gap: the count is exact, and
  // send times fall at every phase of the hub's tick, as independent devices' would (a fixed cadence
  // equal to the tick would measure one phase only).
  const gapMs = (1000 * p.batch) / p.rate;
  let slot = 0;
  let nextAt = t0 + Math.random() * gapMs;
  let windowOpened = false;
  let cpuStart = process.cpuUsage();
  let wireStart = { bytes: 0, messages: 0 };
  for (;;) {
    const now = performance.now();
    if (!windowOpened && now >= start) {
      windowOpened = true;
      openWindow(p, start);
      cpuStart = process.cpuUsage();
      wireStart = { bytes: wireBytes(), messages: wireMessages() };
      send({ type: 'mark', phase: p.name, at: 'start' });
    }
    if (now >= end) break;
    while (nextAt <= now) {
      const sendAt = nextAt;
      slot++;
      nextAt = t0 + (slot + Math.random()) * gapMs;
      if (sendAt >= end) break;
      if (sendAt >= start) out.offered += p.batch;
      const inWindow = now >= start;
      let conn: StreamConn | undefined;
      for (const c of conns) if (c.inFlight.size < p.maxInFlight && (!conn || c.inFlight.size < conn.inFlight.size)) conn = c;
      if (!conn) {
        // Every connection is waiting on the server: this batch is not sent (no catch-up burst later).
        heldBack++;
        continue;
      }
      const fixes = [];
      for (let k = 0; k < p.batch; k++) {
        const f = nextFix(cursor++ % init.workerIds.length, now);
        if (inWindow) out.naiveBytes += naiveEventBytes(f);
        fixes.push({ id: f.device, lat: f.lat, lon: f.lon, timestamp: f.timestamp, speed: f.speed, batt: f.batt });
      }
      const r = ++ref;
      conn.inFlight.set(r, { at: now, n: p.batch, inWindow });
      conn.ws.send(JSON.stringify({ ref: r, fixes }));
      if (inWindow) out.sent += p.batch;
    }
    await sleep(1);
  }
  const cpu = process.cpuUsage(cpuStart);
  const wireEnd = { bytes: wireBytes(), messages: wireMessages() };
  send({ type: 'mark', phase: p.name, at: 'end' });

  // Drain: every acknowledgement, then one tick and a little for the last frames.
  const drainUntil = performance.now() + 20_000;
  while (conns.some((c) => c.inFlight.size > 0) && performance.now() < drainUntil) await sleep(10);
  await sleep(400);
  const unacknowledged = conns.reduce((a, c) => a + [...c.inFlight.values()].filter((b) => b.inWindow).reduce((s, b) => s + b.n, 0), 0);
  for (const c of conns) c.ws.close();
  const windowS = p.durationMs / 1000;
  return {
    name: p.name,
    kind: 'stream',
    windowS,
    offeredPerS: out.offered / windowS,
    sentPerS: out.sent / windowS,
    storedPerS: out.storedInWindow / windowS,
    sent: out.sent,
    stored: out.stored,
    duplicate: out.duplicate,
    rejected: out.rejected,
    unacknowledged,
    acknowledgedAll: out.acknowledgedAll,
    rejections: out.rejections,
    heldBack,
    ack: out.ack.summary(),
    dashboard: win.dashboard.summary(),
    toTick: win.toTick.summary(),
    fromTick: win.fromTick.summary(),
    naiveDashboard: win.naive.summary(),
    deliveredRatio: out.stored > 0 ? win.delivered / (out.stored * dashboards.length) : NaN,
    wire: perDashboard(wireEnd.bytes - wireStart.bytes, wireEnd.messages - wireStart.messages, windowS),
    naiveWire: { bytesPerS: out.naiveBytes / windowS, messagesPerS: out.sent / windowS },
    childCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / p.durationMs,
  };
}

const perDashboard = (bytes: number, messages: number, windowS: number) => ({
  bytesPerS: bytes / dashboards.length / windowS,
  messagesPerS: messages / dashboards.length / windowS,
});

async function runOsmAnd(p: OsmAndPhase): Promise<PhaseResult> {
  const url = new URL(init.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: p.concurrency });
  const out = newOutcomes();
  const t0 = performance.now();
  const start = t0 + p.warmupMs;
  const end = start + p.durationMs;
  let cpuStart = process.cpuUsage();
  let wireStart = { bytes: 0, messages: 0 };
  let windowOpened = false;
  let errors = 0;

  const one = () =>
    new Promise<void>((resolve) => {
      const at = performance.now();
      const inWindow = at >= start && at < end;
      const f = nextFix(cursor++ % init.workerIds.length, at);
      if (inWindow) out.sent++;
      const path = `/api/osmand?id=${f.device}&lat=${f.lat}&lon=${f.lon}&timestamp=${f.timestamp}&speed=${f.speed}&batt=${f.batt}`;
      const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const now = performance.now();
          if (res.statusCode === 200) out.acknowledgedAll++;
          if (res.statusCode === 200 && now >= start && now < end) out.storedInWindow++;
          if (inWindow) {
            out.ack.record(now - at);
            if (res.statusCode === 200) {
              out.stored++;
              out.naiveBytes += naiveEventBytes(f);
            } else {
              out.rejected++;
              if (out.rejections.length < 5) out.rejections.push(`${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`);
            }
          }
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', (e) => {
        errors++;
        if (inWindow && out.rejections.length < 5) out.rejections.push(e.message);
        resolve();
      });
      req.end();
    });

  const loop = async () => {
    while (performance.now() < end) await one();
  };
  const marker = (async () => {
    while (performance.now() < start) await sleep(2);
    windowOpened = true;
    openWindow(p, start);
    cpuStart = process.cpuUsage();
    wireStart = { bytes: wireBytes(), messages: wireMessages() };
    send({ type: 'mark', phase: p.name, at: 'start' });
    while (performance.now() < end) await sleep(2);
  })();
  const loops = Promise.all(Array.from({ length: p.concurrency }, loop));
  await marker;
  const cpu = process.cpuUsage(cpuStart);
  const wireEnd = { bytes: wireBytes(), messages: wireMessages() };
  send({ type: 'mark', phase: p.name, at: 'end' });
  await loops;
  await sleep(400);
  agent.destroy();
  const windowS = p.durationMs / 1000;
  if (!windowOpened) throw new Error('the OsmAnd window never opened');
  return {
    name: p.name,
    kind: 'osmand',
    windowS,
    offeredPerS: NaN,
    sentPerS: out.sent / windowS,
    storedPerS: out.storedInWindow / windowS,
    sent: out.sent,
    stored: out.stored,
    duplicate: 0,
    rejected: out.rejected + errors,
    unacknowledged: 0,
    acknowledgedAll: out.acknowledgedAll,
    rejections: out.rejections,
    heldBack: 0,
    ack: out.ack.summary(),
    dashboard: win.dashboard.summary(),
    toTick: win.toTick.summary(),
    fromTick: win.fromTick.summary(),
    naiveDashboard: win.naive.summary(),
    deliveredRatio: out.stored > 0 ? win.delivered / (out.stored * dashboards.length) : NaN,
    wire: perDashboard(wireEnd.bytes - wireStart.bytes, wireEnd.messages - wireStart.messages, windowS),
    naiveWire: { bytesPerS: out.naiveBytes / windowS, messagesPerS: out.stored / windowS },
    childCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / p.durationMs,
  };
}

process.on('message', (m: ParentMessage) => {
  void (async () => {
    try {
      if (m.type === 'init') {
        init = m;
        const maxId = Math.max(...m.workerIds);
        baseLon = Float64Array.from(m.lon);
        baseLat = Float64Array.from(m.lat);
        curLon = Float64Array.from(m.lon);
        curLat = Float64Array.from(m.lat);
        sentSec = new Uint32Array(maxId + 1);
        sentAt = new Float64Array(maxId + 1).fill(-Infinity);
        const snapshotWorkers = await connectDashboards();
        send({ type: 'ready', dashboards: dashboards.length, snapshotWorkers });
      } else if (m.type === 'phase') {
        const result = m.phase.kind === 'stream' ? await runStream(m.phase) : await runOsmAnd(m.phase);
        win.start = Infinity;
        send({ type: 'result', result });
      } else if (m.type === 'stop') {
        for (const d of dashboards) d.socket.disconnect();
        process.disconnect();
        setTimeout(() => process.exit(0), 500).unref();
      }
    } catch (error) {
      send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});

// The parent going away (crash, timeout) must not leave this process behind.
process.on('disconnect', () => {
  for (const d of dashboards) d.socket.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
});
