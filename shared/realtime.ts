/**
 * The realtime contract: every socket.io event in both directions, declared once. The server's
 * `Server<ClientToServerEvents, ServerToClientEvents, …>` and the client's
 * `Socket<ServerToClientEvents, ClientToServerEvents>` use these same maps, so drift stops compiling.
 *
 * Worker positions travel packed (one ArrayBuffer per frame, struct-of-arrays), not as one JSON
 * object per worker: 20 bytes a worker. See encodeWorkerFrame / decodeWorkerFrame.
 */
import type { ApiError } from './errors';
import type { TaskOffer, TaskWithdrawal, TicketChange, TicketEscalationNotice, TicketReoffer, TicketSummary } from './tickets-api';
import type { NoticeCounts, NoticePublished } from './notices-api';
import type { AlarmSummary } from './alarms-api';
import type { StatsUpdate } from './stats-api';
import type { ConsultInvited, ConsultUpdated } from './consults-api';
import type { EmergencyClosed, EmergencyMobilisationChange, EmergencySummary } from './emergencies-api';

/** Bits of WorkerRecord.flags. */
export const WORKER_FLAGS = {
  /** Reported within the offline timeout. */
  ONLINE: 1,
  /** The fix implied an implausible speed from the previous one (kept, but flagged). */
  IMPLAUSIBLE_SPEED: 2,
  /** The device says its GPS fix is not valid. */
  INVALID_FIX: 4,
  /** Charging. */
  CHARGING: 8,
  /** One-click alarm raised and not yet handled. */
  ALARM: 16,
} as const;

/** One worker's live state as it travels to dashboards. */
export interface WorkerRecord {
  id: number;
  lon: number;
  lat: number;
  /** Time of the fix, ms since epoch (second precision on the wire). */
  time: number;
  /** m/s (cm/s precision on the wire), NaN if unknown. */
  speed: number;
  /** 0–100, or -1 if unknown. */
  battery: number;
  flags: number;
}

/** A packed frame: `n` workers in one buffer. Byte layout in encodeWorkerFrame. */
export interface WorkerFrame {
  /** Tick sequence number; deltas are consecutive, a gap means "ask for a snapshot". */
  seq: number;
  /** Server time of the tick, ms since epoch. */
  t: number;
  n: number;
  data: ArrayBuffer;
}

const BYTES_PER_WORKER = 20;
const NO_SPEED = 0xffff;
const NO_BATTERY = 0xff;

/**
 * Packs records as struct-of-arrays: ids u32[n] | lon,lat f32[2n] | time u32 seconds[n] |
 * speed u16 cm/s[n] | battery u8[n] | flags u8[n]. Every section stays aligned for typed arrays.
 */
export function encodeWorkerFrame(records: readonly WorkerRecord[]): ArrayBuffer {
  const n = records.length;
  const buffer = new ArrayBuffer(n * BYTES_PER_WORKER);
  const ids = new Uint32Array(buffer, 0, n);
  const lonLat = new Float32Array(buffer, 4 * n, 2 * n);
  const time = new Uint32Array(buffer, 12 * n, n);
  const speed = new Uint16Array(buffer, 16 * n, n);
  const battery = new Uint8Array(buffer, 18 * n, n);
  const flags = new Uint8Array(buffer, 19 * n, n);
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    ids[i] = r.id;
    lonLat[2 * i] = r.lon;
    lonLat[2 * i + 1] = r.lat;
    time[i] = Math.floor(r.time / 1000);
    speed[i] = Number.isFinite(r.speed) && r.speed >= 0 ? Math.min(NO_SPEED - 1, Math.round(r.speed * 100)) : NO_SPEED;
    battery[i] = r.battery >= 0 ? Math.min(100, Math.round(r.battery)) : NO_BATTERY;
    flags[i] = r.flags & 0xff;
  }
  return buffer;
}

/** Typed-array views over a packed frame (no copies): feed them straight to deck.gl attributes. */
export interface WorkerFrameView {
  n: number;
  ids: Uint32Array;
  lonLat: Float32Array;
  /** Seconds since epoch. */
  time: Uint32Array;
  /** cm/s; 0xffff = unknown. */
  speed: Uint16Array;
  /** Percent; 0xff = unknown. */
  battery: Uint8Array;
  flags: Uint8Array;
}

/**
 * Frames arrive as an ArrayBuffer in browsers but as a view (Node's Buffer, often an unaligned
 * slice of a pooled buffer) in Node clients: take either, copying only when the view is unaligned.
 */
function asAlignedBuffer(data: ArrayBuffer | ArrayBufferView): { buffer: ArrayBuffer; offset: number } {
  if (!ArrayBuffer.isView(data)) return { buffer: data, offset: 0 };
  if (data.byteOffset % 4 === 0) return { buffer: data.buffer as ArrayBuffer, offset: data.byteOffset };
  const copy = new Uint8Array(data.byteLength);
  copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { buffer: copy.buffer, offset: 0 };
}

