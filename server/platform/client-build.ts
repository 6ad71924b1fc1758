import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';

export const CLIENT_DIST = path.resolve('dist/client');
const STAMP = path.join(CLIENT_DIST, '.build-stamp');
const INPUTS = ['client', 'shared', 'vite.config.ts', 'package-lock.json'];

function newestMtime(entry: string): number {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, child)));
  return newest;
}

/** The dashboard build is missing or older than any of its sources. */
export function clientBuildIsStale(): boolean {
  if (!existsSync(STAMP) || !existsSync(path.join(CLIENT_DIST, 'index.html'))) return true;
  const built = Number(readFileSync(STAMP, 'utf8')) || 0;
  return INPUTS.some((i) => newestMtime(i) > built);
}

/** Builds the dashboard with Vite when it is missing or stale (first `npm start` after `npm ci`). */
export async function ensureClientBuild(log: (msg: string) => void): Promise<void> {
  if (!existsSync('client/index.html')) return;
  if (!clientBuildIsStale()) return;
  log('Building the dashboard (first start or sources changed; about a minute on 2 cores)…');
  const started = Date.now();
  // In a child process with NODE_ENV=production: a parent that runs under NODE_ENV=test (vitest)
  // would otherwise get Vue's development build, heavier and slower than what users download.
  await new Promise<void>((resolve, reject) => {
    const vite = path.resolve('node_modules/vite/bin/vite.js');
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      stdio: 'inherit',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`))));
  });
  writeFileSync(STAMP, String(Date.now()));
  log(`Dashboard built in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}
