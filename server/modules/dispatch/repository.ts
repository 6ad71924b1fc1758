/**
 * Dispatch's SQL: offers of a ticket to workers with their answers, the per-category auto-dispatch
 * policy, and the few facts about workers and users a recommendation or a notification needs.
 */
import { sql, type Queryable } from '../../platform/db';

const ts = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const ms = (value: Date | string | null): number | null => (value === null ? null : new Date(value).getTime());

export type OfferOutcome = 'accepted' | 'declined' | 'timeout' | 'withdrawn';

export interface OfferRow {
  id: number;
  ticketId: number;
  workerId: number;
  offeredBy: number | null;
  /** The jurisdiction re-offers choose from. */
  scopePath: string;
  offeredAt: number;
  expiresAt: number | null;
  rank: number | null;
  distanceM: number | null;
  outcome: OfferOutcome | null;
}

interface RawOffer extends Omit<OfferRow, 'offeredAt' | 'expiresAt'> {
  offeredAt: Date;
  expiresAt: Date | null;
}

const OFFER = sql`
  SELECT id, ticket_id AS "ticketId", worker_id AS "workerId", offered_by AS "offeredBy", scope_path AS "scopePath",
         offered_at AS "offeredAt", expires_at AS "expiresAt", rank, distance_m AS "distanceM", outcome
    FROM ticket_offers`;

const toOffer = (r: RawOffer): OfferRow => ({ ...r, offeredAt: ms(r.offeredAt)!, expiresAt: ms(r.expiresAt) });

/** The ticket's latest offer, open or answered. */
export async function lastOffer(db: Queryable, ticketId: number): Promise<OfferRow | undefined> {
  const { rows } = await db.query<RawOffer>(sql`${OFFER} WHERE ticket_id = ${ticketId} ORDER BY id DESC LIMIT 1`);
  return rows[0] && toOffer(rows[0]);
}

export async function insertOffer(
  tx: Queryable,
  o: { ticketId: number; workerId: number; offeredBy: number | null; scopePath: string; now: number; expiresAt: number | null; rank: number | null; distanceM: number | null },
): Promise<void> {
  await tx.query(sql`
    INSERT INTO ticket_offers (ticket_id, worker_id, offered_by, scope_path, offered_at, expires_at, rank, distance_m)
    VALUES (${o.ticketId}, ${o.workerId}, ${o.offeredBy}, ${o.scopePath}, ${ts(o.now)}::timestamptz,
            ${ts(o.expiresAt)}::timestamptz, ${o.rank}, ${o.distanceM})`);
}

/** Answers the ticket's open offer, if any; returns it as it was. */
export async function closeOpenOffer(tx: Queryable, ticketId: number, outcome: OfferOutcome, now: number): Promise<OfferRow | undefined> {
  const { rows } = await tx.query<RawOffer>(sql`
    UPDATE ticket_offers SET outcome = ${outcome}, answered_at = ${ts(now)}::timestamptz
     WHERE ticket_id = ${ticketId} AND outcome IS NULL
    RETURNING id, ticket_id AS "ticketId", worker_id AS "workerId", offered_by AS "offeredBy", scope_path AS "scopePath",
              offered_at AS "offeredAt", expires_at AS "expiresAt", rank, distance_m AS "distanceM", outcome`);
  return rows[0] && toOffer(rows[0]);
}

/** Closes one offer as expired, unless it has been answered meanwhile; whether it did. */
export async function expireOffer(tx: Queryable, offerId: number, now: number): Promise<boolean> {
  const { rows } = await tx.query<{ id: number }>(sql`
    UPDATE ticket_offers SET outcome = 'timeout', answered_at = ${ts(now)}::timestamptz
     WHERE id = ${offerId} AND outcome IS NULL RETURNING id`);
  return rows.length > 0;
}

/** Open offers past their expiry, oldest first. */
export async function expiredOffers(db: Queryable, now: number): Promise<OfferRow[]> {
  const { rows } = await db.query<RawOffer>(sql`
    ${OFFER} WHERE outcome IS NULL AND expires_at <= ${ts(now)}::timestamptz ORDER BY expires_at, id`);
  return rows.map(toOffer);
}

/** Workers who declined this ticket or let an offer of it expire: never asked about it again. */
export async function refusedBy(db: Queryable, ticketId: number): Promise<number[]> {
  const { rows } = await db.query<{ workerId: number }>(sql`
    SELECT DISTINCT worker_id AS "workerId" FROM ticket_offers
     WHERE ticket_id = ${ticketId} AND outcome IN ('declined', 'timeout')`);
  return rows.map((r) => r.workerId);
}

/** A ticket's latest refused offer with whom the system offered it to next (see reofferMarks). */
export interface RefusalRow {
  ticketId: number;
  trigger: 'declined' | 'timeout';
  fromWorkerId: number;
  fromName: string;
  /** The decliner's reason, from the 拒单 timeline entry written with the answer. */
  reason: string | null;
  at: number;
  /** The offer right after the refused one, when the system made it (a re-offer); else null. */
  next: { workerId: number; name: string; rank: number | null; distanceM: number | null } | null;
}

