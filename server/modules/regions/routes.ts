import type { App } from '../../app';
import { ErrorResponse, RegionFeatureCollection, RegionsQuery } from '@shared/api';
import { regionsGeoJson } from './repository';

export default async function regionRoutes(app: App): Promise<void> {
  app.get(
    '/api/regions',
    {
      schema: {
        tags: ['regions'],
        summary: 'Region boundaries at one level inside the caller’s jurisdiction, as GeoJSON',
        querystring: RegionsQuery,
        response: { 200: RegionFeatureCollection, 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { level, parent } = request.query;
      const text = await regionsGeoJson(app.db, request.principal.scope, level, parent);
      // Already JSON, built by the database: Fastify sends a string with a JSON content type as is,
      // rather than re-serialising megabytes of coordinates. The schema still documents the shape.
      return reply.type('application/json; charset=utf-8').send(text as unknown as RegionFeatureCollection);
    },
  );
}
