/**
 * Alarms' SQL, all of it, parameterised. Every read on behalf of a user goes through
 * `visibleTo(principal)`: desks see the alarms of workers whose home grid lies in their
 * jurisdiction, a worker sees their own.
 */
import { sql, type Queryable, type Sql } from '../../platform/db';
import type { Principal } from '../../platform/auth/scope';
import type { AlarmEvent, AlarmEventKind, AlarmKind, AlarmSource, AlarmStatus, AlarmSummary, AlarmTicketRef } from '@shared/alarms-api';

const ts = (t: number): string => new Date(t).toISOString();
const iso = (v: Date | string | null): string | null => (v === null ? null : (v instanceof Date ? v : new Date(v)).toISOString());

export function visibleTo(p: Principal): Sql {
  if (p.role === 'worker') return p.workerId !== null ? sql`a.worker_id = ${p.workerId}` : sql`false`;
  return p.scope.covers('a.grid_path');
}

/** What the machine and the broadcast need of an alarm under its row lock. */
export interface AlarmRow {
  id: number;
  kind: AlarmKind;
  status: AlarmStatus;
  workerId: number;
  gridPath: string;
  acknowledgedAt: number | null;
  resolvedBy: number | null;
}

interface RawSummary {
  id: number;
  kind: AlarmKind;
  status: AlarmStatus;
  source: AlarmSource;
  workerId: number;
  workerName: string;
  workerPhone: string;
  gridCode: string;
  gridName: string;
  gridPath: string;
  lon: number;
  lat: number;
  accuracy: number | null;
  raisedAt: Date | string;
  repeats: number;
  acknowledgedAt: Date | string | null;
  ackId: number | null;
  ackName: string | null;
  resolvedAt: Date | string | null;
  resId: number | null;
  resName: string | null;
  note: string | null;
}

const SUMMARY = sql`
  SELECT a.id, a.kind, a.status, a.source, a.worker_id AS "workerId", w.name AS "workerName", w.phone AS "workerPhone",
         a.grid_code AS "gridCode", g.name AS "gridName", a.grid_path AS "gridPath",
         ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, a.accuracy, a.raised_at AS "raisedAt", a.repeats,
         a.acknowledged_at AS "acknowledgedAt", ua.id AS "ackId", ua.display_name AS "ackName",
         a.resolved_at AS "resolvedAt", ur.id AS "resId", ur.display_name AS "resName", a.note
    FROM alarms a
    JOIN workers w ON w.id = a.worker_id
    JOIN regions g ON g.code = a.grid_code
    LEFT JOIN users ua ON ua.id = a.acknowledged_by
    LEFT JOIN users ur ON ur.id = a.resolved_by`;

export interface SummaryRow {
  summary: AlarmSummary;
  gridPath: string;
}

function toSummary(r: RawSummary): SummaryRow {
  return {
    gridPath: r.gridPath,
    summary: {
      id: r.id,
      kind: r.kind,
      status: r.status,
      source: r.source,
      worker: { id: r.workerId, name: r.workerName, phone: r.workerPhone },
      grid: { code: r.gridCode, name: r.gridName },
      lon: r.lon,
      lat: r.lat,
      accuracy: r.accuracy,
      raisedAt: iso(r.raisedAt)!,
      repeats: r.repeats,
      acknowledgedAt: iso(r.acknowledgedAt),
      acknowledgedBy: r.ackId === null ? null : { id: r.ackId, name: r.ackName ?? '' },
      resolvedAt: iso(r.resolvedAt),
      resolvedBy: r.resId === null ? null : { id: r.resId, name: r.resName ?? '' },
      note: r.note,
    },
  };
}

export async function findSummary(db: Queryable, id: number, visible: Sql): Promise<SummaryRow | undefined> {
  const { rows } = await db.query<RawSummary>(sql`${SUMMARY} WHERE a.id = ${id} AND ${visible}`);
  return rows[0] && toSummary(rows[0]);
}

/** Open ones first (newest first), then the rest newest first; at most `limit`. */
export async function listSummaries(db: Queryable, visible: Sql, open: boolean, limit: number): Promise<AlarmSummary[]> {
  const { rows } = await db.query<RawSummary>(sql`${SUMMARY}
    WHERE ${visible} ${open ? sql`AND a.status IN ('raised', 'acknowledged')` : sql``}
    ORDER BY a.status IN ('raised', 'acknowledged') DESC, a.id DESC LIMIT ${limit}`);
  return rows.map((r) => toSummary(r).summary);
}

