import { sql, type Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { WORKER_FLAGS } from '@shared/realtime';
import { bboxBuffer, bboxContains, haversineM, type BBox } from '@shared/geo';
import type { WorkerRole } from '@shared/domain';
import { LiveState, type LiveWorker } from './live-state';
import { PositionWriter, type WriterOptions } from './position-writer';

/** A position as any device protocol decodes it (OsmAnd, device streams, the simulator). */
export interface DeviceFix {
  /** The device's identifier as registered (OsmAnd `id`, IMEI, …). */
  device: string;
  /** Time of the fix, ms since epoch; absent → the server's time of receipt. */
  time?: number | undefined;
  lon: number;
  lat: number;
  /** m/s */
  speed?: number | undefined;
  heading?: number | undefined;
  accuracy?: number | undefined;
  /** Percent, 0–100. */
  battery?: number | undefined;
  charging?: boolean | undefined;
  /** The device's own opinion of its GPS fix. */
  valid?: boolean | undefined;
  /** e.g. 'sos' from the one-click alarm. */
  alarm?: string | undefined;
}

export type IngestOutcome =
  | { status: 'stored' | 'duplicate'; workerId: number; latest: boolean }
  | { status: 'rejected'; error: AppError };

export interface IngestOptions extends WriterOptions {
  /** A worker with no fix for this long turns offline, ms. */
  offlineAfterMs?: number;
  /** How far outside the service area a fix may lie and still be accepted, m. */
  areaMarginM?: number;
  /** Tolerated device clock skew into the future, ms. */
  futureSkewMs?: number;
  /** Faster than this between consecutive fixes is flagged (not dropped), m/s. */
  maxPlausibleSpeed?: number;
}

interface DeviceEntry {
  deviceId: number;
  workerId: number;
}

export interface LiveListener {
  /** A worker's live record changed (new fix or presence). */
  changed(w: LiveWorker): void;
  /** A worker went online or offline. */
  presence(w: LiveWorker, online: boolean): void;
}

/**
 * The one entry point for positions from every device protocol: validate, recognise duplicates,
 * keep the newest fix in memory, write durably in batches, tell live listeners. A fix is
 * acknowledged (the promise resolves 'stored') only after its batch has committed.
 */
export class PositionIngest {
  readonly state = new LiveState();
  readonly writer: PositionWriter;
  readonly offlineAfterMs: number;
  private readonly devices = new Map<string, DeviceEntry>();
  private serviceArea: BBox = [180, 90, -180, -90];
  private readonly areaMarginM: number;
  private readonly futureSkewMs: number;
  private readonly maxPlausibleSpeed: number;
  private readonly listeners = new Set<LiveListener>();
  private sweepTimer: NodeJS.Timeout | undefined;
  readonly stats = { accepted: 0, duplicates: 0, rejected: 0, outOfOrder: 0, implausible: 0 };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    options: IngestOptions = {},
  ) {
    this.writer = new PositionWriter(db, options);
    this.offlineAfterMs = options.offlineAfterMs ?? 5 * 60_000;
    this.areaMarginM = options.areaMarginM ?? 5_000;
    this.futureSkewMs = options.futureSkewMs ?? 60_000;
    this.maxPlausibleSpeed = options.maxPlausibleSpeed ?? 50;
  }

  /** Loads workers, devices, the service area and the last known positions. */
  async load(): Promise<void> {
    const workers = await this.db.query<{ id: number; role: WorkerRole; path: string }>(sql`
      SELECT w.id, w.role, g.path FROM workers w JOIN regions g ON g.code = w.home_grid_code`);
    for (const w of workers.rows) this.state.upsertWorker(w.id, w.role, w.path);
    const devices = await this.db.query<{ identifier: string; id: number; workerId: number }>(sql`
      SELECT identifier, id, worker_id AS "workerId" FROM devices WHERE worker_id IS NOT NULL`);
    for (const d of devices.rows) this.devices.set(d.identifier, { deviceId: d.id, workerId: d.workerId });
    await this.loadServiceArea();
    const latest = await this.db.query<{ id: number; lon: number; lat: number; t: number; speed: number | null; battery: number | null; flags: number }>(sql`
      SELECT worker_id AS id, ST_X(geom) AS lon, ST_Y(geom) AS lat, extract(epoch FROM recorded_at) * 1000 AS t,
             speed, battery, flags FROM worker_positions_latest`);
    const now = this.clock.now();
    for (const r of latest.rows) {
      const w = this.state.workers.get(r.id);
      if (!w) continue;
      const online = now - Number(r.t) <= this.offlineAfterMs;
      const flags = online ? r.flags | WORKER_FLAGS.ONLINE : r.flags & ~WORKER_FLAGS.ONLINE;
      this.state.applyFix(w, { lon: r.lon, lat: r.lat, time: Number(r.t), speed: r.speed ?? NaN, battery: r.battery ?? -1, flags });
    }
  }

  async loadServiceArea(): Promise<void> {
    const { rows } = await this.db.query<{ x0: number | null; y0: number; x1: number; y1: number }>(sql`
      SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
        FROM (SELECT ST_Extent(geom)::geometry AS e FROM regions WHERE level = 'district') s`);
    const r = rows[0];
    if (r && r.x0 !== null) this.serviceArea = bboxBuffer([r.x0, r.y0, r.x1, r.y1], this.areaMarginM);
  }

  /** Registers a device for a worker (or finds it) and remembers it. */
  async registerDevice(identifier: string, workerId: number, kind: 'phone' | 'tracker' | 'simulated'): Promise<void> {
    const { rows } = await this.db.query<{ id: number; workerId: number }>(sql`
      INSERT INTO devices (identifier, worker_id, kind) VALUES (${identifier}, ${workerId}, ${kind})
      ON CONFLICT (identifier) DO UPDATE SET worker_id = EXCLUDED.worker_id
      RETURNING id, worker_id AS "workerId"`);
    const row = rows[0]!;
    this.devices.set(identifier, { deviceId: row.id, workerId: row.workerId });
  }

  /** Re-reads workers (after a seed or an admin change) without dropping live positions. */
  async reloadWorkers(): Promise<void> {
    await this.load();
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async device(identifier: string): Promise<DeviceEntry | undefined> {
    const cached = this.devices.get(identifier);
    if (cached) return cached;
    const { rows } = await this.db.query<{ id: number; workerId: number }>(sql`
      SELECT id, worker_id AS "workerId" FROM devices WHERE identifier = ${identifier} AND worker_id IS NOT NULL`);
    const row = rows[0];
    if (!row) return undefined;
    const entry = { deviceId: row.id, workerId: row.workerId };
    this.devices.set(identifier, entry);
    return entry;
  }

  private reject(error: AppError): IngestOutcome {
    this.stats.rejected++;
    return { status: 'rejected', error };
  }

  async submit(fix: DeviceFix): Promise<IngestOutcome> {
    const receivedAt = this.clock.now();
    if (typeof fix.device !== 'string' || fix.device.length === 0 || fix.device.length > 64) {
      return this.reject(new AppError('DEVICE_UNKNOWN', 'A device id is required.'));
    }
    const device = await this.device(fix.device);
    if (!device) return this.reject(new AppError('DEVICE_UNKNOWN', `Device "${fix.device}" is not registered: register it to a worker first.`));
    const worker = this.state.workers.get(device.workerId);
    if (!worker) return this.reject(new AppError('DEVICE_UNKNOWN', `Device "${fix.device}" belongs to no known worker.`));
    const { lon, lat } = fix;
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90 || (lon === 0 && lat === 0)) {
      return this.reject(new AppError('POSITION_INVALID', 'Latitude and longitude must be decimal degrees in range.'));
    }
    const time = fix.time ?? receivedAt;
    if (!Number.isFinite(time) || time <= 0) return this.reject(new AppError('POSITION_INVALID', 'The timestamp is not a valid time.'));
    if (time > receivedAt + this.futureSkewMs) {
      return this.reject(new AppError('POSITION_IN_FUTURE', 'The fix is dated in the future: check the device clock.'));
    }
    if (!bboxContains(this.serviceArea, lon, lat)) {
      return this.reject(new AppError('POSITION_OUT_OF_AREA', 'The position lies outside the service area.'));
    }
    if (worker.hasFix && time === worker.time) {
      this.stats.duplicates++;
      return { status: 'duplicate', workerId: worker.id, latest: true };
    }

    let flags = 0;
    if (fix.valid === false) flags |= WORKER_FLAGS.INVALID_FIX;
    if (fix.charging) flags |= WORKER_FLAGS.CHARGING;
    if (fix.alarm) flags |= WORKER_FLAGS.ALARM;
    const isLatest = !worker.hasFix || time > worker.time;
    if (worker.hasFix && isLatest) {
      const metres = haversineM(worker.lon, worker.lat, lon, lat);
      if (metres / ((time - worker.time) / 1000) > this.maxPlausibleSpeed) {
        flags |= WORKER_FLAGS.IMPLAUSIBLE_SPEED;
        this.stats.implausible++;
      }
    }
    const speed = fix.speed !== undefined && fix.speed >= 0 ? fix.speed : NaN;
    const battery = fix.battery !== undefined && fix.battery >= 0 ? Math.min(100, fix.battery) : -1;
    const stored = this.writer.write({
      workerId: worker.id,
      deviceId: device.deviceId,
      time,
      receivedAt,
      lon,
      lat,
      speed: Number.isNaN(speed) ? null : speed,
      heading: fix.heading !== undefined && fix.heading >= 0 ? fix.heading : null,
      accuracy: fix.accuracy ?? null,
      battery: battery < 0 ? null : battery,
      flags,
    });

    if (isLatest) {
      // Live view moves at once; the device's acknowledgement waits for durability below.
      const online = receivedAt - time <= this.offlineAfterMs;
      const wasOnline = LiveState.isOnline(worker);
      this.state.applyFix(worker, { lon, lat, time, speed, battery, flags: online ? flags | WORKER_FLAGS.ONLINE : flags });
      for (const l of this.listeners) {
        l.changed(worker);
        if (online !== wasOnline) l.presence(worker, online);
      }
    } else {
      this.stats.outOfOrder++;
    }
    await stored;
    this.stats.accepted++;
    return { status: 'stored', workerId: worker.id, latest: isLatest };
  }

  /** Turns workers offline whose newest fix is older than the timeout. */
  sweepPresence(): void {
    const now = this.clock.now();
    for (const w of this.state.workers.values()) {
      if (LiveState.isOnline(w) && now - w.time > this.offlineAfterMs) {
        w.flags &= ~WORKER_FLAGS.ONLINE;
        for (const l of this.listeners) {
          l.changed(w);
          l.presence(w, false);
        }
      }
    }
  }

  start(sweepEveryMs = 1000): void {
    this.sweepTimer ??= setInterval(() => this.sweepPresence(), sweepEveryMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.writer.drainAll();
  }
}
