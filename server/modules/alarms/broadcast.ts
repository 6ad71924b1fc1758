/**
 * Alarm events over the live hub's socket.io server: to every dashboard whose jurisdiction covers
 * the worker's home grid (the rooms of the grid, its community, street and district) and to the
 * worker's own accounts, in one emit (socket.io unions the rooms, so a socket in several gets it once).
 */
import type { AlarmSummary } from '@shared/alarms-api';
import { userRoom, type LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';

export class AlarmBroadcaster {
  /** `io` is looked up on each send: the hub may not exist yet while the app is built. */
  constructor(private readonly io: () => LiveHub['io'] | undefined) {}

  private rooms(gridPath: string, workerUserIds: readonly number[]): string[] {
    return [...roomsCovering(gridPath), ...workerUserIds.map(userRoom)];
  }

  raised(alarm: AlarmSummary, gridPath: string, workerUserIds: readonly number[]): void {
    this.io()?.to(this.rooms(gridPath, workerUserIds)).emit('alarm.raised', alarm);
  }

  updated(alarm: AlarmSummary, gridPath: string, workerUserIds: readonly number[]): void {
    this.io()?.to(this.rooms(gridPath, workerUserIds)).emit('alarm.updated', alarm);
  }
}
