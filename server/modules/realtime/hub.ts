import { Server, type Socket } from 'socket.io';
import type { Server as HttpServer } from 'node:http';
import {
  encodeWorkerFrame,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SessionRevoked,
  type SocketData,
  type WorkerRecord,
} from '@shared/realtime';
import { isApiError } from '@shared/errors';
import type { Principal } from '../../platform/auth/scope';
import type { Clock } from '../../platform/clock';
import { WindowCounter } from '../../platform/limits';
import { LiveState, type LiveWorker } from '../positions/live-state';
import type { PositionIngest } from '../positions/ingest';

type Io = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

const ROOM_PREFIX = 'scope:';
/** Each socket also sits in its user's own room: what is meant for one person (a task offered to them). */
const USER_ROOM_PREFIX = 'user:';

/** The room of one user's sockets (all their devices and tabs). */
export function userRoom(userId: number): string {
  return USER_ROOM_PREFIX + String(userId);
}

export interface HubOptions {
  /** Delta tick, ms. */
  tickMs?: number;
  /** How long a dropped dashboard's missed deltas are kept for replay, ms. */
  recoveryMs?: number;
  /** `workers.resync` requests one socket may make per minute (each packs every worker in view). */
  resyncPerMinute?: number;
  /** Announces revoked users (app.sessions): their sockets are told and disconnected. */
  revocations?: { onRevoked(listener: (userId: number) => void): () => void };
}

/**
 * Pushes live worker state to dashboards over socket.io. Each socket joins the room of its
 * jurisdiction path; every tick the workers changed since the last one are packed once per room
 * (only those inside it) and sent as one binary frame. A dashboard gets a snapshot on connect;
 * after a short drop socket.io replays missed deltas, after a long one it reconnects fresh and
 * gets a new snapshot.
 */
export class LiveHub {
  readonly io: Io;
  readonly tickMs: number;
  private readonly resyncPerMinute: number;
  private readonly changed = new Set<LiveWorker>();
  private readonly presenceOn = new Set<LiveWorker>();
  private readonly presenceOff = new Set<LiveWorker>();
  private readonly seq = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeRevocations: (() => void) | undefined;
  readonly stats = { ticks: 0, frames: 0, workersSent: 0 };