interface RawRefusal {
  ticketId: number;
  trigger: 'declined' | 'timeout';
  fromWorkerId: number;
  fromName: string;
  reason: string | null;
  at: Date | string;
  nextWorkerId: number | null;
  nextName: string | null;
  nextRank: number | null;
  nextDistanceM: number | null;
  nextBySystem: boolean | null;
}

/**
 * For each of these tickets that still waits for a worker (registered, dispatched, returned,
 * escalated), its latest offer that was declined or ran out, when no offer has been accepted since:
 * what the desk's queue row is marked with until a worker accepts.
 */
export async function latestRefusals(db: Queryable, ticketIds: readonly number[], waiting: readonly string[]): Promise<RefusalRow[]> {
  if (ticketIds.length === 0) return [];
  const { rows } = await db.query<RawRefusal>(sql`
    SELECT DISTINCT ON (r.ticket_id)
           r.ticket_id AS "ticketId", r.outcome AS "trigger", r.worker_id AS "fromWorkerId", fw.name AS "fromName",
           CASE WHEN r.outcome = 'declined' THEN (
             SELECT e.reason FROM ticket_events e
              WHERE e.ticket_id = r.ticket_id AND e.kind = 'declined' AND e.at <= r.answered_at
              ORDER BY e.id DESC LIMIT 1) END AS reason,
           r.answered_at AS "at",
           n.worker_id AS "nextWorkerId", nw.name AS "nextName", n.rank AS "nextRank", n.distance_m AS "nextDistanceM",
           n.offered_by IS NULL AS "nextBySystem"
      FROM ticket_offers r
      JOIN tickets t ON t.id = r.ticket_id
      JOIN workers fw ON fw.id = r.worker_id
      LEFT JOIN LATERAL (
        SELECT o.worker_id, o.rank, o.distance_m, o.offered_by FROM ticket_offers o
         WHERE o.ticket_id = r.ticket_id AND o.id > r.id ORDER BY o.id LIMIT 1) n ON true
      LEFT JOIN workers nw ON nw.id = n.worker_id
     WHERE r.ticket_id = ANY(${[...ticketIds]}::bigint[])
       AND r.outcome IN ('declined', 'timeout')
       AND t.status = ANY(${[...waiting]}::text[])
       AND NOT EXISTS (SELECT 1 FROM ticket_offers a WHERE a.ticket_id = r.ticket_id AND a.id > r.id AND a.outcome = 'accepted')
     ORDER BY r.ticket_id, r.id DESC`);
  return rows.map((r) => ({
    ticketId: r.ticketId,
    trigger: r.trigger,
    fromWorkerId: r.fromWorkerId,
    fromName: r.fromName,
    reason: r.reason,
    at: ms(r.at)!,
    next:
      r.nextWorkerId !== null && r.nextBySystem
        ? { workerId: r.nextWorkerId, name: r.nextName ?? '', rank: r.nextRank, distanceM: r.nextDistanceM }
        : null,
  }));
}

export async function workerNames(db: Queryable, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; name: string }>(sql`
    SELECT id, name FROM workers WHERE id = ANY(${[...ids]}::bigint[])`);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** The active accounts of a worker (their phone's login): where an offer is sent. */
export async function usersOfWorker(db: Queryable, workerId: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(sql`SELECT id FROM users WHERE worker_id = ${workerId} AND active ORDER BY id`);
  return rows.map((r) => r.id);
}

/** The jurisdiction (region path and code) of a user. */
export async function userJurisdiction(db: Queryable, userId: number): Promise<{ code: string; path: string } | undefined> {
  const { rows } = await db.query<{ code: string; path: string }>(sql`
    SELECT r.code, r.path FROM users u JOIN regions r ON r.code = u.region_code WHERE u.id = ${userId}`);
  return rows[0];
}

/** A region's code from its path. */
export async function regionAtPath(db: Queryable, path: string): Promise<{ code: string; path: string } | undefined> {
  const { rows } = await db.query<{ code: string; path: string }>(sql`SELECT code, path FROM regions WHERE path = ${path}`);
  return rows[0];
}

/** Whether tickets of this category go out without a person: its own flag, or its class's. */
export async function autoDispatches(db: Queryable, categoryCode: string): Promise<boolean> {
  const { rows } = await db.query<{ on: boolean }>(sql`
    SELECT c.auto_dispatch OR coalesce(p.auto_dispatch, false) AS "on"
      FROM ticket_categories c LEFT JOIN ticket_categories p ON p.code = c.parent_code
     WHERE c.code = ${categoryCode}`);
  return rows[0]?.on ?? false;
}

/** Sets a category's flag; false when there is no such category. */
export async function setAutoDispatch(tx: Queryable, code: string, enabled: boolean, now: number): Promise<boolean> {
  const { rows } = await tx.query<{ code: string }>(sql`
    UPDATE ticket_categories SET auto_dispatch = ${enabled}, updated_at = ${ts(now)}::timestamptz
     WHERE code = ${code} RETURNING code`);
  return rows.length > 0;
}

export async function autoDispatchCategories(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(sql`SELECT code FROM ticket_categories WHERE auto_dispatch ORDER BY code`);
  return rows.map((r) => r.code);
}
