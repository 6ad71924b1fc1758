import { describe, expect, it } from 'vitest';
import { intersects, placeLabels, type Box, type LabelRequest } from '@client/components/desk/label-placement';

const bounds: Box = { x: 0, y: 0, w: 800, h: 600 };
const ticket: Box = { x: 390, y: 290, w: 20, h: 20 };

function label(key: number, px: number, py: number, w = 110, h = 22): LabelRequest<number> {
  return { key, px, py, w, h, r: 9 };
}

describe('placing map labels without collisions', () => {
  it('puts a lone label right of its point, beside the dot', () => {
    const [p] = placeLabels([label(1, 100, 100)], [], bounds);
    expect(p!.box).toEqual({ x: 100 + 9 + 4, y: 100 - 11, w: 110, h: 22 });
    expect(p!.leader).toBe(false);
    expect(p!.overlaps).toBe(false);
  });

  it('never covers the ticket marker, however close the worker stands to it', () => {
    // A worker 12 px right of the ticket: the label goes to a side clear of the marker.
    const placed = placeLabels([label(1, 412, 300)], [ticket], bounds);
    expect(intersects(placed[0]!.box, ticket)).toBe(false);
    expect(placed[0]!.overlaps).toBe(false);
  });

  it('separates ten labels crowded around one corner, none over another or over a dot', () => {
    // Ten workers within 40 px of each other next to the ticket (a dense block of flats).
    const points = Array.from({ length: 10 }, (_, i) => [400 + (i % 4) * 12, 300 + Math.floor(i / 4) * 12] as const);
    const dots = points.map(([x, y]) => ({ x: x - 9, y: y - 9, w: 18, h: 18 }));
    const placed = placeLabels(points.map(([x, y], i) => label(i + 1, x, y)), [ticket, ...dots], bounds);
    expect(placed).toHaveLength(10);
    for (const p of placed) {
      expect(p.overlaps, `label ${p.key}`).toBe(false);
      expect(intersects(p.box, ticket)).toBe(false);
      for (const d of dots) expect(intersects(p.box, d), `label ${p.key} over a dot`).toBe(false);
      expect(p.box.x >= 0 && p.box.y >= 0 && p.box.x + p.box.w <= 800 && p.box.y + p.box.h <= 600).toBe(true);
    }
    for (let i = 0; i < placed.length; i++) {
      for (let j = i + 1; j < placed.length; j++) expect(intersects(placed[i]!.box, placed[j]!.box), `${i + 1} and ${j + 1}`).toBe(false);
    }
    // The far ones say where they belong.
    expect(placed.some((p) => p.leader)).toBe(true);
  });

  it('keeps a label at the map’s edge inside the map', () => {
    const [p] = placeLabels([label(1, 790, 300)], [], bounds);
    expect(p!.box.x + p!.box.w).toBeLessThanOrEqual(800);
    expect(p!.box.x + p!.box.w).toBeLessThanOrEqual(790);
  });

  it('says so when nothing is free', () => {
    const wall = { x: -1000, y: -1000, w: 3000, h: 3000 };
    const [p] = placeLabels([label(1, 100, 100)], [wall], bounds);
    expect(p!.overlaps).toBe(true);
  });
});
