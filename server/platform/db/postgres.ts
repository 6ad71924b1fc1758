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

/** A real PostgreSQL + PostGIS server through a `pg` Pool. */
export function openPostgres(connectionString: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, types });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => undefined);
  const base = wrap(pool);
  return {
    engine: 'postgres',
    ...base,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async listen(channel, handler) {
      const client = await pool.connect();
      const onNotification = (msg: pg.Notification) => {
        if (msg.channel === channel) handler(msg.payload ?? '');
      };
      client.on('notification', onNotification);
      await client.query(`LISTEN "${channel.replaceAll('"', '')}"`);
      return async () => {
        client.off('notification', onNotification);
        await client.query(`UNLISTEN "${channel.replaceAll('"', '')}"`).catch(() => undefined);
        client.release();
      };
    },
    async close() {
      await pool.end();
    },
  };
}
