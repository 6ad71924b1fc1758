/**
 * Patrol behaviour of one simulated grid worker, with no I/O: walking between random waypoints
 * inside the home grid at 3–5 km/h, shifts by time of day (Asia/Shanghai), battery drain and the
 * odd dead zone whose fixes are buffered and sent late. Sent to a task, the worker walks straight
 * to it (leaving the grid if need be), stays there while handling it, then walks back and patrols
 * on. Deterministic from its seed.
 */
import { createRandom } from '@shared/random';
import { pointInPolygon } from '@shared/geo';
import { shanghaiHour } from '@shared/shanghai-time';

export type Polygon = number[][][];

export interface Fix {
  time: number;
  lon: number;
  lat: number;
  /** m/s */
  speed: number;
  heading: number;
  battery: number;
  accuracy: number;
}

const M_PER_DEG_LAT = 111_320;

/** Hours (Asia/Shanghai) of the shift a worker is on duty. */
const SHIFTS = [
  { from: 8, to: 18, weight: 0.7 },
  { from: 12, to: 21, weight: 0.2 },
  { from: 20, to: 8, weight: 0.1 },
] as const;

function inShift(from: number, to: number, hour: number): boolean {
  return from < to ? hour >= from && hour < to : hour >= from || hour < to;
}

export class PatrolWorker {
  lon: number;
  lat: number;
  battery: number;
  private target: [number, number];
  private readonly speed: number;
  private readonly random: () => number;
  private readonly shift: { from: number; to: number };
  private readonly bbox: [number, number, number, number];
  private deadUntil = 0;
  readonly buffered: Fix[] = [];
  private wasOnDuty = false;
  /** Where the task the worker is handling lies, if any. */
  private task: [number, number] | null = null;
  /** Walking back into the home grid after a task elsewhere. */
  private returning = false;

  constructor(
    readonly workerId: number,
    readonly device: string,
    private readonly polygons: Polygon[],
    seed: string,
  ) {
    this.random = createRandom(seed);
    const xs = polygons.flatMap((p) => p[0]!.map((c) => c[0]!));
    const ys = polygons.flatMap((p) => p[0]!.map((c) => c[1]!));
    this.bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    [this.lon, this.lat] = this.randomPoint();
    this.target = this.randomPoint();
    this.speed = (3 + this.random() * 2) / 3.6; // 3–5 km/h in m/s
    this.battery = 60 + this.random() * 40;
    let r = this.random();
    const shift = SHIFTS.find((s) => (r -= s.weight) < 0) ?? SHIFTS[0];
    this.shift = { from: shift.from, to: shift.to };
  }

  inside(lon: number, lat: number): boolean {
    return this.polygons.some((p) => pointInPolygon(lon, lat, p));
  }

  private randomPoint(): [number, number] {
    const [x0, y0, x1, y1] = this.bbox;
    for (let i = 0; i < 200; i++) {
      const lon = x0 + this.random() * (x1 - x0);
      const lat = y0 + this.random() * (y1 - y0);
      if (this.inside(lon, lat)) return [lon, lat];
    }
    return [this.lon ?? (x0 + x1) / 2, this.lat ?? (y0 + y1) / 2];
  }

  /** Sends the worker to a task's place: they walk straight there and stay until released. */
  goTo(lon: number, lat: number): void {
    this.task = [lon, lat];
    this.target = [lon, lat];
    this.returning = false;
  }

  /** The task is done (or taken away): back to patrolling the home grid. */
  release(): void {
    if (!this.task) return;
    this.task = null;
    this.target = this.randomPoint();
    this.returning = !this.inside(this.lon, this.lat);
  }

  /** Whether the worker is on a task or on the way back from one (not patrolling their grid). */
  get busy(): boolean {
    return this.task !== null || this.returning;
  }

  /** Whether the worker stands at their task's place. */
  get atTask(): boolean {
    return this.task !== null && this.lon === this.task[0] && this.lat === this.task[1];
  }

