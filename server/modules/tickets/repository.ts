/**
 * Tickets' SQL, all of it: parameterised, and every read on behalf of a user filtered by
 * `visibleTo(principal)`, which goes through `scope.covers` on the ticket's grid path.
 */
import { raw, sql, type Queryable, type Sql } from '../../platform/db';
import type { Principal, Scope } from '../../platform/auth/scope';
import type {
  DeadlineRules,
  EscalationLevel,
  TicketEventKind,
  TicketSource,
  TicketStage,
  TicketStatus,
  TicketUrgency,
} from '@shared/tickets';
import type {
  DepartmentDto,
  DepartmentReplyDto,
  TicketCategoryDto,
  TicketEventDto,
  TicketPhotoDto,
  TicketsQuery,
} from '@shared/tickets-api';

/** A timestamp from either engine (both give Date for timestamptz; be lenient) as ISO-8601. */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

const ms = (value: Date | string | null): number | null => (value === null ? null : new Date(value).getTime());
const ts = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * What a user may see: tickets located inside their jurisdiction, plus the ones assigned to them
 * (a worker sent outside their own grid) and the ones they filed themselves.
 */
export function visibleTo(p: Principal): Sql {
  return sql`(${p.scope.covers('t.grid_path')}
    OR t.reporter_user_id = ${p.userId}
    ${p.workerId !== null ? sql`OR t.assigned_worker_id = ${p.workerId}` : sql``})`;
}

// ---------------------------------------------------------------------------------------------
// Reference data

export interface GridHit {
  code: string;
  name: string;
  path: string;
}

/**
 * The grid holding a point. A point on an edge (or corner) shared by several grids goes to the
 * lowest code, so the same point always lands in the same grid.
 */
export async function gridAt(db: Queryable, lon: number, lat: number): Promise<GridHit | undefined> {
  const { rows } = await db.query<GridHit>(sql`
    SELECT code, name, path FROM regions
     WHERE level = 'grid' AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(${lon}, ${lat}), 4326))
     ORDER BY code LIMIT 1`);
  return rows[0];
}

export async function regionName(db: Queryable, code: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(sql`SELECT name FROM regions WHERE code = ${code}`);
  return rows[0]?.name;
}

export interface CategoryRow {
  code: string;
  name: string;
  parentCode: string | null;
  /** The category's department, or its parent's when it names none. */
  departmentCode: string | null;
  active: boolean;
}

export async function findCategory(db: Queryable, code: string): Promise<CategoryRow | undefined> {
  const { rows } = await db.query<CategoryRow>(sql`
    SELECT c.code, c.name, c.parent_code AS "parentCode", coalesce(c.department_code, p.department_code) AS "departmentCode",
           c.active AND coalesce(p.active, true) AS active
      FROM ticket_categories c LEFT JOIN ticket_categories p ON p.code = c.parent_code
     WHERE c.code = ${code}`);
  return rows[0];
}

export async function listCategories(db: Queryable): Promise<TicketCategoryDto[]> {
  const { rows } = await db.query<TicketCategoryDto>(sql`
    SELECT c.code, c.parent_code AS "parentCode", c.name, c.department_code AS "departmentCode",
           c.sort_order AS "sortOrder", c.active
      FROM ticket_categories c LEFT JOIN ticket_categories p ON p.code = c.parent_code
     ORDER BY coalesce(p.sort_order, c.sort_order), coalesce(c.parent_code, c.code), c.parent_code IS NOT NULL, c.sort_order, c.code`);
  return rows;
}

export async function upsertCategory(
  db: Queryable,
  c: { code: string; name: string; parentCode: string | null; departmentCode: string | null; sortOrder: number; active: boolean },
  now: number,
): Promise<void> {
  await db.query(sql`
    INSERT INTO ticket_categories (code, parent_code, name, department_code, sort_order, active, updated_at)
    VALUES (${c.code}, ${c.parentCode}, ${c.name}, ${c.departmentCode}, ${c.sortOrder}, ${c.active}, ${ts(now)}::timestamptz)
    ON CONFLICT (code) DO UPDATE SET parent_code = EXCLUDED.parent_code, name = EXCLUDED.name,
      department_code = EXCLUDED.department_code, sort_order = EXCLUDED.sort_order, active = EXCLUDED.active,
      updated_at = EXCLUDED.updated_at`);
}

