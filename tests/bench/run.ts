/**
 * `npm run bench [-- NAME… --flag…]`: runs every benchmark script in tests/bench/ (or only those
 * named) one after another, each in its own process with its own time limit, then prints a summary
 * of their headline figures. Flags are passed on to every script (e.g. `--pglite`, `--quick`).
 * The whole run is bounded: a script still running at its limit is stopped (SIGTERM, which each
 * script answers by cleaning up, then SIGKILL).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable, type BenchReport } from './lib/report';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
/** The whole `npm run bench` stays under ten minutes unless PGlite is asked for as well. */
const TOTAL_BUDGET_MS = (flags.includes('--pglite') ? 20 : 9.5) * 60_000;

const available = readdirSync(HERE)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const unknown = names.filter((n) => !available.includes(n));
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Available: ${available.join(', ')}`);
  process.exit(2);
}
/** Long runs that a plain `npm run bench` leaves out: they run only when named, each with its own time limit. */
const OPT_IN: Record<string, number> = { soak: 25 * 60_000, track: 15 * 60_000, consult: 12 * 60_000, cameras: 8 * 60_000, kpis: 20 * 60_000 };
const selected = names.length > 0 ? names : available.filter((n) => !(n in OPT_IN));
/** Each report is also kept here (git-ignored), stamped, for comparing runs. */
const KEEP_DIR = path.resolve(HERE, '../../test-results/bench');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');

function runOne(name: string, reportFile: string, limitMs: number): Promise<{ code: number | null; seconds: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, `${name}.ts`), ...flags], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_REPORT_FILE: reportFile },
    });
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      timedOut = true;
      console.error(`[bench] ${name}: over its ${Math.round(limitMs / 1000)} s limit, stopping it`);
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(limit);
      if (kill) clearTimeout(kill);
      resolve({ code, seconds: (performance.now() - started) / 1000, timedOut });
    });
  });
}

const started = performance.now();
const dir = mkdtempSync(path.join(tmpdir(), 'gridline-bench-'));
const reports: BenchReport[] = [];
const outcomes: string[][] = [];
try {
  for (const name of selected) {
    const left = OPT_IN[name] ?? TOTAL_BUDGET_MS - (performance.now() - started);
    if (left < 30_000) {
      outcomes.push([name, 'skipped: no time left', '']);
      continue;
    }
    console.error(`[bench] ${name}…`);
    const file = path.join(dir, `${name}.json`);
    const { code, seconds, timedOut } = await runOne(name, file, left);
    outcomes.push([name, timedOut ? 'timed out' : code === 0 ? 'ok' : `failed (exit ${code})`, `${seconds.toFixed(0)} s`]);
    if (existsSync(file)) {
      reports.push(JSON.parse(readFileSync(file, 'utf8')) as BenchReport);
      mkdirSync(KEEP_DIR, { recursive: true });
      copyFileSync(file, path.join(KEEP_DIR, `${name}-${stamp}.json`));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const lines = ['', '# Benchmark summary', ''];
const machine = reports[0]?.machine;
if (machine) lines.push(Object.entries(machine).map(([k, v]) => `${k}: ${v}`).join(' · '), '');
lines.push(markdownTable({ title: 'Runs', headers: ['Benchmark', 'Outcome', 'Time'], rows: outcomes }), '');
const rows = reports.flatMap((r) => r.headlines.map((h) => [r.bench, h.metric, h.value, h.target ?? '', h.pass === undefined ? '' : h.pass ? 'pass' : 'FAIL']));
if (rows.length > 0) lines.push(markdownTable({ title: 'Figures', headers: ['Benchmark', 'Metric', 'Value', 'Target', 'Verdict'], rows }));
console.log(lines.join('\n'));
process.exit(outcomes.every((o) => o[1] === 'ok') ? 0 : 1);
