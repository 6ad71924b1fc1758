import { WORKER_FLAGS } from '@shared/realtime';
import type { WorkerRole } from '@shared/domain';
import {
  DEFAULT_MAX_FIX_AGE_MS,
  DEFAULT_WALK_SPEED_MPS,
  boxExitLowerBoundM,
  geodesicDistanceM,
  toEcef,
  walkingEtaS,
  type Ecef,
  type NearestCandidate,
} from '@shared/dispatch';
import { systemClock, type Clock } from '../../platform/clock';
import type { Queryable } from '../../platform/db';
import { inactiveWorkerIds } from './workers-repository';
import type { LiveListener } from '../positions/ingest';
import type { LiveState, LiveWorker } from '../positions/live-state';

/** What the index follows: the ingest's live state and its change notifications. */
export interface LiveSource {
  readonly state: LiveState;
  subscribe(listener: LiveListener): () => void;
}

/** Who may be recommended. Every field is optional; defaults come from the index's options. */
export interface CandidateFilter {
  /** A fix older than this rules the worker out, ms (default 3 min). */
  maxFixAgeMs?: number;
  /** Tasks a worker can hold at once (default 1). */
  capacity?: number;
  /** Tasks the worker holds now (default: none). Called only for workers that could make the list. */
  load?: (workerId: number) => number;
  /** Only these roles (default: every role). */
  roles?: readonly WorkerRole[];
  /** Never these workers (e.g. already refused this task). */
  exclude?: ReadonlySet<number>;
  /** Only workers whose home grid path starts with this (a jurisdiction: '/140106/140106001/'). */
  within?: string | null;
  /** Nobody farther than this, m (default: no limit). */
  maxDistanceM?: number;
}

export interface NearestQuery {
  /** The task's position, WGS84 degrees. */
  lon: number;
  lat: number;
  /** The path of the task's grid: its own workers (属地, home grid path equal to it) come first. */
  gridPath?: string | null;
  /** How many candidates (default 5). */
  n?: number;
  filter?: CandidateFilter;
}

export interface NearestOptions {
  clock?: Clock;
  /** Walking pace for ETAs, m/s (default 4 km/h). */
  walkSpeedMps?: number;
  /** Default for `CandidateFilter.maxFixAgeMs`. */
  maxFixAgeMs?: number;
  /** Default for `CandidateFilter.capacity`. */
  capacity?: number;
  /** Default for `CandidateFilter.load`: the tickets module's count of open tasks per worker. */
  load?: (workerId: number) => number;
  /** Index cell size [lon, lat] in degrees (default ≈ 220 m square at Taiyuan's latitude). */
  cellDeg?: readonly [number, number];
}

/** Counters for benchmarks and health: how much work queries did. */
export interface NearestStats {
  queries: number;
  cellsVisited: number;
  entriesScanned: number;
  geodesics: number;
}

/** One indexed worker: the LiveWorker plus where the index filed it. */
interface Entry {
  readonly w: LiveWorker;
  /** Position as indexed (equal to the LiveWorker's whenever the ingest has told us of every move). */
  lon: number;
  lat: number;
  cell: Cell | null;
  /** Index in its cell's arrays. */
  slot: number;
  /** Home grid path as indexed. */
  path: string;
  active: boolean;
}

/**
 * One grid cell. Its workers' ECEF positions sit packed in one typed array, so the chord test that
 * rules most of them out reads memory in order and never touches the worker objects.
 */
class Cell {
  n = 0;
  xyz = new Float64Array(24);
  readonly entries: Entry[] = [];

  constructor(readonly key: number) {}

  add(e: Entry, p: Ecef): void {
    if (3 * this.n + 3 > this.xyz.length) {
      const grown = new Float64Array(this.xyz.length * 2);
      grown.set(this.xyz);
      this.xyz = grown;
    }
    e.cell = this;
    e.slot = this.n++;
    this.entries[e.slot] = e;
    this.put(e.slot, p);
  }

