/**
 * Where to put the map's text labels so that none covers another, the ticket's marker or any
 * worker's dot: a greedy placement in screen pixels (the most important label first), trying the
 * eight sides of its point close in, then farther out on sixteen bearings with a leader line back
 * to the point. Pure: the map projects, this decides, the map moves the elements.
 */

/** A screen rectangle, CSS pixels: left, top, width, height. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelRequest<K> {
  key: K;
  /** The point labelled (its dot's centre), screen pixels. */
  px: number;
  py: number;
  /** The label's size. */
  w: number;
  h: number;
  /** The dot's radius: the label starts beyond it. */
  r: number;
}

export interface LabelPlacement<K> {
  key: K;
  box: Box;
  /** Placed away from its point: draw a line from the point to `to`. */
  leader: boolean;
  /** The label's point nearest the dot (where a leader line ends). */
  to: { x: number; y: number };
  /** Nothing free was found: the least-covered spot, which overlaps something. */
  overlaps: boolean;
}

export function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** How much of `a` lies outside `bounds`. */
function outside(a: Box, bounds: Box): number {
  return a.w * a.h - overlapArea(a, bounds);
}

/** The eight sides, nearest first in reading order: right, left, above, below, then the corners. */
const NEAR: ReadonlyArray<readonly [number, number]> = [
  [1, 0], [-1, 0], [0, -1], [0, 1], [1, -1], [-1, -1], [1, 1], [-1, 1],
];
/** Sixteen bearings for the outer rings. */
const FAR: ReadonlyArray<readonly [number, number]> = Array.from({ length: 16 }, (_, i) => {
  const a = (i * Math.PI) / 8;
  return [Math.cos(a), Math.sin(a)] as const;
});

/** A side of a box: -1, 0 or 1 from a direction's component (0 within ±22.5°). */
const side = (v: number): number => (Math.abs(v) < 0.38 ? 0 : Math.sign(v));

/** The box of a label whose nearest edge or corner lies `d` from (px, py) in direction (dx, dy). */
function boxAt(px: number, py: number, w: number, h: number, dx: number, dy: number, d: number): { box: Box; to: { x: number; y: number } } {
  const len = Math.hypot(dx, dy) || 1;
  const ax = px + (dx / len) * d;
  const ay = py + (dy / len) * d;
  const sx = side(dx / len);
  const sy = side(dy / len);
  // sx 1: the box starts at ax; -1: ends there; 0: centred on it (likewise vertically).
  const x = ax - (w / 2) * (1 - sx);
  const y = ay - (h / 2) * (1 - sy);
  return { box: { x, y, w, h }, to: { x: Math.min(Math.max(px, x), x + w), y: Math.min(Math.max(py, y), y + h) } };
}

/**
 * Places the labels in order (the first gets the best spot): each avoids the `obstacles`, the
 * labels already placed and, where it can, the edges of `bounds`. `gap` is the free space kept
 * around each label, px.
 */
export function placeLabels<K>(requests: readonly LabelRequest<K>[], obstacles: readonly Box[], bounds: Box, gap = 4, rings = 6): LabelPlacement<K>[] {
  const taken: Box[] = [];
  const out: LabelPlacement<K>[] = [];
  const grow = (b: Box): Box => ({ x: b.x - gap / 2, y: b.y - gap / 2, w: b.w + gap, h: b.h + gap });
  const blocked = obstacles.map(grow);
  for (const q of requests) {
    let best: { box: Box; to: { x: number; y: number }; leader: boolean; cost: number } | null = null;
    search: for (let ring = 0; ring < rings; ring++) {
      const d = q.r + gap + ring * Math.max(q.h, 12);
      for (const [dx, dy] of ring === 0 ? NEAR : FAR) {
        const at = boxAt(q.px, q.py, q.w, q.h, dx, dy, d);
        const g = grow(at.box);
        let cost = 0;
        for (const b of blocked) cost += overlapArea(g, b);
        for (const b of taken) cost += overlapArea(g, b);
        const free = cost === 0;
        // Off the map is tolerated only when nothing else is free.
        cost += outside(at.box, bounds) * 0.5;
        if (!best || cost < best.cost) best = { ...at, leader: ring > 0, cost };
        if (free && outside(at.box, bounds) === 0) break search;
      }
    }
    const chosen = best!;
    taken.push(grow(chosen.box));
    const overlapsSomething = blocked.some((b) => intersects(grow(chosen.box), b)) || taken.slice(0, -1).some((b) => intersects(grow(chosen.box), b));
    out.push({ key: q.key, box: chosen.box, leader: chosen.leader, to: chosen.to, overlaps: overlapsSomething });
  }
  return out;
}
