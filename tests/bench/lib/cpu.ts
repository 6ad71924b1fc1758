/**
 * CPU accounting for a measurement window: this process (process.cpuUsage), the PostgreSQL
 * processes serving the benchmark (utime + stime from /proc/<pid>/stat), and the whole machine
 * (/proc/stat), so a reading can say where the two cores went — and whether something outside the
 * benchmark was using them.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export interface CpuSample {
  at: number;
  self: NodeJS.CpuUsage;
  /** CPU ticks of each PostgreSQL process counted (see postgresTicks). */
  postgres: Map<number, number>;
  machineBusy: number;
  machineTotal: number;
}

export interface CpuWindow {
  /** Percent of one core (100 = one core busy for the whole window). */
  selfPct: number;
  postgresPct: number;
  /** Percent of the whole machine (100 = every core busy). */
  machinePct: number;
}

/** A backend's title names its client: "postgres: 15/main: user db 127.0.0.1(5432) idle". */
const BACKEND = /\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]/;

/**
 * PostgreSQL's own processes (WAL writer, checkpointer, …) and the backends connected to `database`;
 * backends of other databases on the shared server are left out. A process that exits inside a
 * window takes its ticks with it, so short-lived connections are under-counted, never negative.
 */
function postgresTicks(database: string | undefined): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (!comm.startsWith('postgres')) continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (BACKEND.test(title) && !(database && title.includes(` ${database} `))) continue;
      const fields = stat.slice(close + 2).split(' ');
      // Fields after the command: state is [0], utime [11], stime [12].
      out.set(Number(pid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return out;
}

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** `database`: count only the backends connected to it (plus PostgreSQL's background processes). */
export function sampleCpu(database?: string): CpuSample {
  const m = machineTicks();
  return { at: performance.now(), self: process.cpuUsage(), postgres: postgresTicks(database), machineBusy: m.busy, machineTotal: m.total };
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuWindow {
  const wallMs = b.at - a.at;
  const selfMs = (b.self.user - a.self.user + b.self.system - a.self.system) / 1000;
  let pgTicks = 0;
  for (const [pid, ticks] of b.postgres) pgTicks += ticks - (a.postgres.get(pid) ?? 0);
  const pgMs = (pgTicks / TICKS_PER_S) * 1000;
  return {
    selfPct: (100 * selfMs) / wallMs,
    postgresPct: (100 * pgMs) / wallMs,
    machinePct: (100 * (b.machineBusy - a.machineBusy)) / (b.machineTotal - a.machineTotal),
  };
}
