/**
 * Consult recordings, after the consult: Janus's videoroom wrote each publisher's audio and video to
 * .mjr files in the consult's folder (`videoroom-<room>-user-<feed>-<µs>-<audio|video>-<mindex>.mjr`).
 * janus-pp-rec (Debian `janus-tools`) turns each into a plain media file, and ffmpeg muxes a
 * participant's video and audio into one playable file: VP8/VP9/AV1 → .webm (Opus copied), H.264 →
 * .mp4 (Opus to AAC). The .mjr files and the intermediates are removed once their file is made.
 */
import { spawn } from 'node:child_process';
import { open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { findOnPath } from '../video/config';

/** The one command that installs the converter (janus-pp-rec). */
export const RECORDING_TOOLS_INSTALL = 'sudo apt-get install -y janus-tools ffmpeg';

/** One participant's converted recording, `file` relative to the folder it was made in. */
export interface ConvertedRecording {
  feedId: number;
  file: string;
  mime: string;
  bytes: number;
  durationS: number | null;
}

interface MjrInfo {
  /** 'v', 'a' or 'd'. */
  type: string;
  codec: string;
}

/** The JSON header of a .mjr file (MJR00002, a 16-bit length, then the JSON). */
export async function readMjrInfo(file: string): Promise<MjrInfo | null> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(10);
    const { bytesRead } = await fh.read(head, 0, 10, 0);
    if (bytesRead < 10 || head.toString('latin1', 0, 8) !== 'MJR00002') return null;
    const len = head.readUInt16BE(8);
    const body = Buffer.alloc(len);
    await fh.read(body, 0, len, 10);
    const json = JSON.parse(body.toString('utf8')) as { t?: string; c?: string };
    return json.t && json.c ? { type: json.t, codec: json.c.toLowerCase() } : null;
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/** Runs a program (no shell) and resolves with its output; rejects with its stderr's tail. */
function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(bin)} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

const VIDEO_EXT: Record<string, string> = { vp8: 'webm', vp9: 'webm', av1: 'webm', h264: 'mp4', h265: 'mp4' };
const AUDIO_EXT: Record<string, string> = { opus: 'opus', multiopus: 'opus', pcmu: 'wav', pcma: 'wav', g722: 'wav' };
const NAME = /^videoroom-\d+-user-(\d+)-(\d+)-(audio|video|data)-\d+\.mjr$/;

/** Waits until no .mjr file in `dir` grows any more (Janus closes them as the room is destroyed). */
export async function settle(dir: string, quietMs = 600, maxMs = 10_000): Promise<void> {
  const sizes = async () => {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.mjr')).sort();
    const all = await Promise.all(names.map(async (n) => `${n}:${(await stat(path.join(dir, n)).catch(() => ({ size: -1 }))).size}`));
    return all.join(',');
  };
  const end = Date.now() + maxMs;
  let last = await sizes();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = await sizes();
    if (now === last) return;
    last = now;
  }
}

/**
 * Converts every participant's .mjr files in `dir` into one playable file each. Participants whose
 * files cannot be converted are skipped (their .mjr files stay, and the error is reported).
 */
export async function convertRecordings(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<{ made: ConvertedRecording[]; errors: string[] }> {
  const ppRec = findOnPath('janus-pp-rec', env);
  const ffmpeg = findOnPath('ffmpeg', env);
  const ffprobe = findOnPath('ffprobe', env);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
  if (names.length === 0) return { made: [], errors: [] };
  if (!ppRec || !ffmpeg) return { made: [], errors: [`The recordings in ${dir} need janus-pp-rec and ffmpeg: ${RECORDING_TOOLS_INSTALL}`] };

  // One group per publishing session: a feed's audio and video files carry timestamps microseconds
  // apart; the same kind again (the participant published anew) starts the next group.
  const parsed = names.map((n) => {
    const [, feed, at, kind] = NAME.exec(n)!;
    return { n, feed: Number(feed), at: Number(at), kind };
  }).sort((a, b) => a.feed - b.feed || a.at - b.at);
  const groups = new Map<string, { feedId: number; video?: string; audio?: string }>();
  let current: { key: string; feedId: number; video?: string; audio?: string; data?: boolean } | null = null;
  for (const f of parsed) {
    const has = current && current.feedId === f.feed && (f.kind === 'video' ? current.video : f.kind === 'audio' ? current.audio : current.data);
    if (!current || current.feedId !== f.feed || has) {
      current = { key: `${f.feed}-${f.at}`, feedId: f.feed };
      groups.set(current.key, current);
    }
    if (f.kind === 'video') current.video = f.n;
    else if (f.kind === 'audio') current.audio = f.n;
    else current.data = true;
  }

  const made: ConvertedRecording[] = [];
  const errors: string[] = [];
  for (const [key, g] of groups) {
    const temp: string[] = [];
    try {
      const part = async (name: string | undefined, table: Record<string, string>): Promise<{ file: string; codec: string } | null> => {
        if (!name) return null;
        const info = await readMjrInfo(path.join(dir, name));
        const ext = info ? table[info.codec] : undefined;
        if (!info || !ext) return null;
        const out = path.join(dir, `${name.slice(0, -4)}.${ext}`);
        temp.push(out);
        await run(ppRec, [path.join(dir, name), out], 10 * 60_000);
        return { file: out, codec: info.codec };
      };
      const video = await part(g.video, VIDEO_EXT);
      const audio = await part(g.audio, AUDIO_EXT);
      if (!video && !audio) continue;
      const mp4 = video !== null && VIDEO_EXT[video.codec] === 'mp4';
      const ext = mp4 ? 'mp4' : 'webm';
      const file = `participant-${key}.${ext}`;
      const args = ['-hide_banner', '-loglevel', 'error', '-y'];
      if (video) args.push('-i', video.file);
      if (audio) args.push('-i', audio.file);
      if (video) args.push('-map', '0:v:0', '-c:v', 'copy');
      if (audio) {
        const copy = !mp4 && (audio.codec === 'opus' || audio.codec === 'multiopus');
        args.push('-map', `${video ? 1 : 0}:a:0`, '-c:a', copy ? 'copy' : mp4 ? 'aac' : 'libopus');
      }
      args.push(path.join(dir, file));
      await run(ffmpeg, args, 10 * 60_000);
      let durationS: number | null = null;
      if (ffprobe) {
        const d = Number((await run(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(dir, file)], 60_000).catch(() => '')).trim());
        durationS = Number.isFinite(d) && d > 0 ? Math.round(d * 10) / 10 : null;
      }
      const bytes = (await stat(path.join(dir, file))).size;
      made.push({ feedId: g.feedId, file, mime: mp4 ? 'video/mp4' : video ? 'video/webm' : 'audio/webm', bytes, durationS });
      for (const n of [g.video, g.audio]) if (n) await rm(path.join(dir, n), { force: true });
    } catch (error) {
      errors.push(`participant ${key}: ${(error as Error).message}`);
    } finally {
      for (const f of temp) await rm(f, { force: true });
    }
  }
  return { made, errors };
}
