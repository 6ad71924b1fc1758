/**
 * `npm run bench -- cameras`: cameras (视频监控) on a real Janus and real ffmpeg, in headless
 * Chromium on the app's own video wall (/cameras).
 * 1. Time to first frame per path: click a camera in the wall's list → the first decoded frame on
 *    its <video> (requestVideoFrameCallback), for cameras whose stream is not running yet (cold:
 *    grant, ffmpeg start, Janus mountpoint or first HLS segment) and for a second viewer of a running
 *    stream (warm). WebRTC (Janus streaming) and HLS (ffmpeg → hls.js) separately.
 * 2. CPU of 16 simultaneous camera views (the wall's 16-up layout, the demo mix of WebRTC and HLS):
 *    ffmpeg (the simulator and the HLS packaging), Janus, the server, Chromium and the whole machine,
 *    over a window after every view is live.
 * Opt-in (run.ts): it needs Janus, ffmpeg and Chromium and takes about three minutes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sql } from '../../server/platform/db';
import { migrate } from '../../server/platform/db/migrate';
import { seedRegion } from '../../seeds/seed';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import { BENCH_DEMO_PASSWORD, openScratchDb } from './lib/scratch-db';
import { machineInfo, printReport, type BenchReport } from './lib/report';
import { CHROMIUM_PATH } from '../support/browser';
import { janusInstalled, startTestJanus } from '../support/janus';

const QUICK = process.argv.includes('--quick');
const COLD = QUICK ? 3 : 6;
const CPU_WINDOW_S = QUICK ? 15 : 40;
const ARGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows', '--use-gl=angle', '--use-angle=gl-egl'];
const log = (m: string) => console.error(`[cameras] ${m}`);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
process.on('SIGTERM', () => void Promise.allSettled(cleanups.reverse().map((c) => c())).then(() => process.exit(143)));

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

/** utime + stime ticks of every process whose command name matches, keyed by pid. */
function ticks(match: (comm: string, pid: number) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!match(comm, Number(pid))) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), Number(f[11]) + Number(f[12]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
const delta = (a: Map<number, number>, b: Map<number, number>) => [...b].reduce((s, [pid, t]) => s + Math.max(0, t - (a.get(pid) ?? 0)), 0);
const machine = () => readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);

