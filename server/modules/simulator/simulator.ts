import { randomBytes } from 'node:crypto';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';
import type { PositionIngest } from '../positions/ingest';
import { PatrolWorker, type Fix } from './patrol';
import { ensureSimulatedDevices, loadFieldWorkers, type FieldWorker } from './repository';

/** One simulated field worker: who they are and how they walk. */
export interface SimulatedWorker {
  info: FieldWorker;
  patrol: PatrolWorker;
}

export interface SimulatorOptions {
  /** The server's own base URL: fixes go in through its OsmAnd endpoint, as a phone's would. */
  baseUrl: string;
  /** Seconds between one worker's reports. */
  intervalS: number;
  /** Simulate only the first N workers (tests). */
  limit?: number;
  /** Requests in flight at most. */
  concurrency?: number;
}

const KNOTS_PER_MS = 1 / 0.514444;

/**
 * Drives the seeded work force on patrol. Every fix goes over HTTP to the server's OsmAnd endpoint
 * (the Traccar Client format), so the simulator exercises exactly what a real phone does; it never
 * writes positions to the database or the live hub itself. Each simulated phone is a device of kind
 * 'simulated' with a random, unguessable identifier, created once and read from the devices table.
 */
export class Simulator {
  private workers: PatrolWorker[] = [];
  private roster: SimulatedWorker[] = [];
  private timer: NodeJS.Timeout | undefined;
  private tickNo = 0;
  private inFlight = 0;
  /** Fixes waiting for a free connection, oldest first; bounded so a stalled server cannot grow it forever. */
  private readonly pending: { w: PatrolWorker; fix: Fix }[] = [];
  readonly stats = { sent: 0, stored: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly db: Db,
    private readonly ingest: PositionIngest,
    private readonly clock: Clock,
    private readonly options: SimulatorOptions,
  ) {}

  async load(): Promise<number> {
    const field = await loadFieldWorkers(this.db, this.options.limit);
    const { devices, removed } = await ensureSimulatedDevices(this.db, field.map((w) => w.id), () => `sim-${randomBytes(16).toString('hex')}`);
    // Old guessable identifiers stop working at once; the ingest learns the new ones from the table.
    for (const identifier of removed) this.ingest.forgetDevice(identifier);
    this.workers = [];
    this.roster = [];
    for (const w of field) {
      const device = devices.get(w.id);
      if (!device) continue;
      const patrol = new PatrolWorker(w.id, device, w.grid, `patrol:${w.code}`);
      this.workers.push(patrol);
      this.roster.push({ info: w, patrol });
    }
    return this.workers.length;
  }

  /** The simulated work force (after `load`): the ticket simulator files and handles tickets as them. */
  get fieldWorkers(): readonly SimulatedWorker[] {
    return this.roster;
  }

  /** Workers currently on duty (by their shift), for logs and tests. */
  onDuty(): number {
    const t = this.clock.now();
    return this.workers.filter((w) => w.onDuty(t)).length;
  }

  start(): void {
    // Spread reports evenly: each second, the workers whose phase matches report.
    this.timer ??= setInterval(() => this.tick(), 1000);
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.pending.length = 0;
  }

  /** One second of simulation: the workers whose phase is due step and queue their fixes. */
  tick(): void {
    const interval = Math.max(1, this.options.intervalS);
    const phase = this.tickNo++ % interval;
    const t = this.clock.now();
    for (let i = phase; i < this.workers.length; i += interval) {
      const w = this.workers[i]!;
      for (const fix of w.step(t, interval)) this.pending.push({ w, fix });
    }
    // A phone whose upload fails keeps its fix and tries later; past this bound the oldest go.
    const cap = Math.max(1000, this.workers.length * 2);
    if (this.pending.length > cap) this.stats.dropped += this.pending.splice(0, this.pending.length - cap).length;
    this.pump();
  }

  /** Keeps up to `concurrency` requests in flight until the queue is empty. */
  private pump(): void {
    const limit = this.options.concurrency ?? 64;
    while (this.inFlight < limit && this.pending.length > 0) {
      const { w, fix } = this.pending.shift()!;
      void this.send(w, fix).finally(() => this.pump());
    }
  }

  /** Fixes queued but not yet sent (tests, logs). */
  get backlog(): number {
    return this.pending.length + this.inFlight;
  }

  private async send(w: PatrolWorker, fix: Fix): Promise<void> {
    this.inFlight++;
    const params = new URLSearchParams({
      id: w.device,
      lat: fix.lat.toFixed(7),
      lon: fix.lon.toFixed(7),
      timestamp: String(Math.floor(fix.time / 1000)),
      speed: (fix.speed * KNOTS_PER_MS).toFixed(2),
      bearing: fix.heading.toFixed(0),
      accuracy: fix.accuracy.toFixed(1),
      batt: fix.battery.toFixed(0),
    });
    try {
      this.stats.sent++;
      const res = await fetch(`${this.options.baseUrl}/api/osmand?${params}`, { method: 'POST' });
      await res.arrayBuffer();
      if (res.ok) this.stats.stored++;
      else this.stats.failed++;
    } catch {
      this.stats.failed++;
    } finally {
      this.inFlight--;
    }
  }
}