export async function listDepartments(db: Queryable): Promise<DepartmentDto[]> {
  const { rows } = await db.query<DepartmentDto>(sql`
    SELECT code, name, full_name AS "fullName", active FROM departments ORDER BY sort_order, code`);
  return rows;
}

export async function findDepartment(db: Queryable, code: string): Promise<{ code: string; name: string } | undefined> {
  const { rows } = await db.query<{ code: string; name: string }>(sql`SELECT code, name FROM departments WHERE code = ${code} AND active`);
  return rows[0];
}

export async function deadlineRules(db: Queryable): Promise<DeadlineRules> {
  const { rows } = await db.query<{ urgency: TicketUrgency; stage: TicketStage; minutes: number }>(sql`
    SELECT urgency, stage, minutes FROM ticket_deadline_rules`);
  const rules = { immediate: {}, scheduled: {}, long_term: {} } as DeadlineRules;
  for (const r of rows) rules[r.urgency][r.stage] = r.minutes;
  return rules;
}

export async function saveDeadlineRules(db: Queryable, rules: DeadlineRules): Promise<void> {
  const rows = Object.entries(rules).flatMap(([urgency, stages]) =>
    Object.entries(stages).map(([stage, minutes]) => ({ urgency, stage, minutes })));
  await db.query(sql`
    INSERT INTO ticket_deadline_rules (urgency, stage, minutes)
    SELECT r.urgency, r.stage, r.minutes FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(urgency text, stage text, minutes integer)
    ON CONFLICT (urgency, stage) DO UPDATE SET minutes = EXCLUDED.minutes`);
}

export interface DispatchableWorker {
  id: number;
  name: string;
  active: boolean;
}

/** A worker the dispatcher may send: their home grid lies inside the dispatcher's jurisdiction. */
export async function workerInScope(db: Queryable, scope: Scope, id: number): Promise<DispatchableWorker | undefined> {
  const { rows } = await db.query<DispatchableWorker>(sql`
    SELECT w.id, w.name, w.active FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.id = ${id} AND ${scope.covers('g.path')}`);
  return rows[0];
}

// ---------------------------------------------------------------------------------------------
// Tickets

/** The fields the workflow reads and writes. Times in ms since epoch. */
export interface TicketRow {
  id: number;
  number: string;
  status: TicketStatus;
  urgency: TicketUrgency;
  categoryCode: string;
  level: EscalationLevel;
  departmentCode: string | null;
  gridCode: string;
  gridPath: string;
  assignedWorkerId: number | null;
  reporterUserId: number | null;
  stage: TicketStage | null;
  stageStartedAt: number | null;
  stageDueAt: number | null;
  dueAt: number;
  receivedAt: number;
  dispatchedAt: number | null;
}

type RawTicketRow = Omit<TicketRow, 'stageStartedAt' | 'stageDueAt' | 'dueAt' | 'receivedAt' | 'dispatchedAt'> & {
  stageStartedAt: Date | null;
  stageDueAt: Date | null;
  dueAt: Date;
  receivedAt: Date;
  dispatchedAt: Date | null;
};

const TICKET_ROW = sql`
  t.id, t.number, t.status, t.urgency, t.category_code AS "categoryCode", t.level, t.department_code AS "departmentCode",
  t.grid_code AS "gridCode", t.grid_path AS "gridPath", t.assigned_worker_id AS "assignedWorkerId",
  t.reporter_user_id AS "reporterUserId", t.stage, t.stage_started_at AS "stageStartedAt", t.stage_due_at AS "stageDueAt",
  t.due_at AS "dueAt", t.received_at AS "receivedAt", t.dispatched_at AS "dispatchedAt"`;

function toRow(r: RawTicketRow): TicketRow {
  return {
    ...r,
    stageStartedAt: ms(r.stageStartedAt),
    stageDueAt: ms(r.stageDueAt),
    dueAt: ms(r.dueAt)!,
    receivedAt: ms(r.receivedAt)!,
    dispatchedAt: ms(r.dispatchedAt),
  };
}

/**
 * Locks a ticket for a transition (the row lock orders concurrent transitions on a server; PGlite
 * runs one statement at a time anyway). `visible` limits it to what the caller may see.
 */
