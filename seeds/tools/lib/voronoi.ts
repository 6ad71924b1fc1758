/**
 * Seed points, Lloyd relaxation and the exact overlay of a Voronoi diagram with the district outline.
 *
 * Working spaces: "km" is a local equirectangular plane (x east, y north, kilometres) used for
 * distances, densities and the Delaunay triangulation; "units" are the output grid (1e-7 degree)
 * relative to an integer origin, used for everything that must be exact. The map between the two is
 * a diagonal linear map, so straight lines and orientations agree in both.
 */
import type { DelaunayResult } from './sources';
import { createRandom } from '@shared/random';
import {
  DegenerateError,
  VertexStore,
  checkPlanar,
  pointInRings,
  ringArea2,
  traceRings,
} from './planar';

export class Frame {
  readonly ox: number;
  readonly oy: number;
  readonly kx: number;
  readonly ky: number;
  constructor(lon0: number, lat0: number) {
    this.ox = Math.round(lon0 * 1e7);
    this.oy = Math.round(lat0 * 1e7);
    this.kx = 111.32 * Math.cos(((this.oy / 1e7) * Math.PI) / 180);
    this.ky = 110.574;
  }
  lonLatToKm(lon: number, lat: number): [number, number] {
    return [(lon - this.ox / 1e7) * this.kx, (lat - this.oy / 1e7) * this.ky];
  }
  kmToLonLat(x: number, y: number): [number, number] {
    return [this.ox / 1e7 + x / this.kx, this.oy / 1e7 + y / this.ky];
  }
  lonLatToUnits(lon: number, lat: number): [number, number] {
    return [Math.round(lon * 1e7) - this.ox, Math.round(lat * 1e7) - this.oy];
  }
  kmToUnitsFloat(x: number, y: number): [number, number] {
    return [(x / this.kx) * 1e7, (y / this.ky) * 1e7];
  }
  unitsToKm(X: number, Y: number): [number, number] {
    return [(X / 1e7) * this.kx, (Y / 1e7) * this.ky];
  }
  /** Output coordinate; (integer + integer) / 1e7 prints with at most 7 decimals. */
  unitsToLonLat(X: number, Y: number): [number, number] {
    return [(X + this.ox) / 1e7, (Y + this.oy) / 1e7];
  }
  /** km² per (unit²). */
  get unitArea(): number {
    return (this.kx / 1e7) * (this.ky / 1e7);
  }
}

export type Rng = () => number;
/** mulberry32, the product's one seeded generator (shared/random.ts). */
export const mulberry32 = (seed: number): Rng => createRandom(seed);

/** A ring in km as flat [x0, y0, x1, y1, …] (shells counter-clockwise, holes clockwise). */
export type KmRing = number[];

