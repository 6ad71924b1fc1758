import type { App } from '../../app';
import { HealthResponse } from '@shared/api';
import { sql } from '../../platform/db/sql';

export default async function healthRoutes(app: App): Promise<void> {
  let postgis: string | undefined;
  app.get(
    '/api/health',
    { config: { auth: 'public' }, schema: { tags: ['system'], summary: 'Liveness and database engine', response: { 200: HealthResponse } } },
    async () => {
      // Asks the database every time (a dead database must show), but caches the version string.
      const { rows } = await app.db.query<{ v: string }>(sql`SELECT postgis_lib_version() AS v`);
      postgis ??= rows[0]?.v ?? 'unknown';
      return { status: 'ok' as const, db: { engine: app.db.engine, postgis } };
    },
  );
}
