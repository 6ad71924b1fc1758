/**
 * Consults' SQL, all of it, parameterised. Reads on behalf of a user go through `visibleTo`: a
 * participant sees their consults; a desk sees the consults whose jurisdiction lies in its own.
 */
import { sql, type Queryable, type Sql } from '../../platform/db';
import type { Principal } from '../../platform/auth/scope';
import { CONSULT_DESK_ROLES, type ConsultEndReason, type ConsultRecording, type ConsultStatus, type ConsultSummary, type InvitableDesk, type ParticipantState } from '@shared/consults-api';

const ts = (t: number): string => new Date(t).toISOString();
const iso = (v: Date | string | null): string | null => (v === null ? null : (v instanceof Date ? v : new Date(v)).toISOString());
const ms = (v: Date | string | null): number | null => (v === null ? null : (v instanceof Date ? v : new Date(v)).getTime());

export function visibleTo(p: Principal): Sql {
  const mine = sql`EXISTS (SELECT 1 FROM consult_participants cp WHERE cp.consult_id = c.id AND cp.user_id = ${p.userId})`;
  if (p.role === 'worker') return mine;
  return sql`(${mine} OR ${p.scope.covers('c.region_path')})`;
}

/** What the service needs of the consult it acts on. */
export interface ConsultRow {
  id: number;
  status: ConsultStatus;
  room: number;
  roomPin: string;
  roomSecret: string;
  ticketId: number | null;
  alarmId: number | null;
  regionPath: string;
  createdBy: number | null;
  createdAt: number;
  startedAt: number | null;
  /** The consult's recording folder, relative to the recordings directory (null: not recorded). */
  recordingDir: string | null;
}

const ROW = sql`SELECT c.id, c.status, c.room, c.room_pin AS "roomPin", c.room_secret AS "roomSecret",
  c.ticket_id AS "ticketId", c.alarm_id AS "alarmId", c.region_path AS "regionPath", c.created_by AS "createdBy",
  c.created_at AS "createdAt", c.started_at AS "startedAt", c.recording_dir AS "recordingDir" FROM consults c`;

type RawRow = Omit<ConsultRow, 'createdAt' | 'startedAt'> & { createdAt: Date | string; startedAt: Date | string | null };
const toRow = (r: RawRow): ConsultRow => ({ ...r, room: Number(r.room), createdAt: ms(r.createdAt)!, startedAt: ms(r.startedAt) });

export async function findRow(db: Queryable, id: number, visible: Sql, lock = false): Promise<ConsultRow | null> {
  const { rows } = await db.query<RawRow>(sql`${ROW} WHERE c.id = ${id} AND ${visible} ${lock ? sql`FOR UPDATE OF c` : sql``}`);
  return rows[0] ? toRow(rows[0]) : null;
}

export async function openRows(db: Queryable): Promise<ConsultRow[]> {
  const { rows } = await db.query<RawRow>(sql`${ROW} WHERE c.status <> 'ended' ORDER BY c.id`);
  return rows.map(toRow);
}

/** A ticket the caller sees: its words, place and jurisdiction, and its worker. */
export async function ticketFor(db: Queryable, id: number, p: Principal): Promise<{ id: number; number: string; description: string; lon: number; lat: number; gridPath: string; workerId: number | null } | null> {
  const { rows } = await db.query<{ id: number; number: string; description: string; lon: number; lat: number; gridPath: string; workerId: number | null }>(sql`
    SELECT t.id, t.number, t.description, ST_X(t.location) AS lon, ST_Y(t.location) AS lat, t.grid_path AS "gridPath",
           t.assigned_worker_id AS "workerId"
      FROM tickets t WHERE t.id = ${id} AND ${p.scope.covers('t.grid_path')}`);
  return rows[0] ?? null;
}

export async function alarmFor(db: Queryable, id: number, p: Principal): Promise<{ id: number; workerId: number; workerName: string; lon: number; lat: number; gridPath: string } | null> {
  const { rows } = await db.query<{ id: number; workerId: number; workerName: string; lon: number; lat: number; gridPath: string }>(sql`
    SELECT a.id, a.worker_id AS "workerId", w.name AS "workerName", ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, a.grid_path AS "gridPath"
      FROM alarms a JOIN workers w ON w.id = a.worker_id WHERE a.id = ${id} AND ${p.scope.covers('a.grid_path')}`);
  return rows[0] ?? null;
}

