import { WORKER_FLAGS, type WorkerRecord } from '@shared/realtime';
import type { WorkerRole } from '@shared/domain';

/** A worker as the live pipeline knows them: static facts plus the newest fix. */
export interface LiveWorker {
  id: number;
  role: WorkerRole;
  /** Path of the home grid ('/district/street/community/grid/'): decides who may see them. */
  path: string;
  hasFix: boolean;
  lon: number;
  lat: number;
  /** Time of the newest fix, ms. */
  time: number;
  speed: number;
  battery: number;
  flags: number;
  cell: number;
}

const CELL_DEG = 0.01; // ≈ 1.1 km × 0.9 km at Taiyuan's latitude

function cellKey(lon: number, lat: number): number {
  return Math.floor((lon + 180) / CELL_DEG) * 100_000 + Math.floor((lat + 90) / CELL_DEG);
}

/**
 * The newest position of every worker, in memory, with a uniform-grid spatial index (cells of
 * 0.01°) so "who is near this point" never scans everyone. The database holds the durable copy.
 */
export class LiveState {
  readonly workers = new Map<number, LiveWorker>();
  private readonly cells = new Map<number, Set<number>>();

  upsertWorker(id: number, role: WorkerRole, path: string): LiveWorker {
    let w = this.workers.get(id);
    if (!w) {
      w = { id, role, path, hasFix: false, lon: NaN, lat: NaN, time: 0, speed: NaN, battery: -1, flags: 0, cell: -1 };
      this.workers.set(id, w);
    } else {
      w.role = role;
      w.path = path;
    }
    return w;
  }

  /** Moves a worker to a newer fix, keeping the spatial index in step. */
  applyFix(w: LiveWorker, fix: { lon: number; lat: number; time: number; speed: number; battery: number; flags: number }): void {
    const cell = cellKey(fix.lon, fix.lat);
    if (cell !== w.cell) {
      if (w.cell >= 0) this.cells.get(w.cell)?.delete(w.id);
      let set = this.cells.get(cell);
      if (!set) this.cells.set(cell, (set = new Set()));
      set.add(w.id);
      w.cell = cell;
    }
    w.hasFix = true;
    w.lon = fix.lon;
    w.lat = fix.lat;
    w.time = fix.time;
    w.speed = fix.speed;
    w.battery = fix.battery;
    w.flags = fix.flags;
  }

  /** Workers whose newest fix lies in the cells overlapping a bbox. */
  *within(minLon: number, minLat: number, maxLon: number, maxLat: number): Generator<LiveWorker> {
    const x0 = Math.floor((minLon + 180) / CELL_DEG), x1 = Math.floor((maxLon + 180) / CELL_DEG);
    const y0 = Math.floor((minLat + 90) / CELL_DEG), y1 = Math.floor((maxLat + 90) / CELL_DEG);
    for (let x = x0; x <= x1; x++) {
      for (let y = y0; y <= y1; y++) {
        const set = this.cells.get(x * 100_000 + y);
        if (!set) continue;
        for (const id of set) {
          const w = this.workers.get(id)!;
          if (w.lon >= minLon && w.lon <= maxLon && w.lat >= minLat && w.lat <= maxLat) yield w;
        }
      }
    }
  }

  static record(w: LiveWorker): WorkerRecord {
    return { id: w.id, lon: w.lon, lat: w.lat, time: w.time, speed: w.speed, battery: w.battery, flags: w.flags };
  }

  static isOnline(w: LiveWorker): boolean {
    return (w.flags & WORKER_FLAGS.ONLINE) !== 0;
  }
}