async function main(): Promise<void> {
  if (!janusInstalled()) throw new Error('Janus is not installed (sudo apt-get install -y janus).');
  await ensureClientBuild(log);
  const janus = await startTestJanus();
  cleanups.push(() => janus.stop());
  const scratch = await openScratchDb('postgres', log);
  cleanups.push(() => scratch.close());
  await migrate(scratch.db);
  await seedRegion(scratch.db, 'yingze', { demo: true, demoPassword: BENCH_DEMO_PASSWORD, history: false });
  const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, jwtSecret: 'bench-jwt-secret-of-at-least-32-characters', simulate: false };
  const app: App = await build({ db: scratch.db, config, clientDir: CLIENT_DIST, video: janus.control });
  cleanups.push(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await app.cameras.checker.sweep();
  const { rows } = await scratch.db.query<{ id: string | number; codec: string }>(sql`
    SELECT id, codec FROM cameras WHERE source_type = 'demo' AND source_url = 'demo:' ORDER BY id`);
  const rtc = rows.filter((r) => r.codec === 'h264').map((r) => Number(r.id));
  const hls = rows.filter((r) => r.codec === 'h265').map((r) => Number(r.id));
  log(`${rows.length} demo cameras online (${rtc.length} WebRTC, ${hls.length} HLS); ffmpeg ${app.cameraMedia.config.ffmpeg}, ${app.cameraMedia.config.size} @ ${app.cameraMedia.config.fps} fps`);

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
  cleanups.push(() => browser.close());
  const wall = async (): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const p = await ctx.newPage();
    await p.goto(`${base}/login`);
    await p.fill('input[name=username]', 'operator');
    await p.fill('input[name=password]', BENCH_DEMO_PASSWORD);
    await p.click('button[type=submit]');
    await p.waitForURL(/\/wall$/);
    await p.goto(`${base}/cameras?layout=1`);
    await p.locator('[data-testid=camera-list] li').first().waitFor();
    return p;
  };

  /** Click → first decoded frame of that camera's <video>, measured in the page (ms). */
  // A string, not a function: tsx's name-keeping helpers do not exist in the page.
  const FIRST_FRAME = `async (cameraId) => {
    const t0 = performance.now();
    document.querySelector('[data-testid=camera-item-' + cameraId + ']').click();
    let video = null;
    while (!video) {
      video = document.querySelector('[data-testid=camera-player][data-camera="' + cameraId + '"] video');
      if (!video) await new Promise((r) => requestAnimationFrame(r));
    }
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame from camera ' + cameraId + ' in 20 s')), 20000);
      video.requestVideoFrameCallback(() => { clearTimeout(timer); resolve(Math.round(performance.now() - t0)); });
    });
  }`;
  const firstFrame = (p: Page, id: number) => p.evaluate(`(${FIRST_FRAME})(${id})`) as Promise<number>;

  // ------------------------------------------------------------------ 1. time to first frame
  const viewer = await wall();
  const second = await wall();
  const results: Record<'webrtc' | 'hls', { cold: number[]; warm: number[] }> = { webrtc: { cold: [], warm: [] }, hls: { cold: [], warm: [] } };
  for (const [kind, ids] of [['webrtc', rtc], ['hls', hls]] as const) {
    for (const id of ids.slice(0, COLD)) {
      results[kind].cold.push(await firstFrame(viewer, id));
      results[kind].warm.push(await firstFrame(second, id));
      log(`${kind} camera ${id}: cold ${results[kind].cold.at(-1)} ms, warm ${results[kind].warm.at(-1)} ms`);
    }
  }
  await viewer.context().close();
  await second.context().close();
  // Let the streams of part 1 idle out, so part 2 counts only its own.
  const idleDeadline = Date.now() + (app.cameraMedia.config.idleS + app.cameraMedia.config.grantTtlS + 15) * 1000;
  while (app.cameraMedia.streams().length > 0 && Date.now() < idleDeadline) {
    await new Promise((r) => setTimeout(r, 1000));
    await app.cameraMedia.reap();
  }

  // ------------------------------------------------------------------ 2. CPU of 16 views
  const sixteen = [...rtc.slice(0, 13), ...hls.slice(0, 3)].slice(0, 16);
  const p16 = await wall();
  await p16.goto(`${base}/cameras?layout=16&ids=${sixteen.join(',')}`);
  const liveAt = Date.now();
  for (;;) {
    const live = await p16.locator('[data-testid=camera-player][data-state=live]').count();
    if (live === sixteen.length) break;
    if (Date.now() - liveAt > 60_000) throw new Error(`only ${live}/16 views live after 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`16 views live after ${Date.now() - liveAt} ms; measuring ${CPU_WINDOW_S} s`);
  const janusPid = janus.pid!;
  const take = () => ({
    ffmpeg: ticks((c) => c === 'ffmpeg'),
    janus: ticks((_c, pid) => pid === janusPid),
    chromium: ticks((c) => c.startsWith('chrom')),
    self: process.cpuUsage(),
    machine: machine(),
  });
  const a = take();
  await new Promise((r) => setTimeout(r, CPU_WINDOW_S * 1000));
  const b = take();
  const pct = (t: number) => (t / 100 / CPU_WINDOW_S) * 100;
  const selfPct = ((b.self.user - a.self.user + b.self.system - a.self.system) / 1e6 / CPU_WINDOW_S) * 100;
  const mBusy = (m: number[]) => m.reduce((s, x) => s + x, 0) - (m[3] ?? 0) - (m[4] ?? 0);
  const mTotal = (m: number[]) => m.reduce((s, x) => s + x, 0);
  const machinePct = ((mBusy(b.machine) - mBusy(a.machine)) / (mTotal(b.machine) - mTotal(a.machine))) * 100;
  const stillLive = await p16.locator('[data-testid=camera-player][data-state=live]').count();
  const cpu = { ffmpeg: pct(delta(a.ffmpeg, b.ffmpeg)), janus: pct(delta(a.janus, b.janus)), chromium: pct(delta(a.chromium, b.chromium)), server: selfPct };
  const processes = b.ffmpeg.size;
  await p16.context().close();

  const row = (kind: 'webrtc' | 'hls', which: 'cold' | 'warm') => {
    const xs = results[kind][which];
    return [kind === 'webrtc' ? 'WebRTC (Janus streaming)' : 'HLS (ffmpeg → hls.js)', which === 'cold' ? 'stream starts' : 'stream running', String(xs.length), String(Math.min(...xs)), String(quantile(xs, 0.5)), String(Math.max(...xs))];
  };
  const report: BenchReport = {
    bench: 'cameras',
    headlines: [
      { metric: 'time to first frame, WebRTC, stream starts (p50)', value: `${quantile(results.webrtc.cold, 0.5)} ms`, target: '≤ 10 s', pass: Math.max(...results.webrtc.cold) <= 10_000 },
      { metric: 'time to first frame, HLS, stream starts (p50)', value: `${quantile(results.hls.cold, 0.5)} ms`, target: '≤ 10 s', pass: Math.max(...results.hls.cold) <= 10_000 },
      { metric: 'time to first frame, WebRTC, stream running (p50)', value: `${quantile(results.webrtc.warm, 0.5)} ms` },
      { metric: 'time to first frame, HLS, stream running (p50)', value: `${quantile(results.hls.warm, 0.5)} ms` },
      { metric: '16 views: ffmpeg + Janus + server CPU', value: `${(cpu.ffmpeg + cpu.janus + cpu.server).toFixed(0)} % of one core` },
      { metric: '16 views: whole machine (browser included)', value: `${machinePct.toFixed(0)} % of ${machineInfo().cores} cores` },
      { metric: '16 views still live at the end of the window', value: `${stillLive}/16` },
    ],
    tables: [
      {
        title: 'Click in the wall’s list → first decoded frame (ms)',
        headers: ['path', 'case', 'n', 'min', 'p50', 'max'],
        rows: [row('webrtc', 'cold'), row('webrtc', 'warm'), row('hls', 'cold'), row('hls', 'warm')],
        note: `requestVideoFrameCallback on the camera's <video>. "stream starts": the grant starts ffmpeg (${app.cameraMedia.config.size}, ${app.cameraMedia.config.fps} fps, x264 ultrafast/zerolatency, 1 s GOP) and the Janus mountpoint or the HLS packaging (1 s segments); "stream running": a second viewer of the same camera.`,
      },
      {
        title: `CPU of 16 simultaneous views (${sixteen.length - 3} WebRTC + 3 HLS), ${CPU_WINDOW_S} s window`,
        headers: ['ffmpeg (' + processes + ' processes)', 'Janus', 'server (Node)', 'Chromium (decoding 16 views)', 'machine'],
        rows: [[`${cpu.ffmpeg.toFixed(0)} %`, `${cpu.janus.toFixed(1)} %`, `${cpu.server.toFixed(1)} %`, `${cpu.chromium.toFixed(0)} %`, `${machinePct.toFixed(0)} % of all cores`]],
        note: 'Percent of one core except the machine column. One ffmpeg per viewed camera (the simulator draws each camera’s name and time); the browser runs on the same 2 cores and is usually the largest cost.',
      },
    ],
    machine: machineInfo(),
  };
  printReport(report);
}

main()
  .then(async () => {
    for (const c of cleanups.reverse()) await c();
    process.exit(0);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    process.exit(1);
  });
