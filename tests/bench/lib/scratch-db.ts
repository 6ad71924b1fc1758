/**
 * A scratch database for a benchmark: a fresh `gridline_bench_<pid>` on the PostgreSQL server
 * (DATABASE_URL's server, else the local one), or an embedded PGlite in a temporary directory —
 * migrated, seeded with Yingze, and grown to a work force of `workers` with a registered device each.
 * `close()` drops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { sql, type Db } from '../../../server/platform/db';
import { migrate } from '../../../server/platform/db/migrate';
import { seedRegion } from '../../../seeds/seed';

export const BENCH_DEMO_PASSWORD = 'bench-demo-password';
export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/';

export interface ScratchDb {
  db: Db;
  engine: 'postgres' | 'pglite';
  /** The database's name on the server (postgres only): CPU accounting picks its backends by it. */
  name: string | undefined;
  /** Server URL of the scratch database (postgres only): the naive baseline opens its own connections. */
  url: string | undefined;
  versions: { postgres: string; postgis: string };
  /** A kept database (`keep`) that existed before this run: it holds a previous run's data. */
  reused: boolean;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function openScratchDb(
  engine: 'postgres' | 'pglite',
  log: (m: string) => void,
  options: { keep?: string } = {},
): Promise<ScratchDb> {
  if (engine === 'postgres') {
    const server = process.env.DATABASE_URL || DEFAULT_SERVER_URL;
    // A kept database (postgres only) survives the run, so a long generation (100 M rows) is paid once.
    const keep = options.keep;
    if (keep !== undefined && !/^[a-z_][a-z0-9_]*$/.test(keep)) throw new Error(`--db: not a plain database name: ${keep}`);
    const name = keep ?? `gridline_bench_${process.pid}`;
    let reused = false;
    if (keep === undefined) {
      await admin(server, `DROP DATABASE IF EXISTS "${name}"`);
      await admin(server, `CREATE DATABASE "${name}"`);
      log(`created database ${name}`);
    } else {
      const client = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
      await client.connect();
      try {
        reused = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
      } finally {
        await client.end();
      }
      if (!reused) await admin(server, `CREATE DATABASE "${name}"`);
      log(`${reused ? 'reusing kept' : 'created kept'} database ${name} (not dropped at the end)`);
    }
    const url = withDatabase(server, name);
    const { openPostgres } = await import('../../../server/platform/db/postgres');
    const db = openPostgres(url, { max: 10 });
    return {
      db,
      engine,
      name,
      url,
      versions: await versions(db),
      reused,
      async close() {
        await db.close();
        if (keep !== undefined) return;
        await admin(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        log(`dropped database ${name}`);
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'gridline-bench-pglite-'));
  const { openPglite } = await import('../../../server/platform/db/pglite');
  const db = await openPglite({ dataDir: dir });
  log(`opened PGlite in ${dir}`);
  return {
    db,
    engine,
    name: undefined,
    url: undefined,
    versions: await versions(db),
    reused: false,
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
      log(`removed ${dir}`);
    },
  };
}

async function versions(db: Db): Promise<{ postgres: string; postgis: string }> {
  await db.exec('CREATE EXTENSION IF NOT EXISTS postgis');
  const { rows } = await db.query<{ pg: string; gis: string }>(sql`SELECT current_setting('server_version') AS pg, postgis_lib_version() AS gis`);
  return { postgres: rows[0]!.pg, postgis: rows[0]!.gis };
}

/**
 * Migrates, seeds Yingze with its demo accounts, then adds synthetic auxiliary workers (assigned
 * to grids round-robin) until there are `total`, and registers a device `bench-<id>` for every worker.
 */
export async function prepareWorkforce(db: Db, total: number, log: (m: string) => void): Promise<{ seeded: number; total: number }> {
  await migrate(db);
  const summary = await seedRegion(db, 'yingze', { demo: true, demoPassword: BENCH_DEMO_PASSWORD });
  const seeded = Object.values(summary.workers).reduce((a, b) => a + b, 0);
  const extra = Math.max(0, total - seeded);
  await db.transaction(async (tx) => {
    await tx.query(sql`
      WITH g AS (SELECT code, (row_number() OVER (ORDER BY code) - 1)::int AS i, (count(*) OVER ())::int AS n
                   FROM regions WHERE level = 'grid')
      INSERT INTO workers (code, name, phone, role, home_grid_code, active)
      SELECT 'bench' || lpad(s::text, 7, '0'), '压测人员' || s, '199' || lpad(s::text, 8, '0'), 'auxiliary', g.code, true
        FROM generate_series(0, ${extra}::int - 1) AS s JOIN g ON g.i = s % g.n`);
    await tx.query(sql`
      INSERT INTO devices (identifier, worker_id, kind)
      SELECT 'bench-' || id, id, 'simulated' FROM workers ORDER BY id`);
  });
  await db.exec('ANALYZE');
  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM devices WHERE identifier LIKE 'bench-%'`);
  log(`work force: ${seeded} seeded + ${extra} synthetic = ${rows[0]!.n} workers with devices`);
  return { seeded, total: rows[0]!.n };
}

/** Every worker with a point inside their home grid (where the load generator starts them). */
export async function workerPoints(db: Db): Promise<{ ids: number[]; lon: number[]; lat: number[] }> {
  const { rows } = await db.query<{ id: number; lon: number; lat: number }>(sql`
    WITH g AS (SELECT code, ST_PointOnSurface(geom) AS p FROM regions WHERE level = 'grid')
    SELECT w.id::int AS id, ST_X(g.p) AS lon, ST_Y(g.p) AS lat FROM workers w JOIN g ON g.code = w.home_grid_code ORDER BY w.id`);
  return { ids: rows.map((r) => Number(r.id)), lon: rows.map((r) => r.lon), lat: rows.map((r) => r.lat) };
}

export async function countPositions(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM worker_positions`);
  return Number(rows[0]!.n);
}
