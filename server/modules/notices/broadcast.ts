/**
 * Notice events over the live hub's socket.io server: `notice.published` to the recipients' own
 * user rooms in one emit (socket.io unions the rooms and writes each socket once), and
 * `notice.receipts` to the sender and every desk whose jurisdiction covers the notice. Receipts
 * coalesce: a burst of reads (a district reading a notice) becomes one count per notice per
 * interval, read from the notice's running counts.
 */
import type { NoticeCounts, NoticePublished } from '@shared/notices-api';
import type { Db } from '../../platform/db';
import { userRoom, type LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';
import * as repo from './repository';

export class NoticeBroadcaster {
  private readonly dirty = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly io: () => LiveHub['io'] | undefined,
    private readonly db: Db,
    /** How long receipts gather before one count goes out, ms. */
    private readonly coalesceMs = 100,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** One emit to every recipient's account (all their phones and tabs). */
  published(userIds: readonly number[], notice: NoticePublished): void {
    if (userIds.length === 0) return;
    this.io()?.to(userIds.map(userRoom)).emit('notice.published', notice);
  }

  /** The notice's receipts changed: its counts go out within the coalescing interval. */
  receiptsChanged(ids: Iterable<number>): void {
    for (const id of ids) this.dirty.add(id);
    if (this.dirty.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush().catch(this.onError);
    }, this.coalesceMs);
  }

  private async flush(): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    const io = this.io();
    if (!io) return;
    for (const c of await repo.counts(this.db, ids)) {
      const counts: NoticeCounts = { id: c.id, recipients: c.recipients, delivered: c.delivered, read: c.read, replied: c.replied };
      const rooms = roomsCovering(c.path);
      if (c.senderUserId !== null) rooms.push(userRoom(c.senderUserId));
      io.to(rooms).emit('notice.receipts', counts);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    await this.flushing;
  }
}
