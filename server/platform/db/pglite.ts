import { PGlite, type Transaction } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import type { Db, QueryResult, Queryable } from './types';
import type { Sql } from './sql';
import { TEXT_PARSERS } from './type-parsers';

type PgliteLike = PGlite | Transaction;

function wrap(client: PgliteLike): Queryable {
  return {
    async query<R>(query: Sql): Promise<QueryResult<R>> {
      const { text, values } = query.toQuery();
      const result = await client.query<R>(text, values);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(text: string): Promise<void> {
      await client.exec(text);
    },
  };
}

export interface PgliteOptions {
  /** Directory the database persists in; omit for an in-memory database. */
  dataDir?: string;
  /** A tarball from `dumpDataDir()` to start from (tests load one prepared template). */
  loadDataDir?: Blob;
}

/** Embedded PostgreSQL + PostGIS in this process (PGlite, WebAssembly). */
export async function openPglite(options: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  const pglite = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    extensions: { postgis },
    parsers: TEXT_PARSERS,
    relaxedDurability: false,
  });
  const base = wrap(pglite);
  return {
    engine: 'pglite',
    pglite,
    ...base,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    async listen(channel, handler) {
      const unsubscribe = await pglite.listen(channel, handler);
      return async () => unsubscribe();
    },
    async close() {
      if (!pglite.closed) await pglite.close();
    },
  };
}
