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
}

/**
 * The newest position of every worker, in memory; the database holds the durable copy. "Who is
 * near" is answered by dispatch's own index (modules/dispatch/nearest.ts), which follows this state.
 */
export class LiveState {
  readonly workers = new Map<number, LiveWorker>();

  upsertWorker(id: number, role: WorkerRole, path: string): LiveWorker {
    let w = this.workers.get(id);
    if (!w) {
      w = { id, role, path, hasFix: false, lon: NaN, lat: NaN, time: 0, speed: NaN, battery: -1, flags: 0 };
      this.workers.set(id, w);
    } else {
      w.role = role;
      w.path = path;
    }
    return w;
  }

  /** Moves a worker to a newer fix. */
  applyFix(w: LiveWorker, fix: { lon: number; lat: number; time: number; speed: number; battery: number; flags: number }): void {
    w.hasFix = true;
    w.lon = fix.lon;
    w.lat = fix.lat;
    w.time = fix.time;
    w.speed = fix.speed;
    w.battery = fix.battery;
    w.flags = fix.flags;
  }

  static record(w: LiveWorker): WorkerRecord {
    return { id: w.id, lon: w.lon, lat: w.lat, time: w.time, speed: w.speed, battery: w.battery, flags: w.flags };
  }

  static isOnline(w: LiveWorker): boolean {
    return (w.flags & WORKER_FLAGS.ONLINE) !== 0;
  }
}
