import { beforeAll, describe, expect, it } from 'vitest';
import { WORKER_FLAGS } from '@shared/realtime';
import { WORKER_ROLES, type WorkerRole } from '@shared/domain';
import { geodesicDistanceM, type NearestCandidate } from '@shared/dispatch';
import { ManualClock } from '../../server/platform/clock';
import { LiveState, type LiveWorker } from '../../server/modules/positions/live-state';
import type { LiveListener } from '../../server/modules/positions/ingest';
import { NearestWorkers, type CandidateFilter, type LiveSource } from '../../server/modules/dispatch/nearest';
import { createRandom } from '@shared/random';

/** Deterministic uniform numbers, the product's one seeded generator. */
const random = (seed: number) => createRandom(seed);

/**
 * A real LiveState with the ingest's notification contract (applyFix, then `changed`), without
 * devices and a database: the index only ever sees these two things of the ingest.
 */
class Source implements LiveSource {
  readonly state = new LiveState();
  private readonly listeners = new Set<LiveListener>();
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  move(w: LiveWorker, lon: number, lat: number, time: number, online = true): void {
    const flags = online ? WORKER_FLAGS.ONLINE : 0;
    this.state.applyFix(w, { lon, lat, time, speed: 1, battery: 80, flags });
    for (const l of this.listeners) l.changed(w);
  }
}

const BOX = { w: 112.5, s: 37.75, e: 112.75, n: 37.92 };
const GRIDS = 20_000; // about five workers a grid, as in Yingze
const gridPath = (g: number) => `/140105/${140105000 + (g % 40)}/${g % 400}/${g}/`;

interface World {
  source: Source;
  clock: ManualClock;
  index: NearestWorkers;
  inactive: Set<number>;
  load: Map<number, number>;
}

function buildWorld(count: number, seed: number): World {
  const next = random(seed);
  const clock = new ManualClock(Date.parse('2026-11-22T02:00:00Z'));
  const source = new Source();
  const now = clock.now();
  const inactive = new Set<number>();
  const load = new Map<number, number>();
  for (let id = 1; id <= count; id++) {
    const role = WORKER_ROLES[Math.floor(next() * WORKER_ROLES.length)]!;
    const w = source.state.upsertWorker(id, role, gridPath(Math.floor(next() * GRIDS)));
    const fresh = next() < 0.9;
    // Fresh: up to 170 s old; stale: 200 s – 10 min (some still flagged online, as before the sweep).
    const time = fresh ? now - next() * 170_000 : now - 200_000 - next() * 400_000;
    source.move(w, BOX.w + next() * (BOX.e - BOX.w), BOX.s + next() * (BOX.n - BOX.s), Math.round(time), next() < 0.9);
    if (next() < 0.05) inactive.add(id);
    const busy = next();
    if (busy < 0.1) load.set(id, 1);
    else if (busy < 0.12) load.set(id, 2);
  }
  // Ties: groups of workers at exactly the same spot, and pairs mirrored about a meridian.
  for (let g = 0; g < 300; g++) {
    const lon = BOX.w + next() * (BOX.e - BOX.w), lat = BOX.s + next() * (BOX.n - BOX.s);
    for (let j = 0; j < 3; j++) {
      const w = source.state.workers.get(1 + Math.floor(next() * count))!;
      source.move(w, lon, lat, now - 1000);
    }
  }
  const index = new NearestWorkers(source, { clock, load: (id) => load.get(id) ?? 0 });
  index.setInactive(inactive);
  return { source, clock, index, inactive, load };
}

interface Query {
  lon: number;
  lat: number;
  gridPath: string | null;
  n: number;
  filter: CandidateFilter;
}

/** The specification, by brute force: every worker, the same eligibility, a full sort. */
function bruteForce(world: World, q: Query): Pick<NearestCandidate, 'workerId' | 'ownGrid' | 'distanceM'>[] {
  const maxAge = q.filter.maxFixAgeMs ?? 180_000;
  const capacity = q.filter.capacity ?? 1;
  const load = q.filter.load ?? ((id: number) => world.load.get(id) ?? 0);
  const all: { workerId: number; ownGrid: boolean; distanceM: number }[] = [];
  for (const w of world.source.state.workers.values()) {
    if (!w.hasFix || !LiveState.isOnline(w) || world.clock.now() - w.time > maxAge) continue;
    if (world.inactive.has(w.id) || load(w.id) >= capacity) continue;
    if (q.filter.roles && !q.filter.roles.includes(w.role)) continue;
    if (q.filter.exclude?.has(w.id)) continue;
    const distanceM = geodesicDistanceM(q.lon, q.lat, w.lon, w.lat);
    if (distanceM > (q.filter.maxDistanceM ?? Infinity)) continue;
    all.push({ workerId: w.id, ownGrid: w.path === q.gridPath, distanceM });
  }
  all.sort((a, b) => Number(b.ownGrid) - Number(a.ownGrid) || a.distanceM - b.distanceM || a.workerId - b.workerId);
  return all.slice(0, q.n);
}