export async function lockTicket(tx: Queryable, id: number, visible: Sql): Promise<TicketRow | undefined> {
  const { rows } = await tx.query<RawTicketRow>(sql`SELECT ${TICKET_ROW} FROM tickets t WHERE t.id = ${id} AND ${visible} FOR UPDATE`);
  return rows[0] && toRow(rows[0]);
}

export async function findIdByClientId(db: Queryable, reporterUserId: number, clientId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ id: number }>(sql`
    SELECT id FROM tickets WHERE reporter_user_id = ${reporterUserId} AND client_id = ${clientId}`);
  return rows[0]?.id;
}

/** The next number of the day; the counter's row lock serialises concurrent creations. */
export async function nextTicketSeq(tx: Queryable, day: string): Promise<number> {
  const { rows } = await tx.query<{ last: number }>(sql`
    INSERT INTO ticket_number_counters (day, last) VALUES (${day}, 1)
    ON CONFLICT (day) DO UPDATE SET last = ticket_number_counters.last + 1
    RETURNING last`);
  return rows[0]!.last;
}

export interface NewTicket {
  number: string;
  source: TicketSource;
  categoryCode: string;
  urgency: TicketUrgency;
  description: string;
  lon: number;
  lat: number;
  grid: GridHit;
  reporterUserId: number;
  reporterWorkerId: number | null;
  clientId: string | null;
  stage: TicketStage;
  stageStartedAt: number;
  stageDueAt: number;
  dueAt: number;
  now: number;
  /** When it was reported, if before now (a report queued offline on a phone). */
  receivedAt?: number;
}

/** Inserts a ticket; undefined when the reporter already has one with this clientId. */
export async function insertTicket(tx: Queryable, t: NewTicket): Promise<number | undefined> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO tickets (number, source, category_code, urgency, status, description, location, grid_code, grid_path,
                         reporter_user_id, reporter_worker_id, client_id, stage, stage_started_at, stage_due_at, due_at,
                         received_at, updated_at)
    VALUES (${t.number}, ${t.source}, ${t.categoryCode}, ${t.urgency}, 'received', ${t.description},
            ST_SetSRID(ST_MakePoint(${t.lon}, ${t.lat}), 4326), ${t.grid.code}, ${t.grid.path},
            ${t.reporterUserId}, ${t.reporterWorkerId}, ${t.clientId}, ${t.stage},
            ${ts(t.stageStartedAt)}::timestamptz, ${ts(t.stageDueAt)}::timestamptz, ${ts(t.dueAt)}::timestamptz,
            ${ts(t.receivedAt ?? t.now)}::timestamptz, ${ts(t.now)}::timestamptz)
    ON CONFLICT (reporter_user_id, client_id) DO NOTHING
    RETURNING id`);
  return rows[0]?.id;
}

/** Column stamped when a transition of this kind happens (names chosen here, never from input). */
const STAMPS: Partial<Record<TicketEventKind, string>> = {
  registered: 'registered_at',
  dispatched: 'dispatched_at',
  reassigned: 'dispatched_at',
  accepted: 'accepted_at',
  resolved: 'resolved_at',
  verified: 'verified_at',
  closed: 'closed_at',
  escalated: 'escalated_at',
};

export interface TicketUpdate {
  status: TicketStatus;
  level: EscalationLevel;
  departmentCode: string | null;
  assignedWorkerId: number | null;
  stage: TicketStage | null;
  stageStartedAt: number | null;
  stageDueAt: number | null;
  /** The overall 结案 deadline (renewed when a ticket is reopened). */
  dueAt: number;
  event: TicketEventKind;
  now: number;
}

export async function updateTicket(tx: Queryable, id: number, u: TicketUpdate): Promise<void> {
  const stamp = STAMPS[u.event];
  await tx.query(sql`
    UPDATE tickets SET status = ${u.status}, level = ${u.level}, department_code = ${u.departmentCode},
           assigned_worker_id = ${u.assignedWorkerId}, stage = ${u.stage},
           stage_started_at = ${ts(u.stageStartedAt)}::timestamptz, stage_due_at = ${ts(u.stageDueAt)}::timestamptz,
           due_at = ${ts(u.dueAt)}::timestamptz,
           ${stamp ? sql`${raw(stamp)} = ${ts(u.now)}::timestamptz,` : sql``}
           ${u.status === 'received' || u.status === 'registered' ? sql`closed_at = NULL,` : sql``}
           updated_at = ${ts(u.now)}::timestamptz
     WHERE id = ${id}`);
}

/** The 回访 rating given when the ticket was closed (a later close after reopening replaces it). */
export async function setSatisfaction(tx: Queryable, id: number, satisfaction: 'satisfied' | 'basic' | 'unsatisfied', now: number): Promise<void> {
  await tx.query(sql`UPDATE tickets SET satisfaction = ${satisfaction}, satisfaction_at = ${ts(now)}::timestamptz WHERE id = ${id}`);
}

export async function touchTicket(tx: Queryable, id: number, now: number): Promise<void> {
  await tx.query(sql`UPDATE tickets SET updated_at = ${ts(now)}::timestamptz WHERE id = ${id}`);
}

export interface NewEvent {
  ticketId: number;
  at: number;
  actorUserId: number | null;
  kind: TicketEventKind;
  fromStatus: TicketStatus | null;
  toStatus: TicketStatus | null;
  reason?: string | null;
  note?: string | null;
  detail?: unknown;
}

export async function insertEvent(tx: Queryable, e: NewEvent): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO ticket_events (ticket_id, at, actor_user_id, kind, from_status, to_status, reason, note, detail)
    VALUES (${e.ticketId}, ${ts(e.at)}::timestamptz, ${e.actorUserId}, ${e.kind}, ${e.fromStatus}, ${e.toStatus},
            ${e.reason ?? null}, ${e.note ?? null}, ${e.detail === undefined ? null : JSON.stringify(e.detail)}::jsonb)
    RETURNING id`);
  return rows[0]!.id;
}