/** A worker with their home grid's path and their active account (null: none to ring). */
export async function workerWithAccount(db: Queryable, workerId: number): Promise<{ id: number; name: string; gridPath: string; userId: number | null } | null> {
  const { rows } = await db.query<{ id: number; name: string; gridPath: string; userId: number | null }>(sql`
    SELECT w.id, w.name, g.path AS "gridPath",
           (SELECT u.id FROM users u WHERE u.worker_id = w.id AND u.active ORDER BY u.id LIMIT 1) AS "userId"
      FROM workers w JOIN regions g ON g.code = w.home_grid_code WHERE w.id = ${workerId} AND w.active`);
  return rows[0] ?? null;
}

/** An active account with its jurisdiction's path. */
export async function userWithPath(db: Queryable, userId: number): Promise<{ id: number; role: string; workerId: number | null; path: string; gridPath: string | null } | null> {
  const { rows } = await db.query<{ id: number; role: string; workerId: number | null; path: string; gridPath: string | null }>(sql`
    SELECT u.id, u.role, u.worker_id AS "workerId", r.path,
           (SELECT g.path FROM workers w JOIN regions g ON g.code = w.home_grid_code WHERE w.id = u.worker_id) AS "gridPath"
      FROM users u JOIN regions r ON r.code = u.region_code WHERE u.id = ${userId} AND u.active`);
  return rows[0] ?? null;
}

/**
 * The desks and leaders `p` may ring (CONSULT_DESK_ROLES), but not `p`: those whose jurisdiction lies
 * inside `p`'s, or contains it (a street's dispatcher rings the district's leader and operators, and
 * the other desks of the street). Leaders first, then operators, then dispatchers.
 */
export async function invitableDesks(db: Queryable, p: Principal): Promise<InvitableDesk[]> {
  const above = p.scope.path === null ? sql`true` : sql`starts_with(${p.scope.path}, r.path)`;
  const { rows } = await db.query<{ userId: number; name: string; role: InvitableDesk['role']; code: string; regionName: string }>(sql`
    SELECT u.id AS "userId", u.display_name AS name, u.role, r.code, r.name AS "regionName"
      FROM users u JOIN regions r ON r.code = u.region_code
     WHERE u.active AND u.worker_id IS NULL AND u.id <> ${p.userId} AND u.role = ANY(${[...CONSULT_DESK_ROLES]}::text[])
       AND (${p.scope.covers('r.path')} OR ${above})
     ORDER BY CASE u.role WHEN 'leader' THEN 0 WHEN 'operator' THEN 1 ELSE 2 END, r.path, u.display_name, u.id
     LIMIT 100`);
  return rows.map((r) => ({ userId: Number(r.userId), name: r.name, role: r.role, region: { code: r.code, name: r.regionName } }));
}

export async function regionPathOf(db: Queryable, userId: number): Promise<string> {
  const { rows } = await db.query<{ path: string }>(sql`SELECT r.path FROM users u JOIN regions r ON r.code = u.region_code WHERE u.id = ${userId}`);
  return rows[0]?.path ?? '/';
}

