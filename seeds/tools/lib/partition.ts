/**
 * Splitting a connected set of units (cells of an adjacency graph) into k connected regions of
 * roughly given sizes: competitive region growing with per-region speeds tuned to the target sizes,
 * then a smoothing pass whose moves never disconnect a region.
 */
import type { Rng } from './voronoi';

export interface UnitGraph {
  /** Centroid (km). */
  x: number[];
  y: number[];
  /** Neighbours with shared boundary length (km). */
  adj: Map<number, number>[];
}

function dist2(g: UnitGraph, a: number, x: number, y: number): number {
  return (g.x[a]! - x) ** 2 + (g.y[a]! - y) ** 2;
}

/** k well-spread starting units: k-means on the centroids, then the unit nearest each centre. */
function pickSeeds(g: UnitGraph, units: number[], k: number, rng: Rng, anchors?: [number, number][]): number[] {
  let centres: [number, number][];
  if (anchors) centres = anchors;
  else {
    // k-means++ initialisation
    centres = [];
    const first = units[Math.floor(rng() * units.length)]!;
    centres.push([g.x[first]!, g.y[first]!]);
    const dmin = units.map((u) => dist2(g, u, g.x[first]!, g.y[first]!));
    while (centres.length < k) {
      const total = dmin.reduce((s, v) => s + v, 0);
      let r = rng() * total;
      let pick = 0;
      for (; pick < units.length - 1; pick++) {
        r -= dmin[pick]!;
        if (r <= 0) break;
      }
      const u = units[pick]!;
      centres.push([g.x[u]!, g.y[u]!]);
      units.forEach((w, i) => (dmin[i] = Math.min(dmin[i]!, dist2(g, w, g.x[u]!, g.y[u]!))));
    }
    for (let it = 0; it < 12; it++) {
      const sx = new Array<number>(k).fill(0);
      const sy = new Array<number>(k).fill(0);
      const sn = new Array<number>(k).fill(0);
      for (const u of units) {
        let best = 0;
        let bd = Infinity;
        centres.forEach(([cx, cy], c) => {
          const dd = dist2(g, u, cx, cy);
          if (dd < bd) {
            bd = dd;
            best = c;
          }
        });
        sx[best]! += g.x[u]!;
        sy[best]! += g.y[u]!;
        sn[best]! += 1;
      }
      centres = centres.map((c, i) => (sn[i]! > 0 ? [sx[i]! / sn[i]!, sy[i]! / sn[i]!] : c));
    }
  }
  const taken = new Set<number>();
  return centres.map(([cx, cy]) => {
    let best = -1;
    let bd = Infinity;
    for (const u of units) {
      if (taken.has(u)) continue;
      const dd = dist2(g, u, cx, cy);
      if (dd < bd) {
        bd = dd;
        best = u;
      }
    }
    taken.add(best);
    return best;
  });
}