const ask = (world: World, q: Query) =>
  world.index.nearest(q).map((c) => ({ workerId: c.workerId, ownGrid: c.ownGrid, distanceM: c.distanceM }));

function randomQuery(world: World, next: () => number): Query {
  const outside = next() < 0.1;
  const lon = outside ? BOX.w - 0.05 + next() * 0.35 : BOX.w + next() * (BOX.e - BOX.w);
  const lat = outside ? BOX.s - 0.05 + next() * 0.27 : BOX.s + next() * (BOX.n - BOX.s);
  const pick = next();
  // The grid of a worker near the task (so its own workers are mixed in), any grid, or none.
  let path: string | null = null;
  if (pick < 0.4) {
    const near = world.index.nearest({ lon, lat, n: 1, filter: { capacity: Infinity, maxFixAgeMs: Infinity } })[0];
    path = near?.path ?? null;
  } else if (pick < 0.7) path = gridPath(Math.floor(next() * GRIDS));
  const filter: CandidateFilter = {};
  if (next() < 0.2) filter.roles = WORKER_ROLES.filter(() => next() < 0.5) as WorkerRole[];
  if (next() < 0.2) filter.capacity = 2;
  if (next() < 0.1) filter.maxDistanceM = next() * 500;
  if (next() < 0.1) filter.maxFixAgeMs = 60_000;
  if (next() < 0.1) filter.exclude = new Set(Array.from({ length: 200 }, () => 1 + Math.floor(next() * world.source.state.workers.size)));
  const n = [1, 2, 3, 5, 10, 25, 100][Math.floor(next() * 7)]!;
  return { lon, lat, gridPath: path, n, filter };
}

describe('nearest free workers among 100,000', () => {
  let world: World;
  beforeAll(() => {
    world = buildWorld(100_000, 42);
  }, 60_000);

  it('equals a brute-force exact scan for many random tasks, filters and N', () => {
    const next = random(7);
    let ownSeen = 0;
    for (let i = 0; i < 60; i++) {
      const q = randomQuery(world, next);
      const got = ask(world, q);
      expect(got, JSON.stringify(q)).toEqual(bruteForce(world, q));
      ownSeen += got.filter((c) => c.ownGrid).length;
    }
    // The cases the comparison is meant to cover did occur.
    expect(ownSeen).toBeGreaterThan(10);
  }, 120_000);

  it('orders workers at exactly the same distance by id', () => {
    // A tie group from buildWorld: three workers moved onto one point, all made eligible.
    const byPlace = new Map<string, number[]>();
    for (const w of world.source.state.workers.values()) {
      const key = `${w.lon},${w.lat}`;
      byPlace.set(key, [...(byPlace.get(key) ?? []), w.id]);
    }
    const [key, ids] = [...byPlace].find(([, group]) => group.length >= 3)!;
    for (const id of ids) {
      world.inactive.delete(id);
      world.index.setActive(id, true);
      world.load.delete(id);
    }
    const [lon, lat] = key.split(',').map(Number) as [number, number];
    const q: Query = { lon: lon + 0.00003, lat, gridPath: null, n: 5, filter: {} };
    const got = ask(world, q);
    expect(got).toEqual(bruteForce(world, q));
    const tied = got.filter((c) => c.distanceM === got[0]!.distanceM).map((c) => c.workerId);
    expect(tied).toEqual([...ids].sort((a, b) => a - b));
  });

  it('returns every eligible worker, in order, when N exceeds them', () => {
    const q: Query = { lon: 112.6, lat: 37.85, gridPath: null, n: 200_000, filter: { roles: ['grid_leader'] } };
    const got = ask(world, q);
    const expected = bruteForce(world, q);
    expect(expected.length).toBeGreaterThan(1000);
    expect(expected.length).toBeLessThan(q.n);
    expect(got).toEqual(expected);
  }, 30_000);

  it('puts the task’s own grid first even when its workers are far away', () => {
    const far = world.source.state.workers.get(77)!;
    world.source.move(far, BOX.e, BOX.n, world.clock.now()); // a corner of the city
    world.inactive.delete(77);
    world.index.setActive(77, true);
    world.load.delete(77);
    const q: Query = { lon: BOX.w, lat: BOX.s, gridPath: far.path, n: 10, filter: {} };
    const got = world.index.nearest(q);
    const own = got.filter((c) => c.ownGrid);
    expect(own.map((c) => c.workerId)).toContain(77);
    expect(got.slice(0, own.length)).toEqual(own); // own grid first…
    expect(got[own.length]!.distanceM).toBeLessThan(own.at(-1)!.distanceM); // …however far
    expect(own.find((c) => c.workerId === 77)!.distanceM).toBeGreaterThan(20_000);
    expect(got.map((c) => ({ workerId: c.workerId, ownGrid: c.ownGrid, distanceM: c.distanceM }))).toEqual(bruteForce(world, q));
    for (const c of got) expect(c.etaS).toBe(Math.round(c.distanceM / (4 / 3.6)));
  });

  it('leaves out offline, stale, off-duty and busy workers', () => {
    const next = random(11);
    const w = world.source.state.workers.get(1 + Math.floor(next() * 100_000))!;
    const spot = { lon: 112.61, lat: 37.83 };
    world.source.move(w, spot.lon, spot.lat, world.clock.now());
    world.inactive.delete(w.id);
    world.index.setActive(w.id, true);
    world.load.delete(w.id);
    const first = () => world.index.nearest({ ...spot, n: 1 })[0]?.workerId;
    expect(first()).toBe(w.id);
    world.source.move(w, spot.lon, spot.lat, world.clock.now() + 1, false); // offline
    expect(first()).not.toBe(w.id);
    world.source.move(w, spot.lon, spot.lat, world.clock.now() - 181_000); // online, fix 3 min old
    expect(first()).not.toBe(w.id);
    world.source.move(w, spot.lon, spot.lat, world.clock.now());
    expect(first()).toBe(w.id);
    world.index.setActive(w.id, false);
    expect(first()).not.toBe(w.id);
    world.index.setActive(w.id, true);
    world.load.set(w.id, 1);
    expect(first()).not.toBe(w.id);
    expect(world.index.nearest({ ...spot, n: 1, filter: { capacity: 2 } })[0]?.workerId).toBe(w.id);
    world.load.delete(w.id);
  });

  it('follows moves as they are applied, and stays exact', () => {
    const next = random(13);
    const now = world.clock.now();
    for (let i = 0; i < 20_000; i++) {
      const w = world.source.state.workers.get(1 + Math.floor(next() * 100_000))!;
      // Mostly a short walk, sometimes a jump across town; some go offline.
      const jump = next() < 0.1;
      const lon = jump ? BOX.w + next() * (BOX.e - BOX.w) : Math.min(BOX.e, Math.max(BOX.w, w.lon + (next() - 0.5) * 0.004));
      const lat = jump ? BOX.s + next() * (BOX.n - BOX.s) : Math.min(BOX.n, Math.max(BOX.s, w.lat + (next() - 0.5) * 0.004));
      world.source.move(w, lon, lat, now + 1 + i, next() < 0.95);
    }
    world.clock.advance(30_000);
    for (let i = 0; i < 30; i++) {
      const q = randomQuery(world, next);
      expect(ask(world, q), JSON.stringify(q)).toEqual(bruteForce(world, q));
    }
  }, 120_000);
});