  constructor(
    httpServer: HttpServer,
    private readonly ingest: PositionIngest,
    private readonly clock: Clock,
    authenticate: (token: string | undefined) => Principal,
    options: HubOptions = {},
  ) {
    this.tickMs = options.tickMs ?? 50;
    this.resyncPerMinute = options.resyncPerMinute ?? 6;
    this.io = new Server(httpServer, {
      // @fastify/websocket shares the port: socket.io must not destroy upgrades it does not own.
      destroyUpgrade: false,
      serveClient: false,
      // A recovered socket goes through the middleware again: its token may have been revoked or
      // may have expired while it was away.
      connectionStateRecovery: { maxDisconnectionDuration: options.recoveryMs ?? 2 * 60_000, skipMiddlewares: false },
    });
    this.io.use((socket, next) => {
      try {
        const token = (socket.handshake.auth as { token?: unknown }).token;
        const p = authenticate(typeof token === 'string' ? token : undefined);
        socket.data = { userId: p.userId, role: p.role, regionCode: p.scope.regionCode ?? '', regionPath: p.scope.path ?? '/' };
        next();
      } catch (error) {
        const err = new Error(isApiError(error) ? error.code : 'AUTH_TOKEN_INVALID') as Error & { data?: unknown };
        err.data = isApiError(error) ? { code: error.code, message: error.message } : undefined;
        next(err);
      }
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.unsubscribeRevocations = options.revocations?.onRevoked((userId) => this.revoke(userId));
    this.unsubscribe = ingest.subscribe({
      changed: (w) => this.changed.add(w),
      presence: (w, online) => {
        (online ? this.presenceOn : this.presenceOff).add(w);
        (online ? this.presenceOff : this.presenceOn).delete(w);
      },
    });
  }

  private onConnection(socket: HubSocket): void {
    const room = ROOM_PREFIX + socket.data.regionPath;
    socket.emit('session.ready', {
      userId: socket.data.userId,
      role: socket.data.role,
      regionCode: socket.data.regionCode,
      serverTime: this.clock.now(),
      tickMs: this.tickMs,
      offlineAfterMs: this.ingest.offlineAfterMs,
    });
    if (!socket.recovered) {
      void socket.join([room, userRoom(socket.data.userId)]);
      this.sendSnapshot(socket);
    }
    const resyncs = new WindowCounter(this.resyncPerMinute, 60_000);
    socket.on('workers.resync', (ack) => {
      const waitMs = resyncs.take(this.clock.now());
      if (waitMs > 0) {
        const message = `At most ${this.resyncPerMinute} resyncs a minute: try again in ${Math.ceil(waitMs / 1000)} s.`;
        if (typeof ack === 'function') ack({ ok: false, error: { code: 'RATE_LIMITED', message } });
        return;
      }
      const seq = this.sendSnapshot(socket);
      if (typeof ack === 'function') ack({ ok: true, data: { seq } });
    });
  }

  private sendSnapshot(socket: HubSocket): number {
    const path = socket.data.regionPath;
    const records: WorkerRecord[] = [];
    for (const w of this.ingest.state.workers.values()) {
      if (w.hasFix && w.path.startsWith(path)) records.push(LiveState.record(w));
    }
    const seq = this.seq.get(ROOM_PREFIX + path) ?? 0;
    socket.emit('workers.snapshot', { seq, t: this.clock.now(), n: records.length, data: encodeWorkerFrame(records) });
    return seq;
  }

  /** Sends each jurisdiction room the workers that changed inside it since the last tick. */
  tick(): void {
    this.stats.ticks++;
    if (this.changed.size === 0 && this.presenceOn.size === 0 && this.presenceOff.size === 0) return;
    const changed = [...this.changed];
    const on = [...this.presenceOn];
    const off = [...this.presenceOff];
    this.changed.clear();
    this.presenceOn.clear();
    this.presenceOff.clear();
    const t = this.clock.now();
    for (const room of this.io.of('/').adapter.rooms.keys()) {
      if (!room.startsWith(ROOM_PREFIX)) continue;
      const path = room.slice(ROOM_PREFIX.length);
      const records: WorkerRecord[] = [];
      for (const w of changed) if (w.path.startsWith(path)) records.push(LiveState.record(w));
      if (records.length > 0) {
        const seq = (this.seq.get(room) ?? 0) + 1;
        this.seq.set(room, seq);
        this.io.to(room).emit('workers.delta', { seq, t, n: records.length, data: encodeWorkerFrame(records) });
        this.stats.frames++;
        this.stats.workersSent += records.length;
      }
      const online = on.filter((w) => w.path.startsWith(path)).map((w) => w.id);
      const offline = off.filter((w) => w.path.startsWith(path)).map((w) => w.id);
      if (online.length > 0 || offline.length > 0) this.io.to(room).emit('workers.presence', { t, online, offline });
    }
  }

  /**
   * Ends a user's live sessions at once: each of their sockets gets `session.revoked`, then a
   * server-side disconnect (the client does not reconnect on its own, and socket.io keeps no state
   * to recover). A reconnect with the old token is refused by the middleware.
   */
  revoke(userId: number, code: SessionRevoked['code'] = 'AUTH_TOKEN_REVOKED'): void {
    const room = userRoom(userId);
    this.io.to(room).emit('session.revoked', {
      code,
      message: code === 'WALL_SESSION_REVOKED'
        ? 'This wall display session was revoked by an administrator.'
        : 'This session was ended (account disabled or changed): sign in again.',
    });
    this.io.in(room).disconnectSockets(false);
  }

  /** Sockets of one user connected to this process now (a wall session's screens). */
  connectedCount(userId: number): number {
    return this.io.of('/').adapter.rooms.get(userRoom(userId))?.size ?? 0;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribeRevocations?.();
    // Closes the engine and its sockets; the HTTP server itself belongs to Fastify.
    this.io.disconnectSockets(true);
    this.io.engine.close();
  }
}