/** Minimal binary heap of [priority, payload…] tuples. */
class Heap {
  private readonly items: [number, number, number][] = [];
  get size(): number {
    return this.items.length;
  }
  push(item: [number, number, number]): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]![0] <= a[i]![0]) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): [number, number, number] {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]![0] < a[m]![0]) m = l;
        if (r < a.length && a[r]![0] < a[m]![0]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Competitive growth: every region floods the graph from its seed at its own speed (edge length =
 * distance between centroids); a unit belongs to the region that reaches it first. Regions are
 * connected (a region only spreads through its own units) and round in graph distance.
 */
function grow(g: UnitGraph, member: Set<number>, seeds: number[], speed: number[]): Map<number, number> {
  const region = new Map<number, number>();
  const heap = new Heap();
  seeds.forEach((u, r) => heap.push([0, u, r]));
  while (heap.size > 0) {
    const [t, u, r] = heap.pop();
    if (region.has(u)) continue;
    region.set(u, r);
    for (const w of g.adj[u]!.keys()) {
      if (!member.has(w) || region.has(w)) continue;
      const d = Math.hypot(g.x[u]! - g.x[w]!, g.y[u]! - g.y[w]!);
      heap.push([t + d / speed[r]!, w, r]);
    }
  }
  return region;
}

/**
 * Splits `units` (a connected subgraph) into `targets.length` connected regions whose sizes
 * (in units) approach `targets`: competitive growth whose per-region speeds are tuned until the
 * sizes fit, then a smoothing pass that removes ragged one-unit teeth from the borders.
 * Returns the region index of each unit.
 */
export function partition(
  g: UnitGraph,
  units: number[],
  targets: number[],
  rng: Rng,
  anchors?: [number, number][],
): Map<number, number> {
  const k = targets.length;
  if (k > units.length) throw new Error(`cannot split ${units.length} units into ${k} regions`);
  const member = new Set(units);
  if (k === 1) return new Map(units.map((u) => [u, 0]));
  const seeds = pickSeeds(g, units, k, rng, anchors);
  const speed = targets.map((t) => Math.sqrt(t));
  let best: Map<number, number> | undefined;
  let bestErr = Infinity;
  for (let it = 0; it < 60; it++) {
    const region = grow(g, member, seeds, speed);
    if (region.size !== units.length) throw new Error('units are not connected');
    const size = new Array<number>(k).fill(0);
    for (const r of region.values()) size[r]! += 1;
    const err = size.reduce((s, n, r) => s + Math.abs(n - targets[r]!), 0);
    if (err < bestErr) {
      bestErr = err;
      best = region;
    }
    if (err <= k * 0.5) break;
    const damp = 0.5 * (1 - it / 80);
    size.forEach((n, r) => (speed[r]! *= (targets[r]! / Math.max(n, 0.5)) ** damp));
  }
  const region = best!;
  smooth(g, units, region, targets);
  return region;
}

/** Size of region r's component containing `from` when `drop` is removed. */
function connectedWithout(g: UnitGraph, region: Map<number, number>, r: number, drop: number, size: number): boolean {
  let start = -1;
  for (const w of g.adj[drop]!.keys()) if (region.get(w) === r) start = w;
  if (start === -1) return size <= 1;
  const seen = new Set([start]);
  const stack = [start];
  while (stack.length > 0) {
    const u = stack.pop()!;
    for (const w of g.adj[u]!.keys()) {
      if (w !== drop && !seen.has(w) && region.get(w) === r) {
        seen.add(w);
        stack.push(w);
      }
    }
  }
  return seen.size === size - 1;
}

/**
 * Majority smoothing: a unit that shares clearly more border with a neighbouring region than with
 * its own moves there, if its region stays connected and neither size drifts too far from target.
 */
function smooth(g: UnitGraph, units: number[], region: Map<number, number>, targets: number[]): void {
  const size = new Array<number>(targets.length).fill(0);
  for (const r of region.values()) size[r]! += 1;
  for (let pass = 0; pass < 8; pass++) {
    let moved = 0;
    for (const u of units) {
      const r = region.get(u)!;
      if (size[r]! <= 1) continue;
      const shared = new Map<number, number>();
      for (const [w, len] of g.adj[u]!) {
        const q = region.get(w);
        if (q !== undefined) shared.set(q, (shared.get(q) ?? 0) + len);
      }
      const own = shared.get(r) ?? 0;
      let bestQ = -1;
      let bestLen = own * 1.6;
      for (const [q, len] of shared) {
        if (q === r || len <= bestLen) continue;
        if (size[q]! + 1 > targets[q]! * 1.25 + 1 || size[r]! - 1 < targets[r]! * 0.75 - 1) continue;
        bestQ = q;
        bestLen = len;
      }
      if (bestQ === -1 || !connectedWithout(g, region, r, u, size[r]!)) continue;
      region.set(u, bestQ);
      size[r]! -= 1;
      size[bestQ]! += 1;
      moved++;
    }
    if (moved === 0) break;
  }
}

/**
 * Integer apportionment: `total` split in proportion to `weights` with lo[i] ≤ n[i] ≤ hi[i]
 * (largest remainder, then adjusted within the bounds).
 */
export function apportion(total: number, weights: number[], lo: number[], hi: number[]): number[] {
  const sw = weights.reduce((s, w) => s + w, 0);
  const quota = weights.map((w) => (total * w) / sw);
  const n = quota.map((q, i) => Math.min(hi[i]!, Math.max(lo[i]!, Math.floor(q))));
  let sum = n.reduce((s, v) => s + v, 0);
  while (sum !== total) {
    let pick = -1;
    let best = -Infinity;
    for (let i = 0; i < n.length; i++) {
      if (sum < total ? n[i]! >= hi[i]! : n[i]! <= lo[i]!) continue;
      const key = sum < total ? quota[i]! - n[i]! : n[i]! - quota[i]!;
      if (key > best) {
        best = key;
        pick = i;
      }
    }
    if (pick === -1) throw new Error('apportionment is infeasible');
    n[pick]! += sum < total ? 1 : -1;
    sum += sum < total ? 1 : -1;
  }
  return n;
}