/** The summary as the wire carries it, minus `alert` (computed against the clock by the service). */
export interface TicketSummaryRow {
  id: number;
  number: string;
  status: TicketStatus;
  urgency: TicketUrgency;
  source: TicketSource;
  category: { code: string; name: string; parentCode: string | null };
  description: string;
  location: { lon: number; lat: number };
  grid: { code: string; name: string };
  gridPath: string;
  level: EscalationLevel;
  department: { code: string; name: string } | null;
  assignedWorker: { id: number; name: string } | null;
  reporter: { userId: number | null; name: string | null; workerId: number | null };
  stage: TicketStage | null;
  stageStartedAt: string | null;
  deadline: string | null;
  closeDeadline: string;
  receivedAt: string;
  updatedAt: string;
  closedAt: string | null;
  photoCount: number;
}

interface RawSummary {
  id: number;
  number: string;
  status: TicketStatus;
  urgency: TicketUrgency;
  source: TicketSource;
  categoryCode: string;
  categoryName: string;
  categoryParent: string | null;
  description: string;
  lon: number;
  lat: number;
  gridCode: string;
  gridName: string;
  gridPath: string;
  level: EscalationLevel;
  departmentCode: string | null;
  departmentName: string | null;
  workerId: number | null;
  workerName: string | null;
  reporterUserId: number | null;
  reporterName: string | null;
  reporterWorkerId: number | null;
  stage: TicketStage | null;
  stageStartedAt: Date | null;
  stageDueAt: Date | null;
  dueAt: Date;
  receivedAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
  photoCount: number;
}

const SUMMARY_FROM = sql`
  SELECT t.id, t.number, t.status, t.urgency, t.source, t.category_code AS "categoryCode", c.name AS "categoryName",
         c.parent_code AS "categoryParent", t.description, ST_X(t.location) AS lon, ST_Y(t.location) AS lat,
         t.grid_code AS "gridCode", g.name AS "gridName", t.grid_path AS "gridPath", t.level,
         t.department_code AS "departmentCode", d.name AS "departmentName",
         t.assigned_worker_id AS "workerId", w.name AS "workerName",
         t.reporter_user_id AS "reporterUserId", u.display_name AS "reporterName", t.reporter_worker_id AS "reporterWorkerId",
         t.stage, t.stage_started_at AS "stageStartedAt", t.stage_due_at AS "stageDueAt", t.due_at AS "dueAt",
         t.received_at AS "receivedAt", t.updated_at AS "updatedAt", t.closed_at AS "closedAt",
         (SELECT count(*) FROM ticket_photos p WHERE p.ticket_id = t.id) AS "photoCount"
    FROM tickets t
    JOIN ticket_categories c ON c.code = t.category_code
    JOIN regions g ON g.code = t.grid_code
    LEFT JOIN departments d ON d.code = t.department_code
    LEFT JOIN workers w ON w.id = t.assigned_worker_id
    LEFT JOIN users u ON u.id = t.reporter_user_id`;