  /** Swap-remove: the last worker takes the leaver's slot. */
  remove(e: Entry): void {
    const last = --this.n;
    const moved = this.entries[last]!;
    if (moved !== e) {
      this.entries[e.slot] = moved;
      this.xyz.copyWithin(3 * e.slot, 3 * last, 3 * last + 3);
      moved.slot = e.slot;
    }
    this.entries.length = last;
    e.cell = null;
    e.slot = -1;
  }

  put(slot: number, p: Ecef): void {
    this.xyz[3 * slot] = p.x;
    this.xyz[3 * slot + 1] = p.y;
    this.xyz[3 * slot + 2] = p.z;
  }
}

/** One query's eligibility rules, resolved against the defaults. */
interface Criteria {
  minTime: number;
  capacity: number;
  load: (workerId: number) => number;
  roles: ReadonlySet<WorkerRole> | null;
  exclude: ReadonlySet<number> | null;
  within: string | null;
  maxD: number;
}

/** Online, fresh, on duty and passing the filter; the (caller's, maybe costly) load test comes last. */
function eligible(e: Entry, c: Criteria): boolean {
  const w = e.w;
  return (
    (w.flags & WORKER_FLAGS.ONLINE) !== 0 &&
    w.time >= c.minTime &&
    e.active &&
    (c.roles === null || c.roles.has(w.role)) &&
    (c.exclude === null || !c.exclude.has(w.id)) &&
    (c.within === null || e.path.startsWith(c.within))
  );
}

/** Absorbs floating-point rounding in the bounds (nanometres) and Vincenty's own error (≪ 1 mm). */
const SLACK_M = 1e-3;

const queryEcef: Ecef = { x: 0, y: 0, z: 0 };
const fixEcef: Ecef = { x: 0, y: 0, z: 0 };

/** Whether (d1, id1) ranks after (d2, id2): farther, or as far with a higher id. */
function worse(d1: number, id1: number, d2: number, id2: number): boolean {
  return d1 > d2 || (d1 === d2 && id1 > id2);
}

function byDistanceThenId(a: { e: Entry; d: number }, b: { e: Entry; d: number }): number {
  return a.d - b.d || a.e.w.id - b.e.w.id;
}

/**
 * The "nearest free worker" index: exact top-N candidates for a task, own-grid workers first, the
 * rest by true geodesic distance on WGS84 (the same figure PostGIS's `ST_Distance(geography)` gives).
 *
 * Kept in memory beside the ingest's LiveState, in step through `subscribe`, on a uniform grid of
 * small cells (~220 m): a query scans rings of cells outward from the task and stops only when a
 * rigorous lower bound on the distance to anything beyond the rings scanned (`boxExitLowerBoundM`)
 * exceeds the N-th best found, so it is exact, not approximate. Inside a ring the straight-line
 * chord (never more than the geodesic) rules most workers out before any geodesic is computed.
 * The grid does not wrap at ±180° longitude: exact anywhere but across the antimeridian.
 */
export class NearestWorkers {
  readonly stats: NearestStats = { queries: 0, cellsVisited: 0, entriesScanned: 0, geodesics: 0 };
  private readonly entries = new Map<number, Entry>();
  private readonly cells = new Map<number, Cell>();
  private readonly byPath = new Map<string, Set<Entry>>();
  private readonly inactive = new Set<number>();
  private readonly cellLon: number;
  private readonly cellLat: number;
  /** Cell keys are x · ySpan + y. */
  private readonly ySpan: number;
  private readonly clock: Clock;
  private readonly walkSpeedMps: number;
  private readonly maxFixAgeMs: number;
  private readonly capacity: number;
  private load: (workerId: number) => number;
  /** Occupied cell range (grows only): rings beyond it hold nobody. */
  private minX = Infinity;
  private maxX = -Infinity;
  private minY = Infinity;
  private maxY = -Infinity;
  private readonly unsubscribe: () => void;
  // Reused per query: the running best k as a max-heap on (distance, id), and one ring's cells.
  private readonly bestD: number[] = [];
  private readonly bestE: Entry[] = [];
  private readonly ring: Cell[] = [];

