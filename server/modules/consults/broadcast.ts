/**
 * Consult events over the live hub's socket.io server: `consult.invited` to the phones and desks
 * being rung (their user rooms), `consult.updated` to every participant and to the dashboards whose
 * jurisdiction covers the consult (the wall shows running consults as a tile).
 */
import type { ConsultInvited, ConsultSummary, ConsultUpdated } from '@shared/consults-api';
import { userRoom, type LiveHub } from '../realtime/hub';
import { roomsCovering } from '../tickets/broadcast';

export class ConsultBroadcaster {
  /** `io` is looked up on each send: the hub may not exist yet while the app is built. */
  constructor(private readonly io: () => LiveHub['io'] | undefined) {}

  invited(consult: ConsultSummary, userIds: readonly number[]): void {
    if (userIds.length === 0) return;
    const payload: ConsultInvited = { consult };
    this.io()?.to(userIds.map(userRoom)).emit('consult.invited', payload);
  }

  updated(consult: ConsultSummary, regionPath: string, userIds: readonly number[]): void {
    const payload: ConsultUpdated = { consult };
    this.io()?.to([...roomsCovering(regionPath), ...userIds.map(userRoom)]).emit('consult.updated', payload);
  }
}
