/**
 * `npm run bench -- consult`: video consults on a real Janus (Debian's 1.1.2, the repository's
 * configuration), in headless Chromium with fake cameras.
 * 1. Ring → first remote frame: the dispatcher calls the worker from the desk (the app's own pages),
 *    the phone answers the moment it rings, and the desk shows the worker's first frame
 *    (requestVideoFrameCallback on the remote <video>); 20 calls, p50/p99.
 * 2. Janus's CPU (utime + stime of its process, /proc) while 3 consults of 4 people each run at
 *    once (every person publishes 320×240 and subscribes to the other three) plus a wall watching
 *    all 12 feeds — the media through Janus exactly as in the app (grants from the API, the app's
 *    /api/video/janus), the pages a bare janus.js harness so the browsers' own load stays small.
 * Opt-in (run.ts): it needs Janus and Chromium and takes about four minutes.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sql } from '../../server/platform/db';
import { build, type App } from '../../server/app';
import { loadConfig } from '../../server/platform/config';
import { CLIENT_DIST, ensureClientBuild } from '../../server/platform/client-build';
import type { ConsultGrant, ConsultSummary } from '@shared/consults-api';
import { BENCH_DEMO_PASSWORD, openScratchDb, prepareWorkforce } from './lib/scratch-db';
import { machineInfo, printReport, type BenchReport } from './lib/report';
import { CHROMIUM_PATH } from '../support/browser';
import { janusInstalled, startTestJanus } from '../support/janus';

const CALLS = process.argv.includes('--quick') ? 5 : 20;
const CPU_WINDOW_S = process.argv.includes('--quick') ? 15 : 45;
const ARGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows', '--use-gl=angle', '--use-angle=gl-egl'];
const log = (m: string) => console.error(`[consult] ${m}`);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
process.on('SIGTERM', () => void Promise.allSettled(cleanups.reverse().map((c) => c())).then(() => process.exit(143)));

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

function janusTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

/** The bare participant page: janus.js 1.1.4 over the app's /api/video/janus, publish and/or subscribe. */
const HARNESS = `<!doctype html><meta charset="utf-8"><script src="/adapter.js"></script>
<script type="module">
import Janus from '/janus.es.js';
window.participate = (g, publish) => new Promise((ready) => Janus.init({ debug: false, callback: () => {
  const stats = (window.stats = { frames: {} });
  const janus = new Janus({ server: g.url, token: g.token, success: () => janus.attach({ plugin: 'janus.plugin.videoroom',
    success: (pub) => { window.pub = pub; pub.send({ message: { request: 'join', ptype: 'publisher', room: g.room, pin: g.pin, token: g.token, id: g.feedId, display: g.display } }); },
    onmessage: (msg, jsep) => {
      if (msg.videoroom === 'joined') {
        window.privateId = msg.private_id;
        if (publish) window.pub.createOffer({ tracks: [{ type: 'audio', capture: true, recv: false }, { type: 'video', capture: { width: 320, height: 240, frameRate: 15 }, recv: false }],
          success: (offer) => window.pub.send({ message: { request: 'configure', audio: true, video: true, bitrate: 300000 }, jsep: offer }) });
        ready();
      }
      for (const p of msg.publishers ?? []) subscribe(p.id);
      if (jsep) window.pub.handleRemoteJsep({ jsep });
    } }) });
  const subs = new Map();
  function subscribe(feed) {
    if (subs.has(feed)) return;
    subs.set(feed, null);
    janus.attach({ plugin: 'janus.plugin.videoroom', success: (h) => { subs.set(feed, h); h.send({ message: { request: 'join', ptype: 'subscriber', room: g.room, pin: g.pin, token: g.token, streams: [{ feed }], private_id: window.privateId } }); },
      onmessage: (msg, jsep) => { const h = subs.get(feed); if (jsep) h.createAnswer({ jsep, tracks: [{ type: 'data' }], success: (a) => h.send({ message: { request: 'start', room: g.room }, jsep: a }) }); },
      onremotetrack: () => {} });
  }
  setInterval(async () => { for (const [feed, h] of subs) { const pc = h?.webrtcStuff?.pc; if (!pc) continue;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') stats.frames[feed] = s.framesDecoded ?? 0; }); } }, 1000);
} }));
</script>`;