  constructor(
    private readonly source: LiveSource,
    options: NearestOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.walkSpeedMps = options.walkSpeedMps ?? DEFAULT_WALK_SPEED_MPS;
    this.maxFixAgeMs = options.maxFixAgeMs ?? DEFAULT_MAX_FIX_AGE_MS;
    this.capacity = options.capacity ?? 1;
    this.load = options.load ?? (() => 0);
    [this.cellLon, this.cellLat] = options.cellDeg ?? [0.0025, 0.002];
    if (!(this.walkSpeedMps > 0) || !(this.cellLon > 0) || !(this.cellLat > 0)) throw new RangeError('walk speed and cell size must be positive');
    this.ySpan = Math.ceil(180 / this.cellLat) + 2;
    this.resync();
    this.unsubscribe = source.subscribe({ changed: (w) => this.track(w), presence: () => undefined });
  }

  /** An index over the ingest's live state with duty status read from the database. */
  static async open(source: LiveSource, db: Queryable, options: NearestOptions = {}): Promise<NearestWorkers> {
    const index = new NearestWorkers(source, options);
    await index.reloadDuty(db);
    return index;
  }

  /** Re-reads who is on duty (`workers.active`). */
  async reloadDuty(db: Queryable): Promise<void> {
    this.setInactive(await inactiveWorkerIds(db));
  }

  /** Sets the default open-task count per worker (the tickets module supplies it). */
  setLoad(load: (workerId: number) => number): void {
    this.load = load;
  }

  /** Marks a worker on or off duty (`workers.active`); off-duty workers are never recommended. */
  setActive(workerId: number, active: boolean): void {
    if (active) this.inactive.delete(workerId);
    else this.inactive.add(workerId);
    const e = this.entries.get(workerId);
    if (e) e.active = active;
  }

  /** Replaces the whole off-duty set (after loading `workers.active`). */
  setInactive(workerIds: Iterable<number>): void {
    for (const id of [...this.inactive]) this.setActive(id, true);
    for (const id of workerIds) this.setActive(id, false);
  }

  /**
   * Re-reads every worker from the live state. Moves reported through the ingest are followed as
   * they happen; call this after anything that changes the state without telling listeners
   * (`PositionIngest.reloadWorkers()`, which re-applies stored positions and home grids).
   */
  resync(): void {
    for (const w of this.source.state.workers.values()) this.track(w);
  }

  /** Stops following the ingest. */
  close(): void {
    this.unsubscribe();
  }

  /** How many workers with a fix the index holds. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The top-N candidates for a task at (lon, lat): eligible workers (online, on duty, fix fresher
   * than `maxFixAgeMs`, fewer open tasks than `capacity`, passing the filter), those of the task's
   * own grid first, each group ordered by geodesic distance, then worker id. Exactly the list a
   * full scan would give; fewer than N when fewer are eligible (then, unless `maxDistanceM` limits
   * it, every worker is looked at: the cost of proving nobody else qualifies).
   */
  nearest(query: NearestQuery): NearestCandidate[] {
    const { lon, lat } = query;
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90) {
      throw new RangeError('the task position must be WGS84 degrees in range');
    }
    const n = Math.floor(query.n ?? 5);
    this.stats.queries++;
    if (!(n > 0)) return [];
    const f = query.filter ?? {};
    const gridPath = query.gridPath ?? null;
    const c: Criteria = {
      minTime: this.clock.now() - (f.maxFixAgeMs ?? this.maxFixAgeMs),
      capacity: f.capacity ?? this.capacity,
      load: f.load ?? this.load,
      roles: f.roles ? new Set<WorkerRole>(f.roles) : null,
      exclude: f.exclude ?? null,
      within: f.within ?? null,
      maxD: f.maxDistanceM ?? Infinity,
    };

