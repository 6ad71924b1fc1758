import type { App } from '../../app';
import { HealthResponse } from '@shared/api';
import { sql } from '../../platform/db/sql';

export default async function healthRoutes(app: App): Promise<void> {
  let postgis: string | undefined;
  app.get(
    '/api/health',
    { config: { auth: 'public' }, schema: { tags: ['system'], summary: 'Liveness, database engine and the video media server (Janus)', response: { 200: HealthResponse } } },
    async () => {
      // Asks the database every time (a dead database must show), but caches the version string.
      const { rows } = await app.db.query<{ v: string }>(sql`SELECT postgis_lib_version() AS v`);
      postgis ??= rows[0]?.v ?? 'unknown';
      // Video is reported, never fatal: without Janus everything else works.
      const v = app.video?.health() ?? { status: 'unavailable' as const, reason: app.videoConfig.offReason ?? 'Janus is not running.' };
      return { status: 'ok' as const, db: { engine: app.db.engine, postgis }, video: v };
    },
  );
}
