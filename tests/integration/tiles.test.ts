import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import type { App } from '../../server/app';
import { sql, type Db } from '../../server/platform/db';
import { Scope } from '../../server/platform/auth/scope';
import { encodeTileFallback, encodeTileMvt } from '../../server/modules/tiles/encode';
import { createTestDb } from '../support/db';
import { buildTestApp, login } from '../support/app';

interface Coord {
  z: number;
  x: number;
  y: number;
}

interface DecodedFeature {
  type: number;
  properties: Record<string, string | number | boolean>;
  /** [minX, minY, maxX, maxY] of the decoded vertices, in tile units. */
  bbox: number[];
}

type DecodedTile = Map<string, DecodedFeature[]>;

const engine = inject('dbTemplate').engine;

/** The tile containing a lon/lat (slippy-map numbering, y from the top). */
function tileAt(lon: number, lat: number, z: number): Coord {
  const n = 2 ** z;
  const phi = (lat * Math.PI) / 180;
  return {
    z,
    x: Math.floor(((lon + 180) / 360) * n),
    y: Math.floor(((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * n),
  };
}

function decode(bytes: Uint8Array): DecodedTile {
  const tile = new VectorTile(new PbfReader(bytes));
  const layers: DecodedTile = new Map();
  for (const [name, layer] of Object.entries(tile.layers)) {
    expect(layer.extent).toBe(4096);
    const features: DecodedFeature[] = [];
    for (let i = 0; i < layer.length; i++) {
      const feature = layer.feature(i);
      features.push({ type: feature.type, properties: feature.properties, bbox: feature.bbox() });
    }
    layers.set(name, features);
  }
  return layers;
}

function codes(tile: DecodedTile, layer: string): string[] {
  return (tile.get(layer) ?? []).map((f) => String(f.properties.code)).sort();
}

describe('GET /api/tiles/:z/:x/:y.pbf', () => {
  let db: Db;
  let app: App;
  let operator: { authorization: string };
  let dispatcher: { authorization: string };
  /** Jurisdictions as the seed assigned them. */
  let districtCode: string;
  let districtPath: string;
  let streetPath: string;
  let streetCode: string;
  /** A point inside Yingze (its PointOnSurface, so the district's own label point). */
  let centre: { lon: number; lat: number };

  async function jurisdiction(username: string): Promise<{ code: string; path: string; name: string }> {
    const { rows } = await db.query<{ code: string; path: string; name: string }>(sql`
      SELECT r.code, r.path, r.name FROM users u JOIN regions r ON r.code = u.region_code WHERE u.username = ${username}`);
    const row = rows[0];
    if (!row) throw new Error(`no user ${username}`);
    return row;
  }

  /** Regions of one level in the jurisdiction that intersect the tile, computed independently of the encoder. */
  async function expectedRegions(level: string, path: string, { z, x, y }: Coord) {
    const { rows } = await db.query<{ code: string; name: string; parentCode: string | null }>(sql`
      SELECT code, name, parent_code AS "parentCode" FROM regions
       WHERE level = ${level} AND path LIKE ${path + '%'}
         AND ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(${z}, ${x}, ${y}))
       ORDER BY code`);
    return rows;
  }

  async function getTile(auth: { authorization: string } | undefined, { z, x, y }: Coord) {
    return app.inject({ method: 'GET', url: `/api/tiles/${z}/${x}/${y}.pbf`, headers: auth ?? {} });
  }

  beforeAll(async () => {
    db = await createTestDb();
    app = await buildTestApp(db);
    operator = await login(app, 'operator');
    dispatcher = await login(app, 'dispatcher');
    ({ code: districtCode, path: districtPath } = await jurisdiction('operator'));
    const street = await jurisdiction('dispatcher');
    expect(street.name).toContain('柳巷');
    streetPath = street.path;
    streetCode = street.code;
    const { rows } = await db.query<{ lon: number; lat: number }>(sql`
      SELECT ST_X(p) AS lon, ST_Y(p) AS lat
        FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions WHERE level = 'district') d`);
    centre = rows[0]!;
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it.each([12, 14])('a tile over Yingze at z %i decodes to the expected layers and regions', async (z) => {
    const coord = tileAt(centre.lon, centre.lat, z);
    const res = await getTile(operator, coord);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(res.headers['cache-control']).toBe('private, max-age=300');
    const tile = decode(res.rawPayload);

    // micro_grid starts at z 15; everything else a centre tile must hold at these zooms.
    expect([...tile.keys()].sort()).toEqual(['community', 'district', 'grid', 'labels', 'street']);
    for (const level of ['district', 'street', 'community', 'grid']) {
      const expected = await expectedRegions(level, districtPath, coord);
      expect(expected.length).toBeGreaterThan(0);
      expect(codes(tile, level)).toEqual(expected.map((r) => r.code));
      const byCode = new Map(expected.map((r) => [r.code, r]));
      for (const feature of tile.get(level)!) {
        expect(feature.type).toBe(3);
        const row = byCode.get(String(feature.properties.code))!;
        const properties: Record<string, string> = { code: row.code, name: row.name, level };
        if (row.parentCode) properties.parentCode = row.parentCode;
        expect(feature.properties).toEqual(properties);
      }
    }

    const labels = tile.get('labels')!;
    const labelLevels = new Set(labels.map((f) => f.properties.level));
    expect(labels.every((f) => f.type === 1)).toBe(true);
    expect(labelLevels.has('micro_grid')).toBe(false);
    expect(labelLevels.has('grid')).toBe(z >= 14);
    expect(labelLevels.has('community')).toBe(true);
    // The centre is the district's label point, so its label is in this tile.
    expect(labels.some((f) => f.properties.level === 'district')).toBe(true);
    expect(new Set(labels.map((f) => f.properties.code)).size).toBe(labels.length);
    for (const label of labels) {
      const [x = NaN, y = NaN] = label.bbox;
      expect(x).toBeGreaterThanOrEqual(-64);
      expect(x).toBeLessThanOrEqual(4096 + 64);
      expect(y).toBeGreaterThanOrEqual(-64);
      expect(y).toBeLessThanOrEqual(4096 + 64);
    }
  });

  it('micro-grids and their labels appear only from z 15 and z 16', async () => {
    const at15 = decode((await getTile(operator, tileAt(centre.lon, centre.lat, 15))).rawPayload);
    const at16 = decode((await getTile(operator, tileAt(centre.lon, centre.lat, 16))).rawPayload);
    expect(codes(at15, 'micro_grid').length).toBeGreaterThan(0);
    expect(at15.get('labels')!.some((f) => f.properties.level === 'micro_grid')).toBe(false);
    expect(at16.get('labels')!.some((f) => f.properties.level === 'micro_grid')).toBe(true);
  });

  it.skipIf(engine !== 'postgres')('ST_AsMVT and the fallback encoder decode to the same features', async () => {
    const scope = Scope.of(districtCode, districtPath);
    for (const z of [12, 14, 16]) {
      const coord = tileAt(centre.lon, centre.lat, z);
      const server = decode(await encodeTileMvt(db, scope, coord));
      const fallback = decode(await encodeTileFallback(db, scope, coord));
      expect([...fallback.keys()], `layers at z ${z}`).toEqual([...server.keys()]);
      for (const [name, serverFeatures] of server) {
        const fallbackFeatures = fallback.get(name)!;
        expect(codes(fallback, name), `${name} at z ${z}`).toEqual(codes(server, name));
        expect(fallbackFeatures.length).toBe(serverFeatures.length);
        const byCode = new Map(fallbackFeatures.map((f) => [f.properties.code, f]));
        for (const feature of serverFeatures) {
          const other = byCode.get(feature.properties.code)!;
          expect(other.properties).toEqual(feature.properties);
          expect(other.type).toBe(feature.type);
          other.bbox.forEach((v, i) => {
            expect(Math.abs(v - feature.bbox[i]!), `${name} ${feature.properties.code} bbox[${i}] at z ${z}`).toBeLessThanOrEqual(2);
          });
        }
      }
    }
  });

  describe('jurisdiction', () => {
    it('a street dispatcher gets only their street’s regions', async () => {
      const { rows } = await db.query<{ lon: number; lat: number }>(sql`
        SELECT ST_X(p) AS lon, ST_Y(p) AS lat
          FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions WHERE code = ${streetCode}) s`);
      const coord = tileAt(rows[0]!.lon, rows[0]!.lat, 12);

      // The same tile shows the operator grids of other streets too, so the filter has work to do.
      const all = decode((await getTile(operator, coord)).rawPayload);
      expect(codes(all, 'grid').some((code) => !code.startsWith(streetCode))).toBe(true);

      const res = await getTile(dispatcher, coord);
      expect(res.statusCode).toBe(200);
      const tile = decode(res.rawPayload);
      expect(tile.has('district')).toBe(false);
      expect(codes(tile, 'street')).toEqual([streetCode]);
      const expected = await expectedRegions('grid', streetPath, coord);
      expect(expected.length).toBeGreaterThan(0);
      expect(codes(tile, 'grid')).toEqual(expected.map((r) => r.code));
      const { rows: inStreet } = await db.query<{ code: string }>(sql`
        SELECT code FROM regions WHERE path LIKE ${streetPath + '%'}`);
      const allowed = new Set(inStreet.map((r) => r.code));
      for (const features of tile.values()) {
        for (const feature of features) expect(allowed.has(String(feature.properties.code))).toBe(true);
      }
    });

    it('a tile wholly outside the street is 204 for its dispatcher', async () => {
      // The grid farthest from the street, and a z 15 tile on it that does not touch the street.
      const { rows } = await db.query<{ lon: number; lat: number }>(sql`
        SELECT ST_X(p) AS lon, ST_Y(p) AS lat
          FROM (SELECT ST_PointOnSurface(g.geom) AS p
                  FROM regions g, regions s
                 WHERE g.level = 'grid' AND s.code = ${streetCode}
                 ORDER BY ST_Distance(g.geom, s.geom) DESC LIMIT 1) far`);
      const coord = tileAt(rows[0]!.lon, rows[0]!.lat, 15);
      const { rows: touching } = await db.query<{ n: number }>(sql`
        SELECT count(*) AS n FROM regions
         WHERE code = ${streetCode} AND ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(${coord.z}, ${coord.x}, ${coord.y}, margin => ${64 / 4096}))`);
      expect(Number(touching[0]!.n)).toBe(0);

      expect((await getTile(operator, coord)).statusCode).toBe(200);
      const res = await getTile(dispatcher, coord);
      expect(res.statusCode).toBe(204);
      expect(res.rawPayload.byteLength).toBe(0);
    });
  });

  it('a tile with nothing in it is 204 with no body', async () => {
    const res = await getTile(operator, { z: 12, x: 0, y: 0 });
    expect(res.statusCode).toBe(204);
    expect(res.rawPayload.byteLength).toBe(0);
  });

  it('needs a token', async () => {
    const res = await getTile(undefined, tileAt(centre.lon, centre.lat, 12));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'AUTH_REQUIRED' });
  });

  it.each([
    ['zoom above 20', '/api/tiles/21/0/0.pbf'],
    ['negative zoom', '/api/tiles/-1/0/0.pbf'],
    ['x beyond 2^z − 1', '/api/tiles/2/4/0.pbf'],
    ['y beyond 2^z − 1', '/api/tiles/3/0/8.pbf'],
    ['a fractional coordinate', '/api/tiles/12/1.5/3.pbf'],
    ['a word for the zoom', '/api/tiles/high/0/0.pbf'],
  ])('rejects %s with 400 VALIDATION_FAILED', async (_case, url) => {
    const res = await app.inject({ method: 'GET', url, headers: operator });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
