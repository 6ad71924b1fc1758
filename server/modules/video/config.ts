/**
 * Video settings, from the environment (documented in the README's Video section). Janus runs as a
 * child of the server when its binary is installed (`apt-get install janus`), or an external one is
 * used for the run when JANUS_URL is set; otherwise video is unavailable and everything else works.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface VideoConfig {
  /** 'child': start `janus` ourselves; 'external': JANUS_URL; 'off': not installed or VIDEO=0. */
  mode: 'child' | 'external' | 'off';
  /** Why video is off (shown by health and the video buttons). */
  offReason: string | null;
  binary: string;
  /** Janus's library folder (plugins, transports). */
  libDir: string;
  /** Where the filled configuration and Janus's log go. */
  runDir: string;
  /** The WebSocket port browsers connect to, and the host it binds. */
  wsPort: number;
  wsHost: string;
  /** The Admin API's WebSocket port (always on 127.0.0.1 for a child). */
  adminPort: number;
  /** The Janus API URL the server's control connection uses. */
  controlUrl: string;
  /** The Admin API URL (tokens). */
  adminUrl: string;
  /** What browsers are told to connect to; null: this server's own origin, /api/video/janus (proxied to Janus). */
  publicUrl: string | null;
  apiSecret: string;
  adminSecret: string;
  /** The plugins' admin key (creating rooms). */
  adminKey: string;
  /** Interfaces ICE gathers on ('' = all). */
  iceInterfaces: string;
  nat11: string;
  rtpPortRange: string;
  stunServer: string;
  /** TURN for phones on networks that block UDP (coturn), given to browsers and to Janus. */
  turn: { url: string; username: string; credential: string } | null;
  /** An unused join grant is revoked after this long, s. */
  grantTtlS: number;
  /** An invitee who neither answers nor declines within this long is marked no-answer, s. */
  ringTimeoutS: number;
  /**
   * CONSULT_RECORDING=1: every consult's room records each publisher to .mjr files in the consult's
   * own folder under `recordingsDir` (Janus must write there: a child, or an external one sharing it),
   * converted when the consult ends with janus-pp-rec (Debian `janus-tools`) and ffmpeg.
   */
  recording: boolean;
  recordingsDir: string;
}

const DEBIAN_LIB = '/usr/lib/x86_64-linux-gnu/janus';

/** A program on the PATH (or null). */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '/usr/bin:/usr/local/bin').split(':')) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

function findBinary(env: NodeJS.ProcessEnv): string | null {
  if (env.JANUS_BIN) return existsSync(env.JANUS_BIN) ? env.JANUS_BIN : null;
  return findOnPath('janus', env);
}

const int = (v: string | undefined, fallback: number) => {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isFinite(n) ? Math.trunc(n) : fallback;
};

/** The one command that installs video, shown where video is unavailable. */
export const INSTALL_COMMAND = 'sudo apt-get install -y janus';

export function loadVideoConfig(env: NodeJS.ProcessEnv, dataDir: string, host: string): VideoConfig {
  const wsPort = int(env.JANUS_WS_PORT, 8188);
  const adminPort = int(env.JANUS_ADMIN_PORT, 7188);
  const external = env.JANUS_URL || '';
  const binary = findBinary(env);
  let mode: VideoConfig['mode'] = external ? 'external' : binary ? 'child' : 'off';
  let offReason: string | null = mode === 'off' ? `Janus is not installed: ${INSTALL_COMMAND}` : null;
  if (env.VIDEO === '0') {
    mode = 'off';
    offReason = 'Video is turned off (VIDEO=0).';
  }
  const turnUrl = env.TURN_URL || '';
  return {
    mode,
    offReason,
    binary: binary ?? 'janus',
    libDir: env.JANUS_LIB_DIR || DEBIAN_LIB,
    runDir: path.resolve(env.JANUS_RUN_DIR || path.join(dataDir, 'janus')),
    wsPort,
    wsHost: env.JANUS_WS_HOST || host,
    adminPort,
    controlUrl: external || `ws://127.0.0.1:${wsPort}`,
    adminUrl: env.JANUS_ADMIN_URL || `ws://127.0.0.1:${adminPort}`,
    publicUrl: env.JANUS_PUBLIC_URL || null,
    // A child gets fresh secrets every start (filled into its configuration); an external Janus needs them set.
    apiSecret: env.JANUS_API_SECRET || '',
    adminSecret: env.JANUS_ADMIN_SECRET || '',
    adminKey: env.JANUS_ADMIN_KEY || '',
    iceInterfaces: env.JANUS_ICE_INTERFACES ?? 'lo',
    nat11: env.JANUS_NAT_1_1 || '',
    rtpPortRange: env.JANUS_RTP_PORTS || '20000-40000',
    stunServer: env.JANUS_STUN || '',
    turn: turnUrl ? { url: turnUrl, username: env.TURN_USERNAME || '', credential: env.TURN_CREDENTIAL || '' } : null,
    grantTtlS: Math.max(1, int(env.CONSULT_GRANT_TTL_S, 60)),
    ringTimeoutS: Math.max(1, int(env.CONSULT_RING_TIMEOUT_S, 30)),
    recording: env.CONSULT_RECORDING === '1' || env.CONSULT_RECORDING === 'true',
    recordingsDir: path.resolve(env.CONSULT_RECORDINGS_DIR || path.join(dataDir, 'recordings')),
  };
}

/** The ICE servers browsers use: TURN when configured (UDP and TCP), else none (host candidates). */
export function browserIceServers(config: VideoConfig): IceServer[] {
  if (!config.turn) return [];
  return [{ urls: config.turn.url, username: config.turn.username, credential: config.turn.credential }];
}
