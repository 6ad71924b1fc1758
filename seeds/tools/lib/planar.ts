/**
 * Exact planar bookkeeping for the region builder.
 *
 * Every vertex lives on the output grid: integer units of 1e-7 degree (≈1 cm), stored relative to an
 * integer origin so that all orientation tests (cross products of differences) are exact in doubles.
 * A vertex is created once and referred to by id; a point shared by several polygons is therefore the
 * same rounded pair everywhere, so polygons can be merged by cancelling opposite directed edges.
 */

/** Thrown when the random configuration is (nearly) degenerate; the caller perturbs and retries. */
export class DegenerateError extends Error {}

const KEY_OFFSET = 2 ** 25; // |relative coordinate| must stay below this (≈3.3 degrees)
const KEY_SPAN = 2 ** 26;

export class VertexStore {
  readonly xs: number[] = [];
  readonly ys: number[] = [];
  private readonly byKey = new Map<number, number>();

  get size(): number {
    return this.xs.length;
  }

  static key(x: number, y: number): number {
    if (Math.abs(x) >= KEY_OFFSET || Math.abs(y) >= KEY_OFFSET) throw new Error(`coordinate out of range: ${x},${y}`);
    return (x + KEY_OFFSET) * KEY_SPAN + (y + KEY_OFFSET);
  }

  find(x: number, y: number): number | undefined {
    return this.byKey.get(VertexStore.key(x, y));
  }

  /** The id of (x, y) (integers), creating it if new. */
  get(x: number, y: number): number {
    const k = VertexStore.key(x, y);
    let id = this.byKey.get(k);
    if (id === undefined) {
      id = this.xs.length;
      this.xs.push(x);
      this.ys.push(y);
      this.byKey.set(k, id);
    }
    return id;
  }

  /** A new vertex; throws DegenerateError if the rounded point already exists. */
  create(x: number, y: number): number {
    if (this.find(x, y) !== undefined) throw new DegenerateError(`vertex ${x},${y} already exists`);
    return this.get(x, y);
  }
}

/** Exact sign of the turn a→b→c (>0: c left of a→b). */
export function orient(v: VertexStore, a: number, b: number, c: number): number {
  const ax = v.xs[a]!;
  const ay = v.ys[a]!;
  return (v.xs[b]! - ax) * (v.ys[c]! - ay) - (v.ys[b]! - ay) * (v.xs[c]! - ax);
}

function orientXY(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

/** Twice the signed area of a ring of vertex ids (positive = counter-clockwise). */
export function ringArea2(v: VertexStore, ring: readonly number[]): number {
  let s = 0;
  const n = ring.length;
  const ox = v.xs[ring[0]!]!;
  const oy = v.ys[ring[0]!]!;
  for (let i = 1; i + 1 < n; i++) {
    const a = ring[i]!;
    const b = ring[i + 1]!;
    s += (v.xs[a]! - ox) * (v.ys[b]! - oy) - (v.ys[a]! - oy) * (v.xs[b]! - ox);
  }
  return s;
}

/**
 * Point in ring(s) by crossing number. Exact for integer points; throws DegenerateError for a point on
 * an edge. `px, py` may also be non-integer (then "on the edge" has probability zero).
 */
export function pointInRings(v: VertexStore, rings: readonly (readonly number[])[], px: number, py: number): boolean {
  let inside = false;
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0; i < n; i++) {
      const p = ring[i]!;
      const q = ring[(i + 1) % n]!;
      const pyv = v.ys[p]!;
      const qyv = v.ys[q]!;
      if (pyv > py === qyv > py) continue;
      const o = orientXY(v.xs[p]!, pyv, v.xs[q]!, qyv, px, py);
      if (o === 0) throw new DegenerateError('point on boundary');
      if (qyv > pyv ? o > 0 : o < 0) inside = !inside;
    }
  }
  return inside;
}

// ---------------------------------------------------------------------------------------------
// Ring tracing and union by edge cancellation

/**
 * Is direction d1 reached before d2 when turning clockwise from reference direction r? (Exact for
 * integer vectors; directions are never equal to r or to each other in a valid planar graph.)
 */
function cwBefore(rx: number, ry: number, d1x: number, d1y: number, d2x: number, d2y: number): boolean {
  const half = (dx: number, dy: number): number => {
    const c = rx * dy - ry * dx; // >0: counter-clockwise of r
    if (c < 0) return 0; // within (0, π) clockwise
    if (c === 0) return rx * dx + ry * dy < 0 ? 1 : 3; // π (opposite) or 0/2π (same direction)
    return 2; // (π, 2π)
  };
  const h1 = half(d1x, d1y);
  const h2 = half(d2x, d2y);
  if (h1 !== h2) return h1 < h2;
  return d1x * d2y - d1y * d2x < 0; // d2 clockwise of d1
}

