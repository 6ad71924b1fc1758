import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import { AppError, RETRY_AFTER_S } from '../../platform/errors';
import type { Scope } from '../../platform/auth/scope';
import { WORKER_FLAGS } from '@shared/realtime';
import { bboxBuffer, bboxContains, haversineM, type BBox } from '@shared/geo';
import { LiveState, type LiveWorker } from './live-state';
import { PositionWriter, WriterBusyError, type WriterOptions } from './position-writer';
import { findDevice, loadDevices, loadLatest, loadServiceArea, loadWorkers, upsertDevice, type DeviceRow } from './repository';

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

/** Who submits a fix: a gateway's admin may only move workers inside their jurisdiction. */
export interface SubmitContext {
  scope?: Scope | undefined;
}

/** Where the pipeline reports what went wrong (pino's signature: the app's logger fits). */
export interface IngestLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface IngestOptions extends WriterOptions {
  /** A worker with no fix for this long turns offline, ms. */
  offlineAfterMs?: number;
  /** How far outside the service area a fix may lie and still be accepted, m. */
  areaMarginM?: number;
  /** Tolerated device clock skew into the future, ms. */
  futureSkewMs?: number;
  /** A fix older than this is refused (POSITION_TOO_OLD), ms. */
  maxFixAgeMs?: number;
  /** Faster than this between consecutive fixes is flagged (not dropped), m/s. */
  maxPlausibleSpeed?: number;
  /** An unknown device id is remembered as unknown this long, so a flood of them spares the database, ms. */
  unknownDeviceTtlMs?: number;
  log?: IngestLog;
}

interface DeviceEntry {
  /** null: the worker's own signed-in phone (the app), which is no registered device. */
  deviceId: number | null;
  workerId: number;
}

export interface LiveListener {
  /** A worker's live record changed (new fix or presence). */
  changed(w: LiveWorker): void;
  /** A worker went online or offline. */
  presence(w: LiveWorker, online: boolean): void;
}

/** A valid fix that carries an alarm (OsmAnd `alarm=sos`), as alarm sinks receive it. */
export interface AlarmFix {
  /** As the device sent it ('sos', …). */
  alarm: string;
  workerId: number;
  deviceId: number | null;
  lon: number;
  lat: number;
  /** ms since epoch. */
  time: number;
  accuracy: number | null;
}

/** Records an alarm: resolves once it is durable (the device's reply waits for it), rejects when it could not be. */
export type AlarmSink = (fix: AlarmFix) => Promise<void>;

/** A device id that can be looked up: 1–64 characters, none of them control characters. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const isPlausibleDeviceId = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= 64 && !CONTROL.test(id);

const MAX_UNKNOWN_CACHED = 100_000;
const finiteIn = (v: number | undefined, lo: number, hi: number): number | null =>
  v !== undefined && Number.isFinite(v) && v >= lo && v <= hi ? v : null;

/**
 * The one entry point for positions from every device protocol: validate, write durably in
 * batches, then — only once the write has committed — keep the newest fix in memory and tell live
 * listeners. A fix is acknowledged ('stored') only after its batch has committed; one already
 * stored is a 'duplicate'; one that could not be stored is rejected with SERVICE_UNAVAILABLE, and
 * its resend is stored like a new fix. Never throws: every failure is an outcome.
 */