function toSummary(r: RawSummary): TicketSummaryRow {
  return {
    id: r.id,
    number: r.number,
    status: r.status,
    urgency: r.urgency,
    source: r.source,
    category: { code: r.categoryCode, name: r.categoryName, parentCode: r.categoryParent },
    description: r.description,
    location: { lon: r.lon, lat: r.lat },
    grid: { code: r.gridCode, name: r.gridName },
    gridPath: r.gridPath,
    level: r.level,
    department: r.departmentCode ? { code: r.departmentCode, name: r.departmentName ?? r.departmentCode } : null,
    assignedWorker: r.workerId !== null ? { id: r.workerId, name: r.workerName ?? '' } : null,
    reporter: { userId: r.reporterUserId, name: r.reporterName, workerId: r.reporterWorkerId },
    stage: r.stage,
    stageStartedAt: iso(r.stageStartedAt),
    deadline: iso(r.stageDueAt),
    closeDeadline: iso(r.dueAt),
    receivedAt: iso(r.receivedAt),
    updatedAt: iso(r.updatedAt),
    closedAt: iso(r.closedAt),
    photoCount: r.photoCount,
  };
}

/** One ticket's summary if `visible` lets the caller see it. */
export async function findSummary(db: Queryable, id: number, visible: Sql): Promise<TicketSummaryRow | undefined> {
  const { rows } = await db.query<RawSummary>(sql`${SUMMARY_FROM} WHERE t.id = ${id} AND ${visible}`);
  return rows[0] && toSummary(rows[0]);
}

/** Not closed or cancelled (the statuses a ticket leaves only by being reopened). */
export const OPEN_TICKET = sql`t.status NOT IN ('closed', 'cancelled')`;

/** Past its running stage's deadline or its overall one at `now` (meaningful for open tickets). */
export function lateAt(now: number): Sql {
  return sql`(t.stage_due_at < ${ts(now)}::timestamptz OR t.due_at < ${ts(now)}::timestamptz)`;
}

function filters(q: TicketsQuery, now: number, workerId: number | null): Sql {
  const open = OPEN_TICKET;
  const late = lateAt(now);
  return sql`
    ${q.status ? sql`AND t.status = ${q.status}` : sql``}
    ${q.category ? sql`AND (t.category_code = ${q.category} OR c.parent_code = ${q.category})` : sql``}
    ${q.level ? sql`AND t.level = ${q.level}` : sql``}
    ${q.urgency ? sql`AND t.urgency = ${q.urgency}` : sql``}
    ${q.open === true ? sql`AND ${open}` : sql``}
    ${q.open === false ? sql`AND NOT ${open}` : sql``}
    ${q.overdue === true ? sql`AND ${open} AND ${late}` : sql``}
    ${q.overdue === false ? sql`AND NOT (${open} AND ${late})` : sql``}
    ${q.attention === true ? sql`AND ${open} AND (t.urgency = 'immediate' OR ${late})` : sql``}
    ${q.attention === false ? sql`AND NOT (${open} AND (t.urgency = 'immediate' OR ${late}))` : sql``}
    ${q.mine ? sql`AND t.assigned_worker_id = ${workerId ?? -1}` : sql``}`;
}

