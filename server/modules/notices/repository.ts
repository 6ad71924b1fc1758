/**
 * Notices' SQL, all of it: parameterised; what a desk reads goes through `scope.covers` on the
 * notice's path, what a worker reads through their own receipt.
 */
import { raw, sql, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { WorkerRole } from '@shared/domain';
import type { GeoJsonPolygon, NoticeRecipient, NoticeReply, NoticeSummary, NoticeUrgency } from '@shared/notices-api';
import { NOTICE_UNREAD_LIST_MAX } from '@shared/notices-api';

const iso = (value: Date | string | null): string | null => (value === null ? null : (value instanceof Date ? value : new Date(value)).toISOString());

export interface TargetRegion {
  code: string;
  path: string;
}

/** The regions named in a target, as found (unknown codes are missing). */
export async function findRegions(db: Queryable, codes: readonly string[]): Promise<TargetRegion[]> {
  if (codes.length === 0) return [];
  const { rows } = await db.query<TargetRegion>(sql`
    SELECT code, path FROM regions WHERE code IN (SELECT json_array_elements_text(${JSON.stringify(codes)}::json))`);
  return rows;
}

export interface NewNotice {
  title: string;
  body: string;
  urgency: NoticeUrgency;
  receiptRequired: boolean;
  senderUserId: number;
  /** Shown when the account has no display name (its username). */
  senderName: string;
  regionCode: string;
  path: string;
  regionCodes: readonly string[];
  roles: readonly WorkerRole[];
  area: GeoJsonPolygon | null;
  /** Only workers whose home grid lies inside this jurisdiction. */
  scope: Scope;
  now: number;
}

export interface InsertedNotice {
  id: number;
  recipients: number;
  /** The active accounts of the recipients (their phones' user rooms). */
  userIds: number[];
}

/** Who a target reaches: the CTEs `drawn`, `grids` and `recipients` (worker_id, grid_code), shared by sending and counting. */
function recipientsCtes(n: Pick<NewNotice, 'regionCodes' | 'roles' | 'area' | 'scope'>): Sql {
  const regions = JSON.stringify(n.regionCodes);
  const roles = n.roles.length > 0 ? JSON.stringify(n.roles) : null;
  const area = n.area ? JSON.stringify(n.area) : null;
  const everywhere = n.regionCodes.length === 0 && !n.area;
  return sql`
    target AS (
      SELECT r.path FROM regions r WHERE r.code IN (SELECT json_array_elements_text(${regions}::json))
    ), drawn AS (
      SELECT ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(${area}::text), 4326)) AS geom WHERE ${area}::text IS NOT NULL
    ), grids AS (
      SELECT g.code FROM regions g
       WHERE g.level = 'grid' AND ${n.scope.covers('g.path')}
         AND (${everywhere}::boolean
              OR EXISTS (SELECT 1 FROM target t WHERE g.path LIKE t.path || '%')
              OR EXISTS (SELECT 1 FROM drawn d WHERE ST_Intersects(d.geom, ST_PointOnSurface(g.geom))))
    ), recipients AS (
      SELECT w.id AS worker_id, w.home_grid_code AS grid_code
        FROM workers w JOIN grids g ON g.code = w.home_grid_code
       WHERE w.active
         AND (${roles}::json IS NULL OR w.role IN (SELECT json_array_elements_text(${roles}::json)))
    )`;
}

/** How many workers a target reaches now (what sending it would write), without writing anything. */
export async function countRecipients(db: Queryable, n: Pick<NewNotice, 'regionCodes' | 'roles' | 'area' | 'scope'>): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql`WITH ${recipientsCtes(n)} SELECT count(*)::int AS n FROM recipients`);
  return rows[0]?.n ?? 0;
}

/**
 * Resolves the recipients and writes the notice with one receipt per recipient in one statement
 * (INSERT … SELECT through data-modifying CTEs): no row per worker travels between here and the
 * database, so a district-wide notice is one round trip. Undefined when nobody is in the target
 * (then nothing is written).
 */
