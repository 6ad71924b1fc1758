import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from './sql';
import type { Db } from './types';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: string;
  file: string;
}

/** The ordered plain-SQL migrations (NNN_name.sql). */
export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({ version: file.replace(/\.sql$/, ''), file: path.join(dir, file) }));
}

/**
 * Applies pending migrations in order, each in its own transaction. On a shared server an advisory
 * lock keeps two starting processes from migrating at once. Returns the versions applied.
 */
export async function migrate(db: Db, log: (msg: string) => void = () => undefined): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const lockKey = 7_414_002; // arbitrary, constant: "gridline migrations"
  if (db.engine === 'postgres') await db.query(sql`SELECT pg_advisory_lock(${lockKey})`);
  try {
    const done = new Set(
      (await db.query<{ version: string }>(sql`SELECT version FROM schema_migrations`)).rows.map((r) => r.version),
    );
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      const text = readFileSync(m.file, 'utf8');
      log(`migrating ${m.version}`);
      await db.transaction(async (tx) => {
        // The pool's statement timeout is for requests; a migration rebuilding a key over months of
        // positions takes minutes, and is cut short by nothing but an error.
        await tx.exec('SET LOCAL statement_timeout = 0');
        await tx.exec(text);
        await tx.query(sql`INSERT INTO schema_migrations (version) VALUES (${m.version})`);
      });
      applied.push(m.version);
    }
    return applied;
  } finally {
    if (db.engine === 'postgres') await db.query(sql`SELECT pg_advisory_unlock(${lockKey})`);
  }
}