/** A page of tickets the caller may see, the most pressing first: open ones by running deadline. */
export async function listSummaries(
  db: Queryable,
  visible: Sql,
  q: TicketsQuery,
  now: number,
  workerId: number | null,
): Promise<{ total: number; items: TicketSummaryRow[] }> {
  const where = sql`WHERE ${visible} ${filters(q, now, workerId)}`;
  const { rows: count } = await db.query<{ n: number }>(sql`
    SELECT count(*) AS n FROM tickets t JOIN ticket_categories c ON c.code = t.category_code ${where}`);
  const { rows } = await db.query<RawSummary>(sql`
    ${SUMMARY_FROM} ${where}
     ORDER BY t.status IN ('closed', 'cancelled'), t.stage_due_at ASC NULLS LAST, t.id DESC
     LIMIT ${q.limit ?? 100} OFFSET ${q.offset ?? 0}`);
  return { total: count[0]?.n ?? 0, items: rows.map(toSummary) };
}

/** Statuses in which a ticket is a worker's open task (sent to them, accepted, being handled). */
export const OPEN_TASK_STATUSES = ['dispatched', 'accepted', 'in_progress'] as const;

/** Open tasks per worker: all workers, or only those named (absent from the map = none). */
export async function openTaskCounts(db: Queryable, workerIds?: readonly number[]): Promise<Map<number, number>> {
  const { rows } = await db.query<{ workerId: number; n: number }>(sql`
    SELECT assigned_worker_id AS "workerId", count(*) AS n FROM tickets
     WHERE assigned_worker_id IS NOT NULL
       AND status IN (SELECT json_array_elements_text(${JSON.stringify(OPEN_TASK_STATUSES)}::json))
       ${workerIds ? sql`AND assigned_worker_id IN (SELECT (json_array_elements_text(${JSON.stringify(workerIds)}::json))::bigint)` : sql``}
     GROUP BY assigned_worker_id`);
  return new Map(rows.map((r) => [r.workerId, r.n]));
}

/** Open tickets whose running stage is past its deadline, in the statuses the scheduler may escalate. */
export async function overdueForEscalation(db: Queryable, now: number, statuses: readonly TicketStatus[]): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(sql`
    SELECT id FROM tickets
     WHERE status IN (SELECT json_array_elements_text(${JSON.stringify(statuses)}::json))
       AND level <> 'department' AND stage_due_at < ${ts(now)}::timestamptz
     ORDER BY stage_due_at, id`);
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Timeline, photos, replies

const EVENT_SELECT = sql`
  SELECT e.id, e.at, e.kind, e.from_status AS "fromStatus", e.to_status AS "toStatus", e.actor_user_id AS "actorUserId",
         u.display_name AS "actorName", e.reason, e.note, e.detail
    FROM ticket_events e LEFT JOIN users u ON u.id = e.actor_user_id`;

interface RawEvent {
  id: number;
  at: Date;
  kind: TicketEventKind;
  fromStatus: TicketStatus | null;
  toStatus: TicketStatus | null;
  actorUserId: number | null;
  actorName: string | null;
  reason: string | null;
  note: string | null;
  detail: unknown;
}

function toEvent(r: RawEvent): TicketEventDto {
  return {
    id: r.id,
    at: iso(r.at),
    kind: r.kind,
    fromStatus: r.fromStatus,
    toStatus: r.toStatus,
    actor: r.actorUserId !== null ? { userId: r.actorUserId, name: r.actorName ?? '' } : null,
    reason: r.reason,
    note: r.note,
    detail: r.detail ?? null,
  };
}

export async function timeline(db: Queryable, ticketId: number): Promise<TicketEventDto[]> {
  const { rows } = await db.query<RawEvent>(sql`${EVENT_SELECT} WHERE e.ticket_id = ${ticketId} ORDER BY e.id`);
  return rows.map(toEvent);
}

/** The step that brought the ticket where it stands: its latest entry that changed the status. */
export async function latestTransition(
  db: Queryable,
  ticketId: number,
): Promise<{ kind: TicketEventKind; fromStatus: TicketStatus | null; toStatus: TicketStatus; actorUserId: number | null } | undefined> {
  const { rows } = await db.query<{ kind: TicketEventKind; fromStatus: TicketStatus | null; toStatus: TicketStatus; actorUserId: number | null }>(sql`
    SELECT kind, from_status AS "fromStatus", to_status AS "toStatus", actor_user_id AS "actorUserId"
      FROM ticket_events WHERE ticket_id = ${ticketId} AND to_status IS NOT NULL ORDER BY id DESC LIMIT 1`);
  return rows[0];
}