export async function insertNotice(db: Queryable, n: NewNotice): Promise<InsertedNotice | undefined> {
  const regions = JSON.stringify(n.regionCodes);
  const now = new Date(n.now).toISOString();
  const { rows } = await db.query<{ id: number; recipients: number; userIds: number[] | null }>(sql`
    WITH ${recipientsCtes(n)}, notice AS (
      INSERT INTO notices (title, body, urgency, receipt_required, sender_user_id, sender_name, region_code, path,
                           target_regions, target_roles, target_area, recipients, created_at)
      SELECT ${n.title}, ${n.body}, ${n.urgency}, ${n.receiptRequired}, ${n.senderUserId},
             coalesce((SELECT display_name FROM users WHERE id = ${n.senderUserId}), ${n.senderName}), ${n.regionCode}, ${n.path},
             ${regions}::jsonb, ${JSON.stringify(n.roles)}::jsonb,
             (SELECT d.geom FROM drawn d), (SELECT count(*) FROM recipients), ${now}::timestamptz
       WHERE EXISTS (SELECT 1 FROM recipients)
      RETURNING id, recipients
    ), receipts AS (
      INSERT INTO notice_receipts (notice_id, worker_id, grid_code)
      SELECT n.id, r.worker_id, r.grid_code FROM notice n CROSS JOIN recipients r
    )
    SELECT n.id, n.recipients,
           (SELECT json_agg(u.id) FROM users u JOIN recipients r ON r.worker_id = u.worker_id WHERE u.active) AS "userIds"
      FROM notice n`);
  const row = rows[0];
  if (!row) return undefined;
  return { id: row.id, recipients: row.recipients, userIds: row.userIds ?? [] };
}

interface NoticeRow {
  id: number;
  title: string;
  body: string;
  urgency: NoticeUrgency;
  receiptRequired: boolean;
  senderUserId: number | null;
  senderName: string;
  regionCode: string;
  regionName: string;
  path: string;
  targetRegions: string[];
  targetRegionNames: { code: string; name: string }[] | null;
  targetRoles: WorkerRole[];
  hasArea: boolean;
  recipients: number;
  delivered: number;
  read: number;
  replied: number;
  remindedAt: Date | null;
  createdAt: Date;
  deliveredAt?: Date | null;
  readAt?: Date | null;
  repliedAt?: Date | null;
  reply?: string | null;
}

const NOTICE_COLUMNS = sql`
  n.id, n.title, n.body, n.urgency, n.receipt_required AS "receiptRequired", n.sender_user_id AS "senderUserId",
  n.sender_name AS "senderName", n.region_code AS "regionCode", sr.name AS "regionName", n.path,
  n.target_regions AS "targetRegions",
  (SELECT json_agg(json_build_object('code', tr.code, 'name', tr.name) ORDER BY tr.code)
     FROM regions tr WHERE tr.code IN (SELECT jsonb_array_elements_text(n.target_regions))) AS "targetRegionNames",
  n.target_roles AS "targetRoles", n.target_area IS NOT NULL AS "hasArea",
  n.recipients, n.delivered_count AS delivered, n.read_count AS read, n.replied_count AS replied,
  n.reminded_at AS "remindedAt", n.created_at AS "createdAt"`;

function toSummary(r: NoticeRow, withReceipt: boolean): NoticeSummary {
  return {
    id: r.id,
    recipients: r.recipients,
    delivered: r.delivered,
    read: r.read,
    replied: r.replied,
    title: r.title,
    body: r.body,
    urgency: r.urgency,
    receiptRequired: r.receiptRequired,
    createdAt: iso(r.createdAt)!,
    sender: { userId: r.senderUserId, name: r.senderName, region: { code: r.regionCode, name: r.regionName } },
    target: { regions: r.targetRegionNames ?? [], roles: r.targetRoles, area: r.hasArea },
    remindedAt: iso(r.remindedAt),
    receipt: withReceipt
      ? { deliveredAt: iso(r.deliveredAt ?? null), readAt: iso(r.readAt ?? null), repliedAt: iso(r.repliedAt ?? null), reply: r.reply ?? null }
      : null,
  };
}

/** Notices issued inside a desk's jurisdiction, newest first. */
export async function listForDesk(db: Queryable, scope: Scope, limit: number, offset: number): Promise<{ total: number; items: NoticeSummary[] }> {
  const where = scope.covers('n.path');
  const { rows } = await db.query<NoticeRow>(sql`
    SELECT ${NOTICE_COLUMNS} FROM notices n JOIN regions sr ON sr.code = n.region_code
     WHERE ${where} ORDER BY n.id DESC LIMIT ${limit} OFFSET ${offset}`);
  const { rows: [count] } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM notices n WHERE ${where}`);
  return { total: count?.n ?? 0, items: rows.map((r) => toSummary(r, false)) };
}

const RECEIPT_COLUMNS = sql`rc.delivered_at AS "deliveredAt", rc.read_at AS "readAt", rc.replied_at AS "repliedAt", rc.reply`;

/** A worker's inbox: the notices they received, newest first. */
export async function listForWorker(db: Queryable, workerId: number, limit: number, offset: number): Promise<{ total: number; items: NoticeSummary[] }> {
  const { rows } = await db.query<NoticeRow>(sql`
    SELECT ${NOTICE_COLUMNS}, ${RECEIPT_COLUMNS}
      FROM notice_receipts rc JOIN notices n ON n.id = rc.notice_id JOIN regions sr ON sr.code = n.region_code
     WHERE rc.worker_id = ${workerId} ORDER BY rc.notice_id DESC LIMIT ${limit} OFFSET ${offset}`);
  const { rows: [count] } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM notice_receipts WHERE worker_id = ${workerId}`);
  return { total: count?.n ?? 0, items: rows.map((r) => toSummary(r, true)) };
}

