/**
 * Live camera media, started on demand and stopped when idle:
 * - WebRTC: a Janus streaming mountpoint per camera being watched — an RTSP mountpoint that Janus
 *   pulls itself (H.264 passes through; the credentials go to Janus as rtsp_user/rtsp_pwd), or an
 *   RTP mountpoint fed by the camera simulator (ffmpeg testsrc2 with the camera's name and the time,
 *   H.264 baseline, ultrafast/zerolatency). Each play grant is redeemed once, before it expires,
 *   through the cameras' Janus proxy (live.ts): only then is a Janus token (streaming plugin only)
 *   made for it, and it never leaves the server, nor does the mountpoint's pin.
 * - HLS: ffmpeg re-packages (H.264) or transcodes (H.265) the source — or renders the simulator — to
 *   1-second segments in DATA_DIR/cameras/hls/<camera>-<random>/, served by the cameras routes to the
 *   holder of a play grant only.
 * A stream nobody watches for CAMERAS_IDLE_S is stopped (mountpoint destroyed, ffmpeg killed, tokens
 * revoked); a grant not redeemed within CAMERAS_GRANT_TTL_S is void. Source URLs stay on the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HlsGrant, PlayGrant, WebRtcGrant } from '@shared/cameras-api';
import { AppError } from '../../platform/errors';
import { browserIceServers } from '../video/config';
import type { VideoBackend } from '../video/janus';

export interface CameraMediaConfig {
  /** ffmpeg's path; null when not installed (demo cameras are then offline). */
  ffmpeg: string | null;
  /** CAMERAS_SIMULATE=0 turns the demo sources off even with ffmpeg. */
  simulate: boolean;
  maxStreams: number;
  idleS: number;
  grantTtlS: number;
  /** Simulator picture: size and frame rate (low, to spare the CPU). */
  size: string;
  fps: number;
  /** A CJK font for the camera's name in the picture; null: the camera code is drawn instead. */
  font: string | null;
  runDir: string;
}

const int = (v: string | undefined, fallback: number) => {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isFinite(n) ? Math.trunc(n) : fallback;
};

function onPath(env: NodeJS.ProcessEnv, name: string): string | null {
  for (const dir of (env.PATH ?? '/usr/bin:/usr/local/bin').split(':')) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

const FONTS = ['/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', '/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc'];

export function loadCameraConfig(env: NodeJS.ProcessEnv, dataDir: string): CameraMediaConfig {
  const ffmpeg = env.CAMERAS_FFMPEG ? (existsSync(env.CAMERAS_FFMPEG) ? env.CAMERAS_FFMPEG : null) : onPath(env, 'ffmpeg');
  return {
    ffmpeg,
    simulate: env.CAMERAS_SIMULATE !== '0',
    maxStreams: Math.max(1, int(env.CAMERAS_MAX_STREAMS, 16)),
    idleS: Math.max(1, int(env.CAMERAS_IDLE_S, 20)),
    grantTtlS: Math.max(1, int(env.CAMERAS_GRANT_TTL_S, 30)),
    size: /^\d{2,4}x\d{2,4}$/.test(env.CAMERAS_SIM_SIZE ?? '') ? env.CAMERAS_SIM_SIZE! : '320x180',
    fps: Math.min(30, Math.max(1, int(env.CAMERAS_SIM_FPS, 10))),
    font: env.CAMERAS_FONT ?? FONTS.find((f) => existsSync(f)) ?? null,
    runDir: path.resolve(env.CAMERAS_RUN_DIR || path.join(dataDir, 'cameras')),
  };
}

/** What the media side needs of a camera (the source included: it never leaves the server). */
export interface CameraSource {
  id: number;
  code: string;
  name: string;
  sourceType: 'rtsp' | 'hls' | 'gb28181' | 'demo';
  sourceUrl: string;
  codec: 'h264' | 'h265';
}

interface WebRtcLive {
  kind: 'webrtc';
  cameraId: number;
  mountpoint: number;
  secret: string;
  pin: string;
  ffmpeg: ChildProcess | null;
  /** Janus tokens made for redeemed grants, with when (revoked when the viewer leaves or the stream stops). */
  tokens: Map<string, number>;
  idleSince: number | null;
  lastGrant: number;
}

interface HlsLive {
  kind: 'hls';
  cameraId: number;
  dir: string;
  ffmpeg: ChildProcess;
  lastRequest: number;
}

type Live = WebRtcLive | HlsLive;

interface RtcGrantState {
  cameraId: number;
  expiresAt: number;
  /** Redeemed by a viewer's session (a second one is refused); the Janus token made for it. */
  claimed: boolean;
  janusToken: string | null;
  /** The viewer's session ended. */
  released: boolean;
}

/** What a redeemed WebRTC grant opens, for the proxy; `release()` when the viewer's session ends. */
export interface RedeemedGrant {
  janusToken: string;
  mountpoint: number;
  pin: string;
  release(): Promise<void>;
}

interface HlsGrantState {
  cameraId: number;
  userId: number;
  expiresAt: number;
  lastSeen: number | null;
}

/** A grant in use stays valid while its viewer keeps fetching at least this often. */
const HLS_GRANT_IDLE_MS = 30_000;
const STREAMING = 'janus.plugin.streaming';
/** Where browsers redeem WebRTC grants and talk to Janus (live.ts). */
export const CAMERA_LIVE_PATH = '/api/cameras/live';
const secret = () => randomBytes(24).toString('base64url');

/** Splits `rtsp://user:pass@host/path` into the URL Janus is given and its credentials. */
export function splitCredentials(url: string): { url: string; user: string; password: string } {
  try {
    const u = new URL(url);
    const user = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    return { url: u.toString(), user, password };
  } catch {
    return { url, user: '', password: '' };
  }
}

/** A source URL with credentials and query removed, for admins' eyes. */
export function redactSource(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === 'demo:') return url;
    const hadSecrets = u.username || u.password || u.search;
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString() + (hadSecrets ? ' (凭据已隐藏)' : '');
  } catch {
    return '(invalid URL)';
  }
}