export class PositionIngest {
  readonly state = new LiveState();
  readonly writer: PositionWriter;
  readonly offlineAfterMs: number;
  private readonly devices = new Map<string, DeviceEntry>();
  /** Unknown identifiers → when to ask the database again. */
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<DeviceEntry | undefined>>();
  /** Bumped by every registration or removal: a lookup begun before one must not cache its answer. */
  private devicesEpoch = 0;
  private serviceArea: BBox = [180, 90, -180, -90];
  private readonly areaMarginM: number;
  private readonly futureSkewMs: number;
  private readonly maxFixAgeMs: number;
  private readonly maxPlausibleSpeed: number;
  private readonly unknownDeviceTtlMs: number;
  private readonly log: IngestLog | undefined;
  private readonly listeners = new Set<LiveListener>();
  private readonly alarmSinks = new Set<AlarmSink>();
  private sweepTimer: NodeJS.Timeout | undefined;
  readonly stats = { accepted: 0, duplicates: 0, rejected: 0, outOfOrder: 0, implausible: 0, unavailable: 0, deviceLookups: 0 };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    options: IngestOptions = {},
  ) {
    this.writer = new PositionWriter(db, options);
    this.offlineAfterMs = options.offlineAfterMs ?? 5 * 60_000;
    this.areaMarginM = options.areaMarginM ?? 5_000;
    this.futureSkewMs = options.futureSkewMs ?? 60_000;
    this.maxFixAgeMs = options.maxFixAgeMs ?? 7 * 86_400_000;
    this.maxPlausibleSpeed = options.maxPlausibleSpeed ?? 50;
    this.unknownDeviceTtlMs = options.unknownDeviceTtlMs ?? 60_000;
    this.log = options.log;
  }

  /** Loads workers, devices, the service area and the last known positions. */
  async load(): Promise<void> {
    for (const w of await loadWorkers(this.db)) this.state.upsertWorker(w.id, w.role, w.path);
    for (const d of await loadDevices(this.db)) this.remember(d);
    await this.loadServiceArea();
    const now = this.clock.now();
    for (const r of await loadLatest(this.db)) {
      const w = this.state.workers.get(r.id);
      if (!w || (w.hasFix && w.time >= r.t)) continue;
      const online = now - r.t <= this.offlineAfterMs;
      const flags = online ? r.flags | WORKER_FLAGS.ONLINE : r.flags & ~WORKER_FLAGS.ONLINE;
      this.state.applyFix(w, { lon: r.lon, lat: r.lat, time: r.t, speed: r.speed ?? NaN, battery: r.battery ?? -1, flags });
    }
  }

  async loadServiceArea(): Promise<void> {
    const area = await loadServiceArea(this.db);
    if (area) this.serviceArea = bboxBuffer(area, this.areaMarginM);
  }

  private remember(d: DeviceRow): void {
    this.unknown.delete(d.identifier);
    this.devices.set(d.identifier, { deviceId: d.id, workerId: d.workerId });
  }

  /**
   * Registers a device for a worker (or rebinds it) and remembers it. With a scope (an admin's), a
   * device bound to a worker outside it is not taken over: false comes back.
   */
  async registerDevice(identifier: string, workerId: number, kind: 'phone' | 'tracker' | 'simulated', scope?: Scope): Promise<boolean> {
    const row = await upsertDevice(this.db, { identifier, workerId, kind, scope });
    this.devicesEpoch++;
    if (!row) return false;
    this.remember(row);
    return true;
  }

  /** A device was deleted (or changed elsewhere): its next fix asks the database again. */
  forgetDevice(identifier: string): void {
    this.devicesEpoch++;
    this.devices.delete(identifier);
    this.unknown.delete(identifier);
  }

  /** Re-reads workers (after a seed or an admin change) without dropping live positions. */
  async reloadWorkers(): Promise<void> {
    await this.load();
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Hears every valid fix that carries an alarm — also one already stored (a resend) or in the same
   * second as the worker's previous fix, which never moves the live state: an alarm must not hang on
   * the fix being new or the newest. The fix's reply waits for the sinks; a failing sink turns it
   * into SERVICE_UNAVAILABLE, so the device sends it again.
   */
  onAlarm(sink: AlarmSink): () => void {
    this.alarmSinks.add(sink);
    return () => this.alarmSinks.delete(sink);
  }

  /** Runs the alarm sinks; a rejected outcome if one failed. */
  private async raiseAlarm(fix: AlarmFix): Promise<IngestOutcome | undefined> {
    try {
      await Promise.all([...this.alarmSinks].map((sink) => sink(fix)));
      return undefined;
    } catch (error) {
      return this.unavailable(error, 'alarm not recorded');
    }
  }

  private async device(identifier: string): Promise<DeviceEntry | undefined> {
    const cached = this.devices.get(identifier);
    if (cached) return cached;
    const until = this.unknown.get(identifier);
    if (until !== undefined) {
      if (until > this.clock.now()) return undefined;
      this.unknown.delete(identifier);
    }
    // Concurrent fixes of one device share a lookup.
    let lookup = this.lookups.get(identifier);
    if (!lookup) {
      this.stats.deviceLookups++;
      const epoch = this.devicesEpoch;
      lookup = findDevice(this.db, identifier)
        .then((row) => {
          const entry = row ? { deviceId: row.id, workerId: row.workerId } : undefined;
          // Registered or removed meanwhile: answer this fix, cache nothing (the next one asks again).
          if (epoch !== this.devicesEpoch) return entry;
          if (row) {
            this.remember(row);
            return entry;
          }
          if (this.unknown.size >= MAX_UNKNOWN_CACHED) {
            // Oldest first (insertion order): drop a tenth.
            let n = MAX_UNKNOWN_CACHED / 10;
            for (const key of this.unknown.keys()) {
              this.unknown.delete(key);
              if (--n <= 0) break;
            }
          }
          this.unknown.set(identifier, this.clock.now() + this.unknownDeviceTtlMs);
          return undefined;
        })
        .finally(() => this.lookups.delete(identifier));
      this.lookups.set(identifier, lookup);
    }
    return lookup;
  }

  private reject(error: AppError): IngestOutcome {
    this.stats.rejected++;
    return { status: 'rejected', error };
  }

  private unavailable(error: unknown, what: string): IngestOutcome {
    this.stats.unavailable++;
    if (!(error instanceof WriterBusyError)) this.log?.error({ err: error }, what);
    return this.reject(new AppError('SERVICE_UNAVAILABLE', `The position could not be stored right now; send it again in ${RETRY_AFTER_S} s.`));
  }

  /**
   * A fix from a worker's own signed-in phone (the app, authenticated by their token): the worker is
   * known, so there is no device to look up; stored and shown like any device's fix (no device id),
   * so a phone that also runs Traccar Client is still one worker with one track. Carries no alarm:
   * the app raises SOS through the alarms API.
   */
  async submitForWorker(workerId: number, fix: Omit<DeviceFix, 'device' | 'alarm'>): Promise<IngestOutcome> {
    return this.submit({ ...fix, device: `app:${workerId}`, alarm: undefined }, {}, { deviceId: null, workerId });
  }

  async submit(fix: DeviceFix, context: SubmitContext = {}, known?: DeviceEntry): Promise<IngestOutcome> {
    const receivedAt = this.clock.now();
    let device: DeviceEntry | undefined = known;
    if (!device) {
      if (!isPlausibleDeviceId(fix.device)) {
        return this.reject(new AppError('DEVICE_UNKNOWN', 'A device id (1–64 printable characters) is required.'));
      }
      try {
        device = await this.device(fix.device);
      } catch (error) {
        return this.unavailable(error, 'device lookup failed');
      }
    }
    if (!device) return this.reject(new AppError('DEVICE_UNKNOWN', `Device "${fix.device}" is not registered: register it to a worker first.`));
    const worker = this.state.workers.get(device.workerId);
    if (!worker) return this.reject(new AppError('DEVICE_UNKNOWN', `Device "${fix.device}" belongs to no known worker.`));
    if (context.scope && !context.scope.contains(worker.path)) {
      return this.reject(new AppError('OUT_OF_JURISDICTION', `Device "${fix.device}" belongs to a worker outside your jurisdiction.`));
    }
    const { lon, lat } = fix;
    if (typeof lon !== 'number' || typeof lat !== 'number' || !Number.isFinite(lon) || !Number.isFinite(lat)
      || Math.abs(lon) > 180 || Math.abs(lat) > 90 || (lon === 0 && lat === 0)) {
      return this.reject(new AppError('POSITION_INVALID', 'Latitude and longitude must be decimal degrees in range.'));
    }
    const time = fix.time === undefined ? receivedAt : Math.round(fix.time);
    if (!Number.isFinite(time) || time <= 0) return this.reject(new AppError('POSITION_INVALID', 'The timestamp is not a valid time.'));
    if (time > receivedAt + this.futureSkewMs) {
      return this.reject(new AppError('POSITION_IN_FUTURE', 'The fix is dated in the future: check the device clock.'));
    }
    if (time < receivedAt - this.maxFixAgeMs) {
      return this.reject(new AppError('POSITION_TOO_OLD',
        `The fix is older than ${Math.round(this.maxFixAgeMs / 86_400_000)} days: check the device clock (and the timestamp's unit).`));
    }
    if (!bboxContains(this.serviceArea, lon, lat)) {
      return this.reject(new AppError('POSITION_OUT_OF_AREA', 'The position lies outside the service area.'));
    }
    const alarmed = fix.alarm && this.alarmSinks.size > 0
      ? this.raiseAlarm({ alarm: fix.alarm, workerId: worker.id, deviceId: device.deviceId, lon, lat, time, accuracy: finiteIn(fix.accuracy, 0, 1e6) })
      : undefined;
    // The live state holds only committed fixes: the same time again is a fix already stored.
    if (worker.hasFix && time === worker.time) {
      this.stats.duplicates++;
      return (await alarmed) ?? { status: 'duplicate', workerId: worker.id, latest: false };
    }

    let flags = 0;
    if (fix.valid === false) flags |= WORKER_FLAGS.INVALID_FIX;
    if (fix.charging) flags |= WORKER_FLAGS.CHARGING;
    if (fix.alarm) flags |= WORKER_FLAGS.ALARM;
    if (worker.hasFix && time > worker.time) {
      const metres = haversineM(worker.lon, worker.lat, lon, lat);
      if (metres / ((time - worker.time) / 1000) > this.maxPlausibleSpeed) {
        flags |= WORKER_FLAGS.IMPLAUSIBLE_SPEED;
        this.stats.implausible++;
      }
    }
    // Out-of-range extras are dropped, not stored: one absurd value must not fail a whole batch.
    const speed = finiteIn(fix.speed, 0, 1000);
    const battery = fix.battery !== undefined && Number.isFinite(fix.battery) && fix.battery >= 0 ? Math.min(100, fix.battery) : null;
    let result;
    try {
      result = await this.writer.write({
        workerId: worker.id,
        deviceId: device.deviceId,
        time,
        receivedAt,
        lon,
        lat,
        speed,
        heading: finiteIn(fix.heading, 0, 360),
        accuracy: finiteIn(fix.accuracy, 0, 1e6),
        battery,
        flags,
      });
    } catch (error) {
      return this.unavailable(error, 'position batch not stored');
    }

    // Committed (or found committed): now the live view may move.
    const latest = !worker.hasFix || time > worker.time;
    if (latest) {
      const online = this.clock.now() - time <= this.offlineAfterMs;
      const wasOnline = LiveState.isOnline(worker);
      this.state.applyFix(worker, { lon, lat, time, speed: speed ?? NaN, battery: battery ?? -1, flags: online ? flags | WORKER_FLAGS.ONLINE : flags });
      for (const l of this.listeners) {
        try {
          l.changed(worker);
          if (online !== wasOnline) l.presence(worker, online);
        } catch (error) {
          this.log?.error({ err: error, workerId: worker.id }, 'live listener failed');
        }
      }
    } else if (result === 'stored') {
      this.stats.outOfOrder++;
    }
    const alarmFailed = await alarmed;
    if (alarmFailed) return alarmFailed;
    if (result === 'duplicate') {
      this.stats.duplicates++;
      return { status: 'duplicate', workerId: worker.id, latest };
    }
    this.stats.accepted++;
    return { status: 'stored', workerId: worker.id, latest };
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