export function pointInKmRings(rings: readonly KmRing[], x: number, y: number): boolean {
  let inside = false;
  for (const r of rings) {
    const n = r.length / 2;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = r[2 * i]!;
      const yi = r[2 * i + 1]!;
      const xj = r[2 * j]!;
      const yj = r[2 * j + 1]!;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Sutherland–Hodgman: a (possibly non-convex) ring clipped by a convex counter-clockwise polygon. */
function clipByConvex(subject: KmRing, clip: KmRing): KmRing {
  let out = subject;
  const m = clip.length / 2;
  for (let k = 0; k < m && out.length > 0; k++) {
    const ax = clip[2 * k]!;
    const ay = clip[2 * k + 1]!;
    const bx = clip[(2 * k + 2) % clip.length]!;
    const by = clip[(2 * k + 3) % clip.length]!;
    const input = out;
    out = [];
    const n = input.length / 2;
    const side = (x: number, y: number): number => (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    let px = input[2 * n - 2]!;
    let py = input[2 * n - 1]!;
    let ps = side(px, py);
    for (let i = 0; i < n; i++) {
      const cx = input[2 * i]!;
      const cy = input[2 * i + 1]!;
      const cs = side(cx, cy);
      if (cs >= 0) {
        if (ps < 0) {
          const t = ps / (ps - cs);
          out.push(px + t * (cx - px), py + t * (cy - py));
        }
        out.push(cx, cy);
      } else if (ps >= 0) {
        const t = ps / (ps - cs);
        out.push(px + t * (cx - px), py + t * (cy - py));
      }
      px = cx;
      py = cy;
      ps = cs;
    }
  }
  return out;
}

export type Density = (x: number, y: number) => number;

export interface Triangulator {
  (coords: Float64Array): DelaunayResult;
}

interface Diagram {
  del: DelaunayResult;
  coords: Float64Array;
  cc: Float64Array; // circumcentres (km), 2 per triangle
  inedge: Int32Array;
}

function buildDiagram(tri: Triangulator, seeds: Float64Array, guards: Float64Array): Diagram {
  const coords = new Float64Array(seeds.length + guards.length);
  coords.set(seeds, 0);
  coords.set(guards, seeds.length);
  const del = tri(coords);
  const { triangles, halfedges } = del;
  const nt = triangles.length / 3;
  const cc = new Float64Array(nt * 2);
  for (let t = 0; t < nt; t++) {
    const i = triangles[3 * t]! * 2;
    const j = triangles[3 * t + 1]! * 2;
    const k = triangles[3 * t + 2]! * 2;
    const x1 = coords[i]!;
    const y1 = coords[i + 1]!;
    const dx = coords[j]! - x1;
    const dy = coords[j + 1]! - y1;
    const ex = coords[k]! - x1;
    const ey = coords[k + 1]! - y1;
    const ab = (dx * ey - dy * ex) * 2;
    const bl = dx * dx + dy * dy;
    const cl = ex * ex + ey * ey;
    cc[2 * t] = x1 + (ey * bl - dy * cl) / ab;
    cc[2 * t + 1] = y1 + (dx * cl - ex * bl) / ab;
  }
  const inedge = new Int32Array(coords.length / 2).fill(-1);
  for (let e = 0; e < triangles.length; e++) {
    const p = triangles[e % 3 === 2 ? e - 2 : e + 1]!;
    if (halfedges[e] === -1 || inedge[p] === -1) inedge[p] = e;
  }
  return { del, coords, cc, inedge };
}

/** Circumcentres around a (non-hull) point, as a counter-clockwise km ring. */
function cellRing(d: Diagram, i: number): KmRing {
  const { triangles, halfedges } = d.del;
  const out: number[] = [];
  const e0 = d.inedge[i]!;
  let e = e0;
  do {
    const t = Math.floor(e / 3);
    out.push(d.cc[2 * t]!, d.cc[2 * t + 1]!);
    e = e % 3 === 2 ? e - 2 : e + 1;
    if (triangles[e] !== i) throw new Error('bad triangulation walk');
    e = halfedges[e]!;
    if (e === -1) throw new Error(`seed ${i} is on the hull`);
  } while (e !== e0);
  // orient counter-clockwise
  let s = 0;
  const n = out.length / 2;
  for (let k = 0; k < n; k++) {
    const k2 = (k + 1) % n;
    s += out[2 * k]! * out[2 * k2 + 1]! - out[2 * k2]! * out[2 * k + 1]!;
  }
  if (s < 0) {
    const rev: number[] = [];
    for (let k = n - 1; k >= 0; k--) rev.push(out[2 * k]!, out[2 * k + 1]!);
    return rev;
  }
  return out;
}

export class Outline {
  readonly bbox: [number, number, number, number];
  private readonly grid = new Map<number, number>();
  private readonly cell: number;
  constructor(readonly rings: KmRing[]) {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const r of rings) {
      for (let i = 0; i < r.length; i += 2) {
        x0 = Math.min(x0, r[i]!);
        x1 = Math.max(x1, r[i]!);
        y0 = Math.min(y0, r[i + 1]!);
        y1 = Math.max(y1, r[i + 1]!);
      }
    }
    this.bbox = [x0, y0, x1, y1];
    this.cell = Math.max(x1 - x0, y1 - y0) / 256;
    // mark grid cells touched by boundary segments (sampled densely enough)
    for (const r of rings) {
      const n = r.length / 2;
      for (let i = 0; i < n; i++) {
        const ax = r[2 * i]!;
        const ay = r[2 * i + 1]!;
        const bx = r[(2 * i + 2) % r.length]!;
        const by = r[(2 * i + 3) % r.length]!;
        const steps = Math.ceil((Math.hypot(bx - ax, by - ay) / this.cell) * 4) + 1;
        for (let s = 0; s <= steps; s++) {
          const x = ax + ((bx - ax) * s) / steps;
          const y = ay + ((by - ay) * s) / steps;
          this.grid.set(this.key(Math.floor((x - x0) / this.cell), Math.floor((y - y0) / this.cell)), 1);
        }
      }
    }
  }
  private key(gx: number, gy: number): number {
    return (gy + 1000) * 100000 + gx + 1000;
  }
  contains(x: number, y: number): boolean {
    return pointInKmRings(this.rings, x, y);
  }
  /** True if the box is at least one grid cell away from every boundary segment. */
  boxClear(x0: number, y0: number, x1: number, y1: number): boolean {
    const [bx, by] = this.bbox;
    const gx0 = Math.floor((x0 - bx) / this.cell) - 1;
    const gx1 = Math.floor((x1 - bx) / this.cell) + 1;
    const gy0 = Math.floor((y0 - by) / this.cell) - 1;
    const gy1 = Math.floor((y1 - by) / this.cell) + 1;
    for (let gx = gx0; gx <= gx1; gx++) for (let gy = gy0; gy <= gy1; gy++) if (this.grid.has(this.key(gx, gy))) return false;
    return true;
  }
  area(): number {
    let s = 0;
    for (const r of this.rings) {
      const n = r.length / 2;
      for (let i = 0; i < n; i++) {
        const j = (i + 1) % n;
        s += r[2 * i]! * r[2 * j + 1]! - r[2 * j]! * r[2 * i + 1]!;
      }
    }
    return s / 2;
  }
}

/** Guard points on a rectangle around the outline, so that every real seed has a bounded cell. */
export function guardPoints(outline: Outline, spacing: number, margin: number): Float64Array {
  const [x0, y0, x1, y1] = outline.bbox;
  const gx0 = x0 - margin;
  const gy0 = y0 - margin;
  const gx1 = x1 + margin;
  const gy1 = y1 + margin;
  const pts: number[] = [];
  const nx = Math.ceil((gx1 - gx0) / spacing);
  const ny = Math.ceil((gy1 - gy0) / spacing);
  for (let i = 0; i < nx; i++) pts.push(gx0 + ((gx1 - gx0) * i) / nx, gy0, gx1 - ((gx1 - gx0) * i) / nx, gy1);
  for (let j = 0; j < ny; j++) pts.push(gx1, gy0 + ((gy1 - gy0) * j) / ny, gx0, gy1 - ((gy1 - gy0) * j) / ny);
  return Float64Array.from(pts);
}

/** n points inside the outline with probability proportional to `density`. */
export function samplePoints(outline: Outline, density: Density, n: number, rng: Rng): Float64Array {
  const [x0, y0, x1, y1] = outline.bbox;
  let wmax = 0;
  for (let i = 0; i < 20000; i++) wmax = Math.max(wmax, density(x0 + rng() * (x1 - x0), y0 + rng() * (y1 - y0)));
  wmax *= 1.2;
  const out = new Float64Array(2 * n);
  let k = 0;
  while (k < n) {
    const x = x0 + rng() * (x1 - x0);
    const y = y0 + rng() * (y1 - y0);
    if (rng() * wmax > density(x, y) || !outline.contains(x, y)) continue;
    out[2 * k] = x;
    out[2 * k + 1] = y;
    k++;
  }
  return out;
}

/**
 * Density-weighted Lloyd relaxation. A CVT with weight ρ spaces points with density ∝ ρ^(1/2) in
 * the plane, so ρ = density² keeps the intended point density. Seeds never leave the outline.
 */
export function lloyd(
  tri: Triangulator,
  outline: Outline,
  seeds: Float64Array,
  guards: Float64Array,
  density: Density,
  iterations: number,
): void {
  const n = seeds.length / 2;
  for (let it = 0; it < iterations; it++) {
    const d = buildDiagram(tri, seeds, guards);
    for (let i = 0; i < n; i++) {
      const cell = cellRing(d, i);
      let cx0 = Infinity;
      let cy0 = Infinity;
      let cx1 = -Infinity;
      let cy1 = -Infinity;
      for (let k = 0; k < cell.length; k += 2) {
        cx0 = Math.min(cx0, cell[k]!);
        cx1 = Math.max(cx1, cell[k]!);
        cy0 = Math.min(cy0, cell[k + 1]!);
        cy1 = Math.max(cy1, cell[k + 1]!);
      }
      const parts = outline.boxClear(cx0, cy0, cx1, cy1) ? [cell] : outline.rings.map((r) => clipByConvex(r, cell));
      let w = 0;
      let mx = 0;
      let my = 0;
      for (const p of parts) {
        const m = p.length / 2;
        if (m < 3) continue;
        const ax = p[0]!;
        const ay = p[1]!;
        for (let k = 1; k + 1 < m; k++) {
          const bx = p[2 * k]!;
          const by = p[2 * k + 1]!;
          const qx = p[2 * k + 2]!;
          const qy = p[2 * k + 3]!;
          const a = ((bx - ax) * (qy - ay) - (by - ay) * (qx - ax)) / 2;
          const gx = (ax + bx + qx) / 3;
          const gy = (ay + by + qy) / 3;
          const rho = density(gx, gy) ** 2;
          w += a * rho;
          mx += a * rho * gx;
          my += a * rho * gy;
        }
      }
      if (w <= 0) continue;
      const nx = mx / w;
      const ny = my / w;
      if (outline.contains(nx, ny)) {
        seeds[2 * i] = nx;
        seeds[2 * i + 1] = ny;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exact overlay

export interface Atom {
  /** The Voronoi cell (seed index) this piece belongs to. */
  cell: number;
  /** Vertex ids, counter-clockwise, not closed. */
  ring: number[];
  /** Area in km². */
  area: number;
  /** Centroid in km. */
  cx: number;
  cy: number;
  /** Whether the piece contains its seed (each cell has exactly one such piece). */
  primary: boolean;
}

export interface OverlayResult {
  atoms: Atom[];
  /** Interior shared edges: [atomA, atomB, length km]. */
  links: [number, number, number][];
}

/**
 * Overlays the Voronoi diagram of `seeds` with the outline rings (vertex ids in `store`, region on
 * the left) and returns the pieces. Every crossing point of a Voronoi edge and an outline segment is
 * computed once, rounded once and shared by the pieces on both sides.
 */
export function overlay(
  tri: Triangulator,
  frame: Frame,
  store: VertexStore,
  outlineIds: number[][],
  seeds: Float64Array,
  guards: Float64Array,
  snapUnits: number,
  minGap: number,
): OverlayResult {
  const nReal = seeds.length / 2;
  const d = buildDiagram(tri, seeds, guards);
  const { triangles, halfedges } = d.del;
  const next = (e: number): number => (e % 3 === 2 ? e - 2 : e + 1);

  // 1. Voronoi vertices (circumcentres), rounded once; near-coincident ones (a tiny Voronoi edge
  //    from almost co-circular seeds) are merged into one vertex.
  const nt = triangles.length / 3;
  const ccId = new Int32Array(nt).fill(-1);
  const snapGrid = new Map<number, number[]>();
  const snapKey = (gx: number, gy: number): number => (gx + 1e6) * 4e6 + (gy + 1e6);
  const ccVertex = (t: number): number => {
    if (ccId[t]! >= 0) return ccId[t]!;
    const [fx, fy] = frame.kmToUnitsFloat(d.cc[2 * t]!, d.cc[2 * t + 1]!);
    const X = Math.round(fx);
    const Y = Math.round(fy);
    const gx = Math.floor(X / snapUnits);
    const gy = Math.floor(Y / snapUnits);
    for (let i = gx - 1; i <= gx + 1; i++) {
      for (let j = gy - 1; j <= gy + 1; j++) {
        for (const id of snapGrid.get(snapKey(i, j)) ?? []) {
          if (Math.hypot(store.xs[id]! - X, store.ys[id]! - Y) < snapUnits) return (ccId[t] = id);
        }
      }
    }
    const id = store.get(X, Y);
    const k = snapKey(gx, gy);
    const list = snapGrid.get(k);
    if (list) list.push(id);
    else snapGrid.set(k, [id]);
    return (ccId[t] = id);
  };

  interface VEdge {
    a: number;
    b: number;
    left: number;
    right: number;
    cuts: { t: number; id: number }[];
  }
  const vedges: VEdge[] = [];
  for (let e = 0; e < triangles.length; e++) {
    const h = halfedges[e]!;
    if (h === -1 || h < e) continue;
    const p = triangles[e]!;
    const q = triangles[next(e)]!;
    if (p >= nReal || q >= nReal) continue;
    const ta = Math.floor(e / 3);
    const tb = Math.floor(h / 3);
    const a = ccVertex(ta);
    const b = ccVertex(tb);
    if (a === b) continue;
    // which seed lies left of a→b (km space; the map to units preserves orientation)
    const ax = d.cc[2 * ta]!;
    const ay = d.cc[2 * ta + 1]!;
    const side = (d.cc[2 * tb]! - ax) * (d.coords[2 * p + 1]! - ay) - (d.cc[2 * tb + 1]! - ay) * (d.coords[2 * p]! - ax);
    vedges.push(side > 0 ? { a, b, left: p, right: q, cuts: [] } : { a, b, left: q, right: p, cuts: [] });
  }

  // 2. Outline segments and their crossings with Voronoi edges.
  interface BSeg {
    p: number;
    q: number;
    cuts: { t: number; id: number; before: number; after: number }[];
  }
  const rings: BSeg[][] = outlineIds.map((r) => r.map((p, i) => ({ p, q: r[(i + 1) % r.length]!, cuts: [] })));
  const bsegs = rings.flat();
  // bucket outline segments on a coarse grid
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const s of bsegs) {
    minX = Math.min(minX, store.xs[s.p]!);
    maxX = Math.max(maxX, store.xs[s.p]!);
    minY = Math.min(minY, store.ys[s.p]!);
    maxY = Math.max(maxY, store.ys[s.p]!);
  }
  const gcell = Math.max(maxX - minX, maxY - minY) / 200;
  const gkey = (gx: number, gy: number): number => (gy + 10000) * 100000 + (gx + 10000);
  const buckets = new Map<number, number[]>();
  const cellsOf = (ax: number, ay: number, bx: number, by: number): number[] => {
    const out: number[] = [];
    const x0 = Math.floor((Math.min(ax, bx) - minX) / gcell);
    const x1 = Math.floor((Math.max(ax, bx) - minX) / gcell);
    const y0 = Math.floor((Math.min(ay, by) - minY) / gcell);
    const y1 = Math.floor((Math.max(ay, by) - minY) / gcell);
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 40000) return [-1];
    for (let gx = x0; gx <= x1; gx++) for (let gy = y0; gy <= y1; gy++) out.push(gkey(gx, gy));
    return out;
  };
  bsegs.forEach((s, i) => {
    for (const k of cellsOf(store.xs[s.p]!, store.ys[s.p]!, store.xs[s.q]!, store.ys[s.q]!)) {
      const l = buckets.get(k);
      if (l) l.push(i);
      else buckets.set(k, [i]);
    }
  });
  const xs = store.xs;
  const ys = store.ys;
  for (const ve of vedges) {
    const { a, b } = ve;
    const cand = new Set<number>();
    const keys = cellsOf(xs[a]!, ys[a]!, xs[b]!, ys[b]!);
    if (keys[0] === -1) bsegs.forEach((_, i) => cand.add(i));
    else for (const k of keys) for (const i of buckets.get(k) ?? []) cand.add(i);
    for (const si of cand) {
      const s = bsegs[si]!;
      const { p, q } = s;
      if (Math.max(xs[a]!, xs[b]!) < Math.min(xs[p]!, xs[q]!) || Math.min(xs[a]!, xs[b]!) > Math.max(xs[p]!, xs[q]!)) continue;
      if (Math.max(ys[a]!, ys[b]!) < Math.min(ys[p]!, ys[q]!) || Math.min(ys[a]!, ys[b]!) > Math.max(ys[p]!, ys[q]!)) continue;
      const o1 = orientRaw(xs, ys, p, q, a);
      const o2 = orientRaw(xs, ys, p, q, b);
      if ((o1 > 0 && o2 > 0) || (o1 < 0 && o2 < 0)) continue;
      const o3 = orientRaw(xs, ys, a, b, p);
      const o4 = orientRaw(xs, ys, a, b, q);
      if ((o3 > 0 && o4 > 0) || (o3 < 0 && o4 < 0)) continue;
      if (o1 === 0 || o2 === 0 || o3 === 0 || o4 === 0) throw new DegenerateError('Voronoi edge touches the outline');
      const den = (xs[b]! - xs[a]!) * (ys[q]! - ys[p]!) - (ys[b]! - ys[a]!) * (xs[q]! - xs[p]!);
      const t = ((xs[p]! - xs[a]!) * (ys[q]! - ys[p]!) - (ys[p]! - ys[a]!) * (xs[q]! - xs[p]!)) / den;
      const u = ((xs[p]! - xs[a]!) * (ys[b]! - ys[a]!) - (ys[p]! - ys[a]!) * (xs[b]! - xs[a]!)) / den;
      const id = store.create(Math.round(xs[a]! + t * (xs[b]! - xs[a]!)), Math.round(ys[a]! + t * (ys[b]! - ys[a]!)));
      ve.cuts.push({ t, id });
      // o4 > 0: the segment's end q lies left of a→b, so past the crossing we are in `left`'s cell
      s.cuts.push(o4 > 0 ? { t: u, id, before: ve.right, after: ve.left } : { t: u, id, before: ve.left, after: ve.right });
    }
  }

  // 3. Voronoi pieces inside the outline.
  const halfU: number[] = [];
  const halfV: number[] = [];
  const halfCell: number[] = [];
  const segs: [number, number][] = [];
  const insideCache = new Map<number, boolean>();
  const inside = (id: number): boolean => {
    let r = insideCache.get(id);
    if (r === undefined) {
      r = pointInRings(store, outlineIds, xs[id]!, ys[id]!);
      insideCache.set(id, r);
    }
    return r;
  };
  for (const ve of vedges) {
    ve.cuts.sort((x, y) => x.t - y.t);
    const pts = [ve.a, ...ve.cuts.map((c) => c.id), ve.b];
    let isIn = inside(ve.a);
    for (let i = 0; i + 1 < pts.length; i++) {
      if (isIn) {
        const u = pts[i]!;
        const v = pts[i + 1]!;
        halfU.push(u, v);
        halfV.push(v, u);
        halfCell.push(ve.left, ve.right);
        segs.push([u, v]);
      }
      if (i + 1 < pts.length - 1) isIn = !isIn;
    }
    if (isIn !== inside(ve.b)) throw new DegenerateError('inconsistent inside/outside along a Voronoi edge');
  }

  // 4. Outline pieces, labelled by walking each ring (the cell changes only at crossings).
  const nearestSeed = (X: number, Y: number): number => {
    const [x, y] = frame.unitsToKm(X, Y);
    let best = -1;
    let bd = Infinity;
    for (let i = 0; i < d.coords.length / 2; i++) {
      const dd = (d.coords[2 * i]! - x) ** 2 + (d.coords[2 * i + 1]! - y) ** 2;
      if (dd < bd) {
        bd = dd;
        best = i;
      }
    }
    return best;
  };
  for (const ring of rings) {
    const seq: { id: number; cut?: { before: number; after: number } }[] = [];
    for (const s of ring) {
      seq.push({ id: s.p });
      s.cuts.sort((x, y) => x.t - y.t);
      for (const c of s.cuts) seq.push({ id: c.id, cut: c });
    }
    const first = seq.findIndex((x) => x.cut !== undefined);
    let label = first === -1 ? nearestSeed(xs[seq[0]!.id]!, ys[seq[0]!.id]!) : seq[first]!.cut!.after;
    const start = first === -1 ? 0 : first;
    const n = seq.length;
    for (let k = 0; k < n; k++) {
      const cur = seq[(start + k) % n]!;
      const nxt = seq[(start + k + 1) % n]!;
      if (label >= nReal) throw new Error('a guard cell reaches into the outline: increase the guard margin');
      halfU.push(cur.id);
      halfV.push(nxt.id);
      halfCell.push(label);
      segs.push([cur.id, nxt.id]);
      if (nxt.cut) {
        if (nxt.cut.before !== label) throw new DegenerateError('inconsistent cell labels along the outline');
        label = nxt.cut.after;
      }
    }
  }

  // 5. The whole edge set must be a clean plane graph before anything is built on it.
  checkPlanar(store, segs, minGap);

  // 6. Pieces: trace each cell's half-edges.
  const byCell = new Map<number, number[]>();
  halfCell.forEach((c, i) => {
    const l = byCell.get(c);
    if (l) l.push(i);
    else byCell.set(c, [i]);
  });
  const atoms: Atom[] = [];
  const edgeAtom = new Map<number, number>();
  const nv = store.size;
  for (const [cell, list] of [...byCell.entries()].sort((p, q) => p[0] - q[0])) {
    const rs = traceRings(
      store,
      list.map((i) => halfU[i]!),
      list.map((i) => halfV[i]!),
    );
    const sx = d.coords[2 * cell]!;
    const sy = d.coords[2 * cell + 1]!;
    const [SX, SY] = frame.kmToUnitsFloat(sx, sy);
    let primaries = 0;
    for (const r of rs) {
      const a2 = ringArea2(store, r);
      if (a2 <= 0) throw new Error(`cell ${cell} has a hole or a degenerate piece`);
      let cx = 0;
      let cy = 0;
      let s = 0;
      for (let i = 0; i < r.length; i++) {
        const p = r[i]!;
        const q = r[(i + 1) % r.length]!;
        const x0 = xs[p]! - xs[r[0]!]!;
        const y0 = ys[p]! - ys[r[0]!]!;
        const x1 = xs[q]! - xs[r[0]!]!;
        const y1 = ys[q]! - ys[r[0]!]!;
        const c = x0 * y1 - x1 * y0;
        s += c;
        cx += (x0 + x1) * c;
        cy += (y0 + y1) * c;
      }
      const [kx, ky] = frame.unitsToKm(xs[r[0]!]! + cx / (3 * s), ys[r[0]!]! + cy / (3 * s));
      const primary = pointInRings(store, [r], SX, SY);
      if (primary) primaries++;
      const idx = atoms.length;
      atoms.push({ cell, ring: r, area: (a2 / 2) * frame.unitArea, cx: kx, cy: ky, primary });
      for (let i = 0; i < r.length; i++) edgeAtom.set(r[i]! * nv + r[(i + 1) % r.length]!, idx);
    }
    if (primaries !== 1) throw new DegenerateError(`cell ${cell}: ${primaries} pieces contain the seed`);
  }
  if (byCell.size !== nReal) throw new Error(`${nReal - byCell.size} seeds have no cell inside the outline`);

  // 7. Adjacency through shared Voronoi pieces.
  const links: [number, number, number][] = [];
  for (let i = 0; i < halfU.length; i += 1) {
    const u = halfU[i]!;
    const v = halfV[i]!;
    const a = edgeAtom.get(u * nv + v);
    const b = edgeAtom.get(v * nv + u);
    if (a === undefined || b === undefined || a >= b) continue;
    const [dx, dy] = frame.unitsToKm(xs[v]! - xs[u]!, ys[v]! - ys[u]!);
    links.push([a, b, Math.hypot(dx, dy)]);
  }
  return { atoms, links };
}

function orientRaw(xs: number[], ys: number[], a: number, b: number, c: number): number {
  return (xs[b]! - xs[a]!) * (ys[c]! - ys[a]!) - (ys[b]! - ys[a]!) * (xs[c]! - xs[a]!);
}