export function viewWorkerFrame(frameData: ArrayBuffer | ArrayBufferView, n: number): WorkerFrameView {
  const { buffer: data, offset: o } = asAlignedBuffer(frameData);
  if (frameData.byteLength !== n * BYTES_PER_WORKER) {
    throw new Error(`worker frame of ${frameData.byteLength} bytes does not hold ${n} workers`);
  }
  return {
    n,
    ids: new Uint32Array(data, o, n),
    lonLat: new Float32Array(data, o + 4 * n, 2 * n),
    time: new Uint32Array(data, o + 12 * n, n),
    speed: new Uint16Array(data, o + 16 * n, n),
    battery: new Uint8Array(data, o + 18 * n, n),
    flags: new Uint8Array(data, o + 19 * n, n),
  };
}

export function decodeWorkerFrame(data: ArrayBuffer | ArrayBufferView, n: number): WorkerRecord[] {
  const v = viewWorkerFrame(data, n);
  const out: WorkerRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: v.ids[i]!,
      lon: v.lonLat[2 * i]!,
      lat: v.lonLat[2 * i + 1]!,
      time: v.time[i]! * 1000,
      speed: v.speed[i] === NO_SPEED ? NaN : v.speed[i]! / 100,
      battery: v.battery[i] === NO_BATTERY ? -1 : v.battery[i]!,
      flags: v.flags[i]!,
    });
  }
  return out;
}

export interface PresenceChange {
  t: number;
  online: number[];
  offline: number[];
}

export interface SessionInfo {
  userId: number;
  role: string;
  regionCode: string;
  serverTime: number;
  /** Tick interval of worker deltas, ms. */
  tickMs: number;
  /** A worker with no fix for this long is offline, ms. */
  offlineAfterMs: number;
}

/** Why the server ended a session: sign in again (or, for a wall session, an administrator revoked it). */
export interface SessionRevoked {
  code: 'AUTH_TOKEN_REVOKED' | 'WALL_SESSION_REVOKED';
  message: string;
}

/** Server → client events. */
export interface ServerToClientEvents {
  /** An alarm (SOS) was raised inside the dashboard's jurisdiction; to the worker's own account too. */
  'alarm.raised': (alarm: AlarmSummary) => void;
  /** An alarm changed (repeated, acknowledged, people dispatched, resolved, false alarm). */
  'alarm.updated': (alarm: AlarmSummary) => void;
  /** Sent on every connect (and so the first event recovery needs). */
  'session.ready': (info: SessionInfo) => void;
  /** The account's tokens were revoked (deactivated; password, role or jurisdiction changed): the server disconnects right after. */
  'session.revoked': (error: SessionRevoked) => void;
  /** Every worker the dashboard may see, replacing what it had. */
  'workers.snapshot': (frame: WorkerFrame) => void;
  /** Workers that changed since the previous tick (coalesced: newest fix per worker). */
  'workers.delta': (frame: WorkerFrame) => void;
  /** Workers that went online or offline. */
  'workers.presence': (change: PresenceChange) => void;
  /** A ticket was filed inside the dashboard's jurisdiction. */
  'ticket.created': (ticket: TicketSummary) => void;
  /** A ticket changed (transition, dispatch, photo): the ticket after and its timeline entry. */
  'ticket.updated': (change: TicketChange) => void;
  /** A ticket went up the ladder (by a person, or the scheduler when a stage ran over): notice to the level above. */
  'ticket.escalated': (notice: TicketEscalationNotice) => void;
  /** To a worker's own account: a task is offered to them (accept or decline it, before it expires). */
  'task.offered': (offer: TaskOffer) => void;
  /** To a worker's own account: an offer was taken back (it went to the next worker, or the ticket moved on). */
  'task.withdrawn': (withdrawal: TaskWithdrawal) => void;
  /** A declined or unanswered offer went to the next nearest worker, or nobody free was left. */
  'ticket.reoffered': (reoffer: TicketReoffer) => void;
  /** To each recipient worker's own account: a notice for them (again, with `reminder`, when the sender reminds those who have not read). */
  'notice.published': (notice: NoticePublished) => void;
  /** To the sender and the desks whose jurisdiction covers the notice: its receipts changed (coalesced). */
  'notice.receipts': (counts: NoticeCounts) => void;
  /** Ticket figures of the dashboard's own region for today, after ticket changes inside it (throttled). */
  'stats.update': (update: StatsUpdate) => void;
  /** To each person rung for a video consult (their own accounts): who calls and why; answer or decline. */
  'consult.invited': (invited: ConsultInvited) => void;
  /** A consult changed (answered, declined, no answer, joined, left, ended): to its participants and the dashboards over it. */
  'consult.updated': (updated: ConsultUpdated) => void;
  /** An emergency was declared whose area meets the dashboard's (or phone's) jurisdiction: switch to the emergency layout. */
  'emergency.declared': (emergency: EmergencySummary) => void;
  /** Call-up counts changed in grids of an emergency inside the dashboard's jurisdiction (coalesced; only the changed grids). */
  'emergency.mobilisation': (change: EmergencyMobilisationChange) => void;
  /** The emergency was closed (its after-action report is ready). */
  'emergency.closed': (closed: EmergencyClosed) => void;
}

export type Ack<T> = (result: { ok: true; data: T } | { ok: false; error: ApiError }) => void;

/** Client → server events; payloads are validated on the server before use. */
export interface ClientToServerEvents {
  /** Ask for a fresh snapshot (after a gap in delta sequence numbers). */
  'workers.resync': (ack?: Ack<{ seq: number }>) => void;
}

/** What the server keeps on each socket. */
export interface SocketData {
  userId: number;
  role: string;
  regionCode: string;
  regionPath: string;
}
