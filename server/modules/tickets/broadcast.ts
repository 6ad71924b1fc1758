/**
 * Ticket events to dashboards over the live hub's socket.io server. A dashboard sits in the room of
 * its jurisdiction (`scope:<regionPath>`); a ticket's events go to every room whose path is a prefix
 * of the ticket's grid path — the grid, its community, street and district — and to no other.
 */
import type { TicketChange, TicketEscalationNotice, TicketSummary } from '@shared/tickets-api';
import type { LiveHub } from '../realtime/hub';

/** The hub's room naming (server/modules/realtime/hub.ts joins each socket to `scope:` + its region path). */
const ROOM_PREFIX = 'scope:';

/** The rooms of every jurisdiction holding this path: '/a/b/' → ['scope:/a/', 'scope:/a/b/']. */
export function roomsCovering(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => `${ROOM_PREFIX}/${parts.slice(0, i + 1).join('/')}/`);
}

export class TicketBroadcaster {
  /** `io` is looked up on each send: the hub is created after the routes are registered. */
  /** Others following every change after it went out (live statistics). */
  private readonly listeners: ((gridPath: string) => void)[] = [];

  constructor(private readonly io: () => LiveHub['io'] | undefined) {}

  /** Calls `listener` with the ticket's grid path after each creation or change is sent. */
  listen(listener: (gridPath: string) => void): void {
    this.listeners.push(listener);
  }

  private changed(gridPath: string): void {
    for (const l of this.listeners) l(gridPath);
  }

  created(ticket: TicketSummary, gridPath: string): void {
    this.io()?.to(roomsCovering(gridPath)).emit('ticket.created', ticket);
    this.changed(gridPath);
  }

  updated(change: TicketChange, gridPath: string): void {
    this.io()?.to(roomsCovering(gridPath)).emit('ticket.updated', change);
    this.changed(gridPath);
  }

  escalated(notice: TicketEscalationNotice, gridPath: string): void {
    this.io()?.to(roomsCovering(gridPath)).emit('ticket.escalated', notice);
  }
}
