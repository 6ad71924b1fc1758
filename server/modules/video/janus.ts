/**
 * Janus as the server runs it: a supervised child process (or an external one, JANUS_URL) and the
 * control plane over its WebSocket APIs — one Janus API session (API secret) for rooms, one Admin API
 * connection (admin secret, loopback) for the browsers' tokens. Browsers never see either secret:
 * they get a stored token per join grant that opens the videoroom plugin only, and the room's pin
 * and ACL token for one room.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Janode, { type JanodeConnection, type JanodeHandle, type JanodeSession, type JanusResponse } from 'janode';
import VideoRoomPlugin from 'janode/plugins/videoroom';
import BaseHandle from 'janode/handle';
import type { VideoConfig } from './config';

Janode.Logger.setLevel('none');

const TEMPLATE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'janus');
const VIDEOROOM = 'janus.plugin.videoroom';
/** The streaming plugin through janode's plain handle: requests resolve with Janus's own response. */
const StreamingPlugin = { id: 'janus.plugin.streaming', Handle: BaseHandle };

export interface VideoHealth {
  status: 'ok' | 'unavailable';
  janus?: string;
  reason?: string;
}

export interface Room {
  room: number;
  pin: string;
  secret: string;
}

/** What the consults need of the media server. */
export interface VideoBackend {
  readonly config: VideoConfig;
  health(): VideoHealth;
  /** `recDir`: record every publisher to .mjr files in this folder (the room's recording cannot be changed by participants). */
  createRoom(description: string, publishers: number, recDir?: string): Promise<Room>;
  destroyRoom(room: Room): Promise<void>;
  /** A fresh token that opens a Janus session (videoroom only) and this room's ACL. */
  allow(room: Room): Promise<string>;
  revoke(room: Room, token: string): Promise<void>;
  /** Feed ids of the participants in the room now (publishers or not). */
  participants(room: Room): Promise<number[]>;
  /** Cameras: a request to the streaming plugin (mountpoints), with the plugins' admin key where needed. */
  streaming?(body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Cameras: a fresh Janus token that opens the given plugins only; removeToken revokes it. */
  addToken?(plugins: string[]): Promise<string>;
  removeToken?(token: string): Promise<void>;
  close(): Promise<void>;
}

const secret = () => randomBytes(24).toString('base64url');

function pluginData(response: JanusResponse): Record<string, unknown> {
  const data = response.plugindata?.data ?? {};
  if (typeof data.error_code === 'number') {
    const err = new Error(`janus videoroom error ${String(data.error_code)}: ${String(data.error)}`) as Error & { janusCode?: number };
    err.janusCode = data.error_code;
    throw err;
  }
  return data;
}

/** Fills the shipped templates with this run's settings; returns the configuration folder. */
export async function writeJanusConfig(config: VideoConfig): Promise<string> {
  const confDir = path.join(config.runDir, 'conf');
  await mkdir(confDir, { recursive: true, mode: 0o700 });
  const q = (s: string) => s.replace(/["\\]/g, '');
  const values: Record<string, string> = {
    CONF_DIR: confDir,
    LIB_DIR: config.libDir,
    API_SECRET: q(config.apiSecret),
    ADMIN_SECRET: q(config.adminSecret),
    ADMIN_KEY: q(config.adminKey),
    RTP_PORT_RANGE: q(config.rtpPortRange),
    WS_PORT: String(config.wsPort),
    WS_HOST: q(config.wsHost),
    ADMIN_PORT: String(config.adminPort),
    ICE_ENFORCE: config.iceInterfaces ? `ice_enforce_list = "${q(config.iceInterfaces)}"` : '',
    NAT_1_1: config.nat11 ? `nat_1_1_mapping = "${q(config.nat11)}"` : '',
    STUN: config.stunServer ? `stun_server = "${q(config.stunServer.split(':')[0] ?? '')}"\n\tstun_port = ${Number(config.stunServer.split(':')[1] ?? 3478)}` : '',
    TURN: '',
  };
  if (config.turn) {
    const m = /^turns?:([^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?/.exec(config.turn.url);
    if (m) {
      values.TURN = `turn_server = "${q(m[1] ?? '')}"\n\tturn_port = ${Number(m[2] ?? 3478)}\n\tturn_type = "${m[3] ?? 'udp'}"\n\tturn_user = "${q(config.turn.username)}"\n\tturn_pwd = "${q(config.turn.credential)}"`;
    }
  }
  for (const name of await readdir(TEMPLATE_DIR)) {
    if (!name.endsWith('.jcfg')) continue;
    const text = (await readFile(path.join(TEMPLATE_DIR, name), 'utf8')).replace(/@([A-Z0-9_]+)@/g, (_, key: string) => values[key] ?? '');
    await writeFile(path.join(confDir, name), text, { mode: 0o600 });
  }
  return confDir;
}

/**
 * The control plane over a running Janus. `connect()` opens both connections; a lost connection
 * turns health to unavailable until the supervisor (or the retry loop for an external Janus)
 * connects again.
 */
export class JanusControl implements VideoBackend {
  private conn: JanodeConnection | null = null;
  private admin: JanodeConnection | null = null;
  private session: JanodeSession | null = null;
  private handle: JanodeHandle | null = null;
  private version: string | undefined;
  private reason: string | undefined = 'Janus is starting.';
  private readonly rooms = new Set<number>();
  /** The streaming plugin's handle (cameras), attached on first use in the current session. */
  private streamingHandle: { session: JanodeSession; handle: Promise<JanodeHandle> } | null = null;

  constructor(readonly config: VideoConfig) {}

  health(): VideoHealth {
    if (this.handle && this.version) return { status: 'ok', janus: this.version };
    return { status: 'unavailable', ...(this.version ? { janus: this.version } : {}), reason: this.reason ?? this.config.offReason ?? 'Janus is not connected.' };
  }

  get connected(): boolean {
    return this.handle !== null;
  }

  async connect(): Promise<void> {
    const conn = await Janode.connect({ address: { url: this.config.controlUrl, apisecret: this.config.apiSecret }, retry_time_secs: 1, max_retries: 1 });
    try {
      const admin = await Janode.connect({ is_admin: true, address: { url: this.config.adminUrl, apisecret: this.config.adminSecret }, retry_time_secs: 1, max_retries: 1 });
      const info = await conn.getInfo();
      const session = await conn.create(15);
      const handle = await session.attach(VideoRoomPlugin);
      const lost = (why: string) => {
        if (this.conn !== conn) return;
        this.handle = null;
        this.session = null;
        this.reason = why;
      };
      conn.once(Janode.EVENT.CONNECTION_CLOSED ?? 'connection_closed', () => lost('The connection to Janus closed.'));
      conn.once(Janode.EVENT.CONNECTION_ERROR ?? 'connection_error', () => lost('The connection to Janus failed.'));
      admin.once(Janode.EVENT.CONNECTION_CLOSED ?? 'connection_closed', () => lost('The Admin API connection to Janus closed.'));
      session.once(Janode.EVENT.SESSION_DESTROYED ?? 'session_destroyed', () => lost('The Janus session ended.'));
      this.conn = conn;
      this.admin = admin;
      this.session = session;
      this.handle = handle;
      this.version = typeof info.version_string === 'string' ? info.version_string : String(info.version ?? 'unknown');
      this.reason = undefined;
    } catch (error) {
      await conn.close().catch(() => {});
      throw error;
    }
  }

  private need(): JanodeHandle {
    if (!this.handle) throw Object.assign(new Error(this.reason ?? 'Janus is not connected.'), { videoUnavailable: true });
    return this.handle;
  }

  async createRoom(description: string, publishers: number, recDir?: string): Promise<Room> {
    const handle = this.need();
    for (let attempt = 0; ; attempt++) {
      const room: Room = { room: randomInt(1, 2 ** 47), pin: secret(), secret: secret() };
      try {
        pluginData(await handle.message({
          request: 'create', room: room.room, description: description.slice(0, 100), publishers, is_private: true,
          secret: room.secret, pin: room.pin, admin_key: this.config.adminKey,
          // The ACL is on from the start; each grant adds its own token.
          allowed: [secret()], permanent: false, notify_joining: true, bitrate: 1_024_000,
          audiocodec: 'opus', videocodec: 'vp8,h264',
          // lock_record: only the room's secret (the server) starts or stops recording a publisher.
          ...(recDir ? { record: true, rec_dir: recDir, lock_record: true } : {}),
        }));
        this.rooms.add(room.room);
        return room;
      } catch (error) {
        // 427: a room with that id exists already (a random collision): another id.
        if ((error as { janusCode?: number }).janusCode === 427 && attempt < 3) continue;
        throw error;
      }
    }
  }

  async destroyRoom(room: Room): Promise<void> {
    this.rooms.delete(room.room);
    if (!this.handle) return;
    try {
      pluginData(await this.handle.message({ request: 'destroy', room: room.room, secret: room.secret }));
    } catch (error) {
      if ((error as { janusCode?: number }).janusCode !== 426) throw error; // 426: no such room (Janus restarted)
    }
  }

  async allow(room: Room): Promise<string> {
    const handle = this.need();
    const token = secret();
    await this.adminRequest({ janus: 'add_token', token, plugins: [VIDEOROOM] });
    pluginData(await handle.message({ request: 'allowed', room: room.room, secret: room.secret, action: 'add', allowed: [token] }));
    return token;
  }

  async revoke(room: Room, token: string): Promise<void> {
    if (!this.handle) return;
    await this.handle.message({ request: 'allowed', room: room.room, secret: room.secret, action: 'remove', allowed: [token] }).catch(() => {});
    await this.adminRequest({ janus: 'remove_token', token }).catch(() => {});
  }

  async participants(room: Room): Promise<number[]> {
    const handle = this.need();
    const data = pluginData(await handle.message({ request: 'listparticipants', room: room.room, secret: room.secret }));
    const list = (data.participants as Array<{ id: number }> | undefined) ?? [];
    return list.map((p) => Number(p.id));
  }

  async streaming(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.need();
    const session = this.session!;
    let attached = this.streamingHandle;
    if (!attached || attached.session !== session) {
      const pending = session.attach(StreamingPlugin);
      attached = { session, handle: pending };
      this.streamingHandle = attached;
      pending.catch(() => {
        if (this.streamingHandle?.handle === pending) this.streamingHandle = null;
      });
    }
    const handle = await attached.handle;
    return pluginData(await handle.message(body));
  }

  async addToken(plugins: string[]): Promise<string> {
    const token = secret();
    await this.adminRequest({ janus: 'add_token', token, plugins });
    return token;
  }

  async removeToken(token: string): Promise<void> {
    await this.adminRequest({ janus: 'remove_token', token });
  }

  private async adminRequest(request: Record<string, unknown>): Promise<JanusResponse> {
    if (!this.admin) throw Object.assign(new Error('The Janus Admin API is not connected.'), { videoUnavailable: true });
    const response = await this.admin.sendRequest(request);
    if (response.janus === 'error') throw new Error(`janus admin error: ${JSON.stringify(response.error)}`);
    return response;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    this.reason = 'Janus is stopping.';
    if (handle) {
      for (const room of this.rooms) await handle.message({ request: 'destroy', room, admin_key: this.config.adminKey }).catch(() => {});
    }
    this.rooms.clear();
    this.streamingHandle = null;
    await this.session?.destroy().catch(() => {});
    this.session = null;
    await this.conn?.close().catch(() => {});
    await this.admin?.close().catch(() => {});
    this.conn = null;
    this.admin = null;
  }
}

/**
 * Starts `janus` with the shipped configuration (fresh secrets each start), connects the control
 * plane, restarts Janus if it dies (backing off), stops it on shutdown. With JANUS_URL, connects to
 * that one instead and keeps retrying while it is away.
 */
export class JanusSupervisor {
  readonly control: JanusControl;
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private restarts = 0;
  private logStream: WriteStream | null = null;

  constructor(readonly config: VideoConfig, private readonly log: (message: string) => void = () => {}) {
    if (config.mode === 'child') {
      config.apiSecret = secret();
      config.adminSecret = secret();
      config.adminKey = secret();
    }
    this.control = new JanusControl(config);
  }

  /** Janus's own process id (the shell's child), for CPU accounting. */
  get pid(): number | undefined {
    const shell = this.child?.pid;
    if (!shell) return undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(rest[1]) === shell && stat.includes('(janus)')) return Number(entry);
      } catch {
        // The process went away while we looked.
      }
    }
    return undefined;
  }

  /** Starts (or connects) and waits until the control plane is up, at most `timeoutMs`. */
  async start(timeoutMs = 20_000): Promise<boolean> {
    if (this.config.mode === 'off') return false;
    if (this.config.mode === 'child') await this.spawnChild();
    return this.waitConnected(timeoutMs);
  }

  private async spawnChild(): Promise<void> {
    const confDir = await writeJanusConfig(this.config);
    this.logStream ??= createWriteStream(path.join(this.config.runDir, 'janus.log'), { flags: 'a' });
    // Through a small shell that holds our stdin pipe: when this process dies in any way (kill -9
    // included) the pipe closes and Janus is stopped, so no orphan keeps the ports. Janus exiting on
    // its own ends the shell, and the exit handler below restarts it.
    const child = spawn('/bin/sh', ['-c', 'exec 3<&0; "$@" </dev/null & j=$!; (read _ <&3; kill $j 2>/dev/null) & wait $j', 'janus-supervisor',
      this.config.binary, '-F', confDir, '-C', path.join(confDir, 'janus.jcfg'), '-o', '-D'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin?.on('error', () => {});
    this.child = child;
    child.stdout?.pipe(this.logStream, { end: false });
    child.stderr?.pipe(this.logStream, { end: false });
    child.once('error', (error) => this.log(`Janus could not start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      this.restarts++;
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.restarts, 5));
      this.log(`Janus exited (${signal ?? code}); restarting in ${delay / 1000} s (log: ${path.join(this.config.runDir, 'janus.log')}).`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        void this.spawnChild().then(() => this.waitConnected(20_000)).catch(() => {});
      }, delay);
    });
  }

  private async waitConnected(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stopping && Date.now() < deadline) {
      try {
        await this.control.connect();
        this.restarts = 0;
        this.watch();
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (this.config.mode === 'external' && !this.stopping) this.watch();
    return false;
  }

  /** Reconnects when the control plane is lost while Janus still runs (or is external). */
  private watch(): void {
    if (this.watchTimer || this.stopping) return;
    this.watchTimer = setInterval(() => {
      if (this.stopping || this.control.connected) return;
      if (this.config.mode === 'child' && !this.child) return; // the exit handler restarts it
      void this.control.connect().catch(() => {});
    }, 2000);
    this.watchTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.control.close();
    const child = this.child;
    if (child && child.exitCode === null) {
      const janusPid = this.pid;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Closing the pipe makes the shell stop Janus (SIGTERM: it shuts down cleanly).
      child.stdin?.end();
      const timer = setTimeout(() => {
        if (janusPid) {
          try {
            process.kill(janusPid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        child.kill('SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    this.child = null;
    this.logStream?.end();
  }
}
