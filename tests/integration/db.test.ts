/** The one database interface behaves the same on both engines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Db } from '../../server/platform/db';
import { migrate, listMigrations } from '../../server/platform/db/migrate';
import { createTestDb } from '../support/db';

let db: Db;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.close();
});

describe('database interface', () => {
  it('runs on the engine the environment asks for', () => {
    expect(db.engine).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
  });

  it('aligns result types: bigint and count as numbers, dates as strings, bytea as Buffer, timestamptz as Date', async () => {
    const { rows } = await db.query<Record<string, unknown>>(sql`
      SELECT 9007199254740991::int8 AS big, (SELECT count(*) FROM regions) AS n, 12.5::numeric AS num,
             '2026-11-22'::date AS day, ${Buffer.from([0, 255, 16])}::bytea AS bin,
             '2026-11-22T08:00:00+08:00'::timestamptz AS ts, '{"a":[1]}'::jsonb AS doc, NULL::int AS nothing`);
    const r = rows[0]!;
    expect(r.big).toBe(9007199254740991);
    expect(r.n).toBe(3531);
    expect(r.num).toBe(12.5);
    expect(r.day).toBe('2026-11-22');
    expect(Buffer.isBuffer(r.bin)).toBe(true);
    expect([...(r.bin as Buffer)]).toEqual([0, 255, 16]);
    expect(r.ts).toBeInstanceOf(Date);
    expect((r.ts as Date).toISOString()).toBe('2026-11-22T00:00:00.000Z');
    expect(r.doc).toEqual({ a: [1] });
    expect(r.nothing).toBeNull();
  });

  it('rolls a failed transaction back and commits a good one', async () => {
    await db.exec('CREATE TABLE tx_probe (v int PRIMARY KEY)');
    await expect(db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO tx_probe VALUES (${1})`);
      await tx.query(sql`INSERT INTO tx_probe VALUES (${1})`); // duplicate key
    })).rejects.toThrow();
    await db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO tx_probe VALUES (${2})`);
    });
    const { rows } = await db.query<{ v: number }>(sql`SELECT v FROM tx_probe`);
    expect(rows).toEqual([{ v: 2 }]);
  });

  it('delivers NOTIFY to a listener', async () => {
    const got: string[] = [];
    const stop = await db.listen('gridline_probe', (p) => got.push(p));
    await db.query(sql`SELECT pg_notify('gridline_probe', ${'hello 网格'})`);
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await stop();
    expect(got).toEqual(['hello 网格']);
  });

  it('has applied every migration, and migrating again is a no-op', async () => {
    const { rows } = await db.query<{ version: string }>(sql`SELECT version FROM schema_migrations ORDER BY version`);
    expect(rows.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
    expect(await migrate(db)).toEqual([]);
  });
});
