/**
 * The phone's outbox (待发送): everything the worker sends — positions, reports with their photos,
 * task actions, SOS — is written here first (IndexedDB, so it survives the app being closed while
 * offline) and removed only once the server has taken it. Each entry carries its original time and
 * a client id, so sending it again after a lost answer never files anything twice.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { AppFix } from '@shared/field';
import type { CreateTicketBody, TransitionBody } from '@shared/tickets-api';
import type { RaiseAlarmBody } from '@shared/alarms-api';

interface Common {
  /** Assigned by IndexedDB: the order things were made in. */
  seq?: number;
  /** The account that made it: another account signing in on this phone never sends it. */
  userId: number;
  /** ms since epoch, on the phone's clock. */
  createdAt: number;
  attempts: number;
  /** Why the last try failed (shown in the list). */
  lastError: string | null;
  /** failed: the server refused it for good (shown until the worker discards it). */
  state: 'pending' | 'failed';
}

export type OutboxEntry = Common & (
  | { kind: 'fix'; fix: AppFix }
  | {
      kind: 'report';
      /** With its clientId and reportedAt. */
      body: CreateTicketBody;
      /** Already resized. */
      photos: Blob[];
      /** Once filed: the ticket, and how many of its photos are on the server. */
      ticketId: number | null;
      ticketNumber: string | null;
      photosSent: number;
      /** An upload of photo `photosSent` began and its answer never came: check before sending it again. */
      photoInDoubt: boolean;
    }
  | { kind: 'task'; ticketId: number; ticketNumber: string; body: TransitionBody }
  | { kind: 'sos'; body: RaiseAlarmBody }
  | { kind: 'sos-cancel'; alarmId: number; note: string }
);

export type OutboxKind = OutboxEntry['kind'];

interface OutboxDb extends DBSchema {
  outbox: { key: number; value: OutboxEntry; indexes: { user: number } };
}

const DB_NAME = 'gridline-field';
let dbPromise: Promise<IDBPDatabase<OutboxDb>> | null = null;

function db(): Promise<IDBPDatabase<OutboxDb>> {
  dbPromise ??= openDB<OutboxDb>(DB_NAME, 1, {
    upgrade(database) {
      const store = database.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      store.createIndex('user', 'userId');
    },
  });
  return dbPromise;
}

/** Adds an entry; resolves with its sequence number once it is durable. */
export async function put(entry: OutboxEntry): Promise<number> {
  return (await db()).put('outbox', entry);
}

/** The account's entries, oldest first. */
export async function list(userId: number): Promise<OutboxEntry[]> {
  return (await db()).getAllFromIndex('outbox', 'user', userId).then((all) => all.sort((a, b) => a.seq! - b.seq!));
}

export async function remove(seqs: number[]): Promise<void> {
  const tx = (await db()).transaction('outbox', 'readwrite');
  await Promise.all([...seqs.map((s) => tx.store.delete(s)), tx.done]);
}

/** A client id: unique per phone and entry, in the characters the API accepts. */
export function clientId(prefix: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${Date.now().toString(36)}-${random[0]!.toString(36)}${random[1]!.toString(36)}`;
}