async function main(): Promise<void> {
  if (!janusInstalled()) throw new Error('Janus is not installed (sudo apt-get install -y janus).');
  await ensureClientBuild(log);
  const janus = await startTestJanus({ CONSULT_RING_TIMEOUT_S: '30' });
  cleanups.push(() => janus.stop());
  const scratch = await openScratchDb('postgres', log);
  cleanups.push(() => scratch.close());
  // Migrated and seeded with Yingze (its workers with devices), as the other benchmarks start.
  await prepareWorkforce(scratch.db, 0, log);
  const config = { ...loadConfig({}), demoPassword: BENCH_DEMO_PASSWORD, jwtSecret: 'bench-jwt-secret-of-at-least-32-characters', simulate: false };
  const app: App = await build({ db: scratch.db, config, clientDir: CLIENT_DIST, video: janus.control });
  cleanups.push(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const login = async (username: string, password = BENCH_DEMO_PASSWORD) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
    if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.body}`);
    return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
  };
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
  cleanups.push(() => browser.close());
  const page = async (w: number, h: number) => {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', permissions: ['camera', 'microphone', 'geolocation'], geolocation: { longitude: 112.56, latitude: 37.86 } });
    return ctx.newPage();
  };
  const signIn = async (p: Page, username: string) => {
    await p.goto(`${base}/login`);
    await p.fill('input[name=username]', username);
    await p.fill('input[name=password]', BENCH_DEMO_PASSWORD);
    await p.click('button[type=submit]');
  };

  // ------------------------------------------------------------------ 1. ring → first frame
  const { rows: [w] } = await scratch.db.query<{ workerId: number; lon: number; lat: number }>(sql`
    SELECT u.worker_id AS "workerId", ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
      FROM users u JOIN workers wk ON wk.id = u.worker_id JOIN regions g ON g.code = wk.home_grid_code WHERE u.username = 'worker'`);
  const workerId = Number(w!.workerId);
  const dispatcher = await login('dispatcher');
  const filed = (await app.inject({ method: 'POST', url: '/api/tickets', headers: dispatcher, payload: { category: 'safety.fire', urgency: 'immediate', lon: w!.lon, lat: w!.lat, description: '基准：视频会商' } })).json() as { id: number; number: string };
  for (const body of [{ action: 'register' }, { action: 'dispatch', workerId }]) {
    await app.inject({ method: 'POST', url: `/api/tickets/${filed.id}/transitions`, headers: dispatcher, payload: body });
  }
  const desk = await page(1920, 1080);
  const phone = await page(390, 844);
  await signIn(desk, 'dispatcher');
  await desk.waitForURL(`${base}/dispatch`);
  await signIn(phone, 'worker');
  await phone.waitForURL(`${base}/field`);
  await desk.goto(`${base}/dispatch?category=safety.fire&status=dispatched`);
  await desk.locator(`[data-testid=ticket-row][data-number="${filed.number}"]`).click();
  // The dispatcher calls from the ticket (视频会商 → 发起会商); the phone answers the moment it rings.
  const ringToFrame: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    await desk.getByTestId('ticket-detail').getByTestId('consult-open').click();
    await desk.getByTestId('consult-call-start').waitFor();
    const rang = Date.now();
    await desk.getByTestId('consult-call-start').click();
    await phone.getByTestId('consult-answer').click({ timeout: 15_000 });
    const first = await desk.waitForFunction(() => {
      const v = document.querySelector<HTMLVideoElement>('[data-testid=consult-remote] video[data-first-frame]');
      return v ? Number(v.dataset.firstFrame) : 0;
    }, undefined, { timeout: 30_000, polling: 50 });
    ringToFrame.push(Number(await first.jsonValue()) - rang);
    await desk.getByTestId('consult-end').click();
    await desk.waitForFunction(() => !document.querySelector('[data-testid=consult-call]'), undefined, { timeout: 15_000 });
    await phone.waitForFunction(() => !document.querySelector('[data-testid=consult-call]'), undefined, { timeout: 15_000 });
    log(`call ${i + 1}/${CALLS}: ring → first frame ${ringToFrame.at(-1)} ms`);
  }
  await desk.context().close();
  await phone.context().close();

  // ------------------------------------------------------------------ 2. Janus CPU: 3 × 4 parties + a wall
  const harness: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const file = url === '/janus.es.js' ? path.resolve('node_modules/janus-gateway/dist/janus.es.js') : url === '/adapter.js' ? path.resolve('node_modules/webrtc-adapter/out/adapter.js') : null;
    res.setHeader('content-type', file ? 'text/javascript' : 'text/html; charset=utf-8');
    res.end(file ? readFileSync(file) : HARNESS);
  });
  await new Promise<void>((r) => harness.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => harness.close(r)));
  const harnessUrl = `http://127.0.0.1:${(harness.address() as AddressInfo).port}/`;
  const admin = await login('admin');
  const { rows: people } = await scratch.db.query<{ id: number; name: string }>(sql`
    SELECT w.id, w.name FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND NOT EXISTS (SELECT 1 FROM users u WHERE u.worker_id = w.id) ORDER BY w.id LIMIT 9`);
  const accounts: Array<{ headers: { authorization: string }; workerId: number }> = [];
  for (const [i, p] of people.entries()) {
    const username = `bench-consult-${i}`;
    const made = await app.inject({ method: 'POST', url: '/api/users', headers: admin, payload: { username, displayName: p.name, password: `${username}-pass`, role: 'worker', regionCode: (await scratch.db.query<{ code: string }>(sql`SELECT home_grid_code AS code FROM workers WHERE id = ${p.id}`)).rows[0]!.code, workerId: p.id } });
    if (made.statusCode !== 201) throw new Error(`account: ${made.body}`);
    accounts.push({ headers: await login(username, `${username}-pass`), workerId: Number(p.id) });
  }
  const origin = base.replace(/^http/, 'ws');
  const viaApp = (g: ConsultGrant) => ({ ...g, url: g.url.replace(/^ws:\/\/[^/]+/, origin) });
  const pages: Page[] = [];
  const consultIds: number[] = [];
  const wallGrants: ConsultGrant[] = [];
  const operator = await login('operator');
  for (let c = 0; c < 3; c++) {
    const trio = accounts.slice(c * 3, c * 3 + 3);
    const created = (await app.inject({ method: 'POST', url: '/api/consults', headers: admin, payload: { invitees: trio.map((a) => ({ workerId: a.workerId })) } })).json() as ConsultSummary;
    consultIds.push(created.id);
    for (const who of [admin, ...trio.map((a) => a.headers)]) {
      const grant = viaApp((await app.inject({ method: 'POST', url: `/api/consults/${created.id}/join`, headers: who, payload: {} })).json() as ConsultGrant);
      const p = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
      await p.goto(harnessUrl);
      await p.waitForFunction(() => 'participate' in window);
      await p.evaluate(([g]) => (window as unknown as { participate: (g: unknown, publish: boolean) => Promise<void> }).participate(g, true), [grant] as const);
      pages.push(p);
    }
    wallGrants.push(viaApp((await app.inject({ method: 'POST', url: `/api/consults/${created.id}/join`, headers: operator, payload: { mode: 'watch' } })).json() as ConsultGrant));
  }
  // The wall: one page subscribing to all three rooms.
  const wall = await (await browser.newContext()).newPage();
  await wall.goto(harnessUrl);
  await wall.waitForFunction(() => 'participate' in window);
  for (const g of wallGrants) {
    const frame = await wall.evaluateHandle(() => document.body.appendChild(document.createElement('iframe')));
    const f = await frame.asElement()!.contentFrame();
    await f!.goto(harnessUrl);
    await f!.waitForFunction(() => 'participate' in window);
    await f!.evaluate(([grant]) => (window as unknown as { participate: (g: unknown, publish: boolean) => Promise<void> }).participate(grant, false), [g] as const);
  }
  const decoding = async () => {
    let feeds = 0;
    let flowing = 0;
    for (const p of [...pages, ...wall.frames().slice(1)]) {
      const f = await p.evaluate(() => (window as unknown as { stats?: { frames: Record<string, number> } }).stats?.frames ?? {});
      for (const v of Object.values(f)) {
        feeds++;
        if (v > 0) flowing++;
      }
    }
    return { feeds, flowing };
  };
  const deadline = Date.now() + 90_000;
  let d = await decoding();
  while (Date.now() < deadline && !(d.feeds >= 48 && d.flowing === d.feeds)) {
    await new Promise((r) => setTimeout(r, 1000));
    d = await decoding();
  }
  log(`media flowing: ${d.flowing}/${d.feeds} subscribed feeds decoding (expected 48: 12 × 3 in the rooms, 12 on the wall)`);
  const pid = janus.pid!;
  const t0 = janusTicks(pid);
  const machine0 = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  await new Promise((r) => setTimeout(r, CPU_WINDOW_S * 1000));
  const t1 = janusTicks(pid);
  const machine1 = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const janusPct = ((t1 - t0) / 100 / CPU_WINDOW_S) * 100;
  const busy = (m: number[]) => m.reduce((a, b) => a + b, 0) - (m[3] ?? 0) - (m[4] ?? 0);
  const total = (m: number[]) => m.reduce((a, b) => a + b, 0);
  const machinePct = ((busy(machine1) - busy(machine0)) / (total(machine1) - total(machine0))) * 100;
  const after = await decoding();
  for (const id of consultIds) await app.inject({ method: 'POST', url: `/api/consults/${id}/transitions`, headers: admin, payload: { action: 'end' } });

  const report: BenchReport = {
    bench: 'consult',
    headlines: [
      { metric: `ring → first remote frame, p50 (${CALLS} calls)`, value: `${quantile(ringToFrame, 0.5)} ms` },
      { metric: `ring → first remote frame, p99 (${CALLS} calls)`, value: `${quantile(ringToFrame, 0.99)} ms` },
      { metric: 'Janus CPU, 3 consults × 4 people + a wall (48 streams forwarded)', value: `${janusPct.toFixed(0)} % of one core` },
      { metric: 'feeds decoding at the end of the CPU window', value: `${after.flowing}/${after.feeds}` },
    ],
    tables: [
      {
        title: 'Ring → first remote frame on the desk (ms)',
        headers: ['calls', 'min', 'p50', 'p99', 'max'],
        rows: [[String(CALLS), String(Math.min(...ringToFrame)), String(quantile(ringToFrame, 0.5)), String(quantile(ringToFrame, 0.99)), String(Math.max(...ringToFrame))]],
        note: 'Includes the phone answering at once (an automated click on 接听), the grant, Janus session, publish and subscribe on both sides.',
      },
      {
        title: `Janus CPU over ${CPU_WINDOW_S} s`,
        headers: ['Janus (% of one core)', 'machine (% of all cores)'],
        rows: [[janusPct.toFixed(1), machinePct.toFixed(0)]],
        note: '12 publishers at 320×240, 15 fps, 300 kbit/s; each subscribes to the other 3 of its room; the wall subscribes to all 12. The browsers run on the same machine.',
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
