/**
 * Verifies a generated boundaries.json with PostGIS.
 *
 *   node --import tsx seeds/tools/check-regions.ts yingze            # seeds/data/yingze/boundaries.json
 *   node --import tsx seeds/tools/check-regions.ts path/to/boundaries.json --expect 1,7,112,853,2558
 *
 * Connects with the usual PG* variables (default postgres@127.0.0.1:5432/postgres), creates a scratch
 * database geocheck_<random>, loads the features and checks per level: validity, counts, MultiPolygon
 * with RFC 7946 ring orientation, codes and parent links, households sums, exact tiling of each parent
 * by its children (area of the symmetric difference, ST_CoveredBy) and no overlap between any two
 * features of one level whose boxes intersect. Drops the database afterwards. Exit status 1 on failure.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const LEVELS = ['district', 'street', 'community', 'grid', 'micro_grid'] as const;
type Level = (typeof LEVELS)[number];
const CODE_LENGTH: Record<Level, number> = { district: 6, street: 9, community: 12, grid: 15, micro_grid: 18 };

/** Known counts; other regions are checked with --expect or against their own structure only. */
const EXPECTED: Record<string, number[]> = { yingze: [1, 7, 112, 853, 2558] };
/** Boxes [lon0, lat0, lon1, lat1] to compare grid sizes in: a dense centre and the sparse outskirts. */
const AREA_BOXES: Record<string, Record<string, [number, number, number, number]>> = {
  yingze: { 'centre (112.54–112.58, 37.85–37.87)': [112.54, 37.85, 112.58, 37.87], 'east (lon > 112.65)': [112.65, 37.0, 113.0, 38.5] },
  zhangqiu: {
    'centre 明水 (117.50–117.56, 36.69–36.74)': [117.5, 36.69, 117.56, 36.74],
    'south hills (lat < 36.58)': [117.0, 36.0, 118.0, 36.58],
    'north plain (lat > 36.85)': [117.0, 36.85, 118.0, 37.5],
  },
};

interface Feature {
  type: 'Feature';
  properties: { code: string; name: string; level: Level; parentCode: string | null; households: number };
  geometry: { type: string; coordinates: unknown };
}
interface Doc {
  region: { slug: string; name: string; code: string };
  features: Feature[];
}