/** One notice as a desk sees it (undefined when outside the jurisdiction). */
export async function findForDesk(db: Queryable, scope: Scope, id: number): Promise<(NoticeSummary & { path: string }) | undefined> {
  const { rows: [r] } = await db.query<NoticeRow>(sql`
    SELECT ${NOTICE_COLUMNS} FROM notices n JOIN regions sr ON sr.code = n.region_code
     WHERE n.id = ${id} AND ${scope.covers('n.path')}`);
  return r ? { ...toSummary(r, false), path: r.path } : undefined;
}

/** One notice as its recipient sees it (undefined when they did not receive it). */
export async function findForWorker(db: Queryable, workerId: number, id: number): Promise<NoticeSummary | undefined> {
  const { rows: [r] } = await db.query<NoticeRow>(sql`
    SELECT ${NOTICE_COLUMNS}, ${RECEIPT_COLUMNS}
      FROM notice_receipts rc JOIN notices n ON n.id = rc.notice_id JOIN regions sr ON sr.code = n.region_code
     WHERE rc.notice_id = ${id} AND rc.worker_id = ${workerId}`);
  return r ? toSummary(r, true) : undefined;
}

/** Who has not read a notice, by grid and name (at most NOTICE_UNREAD_LIST_MAX). */
export async function unreadRecipients(db: Queryable, id: number): Promise<NoticeRecipient[]> {
  const { rows } = await db.query<{ workerId: number; name: string; phone: string; role: WorkerRole; gridCode: string; gridName: string; deliveredAt: Date | null; remindedAt: Date | null }>(sql`
    SELECT w.id AS "workerId", w.name, w.phone, w.role, g.code AS "gridCode", g.name AS "gridName",
           rc.delivered_at AS "deliveredAt", rc.reminded_at AS "remindedAt"
      FROM notice_receipts rc JOIN workers w ON w.id = rc.worker_id JOIN regions g ON g.code = rc.grid_code
     WHERE rc.notice_id = ${id} AND rc.read_at IS NULL
     ORDER BY rc.grid_code, w.name, w.id LIMIT ${NOTICE_UNREAD_LIST_MAX}`);
  return rows.map((r) => ({
    workerId: r.workerId,
    name: r.name,
    phone: r.phone,
    role: r.role,
    grid: { code: r.gridCode, name: r.gridName },
    deliveredAt: iso(r.deliveredAt),
    remindedAt: iso(r.remindedAt),
  }));
}

/** The replies to a notice, newest first. */
export async function replies(db: Queryable, id: number, limit = 1000): Promise<NoticeReply[]> {
  const { rows } = await db.query<{ workerId: number; name: string; gridCode: string; gridName: string; body: string; at: Date }>(sql`
    SELECT w.id AS "workerId", w.name, g.code AS "gridCode", g.name AS "gridName", rc.reply AS body, rc.replied_at AS at
      FROM notice_receipts rc JOIN workers w ON w.id = rc.worker_id JOIN regions g ON g.code = rc.grid_code
     WHERE rc.notice_id = ${id} AND rc.replied_at IS NOT NULL
     ORDER BY rc.replied_at DESC, w.id LIMIT ${limit}`);
  return rows.map((r) => ({ workerId: r.workerId, name: r.name, grid: { code: r.gridCode, name: r.gridName }, body: r.body, at: iso(r.at)! }));
}

/**
 * Marks a worker's undelivered receipts delivered (all of them, or one notice's) and bumps each
 * notice's count in the same statement. Each receipt turns delivered once: a concurrent request
 * re-checks `delivered_at IS NULL` after the row lock, so no receipt is counted twice. Returns the
 * notices whose count changed.
 */
export async function markDelivered(db: Queryable, workerId: number, now: number, noticeId?: number): Promise<number[]> {
  const one: Sql = noticeId === undefined ? raw('') : sql`AND notice_id = ${noticeId}`;
  const { rows } = await db.query<{ id: number }>(sql`
    WITH changed AS (
      UPDATE notice_receipts SET delivered_at = ${new Date(now).toISOString()}::timestamptz
       WHERE worker_id = ${workerId} AND delivered_at IS NULL ${one}
      RETURNING notice_id
    ), counted AS (SELECT notice_id, count(*) AS k FROM changed GROUP BY notice_id)
    UPDATE notices n SET delivered_count = n.delivered_count + c.k FROM counted c WHERE n.id = c.notice_id
    RETURNING n.id`);
  return rows.map((r) => r.id);
}

