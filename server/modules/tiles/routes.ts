import { Type } from 'typebox';
import type { App } from '../../app';
import { AppError } from '../../platform/errors';
import { ErrorResponse } from '@shared/api';
import { TileCache } from './cache';
import { encodeTile } from './encode';
import { MAX_ZOOM } from './layers';

const TileParams = Type.Object({
  z: Type.Integer({ minimum: 0, maximum: MAX_ZOOM, description: 'Zoom level' }),
  x: Type.Integer({ minimum: 0, maximum: 2 ** MAX_ZOOM - 1, description: 'Column, 0 … 2^z − 1' }),
  y: Type.Integer({ minimum: 0, maximum: 2 ** MAX_ZOOM - 1, description: 'Row from the top, 0 … 2^z − 1' }),
});

/** A binary body, described for the API docs; Fastify sends a Buffer as is, without serialising it. */
const VectorTile = Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'Extent 4096, not compressed' });

/** Browsers may reuse a tile for a while; `private` because its content depends on the caller. */
const CACHE_CONTROL = 'private, max-age=300';

export default async function tileRoutes(app: App): Promise<void> {
  // One cache per app (and so per database), shared by all callers: keys include the jurisdiction.
  const cache = new TileCache(32 * 1024 * 1024);

  app.get(
    '/api/tiles/:z/:x/:y.pbf',
    {
      schema: {
        tags: ['tiles'],
        summary: 'Vector tile of region boundaries and labels inside the caller’s jurisdiction',
        description:
          'Layers district, street, community (z ≥ 11), grid (z ≥ 12), micro_grid (z ≥ 15) with code, name, ' +
          'level, parentCode; and labels: one point per region (streets z ≥ 9, communities z ≥ 12, grids ' +
          'z ≥ 14, micro-grids z ≥ 16) with code, name, level. 204 when the tile holds nothing.',
        params: TileParams,
        response: {
          200: { description: 'Mapbox Vector Tile', content: { 'application/x-protobuf': { schema: VectorTile } } },
          204: Type.Null({ description: 'Nothing of the jurisdiction lies in this tile' }),
          400: ErrorResponse,
          401: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { z, x, y } = request.params;
      const last = 2 ** z - 1;
      if (x > last || y > last) {
        throw new AppError('VALIDATION_FAILED', `At zoom ${z}, x and y run from 0 to ${last}.`);
      }
      const scope = request.principal.scope;
      const key = `${scope.path ?? '*'}|${z}/${x}/${y}`;
      const tile = await cache.get(key, () => encodeTile(app.db, scope, { z, x, y }));
      reply.header('cache-control', CACHE_CONTROL);
      if (tile.byteLength === 0) return reply.code(204).send(null);
      return reply.type('application/x-protobuf').send(tile);
    },
  );
}
