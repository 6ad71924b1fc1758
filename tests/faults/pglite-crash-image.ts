/**
 * Opens a PGlite data directory that a SIGKILLed process left behind, with PostgreSQL's startup
 * messages on (debug 1), and prints what it holds for one fault run:
 *
 *   node --import tsx tests/faults/pglite-crash-image.ts <dataDir> <ticket clientId prefix> <worker ids, comma-separated>
 *
 * The last stdout line is `CRASH-IMAGE {"positions":[[worker, ms]…],"tickets":[[id, clientId]…]}`;
 * everything before it is PGlite's own output (where "database system was not properly shut down;
 * automatic recovery in progress" and "redo starts/done" show the WAL being replayed). A separate
 * process, because PGlite prints through console bindings made when it loads.
 */
import { PGlite } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';

const [dataDir, prefix, workers] = process.argv.slice(2);
if (!dataDir || !prefix || !workers) {
  console.error('usage: pglite-crash-image.ts <dataDir> <clientId prefix> <worker ids>');
  process.exit(2);
}
const db = await PGlite.create({ dataDir, extensions: { postgis }, debug: 1 });
const ids = workers.split(',').map(Number);
const positions = await db.query<{ w: number; t: number }>(
  `SELECT worker_id::float8 AS w, (extract(epoch FROM recorded_at) * 1000)::float8 AS t FROM worker_positions WHERE worker_id = ANY($1::bigint[])`,
  [ids],
);
const tickets = await db.query<{ id: number; c: string }>(`SELECT id::float8 AS id, client_id AS c FROM tickets WHERE client_id LIKE $1`, [`${prefix}-%`]);
await db.close();
console.log(`CRASH-IMAGE ${JSON.stringify({ positions: positions.rows.map((r) => [Math.round(r.w), Math.round(r.t)]), tickets: tickets.rows.map((r) => [r.id, r.c]) })}`);