/** Marks one receipt read (and delivered); true when it was unread. Counts follow in the same statement. */
export async function markRead(db: Queryable, workerId: number, noticeId: number, now: number): Promise<boolean> {
  const { rows } = await db.query<{ id: number }>(sql`
    WITH changed AS (
      UPDATE notice_receipts SET read_at = ${new Date(now).toISOString()}::timestamptz
       WHERE worker_id = ${workerId} AND notice_id = ${noticeId} AND read_at IS NULL
      RETURNING notice_id
    )
    UPDATE notices n SET read_count = n.read_count + 1 FROM changed c WHERE n.id = c.notice_id
    RETURNING n.id`);
  return rows.length > 0;
}

/**
 * Records a worker's reply; the first reply counts, a later one replaces its text. Returns whether
 * the reply was new and whether the text changed.
 */
export async function reply(db: Queryable, workerId: number, noticeId: number, body: string, now: number): Promise<{ first: boolean; changed: boolean }> {
  const at = new Date(now).toISOString();
  const { rows: [first] } = await db.query<{ id: number }>(sql`
    WITH changed AS (
      UPDATE notice_receipts SET replied_at = ${at}::timestamptz, reply = ${body}
       WHERE worker_id = ${workerId} AND notice_id = ${noticeId} AND replied_at IS NULL
      RETURNING notice_id
    )
    UPDATE notices n SET replied_count = n.replied_count + 1 FROM changed c WHERE n.id = c.notice_id
    RETURNING n.id`);
  if (first) return { first: true, changed: true };
  const { rowCount } = await db.query(sql`
    UPDATE notice_receipts SET reply = ${body}
     WHERE worker_id = ${workerId} AND notice_id = ${noticeId} AND reply IS DISTINCT FROM ${body}`);
  return { first: false, changed: rowCount > 0 };
}

/** Marks the unread receipts reminded and returns the active accounts of those workers. */
export async function remind(db: Queryable, noticeId: number, now: number): Promise<{ reminded: number; userIds: number[] }> {
  const at = new Date(now).toISOString();
  const { rows: [r] } = await db.query<{ reminded: number; userIds: number[] | null }>(sql`
    WITH changed AS (
      UPDATE notice_receipts SET reminded_at = ${at}::timestamptz
       WHERE notice_id = ${noticeId} AND read_at IS NULL
      RETURNING worker_id
    ), stamped AS (
      UPDATE notices SET reminded_at = ${at}::timestamptz WHERE id = ${noticeId} AND EXISTS (SELECT 1 FROM changed)
    )
    SELECT (SELECT count(*) FROM changed) AS reminded,
           (SELECT json_agg(u.id) FROM users u JOIN changed c ON c.worker_id = u.worker_id WHERE u.active) AS "userIds"`);
  return { reminded: r?.reminded ?? 0, userIds: r?.userIds ?? [] };
}

/** The counts and path of notices, for `notice.receipts`. */
export async function counts(db: Queryable, ids: readonly number[]): Promise<{ id: number; path: string; senderUserId: number | null; recipients: number; delivered: number; read: number; replied: number }[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: number; path: string; senderUserId: number | null; recipients: number; delivered: number; read: number; replied: number }>(sql`
    SELECT id, path, sender_user_id AS "senderUserId", recipients, delivered_count AS delivered, read_count AS read, replied_count AS replied
      FROM notices WHERE id IN (SELECT (json_array_elements_text(${JSON.stringify(ids)}::json))::bigint)`);
  return rows;
}

/** The workers who have not read a notice yet (for the simulated phones), with its urgency and whether a reply is asked. */
export async function pendingRecipients(db: Queryable, id: number): Promise<{ urgency: NoticeUrgency; receiptRequired: boolean; workerIds: number[] } | undefined> {
  const { rows: [r] } = await db.query<{ urgency: NoticeUrgency; receiptRequired: boolean; workerIds: number[] | null }>(sql`
    SELECT n.urgency, n.receipt_required AS "receiptRequired",
           (SELECT json_agg(rc.worker_id) FROM notice_receipts rc WHERE rc.notice_id = n.id AND rc.read_at IS NULL) AS "workerIds"
      FROM notices n WHERE n.id = ${id}`);
  return r ? { urgency: r.urgency, receiptRequired: r.receiptRequired, workerIds: (r.workerIds ?? []).map(Number) } : undefined;
}
