import type { App } from '../../app';
import { ClientConfig } from '@shared/api';

export default async function configRoutes(app: App): Promise<void> {
  app.get(
    '/api/config',
    { schema: { tags: ['system'], summary: 'Settings the dashboard needs (basemap, live timings)', response: { 200: ClientConfig } } },
    async () => ({
      basemapUrl: app.config.basemapUrl,
      tickMs: app.config.tickMs,
      offlineAfterMs: app.config.offlineAfterMs,
    }),
  );
}