const args = process.argv.slice(2);
const target = args[0];
if (!target) {
  console.error('usage: check-regions.ts <slug | path/to/boundaries.json> [--expect d,s,c,g,m]');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const file = target.endsWith('.json') ? path.resolve(target) : path.resolve(here, '..', 'data', target, 'boundaries.json');
const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
const slug = doc.region.slug;
const ei = args.indexOf('--expect');
const expected = ei >= 0 ? args[ei + 1]!.split(',').map(Number) : EXPECTED[slug];

let failures = 0;
const check = (ok: boolean, what: string): void => {
  console.log(`${ok ? '  ok  ' : '  FAIL'} ${what}`);
  if (!ok) failures++;
};

// ---- checks that need no database
console.log(`${file} (${(statSync(file).size / 1024 / 1024).toFixed(2)} MiB): ${doc.features.length} features`);
const levelIndex = (l: Level) => LEVELS.indexOf(l);
let ordered = true;
for (let i = 1; i < doc.features.length; i++) {
  const a = doc.features[i - 1]!.properties;
  const b = doc.features[i]!.properties;
  if (levelIndex(a.level) > levelIndex(b.level) || (a.level === b.level && a.code >= b.code)) ordered = false;
}
check(ordered, 'features ordered by level, then by code (codes unique)');
const byCode = new Map(doc.features.map((f) => [f.properties.code, f.properties]));
let badCodes = 0;
for (const f of doc.features) {
  const p = f.properties;
  const parent = p.parentCode === null ? undefined : byCode.get(p.parentCode);
  const okParent = p.level === 'district' ? p.parentCode === null : parent !== undefined && levelIndex(parent.level) === levelIndex(p.level) - 1;
  const okCode = p.code.length === CODE_LENGTH[p.level] && /^\d+$/.test(p.code) && (p.parentCode === null || p.code.startsWith(p.parentCode) || p.level === 'street');
  if (!okParent || !okCode || f.geometry.type !== 'MultiPolygon' || !Number.isInteger(p.households)) badCodes++;
}
check(badCodes === 0, `codes, parent links, MultiPolygon type, integer households (${badCodes} bad)`);
let maxDecimals = 0;
JSON.stringify(doc.features.map((f) => f.geometry.coordinates), (_k, v: unknown) => {
  if (typeof v === 'number') maxDecimals = Math.max(maxDecimals, (String(v).split('.')[1] ?? '').length);
  return v;
});
check(maxDecimals <= 7, `coordinates have at most 7 decimals (max ${maxDecimals})`);
const childSum = new Map<string, number>();
for (const f of doc.features) {
  if (f.properties.parentCode) childSum.set(f.properties.parentCode, (childSum.get(f.properties.parentCode) ?? 0) + f.properties.households);
}
const badSums = doc.features.filter((f) => f.properties.level !== 'micro_grid' && childSum.get(f.properties.code) !== f.properties.households).length;
check(badSums === 0, `households of every parent = sum of its children (${badSums} mismatches)`);
const gridHh = doc.features.filter((f) => f.properties.level === 'grid').map((f) => f.properties.households);
check(gridHh.every((h) => h >= 300 && h <= 500), `grid households within 300–500 (min ${Math.min(...gridHh)}, max ${Math.max(...gridHh)})`);

// ---- PostGIS
const admin = new pg.Client({ host: process.env.PGHOST ?? '127.0.0.1', user: process.env.PGUSER ?? 'postgres', database: 'postgres' });
const dbName = `geocheck_${slug}_${process.pid}`;
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const db = new pg.Client({ host: process.env.PGHOST ?? '127.0.0.1', user: process.env.PGUSER ?? 'postgres', database: dbName });
try {
  await db.connect();
  await db.query('CREATE EXTENSION postgis');
  await db.query(`CREATE TEMP TABLE r (code text PRIMARY KEY, level text NOT NULL, parent_code text, households int, geom geometry(MultiPolygon, 4326) NOT NULL)`);
  for (let i = 0; i < doc.features.length; i += 500) {
    const batch = doc.features.slice(i, i + 500);
    await db.query(
      `INSERT INTO r SELECT x.code, x.level, x.parent_code, x.households, ST_SetSRID(ST_GeomFromGeoJSON(x.g), 4326)
         FROM json_to_recordset($1::json) AS x(code text, level text, parent_code text, households int, g text)`,
      [
        JSON.stringify(
          batch.map((f) => ({
            code: f.properties.code,
            level: f.properties.level,
            parent_code: f.properties.parentCode,
            households: f.properties.households,
            g: JSON.stringify(f.geometry),
          })),
        ),
      ],
    );
  }
  await db.query('CREATE INDEX ON r USING gist (geom)');
  await db.query('ANALYZE r');

  const counts = await db.query<{ level: Level; n: string; invalid: string; cw: string; reason: string | null }>(
    `SELECT level, count(*) n, count(*) FILTER (WHERE NOT ST_IsValid(geom)) invalid,
            count(*) FILTER (WHERE NOT ST_IsPolygonCCW(geom)) cw,
            min(ST_IsValidReason(geom)) FILTER (WHERE NOT ST_IsValid(geom)) reason
       FROM r GROUP BY level`,
  );
  const perLevel = new Map(counts.rows.map((r) => [r.level, r]));
  LEVELS.forEach((lvl, i) => {
    const row = perLevel.get(lvl);
    const n = Number(row?.n ?? 0);
    const exp = expected?.[i];
    check(exp === undefined ? n > 0 : n === exp, `${lvl}: ${n} features${exp === undefined ? '' : ` (expected ${exp})`}`);
    check(Number(row?.invalid ?? 1) === 0, `${lvl}: all ST_IsValid (${row?.invalid ?? '?'} invalid${row?.reason ? `: ${row.reason}` : ''})`);
    check(Number(row?.cw ?? 1) === 0, `${lvl}: outer rings counter-clockwise, holes clockwise (${row?.cw ?? '?'} not)`);
  });

  // tiling: union of the children vs the parent, and containment
  const tiling = await db.query<{ level: Level; parents: string; max_sym: number; sum_sym: number; max_rel: number; not_covered: string; childless: string }>(
    `WITH u AS (SELECT parent_code, ST_Union(geom) g, count(*) n FROM r WHERE parent_code IS NOT NULL GROUP BY parent_code),
          d AS (SELECT p.level, ST_Area(ST_SymDifference(p.geom, u.g)) sym, ST_Area(p.geom) a FROM r p JOIN u ON u.parent_code = p.code)
     SELECT level, count(*) parents, max(sym) max_sym, sum(sym) sum_sym, max(sym / a) max_rel,
            (SELECT count(*) FROM r c JOIN r p ON p.code = c.parent_code WHERE p.level = d.level AND NOT ST_CoveredBy(c.geom, p.geom)) not_covered,
            (SELECT count(*) FROM r p WHERE p.level = d.level AND NOT EXISTS (SELECT 1 FROM r c WHERE c.parent_code = p.code)) childless
       FROM d GROUP BY level`,
  );
  for (const lvl of LEVELS.slice(0, 4)) {
    const t = tiling.rows.find((x) => x.level === lvl);
    if (!t) {
      check(false, `${lvl}: no children found`);
      continue;
    }
    check(
      t.max_sym < 1e-15,
      `${lvl} = union of its children: max ST_Area(ST_SymDifference) ${t.max_sym.toExponential(2)} deg² (sum ${t.sum_sym.toExponential(2)}, max relative ${t.max_rel.toExponential(2)}) over ${t.parents} parents`,
    );
    check(Number(t.not_covered) === 0 && Number(t.childless) === 0, `${lvl}: every child ST_CoveredBy its parent (${t.not_covered} not), every parent has children (${t.childless} childless)`);
  }

  // overlaps between same-level features whose boxes intersect
  const overlaps = await db.query<{ level: Level; pairs: string; max_area: number | null; interior: string }>(
    `SELECT a.level, count(*) pairs, max(ST_Area(ST_Intersection(a.geom, b.geom))) max_area,
            count(*) FILTER (WHERE ST_Relate(a.geom, b.geom, '2********')) interior
       FROM r a JOIN r b ON a.level = b.level AND a.code < b.code AND a.geom && b.geom
      GROUP BY a.level`,
  );
  for (const lvl of LEVELS.slice(1)) {
    const o = overlaps.rows.find((x) => x.level === lvl);
    const max = o?.max_area ?? 0;
    check(max === 0 && Number(o?.interior ?? 0) === 0, `${lvl}: no overlaps among ${o?.pairs ?? 0} bbox-intersecting pairs (max ST_Area(ST_Intersection) ${max.toExponential(2)} deg², ${o?.interior ?? 0} with 2-D interior intersection)`);
  }

  // the district equals the union of everything at each level below
  const whole = await db.query<{ level: Level; sym: number }>(
    `SELECT l.level, ST_Area(ST_SymDifference((SELECT geom FROM r WHERE level = 'district'), ST_Union(l.geom))) sym
       FROM r l WHERE l.level <> 'district' GROUP BY l.level`,
  );
  for (const w of whole.rows) check(w.sym < 1e-15, `district = union of all ${w.level} features (sym. difference ${w.sym.toExponential(2)} deg²)`);

  // informational: sizes
  const sizes = await db.query<{ level: Level; km2: number; min: number; med: number; max: number }>(
    `SELECT level, sum(ST_Area(geom::geography)) / 1e6 km2, min(ST_Area(geom::geography)) min,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(geom::geography)) med, max(ST_Area(geom::geography)) max
       FROM r GROUP BY level ORDER BY array_position(ARRAY['district','street','community','grid','micro_grid'], level)`,
  );
  console.log('areas (m², geography):');
  for (const s of sizes.rows) {
    console.log(`  ${s.level.padEnd(10)} total ${s.km2.toFixed(2)} km²; min ${s.min.toFixed(0)}, median ${s.med.toFixed(0)}, max ${s.max.toFixed(0)}`);
  }
  for (const [label, [x0, y0, x1, y1]] of Object.entries(AREA_BOXES[slug] ?? {})) {
    const b = await db.query<{ n: string; min: number | null; med: number | null; max: number | null }>(
      `SELECT count(*) n, min(a) min, percentile_cont(0.5) WITHIN GROUP (ORDER BY a) med, max(a) max
         FROM (SELECT ST_Area(geom::geography) a FROM r
                WHERE level = 'grid' AND ST_Intersects(ST_Centroid(geom), ST_MakeEnvelope($1, $2, $3, $4, 4326))) s`,
      [x0, y0, x1, y1],
    );
    const s = b.rows[0]!;
    console.log(`  grids in ${label}: ${s.n}; min ${s.min?.toFixed(0)}, median ${s.med?.toFixed(0)}, max ${s.max?.toFixed(0)} m²`);
  }
} finally {
  await db.end().catch(() => undefined);
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.end();
}
console.log(failures === 0 ? 'ALL CHECKS PASSED' : `${failures} CHECK(S) FAILED`);
process.exit(failures === 0 ? 0 : 1);
