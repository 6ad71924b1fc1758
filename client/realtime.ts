/**
 * The one socket of the dashboard. It connects while someone is signed in and routes every server
 * event into its store; components read stores and never touch the socket.
 */
import { io, type Socket } from 'socket.io-client';
import { watch } from 'vue';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import { signOutReasonFor, useSessionStore } from '@client/stores/session';
import { useWorkersStore } from '@client/stores/workers';
import { useConnectionStore } from '@client/stores/connection';
import { useTicketsStore } from '@client/stores/tickets';
import { useTicketWallStore } from '@client/stores/ticket-wall';
import { useAlarmsStore } from '@client/stores/alarms';
import { useConsultsStore } from '@client/stores/consults';
import { useNoticesStore } from '@client/stores/notices';
import { useEmergenciesStore } from '@client/stores/emergencies';
import { useCommandStore } from '@client/components/command/command-store';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** How long to wait for the snapshot a resync asked for before asking again on the next gap. */
const RESYNC_TIMEOUT_MS = 10_000;

let socket: ClientSocket | null = null;

function authErrorCode(error: Error & { data?: unknown }): string | null {
  const data = error.data as { code?: unknown } | undefined;
  const code = typeof data?.code === 'string' ? data.code : error.message;
  return code.startsWith('AUTH_') || code === 'WALL_SESSION_REVOKED' ? code : null;
}

function connect(): void {
  const session = useSessionStore();
  const workers = useWorkersStore();
  const connection = useConnectionStore();
  let resyncRequestedAt = 0;

  const s: ClientSocket = io({
    path: '/socket.io',
    // A function, so every reconnection presents the token current at that moment.
    auth: (cb) => cb({ token: session.token }),
  });
  socket = s;
  connection.start();

  const resync = () => {
    if (Date.now() - resyncRequestedAt < RESYNC_TIMEOUT_MS) return;
    resyncRequestedAt = Date.now();
    s.emit('workers.resync');
  };

  s.on('connect', () => connection.linkUp());
  s.on('disconnect', (reason) => {
    connection.linkDown();
    // The server closed this socket on purpose (restart, token revoked): socket.io will not retry
    // by itself. Try once more; a rejected token then surfaces as an auth connect_error.
    if (reason === 'io server disconnect') setTimeout(() => s.connect(), 1000);
  });
  s.on('connect_error', (error) => {
    connection.linkDown();
    const code = authErrorCode(error);
    if (code) {
      session.logout(signOutReasonFor(code));
      return;
    }
    // A middleware rejection that is not about auth leaves the socket inactive: retry later.
    if (!s.active) setTimeout(() => s.connect(), 5000);
  });

  // The account was disabled or changed: the server disconnects this socket right after.
  s.on('session.revoked', (notice) => session.logout(signOutReasonFor(notice.code)));
  s.on('session.ready', (info) => {
    connection.ready(info);
    const refetched = [
      useTicketsStore().resync(),
      useTicketWallStore().resync(),
      // Alarms raised or changed while away are in the open list.
      useAlarmsStore().resync(),
      useNoticesStore().resync(),
      // An emergency declared or closed while away.
      useEmergenciesStore().resync(),
      // Video consults ringing or running while away.
      useConsultsStore().resync(),
    ];
    // The wall says "recovered · data refreshed" once everything was fetched again (failures too:
    // each store shows its own error).
    void Promise.allSettled(refetched).then(() => connection.refreshed());
  });
  s.on('workers.snapshot', (frame) => {
    resyncRequestedAt = 0;
    workers.applySnapshot(frame);
    connection.frame(frame.t);
  });
  s.on('workers.delta', (frame) => {
    connection.frame(frame.t);
    if (!workers.applyDelta(frame)) resync();
  });
  s.on('workers.presence', (change) => workers.applyPresence(change));

  const tickets = useTicketsStore();
  const wall = useTicketWallStore();
  s.on('ticket.created', (ticket) => {
    tickets.onCreated(ticket);
    wall.onTicket(ticket, true);
  });
  s.on('ticket.updated', (change) => {
    tickets.onUpdated(change);
    wall.onTicket(change.ticket);
  });
  s.on('ticket.escalated', (notice) => {
    tickets.onUpdated(notice);
    wall.onTicket(notice.ticket);
  });
  s.on('ticket.reoffered', (reoffer) => {
    tickets.onReoffered(reoffer);
    wall.onTicket(reoffer.ticket);
  });
  s.on('task.offered', (offer) => tickets.onOffered(offer));
  s.on('task.withdrawn', (withdrawal) => tickets.onWithdrawn(withdrawal));

  const alarms = useAlarmsStore();
  s.on('alarm.raised', (alarm) => alarms.onRaised(alarm));
  s.on('alarm.updated', (alarm) => alarms.onUpdated(alarm));

  const notices = useNoticesStore();
  s.on('notice.published', (notice) => notices.onPublished(notice));
  s.on('notice.receipts', (counts) => notices.onReceipts(counts));

  const emergencies = useEmergenciesStore();
  s.on('emergency.declared', (e) => emergencies.onDeclared(e));
  s.on('emergency.mobilisation', (change) => emergencies.onMobilisation(change));
  s.on('emergency.closed', (closed) => emergencies.onClosed(closed));
  // The emergency layout's open tickets and alarms follow what moves in the area.
  for (const event of ['ticket.created', 'ticket.updated', 'alarm.raised', 'alarm.updated'] as const) s.on(event, () => emergencies.refreshSituation());

  // The leader's screen reloads its figures when the server pushes that they changed.
  s.on('stats.update', (update) => useCommandStore().onUpdate(update));

  const consults = useConsultsStore();
  s.on('consult.invited', (e) => consults.onInvited(e.consult));
  s.on('consult.updated', (e) => consults.upsert(e.consult));
}

function disconnect(): void {
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = null;
  useConnectionStore().reset();
  useEmergenciesStore().reset();
}

/**
 * Keeps the socket in step with the session: connected while a user is signed in, closed on
 * sign-out. Call once, after Pinia is installed.
 */
export function installRealtime(): void {
  const session = useSessionStore();
  watch(
    () => (session.user ? session.token : null),
    (token) => {
      disconnect();
      if (token) connect();
    },
    { immediate: true },
  );
}