export async function eventById(db: Queryable, id: number): Promise<TicketEventDto | undefined> {
  const { rows } = await db.query<RawEvent>(sql`${EVENT_SELECT} WHERE e.id = ${id}`);
  return rows[0] && toEvent(rows[0]);
}

export interface PhotoRow {
  id: number;
  ticketId: number;
  mime: string;
  bytes: number;
  storageKey: string;
  createdAt: string;
}

export async function insertPhoto(
  tx: Queryable,
  p: { ticketId: number; uploadedBy: number; mime: string; bytes: number; sha256: string; storageKey: string; now: number },
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO ticket_photos (ticket_id, uploaded_by, mime, bytes, sha256, storage_key, created_at)
    VALUES (${p.ticketId}, ${p.uploadedBy}, ${p.mime}, ${p.bytes}, ${p.sha256}, ${p.storageKey}, ${ts(p.now)}::timestamptz)
    RETURNING id`);
  return rows[0]!.id;
}

const photoUrl = (ticketId: number, id: number) => `/api/tickets/${ticketId}/photos/${id}`;

export async function photos(db: Queryable, ticketId: number): Promise<TicketPhotoDto[]> {
  const { rows } = await db.query<{ id: number; mime: string; bytes: number; createdAt: Date }>(sql`
    SELECT id, mime, bytes, created_at AS "createdAt" FROM ticket_photos WHERE ticket_id = ${ticketId} ORDER BY id`);
  return rows.map((r) => ({ id: r.id, mime: r.mime, bytes: r.bytes, createdAt: iso(r.createdAt), url: photoUrl(ticketId, r.id) }));
}

/** A photo of a ticket the caller may see. */
export async function findPhoto(db: Queryable, ticketId: number, photoId: number, visible: Sql): Promise<PhotoRow | undefined> {
  const { rows } = await db.query<Omit<PhotoRow, 'createdAt'> & { createdAt: Date }>(sql`
    SELECT p.id, p.ticket_id AS "ticketId", p.mime, p.bytes, p.storage_key AS "storageKey", p.created_at AS "createdAt"
      FROM ticket_photos p JOIN tickets t ON t.id = p.ticket_id
     WHERE p.id = ${photoId} AND p.ticket_id = ${ticketId} AND ${visible}`);
  const r = rows[0];
  return r && { ...r, createdAt: iso(r.createdAt) };
}

export function photoDto(p: PhotoRow): TicketPhotoDto {
  return { id: p.id, mime: p.mime, bytes: p.bytes, createdAt: p.createdAt, url: photoUrl(p.ticketId, p.id) };
}

export async function insertReply(
  tx: Queryable,
  r: { ticketId: number; departmentCode: string; acceptedAt: number; contacted: string; actions: string; dueBy: number; recordedBy: number; now: number },
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(sql`
    INSERT INTO ticket_department_replies (ticket_id, department_code, accepted_at, contacted, actions, due_by, recorded_by, recorded_at)
    VALUES (${r.ticketId}, ${r.departmentCode}, ${ts(r.acceptedAt)}::timestamptz, ${r.contacted}, ${r.actions},
            ${ts(r.dueBy)}::timestamptz, ${r.recordedBy}, ${ts(r.now)}::timestamptz)
    RETURNING id`);
  return rows[0]!.id;
}

export async function replies(db: Queryable, ticketId: number): Promise<DepartmentReplyDto[]> {
  const { rows } = await db.query<{
    id: number; code: string; name: string; acceptedAt: Date; contacted: string; actions: string; dueBy: Date; recordedAt: Date;
  }>(sql`
    SELECT r.id, d.code, d.name, r.accepted_at AS "acceptedAt", r.contacted, r.actions, r.due_by AS "dueBy", r.recorded_at AS "recordedAt"
      FROM ticket_department_replies r JOIN departments d ON d.code = r.department_code
     WHERE r.ticket_id = ${ticketId} ORDER BY r.id`);
  return rows.map((r) => ({
    id: r.id,
    department: { code: r.code, name: r.name },
    acceptedAt: iso(r.acceptedAt),
    contacted: r.contacted,
    actions: r.actions,
    dueBy: iso(r.dueBy),
    recordedAt: iso(r.recordedAt),
  }));
}