    const out: NearestCandidate[] = [];
    // 属地 first: the task's own grid holds a handful of workers, wherever they are.
    const own = gridPath === null ? undefined : this.byPath.get(gridPath);
    if (own) {
      const found: { e: Entry; d: number }[] = [];
      for (const e of own) {
        if (!eligible(e, c) || c.load(e.w.id) >= c.capacity) continue;
        const d = geodesicDistanceM(lon, lat, e.lon, e.lat);
        this.stats.geodesics++;
        if (d <= c.maxD) found.push({ e, d });
      }
      found.sort(byDistanceThenId);
      for (const { e, d } of found.slice(0, n)) out.push(this.candidate(e, d, true));
    }
    const k = n - out.length;
    if (k > 0 && this.entries.size > 0) {
      const found = this.search(lon, lat, k, gridPath, c);
      for (const { e, d } of found) out.push(this.candidate(e, d, false));
    }
    return out;
  }

  /** Ring search for the k nearest eligible workers outside the task's own grid, nearest first. */
  private search(lon: number, lat: number, k: number, skipPath: string | null, c: Criteria): { e: Entry; d: number }[] {
    const { x: px, y: py, z: pz } = toEcef(lon, lat, queryEcef);
    const { bestD, bestE, ring, stats, cells, minX, maxX, minY, maxY, ySpan } = this;
    const maxD = c.maxD;
    let count = 0;
    // Squared chord beyond which nobody can make the list (+∞ until it is full, unless maxD).
    let lim2 = maxD === Infinity ? Infinity : (maxD + SLACK_M) ** 2;
    const cx = Math.floor((lon + 180) / this.cellLon);
    const cy = Math.floor((lat + 90) / this.cellLat);
    // Rings nearer than the occupied range are empty; beyond its far side there is nobody left.
    const first = Math.max(0, minX - cx, cx - maxX, minY - cy, cy - maxY);
    const last = Math.max(cx - minX, maxX - cx, cy - minY, maxY - cy);
    const collect = (x: number, y: number) => {
      const cell = cells.get(x * ySpan + y);
      if (cell) ring.push(cell);
    };

    for (let r = first; r <= last; r++) {
      if (r > 0) {
        // Everything unscanned lies outside the box of rings 0 … r-1 around the task's cell.
        const limit = count === k ? bestD[0]! : maxD;
        if (limit !== Infinity) {
          const bound = boxExitLowerBoundM(
            lon,
            lat,
            (cx - r + 1) * this.cellLon - 180,
            (cy - r + 1) * this.cellLat - 90,
            (cx + r) * this.cellLon - 180,
            (cy + r) * this.cellLat - 90,
          );
          if (bound - SLACK_M > limit) break;
        }
      }
      ring.length = 0;
      if (r === 0) collect(cx, cy);
      else {
        // Left and right columns whole, then the top and bottom rows between them.
        const y0 = Math.max(cy - r, minY), y1 = Math.min(cy + r, maxY);
        if (cx - r >= minX) for (let y = y0; y <= y1; y++) collect(cx - r, y);
        if (cx + r <= maxX) for (let y = y0; y <= y1; y++) collect(cx + r, y);
        const x0 = Math.max(cx - r + 1, minX), x1 = Math.min(cx + r - 1, maxX);
        if (cy - r >= minY) for (let x = x0; x <= x1; x++) collect(x, cy - r);
        if (cy + r <= maxY) for (let x = x0; x <= x1; x++) collect(x, cy + r);
      }
      for (const cell of ring) {
        const { xyz, entries } = cell;
        const m = cell.n;
        stats.cellsVisited++;
        stats.entriesScanned += m;
        for (let i = 0; i < m; i++) {
          // The chord never exceeds the geodesic: beyond the limit, the worker cannot make the list.
          const dx = xyz[3 * i]! - px, dy = xyz[3 * i + 1]! - py, dz = xyz[3 * i + 2]! - pz;
          if (dx * dx + dy * dy + dz * dz > lim2) continue;
          const e = entries[i]!;
          if (e.path === skipPath || !eligible(e, c) || c.load(e.w.id) >= c.capacity) continue;
          const d = geodesicDistanceM(lon, lat, e.lon, e.lat);
          stats.geodesics++;
          if (d > maxD) continue;
          const id = e.w.id;
          if (count < k) {
            // Sift up: the heap's root is the worst of the best k so far.
            let j = count++;
            while (j > 0) {
              const parent = (j - 1) >> 1;
              if (!worse(d, id, bestD[parent]!, bestE[parent]!.w.id)) break;
              bestD[j] = bestD[parent]!;
              bestE[j] = bestE[parent]!;
              j = parent;
            }
            bestD[j] = d;
            bestE[j] = e;
          } else if (worse(bestD[0]!, bestE[0]!.w.id, d, id)) {
            // Replace the root and sift down.
            let j = 0;
            for (;;) {
              const l = 2 * j + 1;
              if (l >= k) break;
              const rr = l + 1;
              const ch = rr < k && worse(bestD[rr]!, bestE[rr]!.w.id, bestD[l]!, bestE[l]!.w.id) ? rr : l;
              if (!worse(bestD[ch]!, bestE[ch]!.w.id, d, id)) break;
              bestD[j] = bestD[ch]!;
              bestE[j] = bestE[ch]!;
              j = ch;
            }
            bestD[j] = d;
            bestE[j] = e;
          } else continue;
          if (count === k) lim2 = (bestD[0]! + SLACK_M) ** 2;
        }
      }
    }
    const found: { e: Entry; d: number }[] = [];
    for (let i = 0; i < count; i++) found.push({ e: bestE[i]!, d: bestD[i]! });
    found.sort(byDistanceThenId);
    // Hold no worker between queries.
    bestE.length = 0;
    ring.length = 0;
    return found;
  }

  private candidate(e: Entry, d: number, ownGrid: boolean): NearestCandidate {
    const w = e.w;
    return { workerId: w.id, role: w.role, path: e.path, ownGrid, lon: e.lon, lat: e.lat, fixTime: w.time, distanceM: d, etaS: walkingEtaS(d, this.walkSpeedMps) };
  }

  /** Files a worker where its live record now says it is (new, moved or re-homed). */
  private track(w: LiveWorker): void {
    if (!w.hasFix) return;
    let e = this.entries.get(w.id);
    if (!e) {
      e = { w, lon: NaN, lat: NaN, cell: null, slot: -1, path: w.path, active: !this.inactive.has(w.id) };
      this.entries.set(w.id, e);
      this.addToPath(e);
    } else if (e.path !== w.path) {
      const set = this.byPath.get(e.path);
      set?.delete(e);
      if (set?.size === 0) this.byPath.delete(e.path);
      e.path = w.path;
      this.addToPath(e);
    }
    if (e.lon === w.lon && e.lat === w.lat) return;
    e.lon = w.lon;
    e.lat = w.lat;
    const p = toEcef(w.lon, w.lat, fixEcef);
    const x = Math.floor((w.lon + 180) / this.cellLon);
    const y = Math.floor((w.lat + 90) / this.cellLat);
    const key = x * this.ySpan + y;
    if (e.cell?.key === key) {
      e.cell.put(e.slot, p);
      return;
    }
    if (e.cell) {
      const old = e.cell;
      old.remove(e);
      if (old.n === 0) this.cells.delete(old.key);
    }
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = new Cell(key)));
    cell.add(e, p);
    if (x < this.minX) this.minX = x;
    if (x > this.maxX) this.maxX = x;
    if (y < this.minY) this.minY = y;
    if (y > this.maxY) this.maxY = y;
  }

  private addToPath(e: Entry): void {
    let set = this.byPath.get(e.path);
    if (!set) this.byPath.set(e.path, (set = new Set()));
    set.add(e);
  }
}
