/**
 * A private PostgreSQL 15 cluster for the restart test (Debian's postgresql-common tools), so the
 * shared cluster other test files use is never restarted: `gridline_faults_<pid>` (one per test
 * process, so two test runs on the machine never restart or drop each other's), trust auth,
 * loopback only, started by hand only. Clusters left by runs whose process is gone are dropped.
 * Needs root and pg_createcluster.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../support/server-process';

const run = promisify(execFile);

export const CLUSTER_VERSION = '15';
export const CLUSTER_NAME = `gridline_faults_${process.pid}`;
const STALE = /^gridline_faults_(\d+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the private cluster cannot be made here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  for (const c of ['pg_createcluster', 'pg_ctlcluster', 'pg_dropcluster', 'pg_lsclusters', 'pg_dump', 'pg_restore']) {
    if (!hasCommand(c)) return `${c} is not installed (Debian's postgresql-common is needed for a private cluster)`;
  }
  if (process.getuid && process.getuid() !== 0) return 'pg_createcluster needs root';
  return undefined;
}

interface ClusterRow {
  version: string;
  name: string;
  port: number;
  status: string;
}

async function list(): Promise<ClusterRow[]> {
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [version, name, port, status] = l.trim().split(/\s+/);
      return { version: version!, name: name!, port: Number(port), status: status! };
    });
}

export class PrivateCluster {
  private constructor(
    readonly port: number,
    readonly created: boolean,
  ) {}

  /** Creates the cluster (or reuses one left from an earlier run) and starts it. */
  static async ensure(log: (m: string) => void): Promise<PrivateCluster> {
    for (const c of await list()) {
      const m = STALE.exec(c.name);
      if (c.version !== CLUSTER_VERSION || !m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
      await run('pg_dropcluster', ['--stop', c.version, c.name]).then(
        () => log(`dropped cluster ${c.version}/${c.name} left by an earlier run`),
        (e: unknown) => log(`could not drop ${c.version}/${c.name}: ${(e as Error).message}`),
      );
    }
    const clusters = await list();
    let row = clusters.find((c) => c.version === CLUSTER_VERSION && c.name === CLUSTER_NAME);
    let created = false;
    if (!row) {
      const taken = new Set(clusters.map((c) => c.port));
      let port = await freePort();
      while (taken.has(port) || port < 1024) port = await freePort();
      await run('pg_createcluster', [
        '--start-conf=manual', '-p', String(port), '-o', 'shared_buffers=64MB',
        CLUSTER_VERSION, CLUSTER_NAME, '--', '--auth=trust',
      ]);
      created = true;
      row = { version: CLUSTER_VERSION, name: CLUSTER_NAME, port, status: 'down' };
      log(`created cluster ${CLUSTER_VERSION}/${CLUSTER_NAME} on port ${port}`);
    } else {
      log(`reusing cluster ${CLUSTER_VERSION}/${CLUSTER_NAME} on port ${row.port} (${row.status})`);
    }
    const cluster = new PrivateCluster(row.port, created);
    if (row.status !== 'online') await cluster.start();
    return cluster;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await run('pg_ctlcluster', [CLUSTER_VERSION, CLUSTER_NAME, 'start']);
  }

  /** `fast`: what an operator's restart does (backends terminated, clean shutdown checkpoint). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await run('pg_ctlcluster', ['-m', mode, CLUSTER_VERSION, CLUSTER_NAME, 'stop']);
  }

  async psql(sql: string, database = 'postgres'): Promise<string> {
    const { stdout } = await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-d', this.url(database), '-c', sql]);
    return stdout;
  }

  /** Stops and deletes the cluster, data directory and configuration alike. */
  static async drop(): Promise<void> {
    const clusters = await list();
    if (!clusters.some((c) => c.version === CLUSTER_VERSION && c.name === CLUSTER_NAME)) return;
    await run('pg_dropcluster', ['--stop', CLUSTER_VERSION, CLUSTER_NAME]);
  }
}
