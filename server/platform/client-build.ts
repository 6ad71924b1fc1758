import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
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
  const { build } = await import('vite');
  await build({ logLevel: 'warn' });
  writeFileSync(STAMP, String(Date.now()));
  log(`Dashboard built in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}