export async function insertConsult(tx: Queryable, c: {
  room: number; pin: string; secret: string; ticketId: number | null; alarmId: number | null; regionPath: string;
  lon: number | null; lat: number | null; createdBy: number; now: number; recordingDir: string | null;
}): Promise<number> {
  const geom = c.lon === null || c.lat === null ? sql`NULL` : sql`ST_SetSRID(ST_MakePoint(${c.lon}, ${c.lat}), 4326)`;
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO consults (room, room_pin, room_secret, ticket_id, alarm_id, region_path, geom, created_by, created_at, recording_dir)
    VALUES (${c.room}, ${c.pin}, ${c.secret}, ${c.ticketId}, ${c.alarmId}, ${c.regionPath}, ${geom}, ${c.createdBy}, ${ts(c.now)}::timestamptz, ${c.recordingDir})
    RETURNING id`);
  return Number(rows[0]!.id);
}

export async function insertParticipant(tx: Queryable, p: {
  consultId: number; userId: number; workerId: number | null; role: 'caller' | 'invitee' | 'joiner'; state: ParticipantState; now: number;
}): Promise<void> {
  const joined = p.state === 'joined' ? sql`${ts(p.now)}::timestamptz` : sql`NULL`;
  await tx.query(sql`
    INSERT INTO consult_participants (consult_id, user_id, worker_id, role, state, invited_at, joined_at)
    VALUES (${p.consultId}, ${p.userId}, ${p.workerId}, ${p.role}, ${p.state}, ${ts(p.now)}::timestamptz, ${joined})
    ON CONFLICT (consult_id, user_id) DO NOTHING`);
}

export interface ParticipantRow {
  userId: number;
  role: 'caller' | 'invitee' | 'joiner';
  state: ParticipantState;
}

export async function participants(db: Queryable, consultId: number): Promise<ParticipantRow[]> {
  const { rows } = await db.query<ParticipantRow>(sql`
    SELECT user_id AS "userId", role, state FROM consult_participants WHERE consult_id = ${consultId} ORDER BY invited_at, user_id`);
  return rows.map((r) => ({ ...r, userId: Number(r.userId) }));
}

export async function setParticipantState(tx: Queryable, consultId: number, userId: number, state: ParticipantState, now: number): Promise<void> {
  const at = sql`${ts(now)}::timestamptz`;
  await tx.query(sql`
    UPDATE consult_participants SET state = ${state},
      answered_at = CASE WHEN ${state} IN ('joined', 'declined') AND answered_at IS NULL THEN ${at} ELSE answered_at END,
      joined_at = CASE WHEN ${state} = 'joined' AND joined_at IS NULL THEN ${at} ELSE joined_at END,
      left_at = CASE WHEN ${state} = 'left' THEN ${at} ELSE left_at END
    WHERE consult_id = ${consultId} AND user_id = ${userId}`);
}

/** Everyone still ringing becomes no-answer; returns how many. */
export async function expireRinging(tx: Queryable, consultId: number): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(sql`
    WITH u AS (UPDATE consult_participants SET state = 'no_answer' WHERE consult_id = ${consultId} AND state = 'ringing' RETURNING 1)
    SELECT count(*)::int AS n FROM u`);
  return rows[0]?.n ?? 0;
}

export async function setStatus(tx: Queryable, id: number, status: ConsultStatus, now: number): Promise<void> {
  await tx.query(sql`UPDATE consults SET status = ${status},
    started_at = CASE WHEN ${status} = 'active' AND started_at IS NULL THEN ${ts(now)}::timestamptz ELSE started_at END
    WHERE id = ${id}`);
}

export async function endConsult(tx: Queryable, id: number, reason: ConsultEndReason, by: number | null, now: number): Promise<void> {
  const at = sql`${ts(now)}::timestamptz`;
  await tx.query(sql`UPDATE consults SET status = 'ended', ended_at = ${at}, ended_by = ${by}, end_reason = ${reason} WHERE id = ${id}`);
  await tx.query(sql`UPDATE consult_participants SET state = CASE WHEN state = 'ringing' THEN 'no_answer' WHEN state = 'joined' THEN 'left' ELSE state END,
    left_at = CASE WHEN state = 'joined' THEN ${at} ELSE left_at END WHERE consult_id = ${id}`);
}

interface RawSummary {
  id: number;
  status: ConsultStatus;
  room: number | string;
  ticketId: number | null;
  ticketNumber: string | null;
  ticketText: string | null;
  alarmId: number | null;
  alarmWorker: string | null;
  lon: number | null;
  lat: number | null;
  callerId: number | null;
  callerName: string | null;
  createdAt: Date | string;
  startedAt: Date | string | null;
  endedAt: Date | string | null;
  endReason: ConsultEndReason | null;
  people: Array<{ userId: number; workerId: number | null; name: string; role: 'caller' | 'invitee' | 'joiner'; userRole: string; state: ParticipantState; joinedAt: string | null; leftAt: string | null }> | null;
}

const SUMMARY = sql`
  SELECT c.id, c.status, c.room, c.ticket_id AS "ticketId", t.number AS "ticketNumber", t.description AS "ticketText",
         c.alarm_id AS "alarmId", aw.name AS "alarmWorker", ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
         c.created_by AS "callerId", cu.display_name AS "callerName", c.created_at AS "createdAt", c.started_at AS "startedAt",
         c.ended_at AS "endedAt", c.end_reason AS "endReason",
         (SELECT json_agg(json_build_object('userId', p.user_id, 'workerId', p.worker_id, 'name', coalesce(pw.name, pu.display_name),
                  'role', p.role, 'userRole', pu.role, 'state', p.state, 'joinedAt', p.joined_at, 'leftAt', p.left_at)
                  ORDER BY p.invited_at, p.user_id)
            FROM consult_participants p JOIN users pu ON pu.id = p.user_id LEFT JOIN workers pw ON pw.id = p.worker_id
           WHERE p.consult_id = c.id) AS people
    FROM consults c
    LEFT JOIN tickets t ON t.id = c.ticket_id
    LEFT JOIN alarms a ON a.id = c.alarm_id
    LEFT JOIN workers aw ON aw.id = a.worker_id
    LEFT JOIN users cu ON cu.id = c.created_by`;

function toSummary(r: RawSummary, ringTimeoutS: number): ConsultSummary {
  const created = ms(r.createdAt)!;
  const reason = r.ticketNumber ? `${r.ticketNumber} ${r.ticketText ?? ''}`.trim() : r.alarmId ? `SOS ${r.alarmWorker ?? ''}`.trim() : '';
  return {
    id: Number(r.id),
    status: r.status,
    room: Number(r.room),
    ticket: r.ticketId !== null && r.ticketNumber !== null ? { id: Number(r.ticketId), number: r.ticketNumber, title: (r.ticketText ?? '').slice(0, 80) } : null,
    alarmId: r.alarmId === null ? null : Number(r.alarmId),
    reason: reason.slice(0, 120),
    location: r.lon === null || r.lat === null ? null : { lon: r.lon, lat: r.lat },
    caller: { userId: Number(r.callerId ?? 0), name: r.callerName ?? '' },
    participants: (r.people ?? []).map((p) => ({
      userId: Number(p.userId),
      workerId: p.workerId === null ? null : Number(p.workerId),
      name: p.name,
      role: p.role,
      userRole: p.userRole,
      state: p.state,
      joinedAt: iso(p.joinedAt),
      leftAt: iso(p.leftAt),
    })),
    createdAt: iso(r.createdAt)!,
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    endReason: r.endReason,
    ringUntil: new Date(created + ringTimeoutS * 1000).toISOString(),
  };
}

export async function summary(db: Queryable, id: number, ringTimeoutS: number): Promise<ConsultSummary | null> {
  const { rows } = await db.query<RawSummary>(sql`${SUMMARY} WHERE c.id = ${id}`);
  return rows[0] ? toSummary(rows[0], ringTimeoutS) : null;
}

export async function list(db: Queryable, visible: Sql, activeOnly: boolean, ringTimeoutS: number): Promise<ConsultSummary[]> {
  const { rows } = await db.query<RawSummary>(sql`${SUMMARY} WHERE ${visible} ${activeOnly ? sql`AND c.status <> 'ended'` : sql``}
    ORDER BY c.id DESC LIMIT 100`);
  return rows.map((r) => toSummary(r, ringTimeoutS));
}

/** Ends every consult still open (their rooms died with the previous process); returns their ids. */
export async function endAllOpen(tx: Queryable, now: number): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>(sql`SELECT id FROM consults WHERE status <> 'ended' ORDER BY id`);
  for (const r of rows) await endConsult(tx, Number(r.id), 'server_restart', null, now);
  return rows.map((r) => Number(r.id));
}

/** The download route of a recording (authenticated and scoped like the consult). */
export const recordingUrl = (consultId: number, id: number): string => `/api/consults/${consultId}/recordings/${id}`;

export async function insertRecording(tx: Queryable, r: {
  consultId: number; userId: number | null; file: string; mime: string; bytes: number; durationS: number | null; now: number;
}): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO consult_recordings (consult_id, user_id, file, mime, bytes, duration_s, created_at)
    VALUES (${r.consultId}, ${r.userId}, ${r.file}, ${r.mime}, ${r.bytes}, ${r.durationS}, ${ts(r.now)}::timestamptz)
    RETURNING id`);
  return Number(rows[0]!.id);
}