export class CameraMedia {
  private readonly lives = new Map<number, Live>();
  private readonly starting = new Map<number, Promise<Live>>();
  private readonly hlsGrants = new Map<string, HlsGrantState>();
  private readonly rtcGrants = new Map<string, RtcGrantState>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly config: CameraMediaConfig,
    private readonly video: VideoBackend | undefined,
    private readonly log: { warn(obj: unknown, msg?: string): void },
    private readonly now: () => number = Date.now,
  ) {}

  /** Why a demo camera cannot play, or null when the simulator can run. */
  simulatorUnavailable(): string | null {
    if (!this.config.simulate) return '摄像头模拟器已关闭（CAMERAS_SIMULATE=0）';
    if (!this.config.ffmpeg) return '未安装 ffmpeg，演示视频源不可用（sudo apt-get install -y ffmpeg）';
    return null;
  }

  /** ffmpeg processes running now. */
  processes(): number {
    let n = 0;
    for (const live of this.lives.values()) if (live.ffmpeg && live.ffmpeg.exitCode === null) n++;
    return n;
  }

  streams(): { cameraId: number; kind: 'webrtc' | 'hls' }[] {
    return [...this.lives.values()].map((l) => ({ cameraId: l.cameraId, kind: l.kind }));
  }

  start(): void {
    this.timer ??= setInterval(() => void this.reap().catch((err: unknown) => this.log.warn({ err }, 'camera media reap')), 3000);
    this.timer.unref();
  }

  /** `origin`: ws(s)://host:port of the request; browsers reach Janus through the app's own origin (live.ts). */
  async play(camera: CameraSource, kind: 'webrtc' | 'hls', userId: number, origin: string): Promise<PlayGrant> {
    if (this.closed) throw new AppError('SERVICE_UNAVAILABLE', 'The server is stopping.');
    if (camera.sourceType === 'demo') {
      const why = this.simulatorUnavailable();
      if (why) throw new AppError('CAMERA_OFFLINE', why);
    } else if (kind === 'hls' && !this.config.ffmpeg) {
      throw new AppError('CAMERA_OFFLINE', '未安装 ffmpeg，无法转换此视频源（sudo apt-get install -y ffmpeg）');
    }
    const live = await this.ensure(camera, kind);
    const now = this.now();
    const expiresAt = new Date(now + this.config.grantTtlS * 1000).toISOString();
    if (live.kind === 'webrtc') {
      const token = secret();
      this.rtcGrants.set(token, { cameraId: camera.id, expiresAt: now + this.config.grantTtlS * 1000, claimed: false, janusToken: null, released: false });
      live.lastGrant = now;
      // Always this server's proxy (even with JANUS_PUBLIC_URL): it is where a grant is redeemed once.
      const url = `${origin}${CAMERA_LIVE_PATH}`;
      const grant: WebRtcGrant = { kind: 'webrtc', cameraId: camera.id, url, token, mountpoint: live.mountpoint, iceServers: browserIceServers(this.video!.config), expiresAt };
      return grant;
    }
    const token = secret();
    this.hlsGrants.set(token, { cameraId: camera.id, userId, expiresAt: now + this.config.grantTtlS * 1000, lastSeen: null });
    live.lastRequest = now;
    const grant: HlsGrant = { kind: 'hls', cameraId: camera.id, playlist: `/api/cameras/hls/${token}/index.m3u8`, expiresAt };
    return grant;
  }

  /**
   * Redeems a WebRTC grant for one viewer's Janus session: refused when unknown or expired
   * (CAMERA_GRANT_INVALID) or redeemed already (CAMERA_GRANT_USED). Makes the Janus token the
   * session will use (the streaming plugin only).
   */
  async redeem(grant: string): Promise<RedeemedGrant> {
    const g = this.rtcGrants.get(grant);
    const now = this.now();
    if (!g) throw new AppError('CAMERA_GRANT_INVALID', 'This play grant is unknown or has expired: ask for a new one.');
    if (g.claimed) throw new AppError('CAMERA_GRANT_USED', 'This play grant has been used by a viewer already: a grant opens one view; ask for your own.');
    if (now > g.expiresAt) {
      this.rtcGrants.delete(grant);
      throw new AppError('CAMERA_GRANT_INVALID', 'This play grant has expired: ask for a new one.');
    }
    const live = this.lives.get(g.cameraId);
    if (!live || live.kind !== 'webrtc') {
      this.rtcGrants.delete(grant);
      throw new AppError('CAMERA_GRANT_INVALID', 'The stream has stopped: ask for a new grant.');
    }
    // Claimed before the await, so a second session presenting it at the same moment is refused.
    g.claimed = true;
    let janusToken: string;
    try {
      janusToken = await this.video!.addToken!([STREAMING]);
    } catch (error) {
      g.claimed = false;
      throw error;
    }
    g.janusToken = janusToken;
    live.tokens.set(janusToken, now);
    return {
      janusToken,
      mountpoint: live.mountpoint,
      pin: live.pin,
      release: async () => {
        if (g.released) return;
        g.released = true;
        live.tokens.delete(janusToken);
        await this.video?.removeToken?.(janusToken).catch(() => {});
      },
    };
  }

  /** The file an HLS grant may fetch now, or an error for a grant that is unknown, expired or someone else's. */
  hlsFile(token: string, userId: number, file: string): string {
    const g = this.hlsGrants.get(token);
    const now = this.now();
    const valid = g && g.userId === userId && (g.lastSeen === null ? now <= g.expiresAt : now - g.lastSeen <= HLS_GRANT_IDLE_MS);
    if (!g || !valid) throw new AppError('CAMERA_GRANT_INVALID', 'This play grant is unknown, expired, or not yours: ask for a new one.');
    const live = this.lives.get(g.cameraId);
    if (!live || live.kind !== 'hls') {
      this.hlsGrants.delete(token);
      throw new AppError('CAMERA_GRANT_INVALID', 'The stream has stopped: ask for a new grant.');
    }
    g.lastSeen = now;
    live.lastRequest = now;
    const full = path.join(live.dir, file);
    if (!existsSync(full)) throw new AppError('NOT_FOUND', 'No such segment (yet).');
    return full;
  }

  private async ensure(camera: CameraSource, kind: 'webrtc' | 'hls'): Promise<Live> {
    const current = this.lives.get(camera.id);
    if (current && current.kind === kind && (!current.ffmpeg || current.ffmpeg.exitCode === null)) return current;
    if (current) await this.stop(current);
    let pending = this.starting.get(camera.id);
    if (!pending) {
      pending = (kind === 'webrtc' ? this.startWebRtc(camera) : this.startHls(camera)).finally(() => this.starting.delete(camera.id));
      this.starting.set(camera.id, pending);
    }
    return pending;
  }

  private needsProcess(camera: CameraSource, kind: 'webrtc' | 'hls'): boolean {
    return kind === 'hls' || camera.sourceType === 'demo';
  }

  private checkCapacity(camera: CameraSource, kind: 'webrtc' | 'hls'): void {
    if (this.needsProcess(camera, kind) && this.processes() + this.starting.size >= this.config.maxStreams) {
      throw new AppError('CAMERA_STREAMS_EXHAUSTED', `${this.config.maxStreams} camera streams are running already (CAMERAS_MAX_STREAMS); close a view and try again.`);
    }
  }

  private async startWebRtc(camera: CameraSource): Promise<Live> {
    const video = this.video;
    if (!video?.streaming || !video.addToken || video.health().status !== 'ok') {
      throw new AppError('VIDEO_UNAVAILABLE', `WebRTC cameras need the media server (Janus): ${video?.health().reason ?? 'sudo apt-get install -y janus'}`);
    }
    this.checkCapacity(camera, 'webrtc');
    const live: WebRtcLive = { kind: 'webrtc', cameraId: camera.id, mountpoint: randomInt(1, 2 ** 47), secret: secret(), pin: secret(), ffmpeg: null, tokens: new Map(), idleSince: null, lastGrant: this.now() };
    const common = { request: 'create', admin_key: video.config.adminKey, id: live.mountpoint, name: `camera-${camera.id}`, description: camera.code.slice(0, 60), is_private: true, secret: live.secret, pin: live.pin, permanent: false };
    if (camera.sourceType === 'rtsp') {
      const src = splitCredentials(camera.sourceUrl);
      // rtsp_failcheck: Janus connects (DESCRIBE, SETUP, PLAY) while creating the mountpoint and says
      // so when it cannot; without it the first connection waits for rtsp_reconnect_delay (5 s).
      try {
        await video.streaming({ ...common, type: 'rtsp', url: src.url, ...(src.user ? { rtsp_user: src.user, rtsp_pwd: src.password } : {}), audio: false, video: true, rtsp_reconnect_delay: 5, rtsp_failcheck: true, rtsp_conn_timeout: 5, rtsp_timeout: 10 });
      } catch (error) {
        this.log.warn({ err: error, cameraId: camera.id }, 'janus could not pull the RTSP source');
        throw new AppError('CAMERA_OFFLINE', '无法打开视频源（RTSP 连接或认证失败）');
      }
    } else {
      const created = await video.streaming({
        ...common, type: 'rtp',
        media: [{ type: 'video', mid: 'v', port: 0, pt: 96, codec: 'h264', fmtp: 'profile-level-id=42e01f;packetization-mode=1' }],
      });
      const ports = (created.stream as { ports?: { port: number }[] } | undefined)?.ports ?? [];
      const port = ports[0]?.port;
      if (!port) {
        await this.destroyMountpoint(live);
        throw new Error('janus streaming: no RTP port for the mountpoint');
      }
      const out = ['-an', ...this.encode(), '-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${port}?pkt_size=1200`];
      live.ffmpeg = await this.spawnFfmpeg(camera, [...(await this.input(camera)), ...out]);
    }
    this.lives.set(camera.id, live);
    return live;
  }

  private async startHls(camera: CameraSource): Promise<Live> {
    this.checkCapacity(camera, 'hls');
    const dir = path.join(this.config.runDir, 'hls', `${camera.id}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    // An H.264 source is re-packaged as it is; H.265 (which browsers here cannot decode) and the simulator are encoded.
    const copy = camera.sourceType !== 'demo' && camera.codec === 'h264';
    const out = [
      '-an', ...(copy ? ['-c:v', 'copy'] : this.encode()),
      '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments+omit_endlist+independent_segments',
      '-hls_segment_filename', path.join(dir, 'seg_%05d.ts'), path.join(dir, 'index.m3u8'),
    ];
    const ffmpeg = await this.spawnFfmpeg(camera, [...(await this.input(camera)), ...out]);
    const live: HlsLive = { kind: 'hls', cameraId: camera.id, dir, ffmpeg, lastRequest: this.now() };
    this.lives.set(camera.id, live);
    // The grant is handed out once the first segment is listed, so the player starts at once.
    const deadline = this.now() + 15_000;
    while (!existsSync(path.join(dir, 'index.m3u8'))) {
      if (ffmpeg.exitCode !== null || this.now() > deadline) {
        await this.stop(live);
        throw new AppError('CAMERA_OFFLINE', '视频源无法打开（转码未能开始）');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return live;
  }

  private encode(): string[] {
    const g = String(this.config.fps);
    return ['-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', g, '-keyint_min', g, '-bf', '0', '-b:v', '300k', '-maxrate', '400k', '-bufsize', '400k'];
  }

  private async input(camera: CameraSource): Promise<string[]> {
    if (camera.sourceType === 'rtsp') return ['-rtsp_transport', 'tcp', '-i', camera.sourceUrl];
    if (camera.sourceType !== 'demo') return ['-i', camera.sourceUrl];
    // The simulator: testsrc2 with the camera's name and the time (Asia/Shanghai) drawn in.
    await mkdir(path.join(this.config.runDir, 'names'), { recursive: true });
    const nameFile = path.join(this.config.runDir, 'names', `${camera.id}.txt`);
    await writeFile(nameFile, this.config.font ? `${camera.name}  ${camera.code}` : camera.code);
    const esc = (p: string) => p.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/:/g, '\\:');
    const font = this.config.font ? `fontfile='${esc(this.config.font)}':` : '';
    const box = 'fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=4';
    const vf = `drawtext=${font}textfile='${esc(nameFile)}':x=6:y=h-th-30:fontsize=15:${box},drawtext=${font}text='%{localtime\\:%F %T}':x=6:y=h-th-8:fontsize=13:${box}`;
    return ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${this.config.size}:rate=${this.config.fps}`, '-vf', vf];
  }

  private async spawnFfmpeg(camera: CameraSource, args: string[]): Promise<ChildProcess> {
    const child = spawn(this.config.ffmpeg!, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TZ: 'Asia/Shanghai' },
    });
    let tail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-2000);
    });
    child.once('error', (err) => this.log.warn({ err, cameraId: camera.id }, 'camera ffmpeg could not start'));
    child.once('exit', (code, signal) => {
      const live = this.lives.get(camera.id);
      if (live?.ffmpeg === child) {
        if (!this.closed && signal !== 'SIGTERM' && signal !== 'SIGKILL') this.log.warn({ cameraId: camera.id, code, signal, stderr: tail.replace(camera.sourceUrl, '<source>') }, 'camera ffmpeg exited');
        void this.stop(live);
      }
    });
    return child;
  }

  /** Stops what nobody watches, revokes grants nobody used. */
  async reap(): Promise<void> {
    const now = this.now();
    const ttl = this.config.grantTtlS * 1000;
    const idle = this.config.idleS * 1000;
    for (const [token, g] of this.hlsGrants) {
      if (g.lastSeen === null ? now > g.expiresAt : now - g.lastSeen > HLS_GRANT_IDLE_MS) this.hlsGrants.delete(token);
    }
    // A redeemed grant is kept while its session lasts (a second presentation says "used", not "unknown").
    for (const [token, g] of this.rtcGrants) {
      if (now > g.expiresAt && (!g.claimed || g.released)) this.rtcGrants.delete(token);
    }
    for (const live of [...this.lives.values()]) {
      if (live.kind === 'hls') {
        if (now - live.lastRequest > idle) await this.stop(live);
        continue;
      }
      let viewers = 0;
      try {
        const data = await this.video!.streaming!({ request: 'info', id: live.mountpoint, secret: live.secret });
        viewers = Number((data.info as { viewers?: number } | undefined)?.viewers ?? 0);
      } catch {
        // Janus restarted (the mountpoint is gone) or is away: this stream is over.
        await this.stop(live);
        continue;
      }
      if (viewers > 0) {
        live.idleSince = null;
        continue;
      }
      live.idleSince ??= now;
      if (now - live.idleSince > idle && now - live.lastGrant > ttl) await this.stop(live);
    }
  }

  private async destroyMountpoint(live: WebRtcLive): Promise<void> {
    await this.video?.streaming?.({ request: 'destroy', id: live.mountpoint, secret: live.secret, permanent: false }).catch(() => {});
  }

  private async stop(live: Live): Promise<void> {
    if (this.lives.get(live.cameraId) === live) this.lives.delete(live.cameraId);
    const child = live.ffmpeg;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      timer.unref();
      child.once('exit', () => clearTimeout(timer));
    }
    if (live.kind === 'webrtc') {
      await this.destroyMountpoint(live);
      for (const token of live.tokens.keys()) await this.video?.removeToken?.(token).catch(() => {});
      live.tokens.clear();
      for (const [token, g] of this.rtcGrants) if (g.cameraId === live.cameraId) this.rtcGrants.delete(token);
    } else {
      for (const [token, g] of this.hlsGrants) if (g.cameraId === live.cameraId) this.hlsGrants.delete(token);
      await rm(live.dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.starting.values()]);
    const exits: Promise<void>[] = [];
    for (const live of [...this.lives.values()]) {
      const child = live.ffmpeg;
      if (child && child.exitCode === null && child.signalCode === null) exits.push(new Promise((r) => child.once('exit', () => r())));
      await this.stop(live);
    }
    await Promise.all(exits);
  }
}
