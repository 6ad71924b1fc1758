import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Db } from './types';
import type { DbLog } from './postgres';

export type { Db, Queryable, QueryResult, Row, DbEngine } from './types';
export type { DbLog } from './postgres';
export { sql, raw, join, empty, Sql } from './sql';

export interface DbConfig {
  /** A PostgreSQL + PostGIS server; unset → embedded PGlite in dataDir. */
  databaseUrl?: string | undefined;
  dataDir: string;
}

/** Opens the configured engine: `pg` when DATABASE_URL is set, else PGlite persisted in DATA_DIR. */
export async function openDb(config: DbConfig, log?: DbLog): Promise<Db> {
  if (config.databaseUrl) {
    const { openPostgres } = await import('./postgres');
    return openPostgres(config.databaseUrl, { log });
  }
  const { openPglite } = await import('./pglite');
  const dir = path.resolve(config.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  return openPglite({ dataDir: dir });
}
