/**
 * The rare simulated SOS, so the centre's alarm loop can be shown: now and then a simulated grid
 * worker on duty presses the SOS button of their Traccar Client — an OsmAnd report with
 * `alarm=sos` at where they are, through the server's own endpoint, exactly as a phone sends it.
 * Nothing simulated acknowledges or resolves it: people at the wall and the desks do.
 */
import { createRandom } from '@shared/random';
import type { Clock } from '../../platform/clock';
import type { SimulatedWorker } from './simulator';

export interface SosSimulatorOptions {
  /** The server's own base URL. */
  baseUrl: string;
  /** Alarms per hour across the district (0: none). */
  ratePerHour: number;
  /** Seconds between draws (default 1). */
  stepS?: number;
  random?: () => number;
}

export class SosSimulator {
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  readonly stats = { raised: 0, failed: 0 };

  constructor(
    /** The patrol simulator (after `load`): who is on duty and where. */
    private readonly patrol: { readonly fieldWorkers: readonly SimulatedWorker[] },
    private readonly clock: Clock,
    private readonly options: SosSimulatorOptions,
  ) {
    this.random = options.random ?? createRandom(`sos:${clock.now()}`);
  }

  describe(): string {
    return this.options.ratePerHour > 0
      ? `Simulated SOS: about ${this.options.ratePerHour} an hour across the district, never acknowledged by the simulator. SIMULATE_SOS_RATE=0 turns them off.`
      : 'Simulated SOS off (SIMULATE_SOS_RATE=0).';
  }

  start(): void {
    if (this.options.ratePerHour <= 0) return;
    const stepS = this.options.stepS ?? 1;
    this.timer ??= setInterval(() => {
      // A Poisson process: each step raises one with probability rate × step.
      if (this.random() < (this.options.ratePerHour * stepS) / 3600) void this.raise();
    }, stepS * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One worker on duty (picked at random) presses SOS now; false when nobody is on duty or it failed. */
  async raise(): Promise<boolean> {
    const t = this.clock.now();
    const onDuty = this.patrol.fieldWorkers.filter((w) => w.patrol.onDuty(t));
    if (onDuty.length === 0) return false;
    const { patrol } = onDuty[Math.floor(this.random() * onDuty.length)]!;
    // No timestamp: the server's time of receipt, as Traccar Client's immediate SOS report.
    const params = new URLSearchParams({ id: patrol.device, lat: patrol.lat.toFixed(7), lon: patrol.lon.toFixed(7), accuracy: '8', alarm: 'sos' });
    try {
      const res = await fetch(`${this.options.baseUrl}/api/osmand?${params}`, { method: 'POST' });
      await res.arrayBuffer();
      if (res.ok) this.stats.raised++;
      else this.stats.failed++;
      return res.ok;
    } catch {
      this.stats.failed++;
      return false;
    }
  }
}