describe('keeping in step with the live state', () => {
  it('resync() picks up moves and re-homing that were never announced', () => {
    const world = buildWorld(2000, 5);
    const next = random(17);
    // What PositionIngest.load() does on a reload: applyFix and upsertWorker, no notifications.
    for (let i = 0; i < 500; i++) {
      const w = world.source.state.workers.get(1 + Math.floor(next() * 2000))!;
      world.source.state.applyFix(w, { lon: BOX.w + next() * (BOX.e - BOX.w), lat: BOX.s + next() * (BOX.n - BOX.s), time: world.clock.now(), speed: 0, battery: 50, flags: WORKER_FLAGS.ONLINE });
      world.source.state.upsertWorker(w.id, w.role, gridPath(Math.floor(next() * 50)));
    }
    world.index.resync();
    for (let i = 0; i < 60; i++) {
      const q = randomQuery(world, next);
      q.gridPath = next() < 0.7 ? gridPath(Math.floor(next() * 50)) : q.gridPath;
      expect(ask(world, q)).toEqual(bruteForce(world, q));
    }
  });

  it('indexes a worker at its first fix and forgets nobody after close()', () => {
    const source = new Source();
    const clock = new ManualClock();
    const index = new NearestWorkers(source, { clock });
    expect(index.nearest({ lon: 112.6, lat: 37.85, n: 3 })).toEqual([]);
    const w = source.state.upsertWorker(1, 'full_time', gridPath(1));
    source.move(w, 112.6, 37.85, clock.now());
    expect(index.nearest({ lon: 112.6, lat: 37.85, n: 3 }).map((c) => c.workerId)).toEqual([1]);
    index.close();
    source.move(w, 112.7, 37.9, clock.now() + 1000);
    // No longer following: the index still holds the position it last saw.
    expect(index.nearest({ lon: 112.6, lat: 37.85, n: 1 })[0]).toMatchObject({ workerId: 1, lon: 112.6, distanceM: 0 });
  });

  it('rejects a task position that is not WGS84 degrees', () => {
    const index = new NearestWorkers(new Source());
    expect(() => index.nearest({ lon: NaN, lat: 37.85 })).toThrow(RangeError);
    expect(() => index.nearest({ lon: 112.6, lat: 95 })).toThrow(RangeError);
  });
});
