/**
 * Emergency events over the live hub's socket.io server. An emergency's events go to the rooms of
 * every jurisdiction that holds one of its grids (the grid, its community, street and district:
 * exactly the desks and phones whose jurisdiction meets the area) and to no other, so a desk of
 * another street hears nothing of it. Mobilisation counts coalesce: a burst of acknowledgements
 * becomes, per interval, one `emergency.mobilisation` per room with only the changed grids inside it.
 */
import type { EmergencyClosed, EmergencyGridRow, EmergencyMobilisationChange, EmergencySummary } from '@shared/emergencies-api';
import type { Db } from '../../platform/db';
import type { NoticePublished } from '@shared/notices-api';
import { userRoom, type LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';
import * as repo from './repository';

/** The rooms of every jurisdiction holding one of these grid paths. */
export function roomsMeeting(gridPaths: Iterable<string>): string[] {
  const rooms = new Set<string>();
  for (const p of gridPaths) for (const r of roomsCovering(p)) rooms.add(r);
  return [...rooms];
}

export class EmergencyBroadcaster {
  private readonly dirty = new Map<string, { id: number; grid: string }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly io: () => LiveHub['io'] | undefined,
    private readonly db: Db,
    /** How long changes gather before the counts go out, ms. */
    private readonly coalesceMs = 150,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  declared(emergency: EmergencySummary, gridPaths: readonly string[]): void {
    this.io()?.to(roomsMeeting(gridPaths)).emit('emergency.declared', emergency);
  }

  /** The call-up notice to every called person's accounts (their phones), in one emit. */
  callUp(userIds: readonly number[], notice: NoticePublished): void {
    if (userIds.length > 0) this.io()?.to(userIds.map(userRoom)).emit('notice.published', notice);
  }

  closed(closed: EmergencyClosed, gridPaths: readonly string[]): void {
    this.io()?.to(roomsMeeting(gridPaths)).emit('emergency.closed', closed);
  }

  /** A grid's counts changed: they go out within the coalescing interval. */
  gridChanged(id: number, grid: string): void {
    this.dirty.set(`${id}:${grid}`, { id, grid });
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().catch(this.onError);
    }, this.coalesceMs);
  }

  private async flush(): Promise<void> {
    const keys = [...this.dirty.values()];
    this.dirty.clear();
    const io = this.io();
    if (!io || keys.length === 0) return;
    // Per emergency and room, the changed grids inside that room's jurisdiction.
    const out = new Map<string, Map<number, EmergencyGridRow[]>>();
    for (const { emergencyId, path, ...row } of await repo.gridsByCode(this.db, keys)) {
      for (const room of roomsCovering(path)) {
        let byId = out.get(room);
        if (!byId) out.set(room, (byId = new Map()));
        let rows = byId.get(emergencyId);
        if (!rows) byId.set(emergencyId, (rows = []));
        rows.push(row);
      }
    }
    for (const [room, byId] of out) {
      for (const [id, grids] of byId) {
        const change: EmergencyMobilisationChange = { id, grids };
        io.to(room).emit('emergency.mobilisation', change);
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    await this.flushing;
  }
}
