import type { Sql } from './sql';

export type Row = Record<string, unknown>;

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** What repositories talk to: the database, or a transaction on it. */
export interface Queryable {
  /** One parameterised statement. */
  query<R = Row>(query: Sql): Promise<QueryResult<R>>;
  /** Several statements without parameters (migrations, DDL). */
  exec(text: string): Promise<void>;
}

export type DbEngine = 'postgres' | 'pglite';

export interface Db extends Queryable {
  readonly engine: DbEngine;
  /** Runs fn in one transaction; use the `tx` it gets, never the db, inside it. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** LISTEN on a channel; resolves to an unsubscribe function. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