interface RawRecording {
  id: number; consultId: number; userId: number | null; name: string | null; mime: string; bytes: number | string;
  durationS: number | null; createdAt: Date | string; file: string;
}

const RECORDINGS = sql`
  SELECT cr.id, cr.consult_id AS "consultId", cr.user_id AS "userId", coalesce(w.name, u.display_name) AS name, cr.mime, cr.bytes,
         cr.duration_s AS "durationS", cr.created_at AS "createdAt", cr.file
    FROM consult_recordings cr LEFT JOIN users u ON u.id = cr.user_id LEFT JOIN workers w ON w.id = u.worker_id`;

const toRecording = (r: RawRecording): ConsultRecording & { file: string } => ({
  id: Number(r.id),
  consultId: Number(r.consultId),
  userId: r.userId === null ? null : Number(r.userId),
  name: r.name ?? '',
  mime: r.mime,
  bytes: Number(r.bytes),
  durationS: r.durationS === null ? null : Number(r.durationS),
  createdAt: iso(r.createdAt)!,
  url: recordingUrl(Number(r.consultId), Number(r.id)),
  file: r.file,
});

/** A consult's recordings, with their files (relative to the recordings directory: never sent out). */
export async function recordings(db: Queryable, consultId: number): Promise<Array<ConsultRecording & { file: string }>> {
  const { rows } = await db.query<RawRecording>(sql`${RECORDINGS} WHERE cr.consult_id = ${consultId} ORDER BY cr.id`);
  return rows.map(toRecording);
}