  /** Walking speed, m/s. */
  get walkSpeed(): number {
    return this.speed;
  }

  onDuty(t: number): boolean {
    return inShift(this.shift.from, this.shift.to, shanghaiHour(t));
  }

  /**
   * Advances `dt` seconds to time `t`. Returns the fixes to send now: none when off duty, with a
   * dead battery or inside a dead zone (then they are buffered), else the buffered ones and this.
   */
  step(t: number, dt: number): Fix[] {
    const onDuty = this.onDuty(t);
    if (onDuty && !this.wasOnDuty) this.battery = Math.max(this.battery, 55 + this.random() * 45); // charged at home
    this.wasOnDuty = onDuty;
    if (!onDuty || this.battery <= 5) return [];
    this.walk(dt);
    this.battery -= (dt / 3600) * (6 + this.random() * 4);
    const fix = this.fix(t);
    if (t < this.deadUntil) {
      this.buffered.push(fix);
      return [];
    }
    if (this.random() < 0.002) {
      // Entering a dead zone (basement, lift, dense block): 2–6 minutes without signal.
      this.deadUntil = t + (2 + this.random() * 4) * 60_000;
      this.buffered.push(fix);
      return [];
    }
    const out = this.buffered.splice(0, this.buffered.length);
    out.push(fix);
    return out;
  }

  private walk(dt: number): void {
    const mPerDegLon = M_PER_DEG_LAT * Math.cos((this.lat * Math.PI) / 180);
    let remaining = this.speed * dt;
    if (this.task || this.returning) {
      // Straight to the task (or back into the grid), wherever the grid's edge is.
      const [tx, ty] = this.task ?? this.target;
      const dx = (tx - this.lon) * mPerDegLon;
      const dy = (ty - this.lat) * M_PER_DEG_LAT;
      const dist = Math.hypot(dx, dy);
      if (dist <= remaining) {
        [this.lon, this.lat] = [tx, ty];
      } else {
        this.lon += (dx / dist) * (remaining / mPerDegLon);
        this.lat += (dy / dist) * (remaining / M_PER_DEG_LAT);
      }
      if (this.returning && this.inside(this.lon, this.lat)) {
        this.returning = false;
        this.target = this.randomPoint();
      }
      return;
    }
    for (let guard = 0; remaining > 0 && guard < 4; guard++) {
      const dx = (this.target[0] - this.lon) * mPerDegLon;
      const dy = (this.target[1] - this.lat) * M_PER_DEG_LAT;
      const dist = Math.hypot(dx, dy);
      if (dist <= remaining) {
        [this.lon, this.lat] = this.target;
        remaining -= dist;
        this.target = this.randomPoint();
        continue;
      }
      const lon = this.lon + (dx / dist) * (remaining / mPerDegLon);
      const lat = this.lat + (dy / dist) * (remaining / M_PER_DEG_LAT);
      if (!this.inside(lon, lat)) {
        // The straight line would leave the grid (a concave edge): choose another waypoint.
        this.target = this.randomPoint();
        continue;
      }
      this.lon = lon;
      this.lat = lat;
      remaining = 0;
    }
  }

  private fix(t: number): Fix {
    const accuracy = 3 + this.random() * 7;
    const noise = () => (this.random() - 0.5) * 2 * (accuracy / 3);
    const mPerDegLon = M_PER_DEG_LAT * Math.cos((this.lat * Math.PI) / 180);
    const dx = this.target[0] - this.lon;
    const dy = this.target[1] - this.lat;
    const still = this.atTask;
    return {
      time: t,
      lon: this.lon + noise() / mPerDegLon,
      lat: this.lat + noise() / M_PER_DEG_LAT,
      speed: still ? this.random() * 0.2 : this.speed * (0.8 + this.random() * 0.4),
      heading: ((Math.atan2(dx * mPerDegLon, dy * M_PER_DEG_LAT) * 180) / Math.PI + 360) % 360,
      battery: Math.max(0, this.battery),
      accuracy,
    };
  }
}
