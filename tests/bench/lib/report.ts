/**
 * What a benchmark script hands back to `run.ts`: its headline figures (with the target each one
 * answers, if any) and free-form tables. Written as JSON to BENCH_REPORT_FILE when the runner
 * sets it, and always printed as Markdown so the figures can go straight into docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export interface Headline {
  metric: string;
  value: string;
  /** The target this figure answers, in words ("≥ 10,000/s"); absent for context figures. */
  target?: string;
  pass?: boolean;
}

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  note?: string;
}

export interface BenchReport {
  bench: string;
  headlines: Headline[];
  tables: Table[];
  machine: Record<string, string>;
}

export function machineInfo(): Record<string, string> {
  let cpu = 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: leave it unknown.
  }
  return {
    cores: String(os.availableParallelism()),
    cpu,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
  };
}

export function markdownTable(t: Table): string {
  const lines = [`**${t.title}**`, '', `| ${t.headers.join(' | ')} |`, `|${t.headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of t.rows) lines.push(`| ${r.join(' | ')} |`);
  if (t.note) lines.push('', t.note);
  return lines.join('\n');
}

export function printReport(report: BenchReport): void {
  const out = [`## ${report.bench}`, ''];
  for (const t of report.tables) out.push(markdownTable(t), '');
  out.push(
    markdownTable({
      title: 'Headline figures',
      headers: ['Metric', 'Value', 'Target', 'Verdict'],
      rows: report.headlines.map((h) => [h.metric, h.value, h.target ?? '', h.pass === undefined ? '' : h.pass ? 'pass' : 'FAIL']),
    }),
  );
  console.log(out.join('\n'));
  const file = process.env.BENCH_REPORT_FILE;
  if (file) writeFileSync(file, JSON.stringify(report, null, 2));
}

/** 12345.6 → "12,346"; small values keep a decimal or two. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '–';
  const d = digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 2 ** 20) return `${fmt(n / 2 ** 20, 2)} MiB`;
  if (n >= 1024) return `${fmt(n / 1024, 1)} KiB`;
  return `${fmt(n, 0)} B`;
}