/** Splits a closed walk at repeated vertices into simple rings. */
function splitAtRepeats(walk: number[]): number[][] {
  const out: number[][] = [];
  const path: number[] = [];
  const pos = new Map<number, number>();
  const n = walk.length;
  for (let i = 0; i <= n; i++) {
    const v = walk[i % n]!;
    const at = pos.get(v);
    if (at !== undefined) {
      const loop = path.splice(at);
      for (const x of loop) pos.delete(x);
      if (loop.length < 3) throw new DegenerateError('degenerate loop in ring');
      out.push(loop);
    }
    if (i < n) {
      pos.set(v, path.length);
      path.push(v);
    }
  }
  if (path.length !== 0) throw new Error('unclosed walk');
  return out;
}

/**
 * Traces the closed rings formed by directed edges (the region lies on their left). At a vertex with
 * several outgoing edges, an incoming edge continues with the first outgoing edge clockwise from its
 * reverse direction (the edge bounding the same wedge of the region), so rings only ever touch and
 * never cross; walks that visit a vertex twice are then split into simple rings.
 */
export function traceRings(v: VertexStore, us: readonly number[], vs: readonly number[]): number[][] {
  const m = us.length;
  const outs = new Map<number, number[]>();
  for (let e = 0; e < m; e++) {
    const list = outs.get(us[e]!);
    if (list) list.push(e);
    else outs.set(us[e]!, [e]);
  }
  const next = new Int32Array(m).fill(-1);
  for (let e = 0; e < m; e++) {
    const at = vs[e]!;
    const cand = outs.get(at);
    if (!cand) throw new Error(`dangling edge ${us[e]}->${at}`);
    if (cand.length === 1) {
      next[e] = cand[0]!;
      continue;
    }
    const rx = v.xs[us[e]!]! - v.xs[at]!;
    const ry = v.ys[us[e]!]! - v.ys[at]!;
    let best = -1;
    for (const f of cand) {
      if (best === -1) {
        best = f;
        continue;
      }
      const fx = v.xs[vs[f]!]! - v.xs[at]!;
      const fy = v.ys[vs[f]!]! - v.ys[at]!;
      const bx = v.xs[vs[best]!]! - v.xs[at]!;
      const by = v.ys[vs[best]!]! - v.ys[at]!;
      if (cwBefore(rx, ry, fx, fy, bx, by)) best = f;
    }
    next[e] = best;
  }
  const seen = new Uint8Array(m);
  const rings: number[][] = [];
  for (let e0 = 0; e0 < m; e0++) {
    if (seen[e0]) continue;
    const walk: number[] = [];
    let e = e0;
    while (!seen[e]) {
      seen[e] = 1;
      walk.push(us[e]!);
      e = next[e]!;
    }
    if (e !== e0) throw new Error('edge pairing is not a permutation (overlapping edges?)');
    for (const r of splitAtRepeats(walk)) rings.push(r);
  }
  return rings;
}

/** A polygon as vertex-id rings: shell (counter-clockwise) then holes (clockwise), not closed. */
export type IdPolygon = number[][];

/** Groups rings into polygons: counter-clockwise rings are shells, clockwise ones holes. */
export function assemblePolygons(v: VertexStore, rings: number[][]): IdPolygon[] {
  const shells: { ring: number[]; area: number; set: Set<number>; polygon: IdPolygon }[] = [];
  const holes: number[][] = [];
  for (const r of rings) {
    const a = ringArea2(v, r);
    if (a > 0) shells.push({ ring: r, area: a, set: new Set(r), polygon: [r] });
    else if (a < 0) holes.push(r);
    else throw new DegenerateError('zero-area ring');
  }
  shells.sort((p, q) => p.area - q.area);
  for (const h of holes) {
    let host: (typeof shells)[number] | undefined;
    for (const s of shells) {
      const probe = h.find((id) => !s.set.has(id));
      if (probe === undefined) continue;
      if (pointInRings(v, [s.ring], v.xs[probe]!, v.ys[probe]!)) {
        host = s;
        break;
      }
    }
    if (!host) throw new Error('hole outside every shell');
    host.polygon.push(h);
  }
  return shells.map((s) => s.polygon);
}

/**
 * Union of pieces that tile part of the plane with shared vertices: opposite directed edges cancel,
 * what is left is traced into rings. `edges` are [u, v] pairs of the pieces' rings (region on the left).
 */
export function unionRings(v: VertexStore, pieces: readonly (readonly number[])[]): IdPolygon[] {
  const live = new Map<number, [number, number]>();
  const n = v.size;
  for (const ring of pieces) {
    const len = ring.length;
    for (let i = 0; i < len; i++) {
      const a = ring[i]!;
      const b = ring[(i + 1) % len]!;
      const rev = b * n + a;
      if (live.has(rev)) live.delete(rev);
      else {
        const k = a * n + b;
        if (live.has(k)) throw new Error(`edge ${a}->${b} used twice (pieces overlap)`);
        live.set(k, [a, b]);
      }
    }
  }
  const us: number[] = [];
  const vs: number[] = [];
  for (const [a, b] of live.values()) {
    us.push(a);
    vs.push(b);
  }
  return assemblePolygons(v, traceRings(v, us, vs));
}

