import pg from 'pg';
import type { Db, QueryResult, Queryable } from './types';
import type { Sql } from './sql';
import { TEXT_PARSERS } from './type-parsers';

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    TEXT_PARSERS[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(query: Sql): Promise<QueryResult<R>> {
      const { text, values } = query.toQuery();
      const result = await client.query({ text, values });
      return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(text: string): Promise<void> {
      await client.query(text);
    },
  };
}

/** Where the pool reports connections it lost. */
export interface DbLog {
  warn(message: string): void;
}

export interface PostgresOptions {
  max?: number;
  /** Waiting for a connection (a new one, or a free one from the pool) longer fails the query, ms. */
  connectTimeoutMs?: number;
  /** The server cancels a statement running longer, ms (0: never). */
  statementTimeoutMs?: number;
  /** The server ends a session left idle inside a transaction this long, ms. */
  idleInTransactionTimeoutMs?: number;
  /** An idle pooled connection is closed after this long, ms. */
  idleTimeoutMs?: number;
  log?: DbLog | undefined;
}

/**
 * A real PostgreSQL + PostGIS server through a `pg` Pool. Every wait is bounded (connect,
 * statement, idle in transaction), so a server that is away or stuck fails queries instead of
 * piling them up; a connection it drops is logged and replaced on the next query, so a restarted
 * server is picked up again by itself.
 */
export function openPostgres(connectionString: string, options: PostgresOptions = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    types,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    keepAlive: true,
  });
  // An idle client that loses its connection (a server restart) must not crash the process; the
  // pool drops it and opens a new one when next needed.
  let lastWarned = 0;
  const warnLost = (error: Error & { code?: string }) => {
    const now = Date.now();
    if (now - lastWarned < 5_000) return; // one line per burst: a restart drops every client at once
    lastWarned = now;
    options.log?.warn(`PostgreSQL connection lost (${error.code ?? 'no code'}: ${error.message}); reconnecting on the next query`);
  };
  pool.on('error', warnLost);
  const base = wrap(pool);
  return {
    engine: 'postgres',
    ...base,
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      // While checked out, a client's lost connection is emitted on the client, not the pool: without
      // a listener it is an unhandled 'error' event that ends the process (a PostgreSQL restart).
      const onError = (error: Error) => {
        broken = error;
        warnLost(error);
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is discarded, not returned to the pool.
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async listen(channel, handler) {
      const client = await pool.connect();
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
        warnLost(error);
      };
      client.on('error', onError);
      const onNotification = (msg: pg.Notification) => {
        if (msg.channel === channel) handler(msg.payload ?? '');
      };
      client.on('notification', onNotification);
      await client.query(`LISTEN "${channel.replaceAll('"', '')}"`);
      return async () => {
        client.off('notification', onNotification);
        if (!broken) await client.query(`UNLISTEN "${channel.replaceAll('"', '')}"`).catch(() => undefined);
        client.off('error', onError);
        client.release(broken);
      };
    },
    async close() {
      await pool.end();
    },
  };
}