export async function lockAlarm(tx: Queryable, id: number, visible: Sql): Promise<AlarmRow | undefined> {
  const { rows } = await tx.query<Omit<AlarmRow, 'acknowledgedAt'> & { acknowledgedAt: Date | string | null }>(sql`
    SELECT a.id, a.kind, a.status, a.worker_id AS "workerId", a.grid_path AS "gridPath",
           a.acknowledged_at AS "acknowledgedAt", a.resolved_by AS "resolvedBy"
      FROM alarms a WHERE a.id = ${id} AND ${visible} FOR UPDATE`);
  const r = rows[0];
  return r && { ...r, acknowledgedAt: r.acknowledgedAt === null ? null : new Date(r.acknowledgedAt).getTime() };
}

/** The worker's open alarm of a kind, locked (the partial unique index allows one). */
export async function lockOpenAlarm(tx: Queryable, workerId: number, kind: AlarmKind): Promise<AlarmRow | undefined> {
  const { rows } = await tx.query<{ id: number }>(sql`
    SELECT id FROM alarms WHERE worker_id = ${workerId} AND kind = ${kind} AND status IN ('raised', 'acknowledged')`);
  return rows[0] ? lockAlarm(tx, rows[0].id, sql`true`) : undefined;
}

export interface WorkerHome {
  id: number;
  gridCode: string;
  gridPath: string;
}

export async function workerHome(db: Queryable, workerId: number): Promise<WorkerHome | undefined> {
  const { rows } = await db.query<WorkerHome>(sql`
    SELECT w.id, g.code AS "gridCode", g.path AS "gridPath" FROM workers w JOIN regions g ON g.code = w.home_grid_code WHERE w.id = ${workerId}`);
  return rows[0];
}

export async function alarmByClientId(db: Queryable, workerId: number, clientId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ alarmId: number }>(sql`
    SELECT alarm_id AS "alarmId" FROM alarm_client_ids WHERE worker_id = ${workerId} AND client_id = ${clientId}`);
  return rows[0]?.alarmId;
}

/** Remembers a client id; false when another request took it first. */
export async function rememberClientId(tx: Queryable, workerId: number, clientId: string, alarmId: number): Promise<boolean> {
  const { rowCount } = await tx.query(sql`
    INSERT INTO alarm_client_ids (worker_id, client_id, alarm_id) VALUES (${workerId}, ${clientId}, ${alarmId})
    ON CONFLICT DO NOTHING`);
  return rowCount > 0;
}

export interface NewAlarm {
  kind: AlarmKind;
  workerId: number;
  gridCode: string;
  gridPath: string;
  lon: number;
  lat: number;
  accuracy: number | null;
  source: AlarmSource;
  deviceId: number | null;
  raisedByUserId: number | null;
  raisedAt: number;
  now: number;
}