// ---------------------------------------------------------------------------------------------
// Planarity check of the final edge set

/**
 * Verifies that the segments form a plane graph: two segments meet only at a shared endpoint, no
 * two segments from one vertex overlap, and no vertex lies closer than `minGap` units to a segment
 * it is not an endpoint of. Throws DegenerateError otherwise.
 */
export function checkPlanar(v: VertexStore, segs: readonly [number, number][], minGap: number): void {
  if (segs.length === 0) return;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  let total = 0;
  for (const [a, b] of segs) {
    for (const p of [a, b]) {
      minX = Math.min(minX, v.xs[p]!);
      maxX = Math.max(maxX, v.xs[p]!);
      minY = Math.min(minY, v.ys[p]!);
      maxY = Math.max(maxY, v.ys[p]!);
    }
    total += Math.hypot(v.xs[b]! - v.xs[a]!, v.ys[b]! - v.ys[a]!);
  }
  const cell = Math.max(total / segs.length, 1);
  const nx = Math.floor((maxX - minX) / cell) + 1;
  const buckets = new Map<number, number[]>();
  segs.forEach(([a, b], i) => {
    const x0 = Math.floor((Math.min(v.xs[a]!, v.xs[b]!) - minGap - minX) / cell);
    const x1 = Math.floor((Math.max(v.xs[a]!, v.xs[b]!) + minGap - minX) / cell);
    const y0 = Math.floor((Math.min(v.ys[a]!, v.ys[b]!) - minGap - minY) / cell);
    const y1 = Math.floor((Math.max(v.ys[a]!, v.ys[b]!) + minGap - minY) / cell);
    for (let gx = x0; gx <= x1; gx++) {
      for (let gy = y0; gy <= y1; gy++) {
        const k = gy * (nx + 2) + gx;
        const list = buckets.get(k);
        if (list) list.push(i);
        else buckets.set(k, [i]);
      }
    }
  });
  const done = new Set<number>();
  const pointSegGap = (p: number, a: number, b: number): number => {
    const px = v.xs[p]!;
    const py = v.ys[p]!;
    const ax = v.xs[a]!;
    const ay = v.ys[a]!;
    const dx = v.xs[b]! - ax;
    const dy = v.ys[b]! - ay;
    const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(px - ax - t * dx, py - ay - t * dy);
  };
  for (const list of buckets.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const s = list[i]!;
        const t = list[j]!;
        const pk = s < t ? s * segs.length + t : t * segs.length + s;
        if (done.has(pk)) continue;
        done.add(pk);
        const [a, b] = segs[s]!;
        const [c, d] = segs[t]!;
        const shared = [a, b].filter((x) => x === c || x === d);
        if (shared.length === 2) throw new DegenerateError('duplicate segment');
        if (shared.length === 1) {
          const o = shared[0]!;
          const p = o === a ? b : a;
          const q = o === c ? d : c;
          if (orient(v, o, p, q) === 0 && (v.xs[p]! - v.xs[o]!) * (v.xs[q]! - v.xs[o]!) + (v.ys[p]! - v.ys[o]!) * (v.ys[q]! - v.ys[o]!) > 0) {
            throw new DegenerateError('overlapping segments');
          }
          if (orient(v, o, p, q) !== 0 && (pointSegGap(p, c, d) < minGap || pointSegGap(q, a, b) < minGap)) {
            throw new DegenerateError('sliver angle');
          }
          continue;
        }
        const o1 = orient(v, a, b, c);
        const o2 = orient(v, a, b, d);
        const o3 = orient(v, c, d, a);
        const o4 = orient(v, c, d, b);
        if (o1 === 0 && o2 === 0) {
          // collinear: they intersect only if their extents overlap
          const useX = v.xs[a]! !== v.xs[b]!;
          const coord = useX ? v.xs : v.ys;
          const lo1 = Math.min(coord[a]!, coord[b]!);
          const hi1 = Math.max(coord[a]!, coord[b]!);
          const lo2 = Math.min(coord[c]!, coord[d]!);
          const hi2 = Math.max(coord[c]!, coord[d]!);
          if (hi1 >= lo2 && hi2 >= lo1) throw new DegenerateError('collinear segments overlap');
        } else if (o1 * o2 <= 0 && o3 * o4 <= 0) throw new DegenerateError('segments intersect');
        if (
          pointSegGap(a, c, d) < minGap ||
          pointSegGap(b, c, d) < minGap ||
          pointSegGap(c, a, b) < minGap ||
          pointSegGap(d, a, b) < minGap
        ) {
          throw new DegenerateError('vertex too close to a segment');
        }
      }
    }
  }
}
