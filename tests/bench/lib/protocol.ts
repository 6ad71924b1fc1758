/**
 * What the ingest benchmark (server process) and its load child (device load generator plus
 * dashboards) say to each other over the fork IPC channel.
 */
import type { LatencySummary } from './histogram';

export interface ChildInit {
  type: 'init';
  baseUrl: string;
  /** Admin token for the device stream (a gateway speaks for many devices), sent as `Authorization: Bearer`. */
  adminToken: string;
  /** Operator token for the dashboards (district-wide jurisdiction). */
  operatorToken: string;
  dashboards: number;
  /** Workers with a registered device `bench-<id>`, and a point inside each one's home grid. */
  workerIds: number[];
  lon: number[];
  lat: number[];
}

interface PhaseBase {
  name: string;
  /** Load before the window opens (not measured). */
  warmupMs: number;
  /** The measured window. */
  durationMs: number;
}

/** Batches over the WebSocket device stream, paced to `rate` fixes a second. */
export interface StreamPhase extends PhaseBase {
  kind: 'stream';
  rate: number;
  batch: number;
  connections: number;
  /** Batches awaiting their reply per connection before the sender holds back. */
  maxInFlight: number;
}

/** One fix per HTTP request (OsmAnd, as phones send), `concurrency` requests in flight, keep-alive. */
export interface OsmAndPhase extends PhaseBase {
  kind: 'osmand';
  concurrency: number;
}

export type Phase = StreamPhase | OsmAndPhase;

export type ParentMessage = ChildInit | { type: 'phase'; phase: Phase } | { type: 'stop' };

export interface WireFigures {
  /** Bytes read from the dashboard's TCP socket, per dashboard per second (WebSocket framing included). */
  bytesPerS: number;
  /** WebSocket messages per dashboard per second. */
  messagesPerS: number;
}

export interface PhaseResult {
  name: string;
  kind: Phase['kind'];
  windowS: number;
  /** Fixes the schedule asked for in the window, per second (stream phases). */
  offeredPerS: number;
  /** Fixes actually sent in the window, per second. */
  sentPerS: number;
  /** Fixes acknowledged as stored during the window, per second: the achieved rate. */
  storedPerS: number;
  /** Fixes sent in the window and their outcomes (acknowledged after the window included). */
  sent: number;
  stored: number;
  duplicate: number;
  rejected: number;
  /** Every fix acknowledged as stored in the phase, warm-up included: what the devices were promised. */
  acknowledgedAll: number;
  /** Acknowledgements still missing when the drain gave up. */
  unacknowledged: number;
  /** A few rejection messages, to explain a non-zero count. */
  rejections: string[];
  /** Times the sender wanted to send but every connection had maxInFlight batches outstanding. */
  heldBack: number;
  /** Batch (stream) or request (OsmAnd) round trip: send → reply, which the server gives after commit. */
  ack: LatencySummary;
  /** Device → dashboard: send time of the fix → arrival of its record, over every dashboard. */
  dashboard: LatencySummary;
  /** The dashboard latency split at the tick time the frame carries: send → server tick (ingest, then waiting for the tick)… */
  toTick: LatencySummary;
  /** …and tick → decoded on the dashboard (pack, emit to every socket, deliver). */
  fromTick: LatencySummary;
  /** Same, for per-fix JSON events ('worker.moved'), when the server was told to emit them. */
  naiveDashboard: LatencySummary;
  /** Records delivered to dashboards for fixes sent in the window / (stored in window × dashboards). */
  deliveredRatio: number;
  /** Measured on the dashboards' sockets. */
  wire: WireFigures;
  /** A naive server's wire for the same fixes, by serialisation: one socket.io JSON event per fix per dashboard. */
  naiveWire: WireFigures;
  /** The child's own CPU over the window, percent of one core. */
  childCpuPct: number;
}

export type ChildMessage =
  | { type: 'ready'; dashboards: number; snapshotWorkers: number }
  | { type: 'mark'; phase: string; at: 'start' | 'end' }
  | { type: 'result'; result: PhaseResult }
  | { type: 'error'; message: string };