/** Inserts a raised alarm; undefined when the worker already has one open (a concurrent raise won). */
export async function insertAlarm(tx: Queryable, a: NewAlarm): Promise<number | undefined> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO alarms (kind, worker_id, grid_code, grid_path, geom, accuracy, source, device_id, raised_by_user_id, raised_at, received_at, updated_at)
    VALUES (${a.kind}, ${a.workerId}, ${a.gridCode}, ${a.gridPath}, ST_SetSRID(ST_MakePoint(${a.lon}, ${a.lat}), 4326), ${a.accuracy},
            ${a.source}, ${a.deviceId}, ${a.raisedByUserId}, ${ts(a.raisedAt)}::timestamptz, ${ts(a.now)}::timestamptz, ${ts(a.now)}::timestamptz)
    ON CONFLICT (worker_id, kind) WHERE status IN ('raised', 'acknowledged') DO NOTHING
    RETURNING id`);
  return rows[0]?.id;
}

/** A repeat: one more SOS, and the newest position. */
export async function repeatAlarm(tx: Queryable, id: number, r: { lon: number; lat: number; accuracy: number | null; now: number }): Promise<void> {
  await tx.query(sql`
    UPDATE alarms SET repeats = repeats + 1, last_repeated_at = ${ts(r.now)}::timestamptz, updated_at = ${ts(r.now)}::timestamptz,
           geom = ST_SetSRID(ST_MakePoint(${r.lon}, ${r.lat}), 4326), accuracy = ${r.accuracy}
     WHERE id = ${id}`);
}

export async function updateStatus(
  tx: Queryable,
  id: number,
  u: { status: AlarmStatus; userId: number; note: string | null; acknowledge: boolean; close: boolean; now: number },
): Promise<void> {
  const now = ts(u.now);
  await tx.query(sql`
    UPDATE alarms SET status = ${u.status}, updated_at = ${now}::timestamptz,
           note = coalesce(${u.note}, note),
           acknowledged_at = ${u.acknowledge ? sql`coalesce(acknowledged_at, ${now}::timestamptz)` : sql`acknowledged_at`},
           acknowledged_by = ${u.acknowledge ? sql`coalesce(acknowledged_by, ${u.userId}::bigint)` : sql`acknowledged_by`},
           resolved_at = ${u.close ? sql`${now}::timestamptz` : sql`resolved_at`},
           resolved_by = ${u.close ? sql`${u.userId}::bigint` : sql`resolved_by`}
     WHERE id = ${id}`);
}

export async function insertEvent(
  tx: Queryable,
  e: { alarmId: number; at: number; kind: AlarmEventKind; actorUserId: number | null; note?: string | null; detail?: Record<string, unknown> },
): Promise<void> {
  await tx.query(sql`
    INSERT INTO alarm_events (alarm_id, at, kind, actor_user_id, note, detail)
    VALUES (${e.alarmId}, ${ts(e.at)}::timestamptz, ${e.kind}, ${e.actorUserId}, ${e.note ?? null},
            ${e.detail === undefined ? null : JSON.stringify(e.detail)}::jsonb)`);
}

export async function timeline(db: Queryable, alarmId: number): Promise<AlarmEvent[]> {
  const { rows } = await db.query<{ id: number; at: Date | string; kind: AlarmEventKind; actorId: number | null; actorName: string | null; note: string | null; detail: unknown }>(sql`
    SELECT e.id, e.at, e.kind, u.id AS "actorId", u.display_name AS "actorName", e.note, e.detail
      FROM alarm_events e LEFT JOIN users u ON u.id = e.actor_user_id
     WHERE e.alarm_id = ${alarmId} ORDER BY e.id`);
  return rows.map((r) => ({
    id: r.id,
    at: iso(r.at)!,
    kind: r.kind,
    actor: r.actorId === null ? null : { id: r.actorId, name: r.actorName ?? '' },
    note: r.note,
    detail: r.detail ?? null,
  }));
}

/** The worker's fixes in [from, to], oldest first, as [lon, lat, ms]. */
export async function trail(db: Queryable, workerId: number, from: number, to: number): Promise<number[][]> {
  const { rows } = await db.query<{ lon: number; lat: number; t: number | string }>(sql`
    SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, extract(epoch FROM recorded_at) * 1000 AS t
      FROM worker_positions
     WHERE worker_id = ${workerId} AND recorded_at BETWEEN ${ts(from)}::timestamptz AND ${ts(to)}::timestamptz
     ORDER BY recorded_at LIMIT 2000`);
  return rows.map((r) => [r.lon, r.lat, Math.round(Number(r.t))]);
}

/** The user accounts of a worker (their phone's sessions sit in these users' rooms). */
export async function workerUserIds(db: Queryable, workerId: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(sql`SELECT id FROM users WHERE worker_id = ${workerId} AND active`);
  return rows.map((r) => r.id);
}

export async function linkTicket(tx: Queryable, alarmId: number, ticketId: number): Promise<void> {
  await tx.query(sql`INSERT INTO alarm_tickets (alarm_id, ticket_id) VALUES (${alarmId}, ${ticketId}) ON CONFLICT DO NOTHING`);
}

export async function tickets(db: Queryable, alarmId: number): Promise<AlarmTicketRef[]> {
  const { rows } = await db.query<{ id: number; number: string; status: string; workerId: number | null; workerName: string | null }>(sql`
    SELECT t.id, t.number, t.status, w.id AS "workerId", w.name AS "workerName"
      FROM alarm_tickets at JOIN tickets t ON t.id = at.ticket_id LEFT JOIN workers w ON w.id = t.assigned_worker_id
     WHERE at.alarm_id = ${alarmId} ORDER BY t.id`);
  return rows.map((r) => ({ id: r.id, number: r.number, status: r.status, assignedWorker: r.workerId === null ? null : { id: r.workerId, name: r.workerName ?? '' } }));
}
