/**
 * Live statistics: after ticket transitions, each jurisdiction room holding the ticket (district,
 * street, community, grid) with someone in it gets `stats.update` with its region's figures for
 * today — throttled, so a burst of transitions costs one computation per room per interval. No
 * dashboard polls: a screen showing another window or level refetches when this arrives.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';
import { Scope } from '../../platform/auth/scope';
import type { StatsUpdate } from '@shared/stats-api';
import { regionsByPath } from './repository';
import { resolveWindow, type StatsService } from './service';
import type { Db } from '../../platform/db';
import type { Clock } from '../../platform/clock';

const ROOM_PREFIX = 'scope:';

export class StatsBroadcaster {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** For tests and logs. */
  readonly counts = { pushes: 0, flushes: 0 };

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      service: StatsService;
      io: () => LiveHub['io'] | undefined;
      throttleMs: number;
      log?: FastifyBaseLogger | undefined;
    },
  ) {}

  /** A ticket under this grid path changed. */
  touch(gridPath: string): void {
    if (this.closed) return;
    for (const room of roomsCovering(gridPath)) this.dirty.add(room);
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.deps.throttleMs);
  }

  async flush(): Promise<void> {
    this.timer = undefined;
    if (this.running) await this.running;
    const rooms = [...this.dirty];
    this.dirty.clear();
    const io = this.deps.io();
    if (!io || rooms.length === 0) return;
    const live = io.of('/').adapter.rooms;
    const paths = rooms.filter((r) => (live.get(r)?.size ?? 0) > 0).map((r) => r.slice(ROOM_PREFIX.length));
    if (paths.length === 0) return;
    this.running = (async () => {
      this.counts.flushes++;
      const now = this.deps.clock.now();
      const window = resolveWindow({ window: 'today' }, now);
      for (const region of await regionsByPath(this.deps.db, paths)) {
        // The room is the region's jurisdiction: its own figures, computed as the region's scope.
        const total = await this.deps.service.totals(Scope.of(region.code, region.path), region, window);
        const update: StatsUpdate = { regionCode: region.code, regionPath: region.path, window: 'today', at: new Date(now).toISOString(), total };
        io.to(ROOM_PREFIX + region.path).emit('stats.update', update);
        this.counts.pushes++;
      }
    })().catch((error: unknown) => this.deps.log?.error({ err: error }, 'stats push failed'));
    await this.running;
    this.running = undefined;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
