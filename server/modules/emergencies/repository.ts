/**
 * Emergencies' SQL, all of it, parameterised. What a desk reads is limited to the grids of the area
 * inside its jurisdiction (`scope.covers` on the grid's path); what a worker reads goes through their
 * own call-up row. The call-up notice is written here too, into the notices tables, because it is
 * resolved from the emergency's call-up rows (party members included) rather than from a target.
 */
import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { GeoJsonPolygon } from '@shared/notices-api';
import type {
  EmergencyGridRow,
  EmergencyStatus,
  EmergencySummary,
  EmergencyType,
  MobilisationCounts,
  Resource,
  ResourceKind,
} from '@shared/emergencies-api';

const iso = (value: Date | string | null): string | null => (value === null ? null : (value instanceof Date ? value : new Date(value)).toISOString());

export interface FoundRegion {
  code: string;
  path: string;
  level: string;
}

/** The regions named in an area, as found (unknown codes are missing). */
export async function findRegions(db: Queryable, codes: readonly string[]): Promise<FoundRegion[]> {
  if (codes.length === 0) return [];
  const { rows } = await db.query<FoundRegion>(sql`
    SELECT code, path, level FROM regions WHERE code IN (SELECT json_array_elements_text(${JSON.stringify(codes)}::json))`);
  return rows;
}

/** Share of a drawn polygon (0–1) that lies outside a region. */
export async function shareOutside(db: Queryable, regionCode: string, polygon: GeoJsonPolygon): Promise<number> {
  const { rows: [r] } = await db.query<{ share: number | null }>(sql`
    WITH d AS (SELECT ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(${JSON.stringify(polygon)}::text), 4326)) AS geom)
    SELECT CASE WHEN ST_Area(d.geom) = 0 THEN 1
                ELSE ST_Area(ST_Difference(d.geom, r.geom)) / ST_Area(d.geom) END AS share
      FROM d, regions r WHERE r.code = ${regionCode}`);
  return r?.share ?? 1;
}

export interface NewEmergency {
  type: EmergencyType;
  level: number;
  note: string;
  regionCode: string;
  path: string;
  regionCodes: readonly string[];
  polygon: GeoJsonPolygon | null;
  declaredBy: number;
  declaredByName: string;
  scope: Scope;
  now: number;
}

/**
 * Writes the emergency, its grids (those under a named region, or whose interior point lies in the
 * drawn polygon, inside the leader's jurisdiction) and one call-up row per grid worker on the roll
 * and per party member registered to those grids, then the grids' called counts. Undefined (nothing
 * written) when the area holds no grid.
 */
export async function insertEmergency(db: Queryable, e: NewEmergency): Promise<{ id: number; grids: number; called: number } | undefined> {
  const regions = JSON.stringify(e.regionCodes);
  const polygon = e.polygon ? JSON.stringify(e.polygon) : null;
  const now = new Date(e.now).toISOString();
  // The area's outline: the named regions and the drawn polygon (clipped to the jurisdiction).
  const { rows: [row] } = await db.query<{ id: number }>(sql`
    WITH named AS (
      SELECT r.geom FROM regions r WHERE r.code IN (SELECT json_array_elements_text(${regions}::json))
    ), drawn AS (
      SELECT ST_Intersection(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(${polygon}::text), 4326)), j.geom) AS geom
        FROM regions j WHERE j.code = ${e.regionCode} AND ${polygon}::text IS NOT NULL
    ), parts AS (SELECT geom FROM named UNION ALL SELECT geom FROM drawn)
    INSERT INTO emergencies (type, level, note, region_code, path, area_regions, drawn, area, declared_by, declared_by_name, declared_at)
    SELECT ${e.type}, ${e.level}, ${e.note}, ${e.regionCode}, ${e.path}, ${regions}::jsonb, ${polygon !== null},
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(p.geom)), 3)), ${e.declaredBy},
           coalesce((SELECT display_name FROM users WHERE id = ${e.declaredBy}), ${e.declaredByName}), ${now}::timestamptz
      FROM parts p
    HAVING count(*) > 0
    RETURNING id`);
  if (!row) return undefined;
  const id = row.id;
  const { rows: grids } = await db.query<{ code: string }>(sql`
    WITH target AS (
      SELECT r.path FROM regions r WHERE r.code IN (SELECT json_array_elements_text(${regions}::json))
    ), drawn AS (
      SELECT ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(${polygon}::text), 4326)) AS geom WHERE ${polygon}::text IS NOT NULL
    )
    INSERT INTO emergency_grids (emergency_id, grid_code, grid_path, lon, lat)
    SELECT ${id}, g.code, g.path, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM regions g
     WHERE g.level = 'grid' AND ${e.scope.covers('g.path')}
       AND (EXISTS (SELECT 1 FROM target t WHERE g.path LIKE t.path || '%')
            OR EXISTS (SELECT 1 FROM drawn d WHERE ST_Intersects(d.geom, ST_PointOnSurface(g.geom))))
    RETURNING grid_code AS code`);
  if (grids.length === 0) return undefined;
  // Everyone on the roll of those grids: the active work force and the party-member reserve.
  await db.query(sql`
    INSERT INTO emergency_callups (emergency_id, worker_id, grid_code, party, called_at)
    SELECT ${id}, w.id, w.home_grid_code, w.role = 'party_member', ${now}::timestamptz
      FROM workers w JOIN emergency_grids eg ON eg.emergency_id = ${id} AND eg.grid_code = w.home_grid_code
     WHERE w.active OR w.role = 'party_member'`);
  const { rows: [c] } = await db.query<{ called: number }>(sql`
    WITH counted AS (
      SELECT grid_code, count(*) AS n, count(*) FILTER (WHERE party) AS p
        FROM emergency_callups WHERE emergency_id = ${id} GROUP BY grid_code
    ), updated AS (
      UPDATE emergency_grids eg SET called = c.n, party_called = c.p
        FROM counted c WHERE eg.emergency_id = ${id} AND eg.grid_code = c.grid_code
      RETURNING eg.called
    )
    SELECT coalesce(sum(called), 0)::int AS called FROM updated`);
  return { id, grids: grids.length, called: c?.called ?? 0 };
}

export interface CallUpNotice {
  title: string;
  body: string;
  senderUserId: number;
  senderName: string;
  regionCode: string;
  path: string;
  regionCodes: readonly string[];
  emergencyId: number;
  now: number;
}

/**
 * The call-up (应急动员): one urgent notice with a receipt for every person the emergency called —
 * the party-member reserve too, which an ordinary notice never reaches — written from the call-up
 * rows in one statement, so the phones' inboxes and the notices' receipts show it like any notice.
 * Returns the notice and the active accounts of the people called (their phones' rooms).
 */
export async function insertCallUpNotice(db: Queryable, n: CallUpNotice): Promise<{ id: number; recipients: number; userIds: number[] } | undefined> {
  const now = new Date(n.now).toISOString();
  const { rows: [row] } = await db.query<{ id: number; recipients: number; userIds: number[] | null }>(sql`
    WITH recipients AS (
      SELECT c.worker_id, c.grid_code FROM emergency_callups c WHERE c.emergency_id = ${n.emergencyId}
    ), notice AS (
      INSERT INTO notices (title, body, urgency, receipt_required, sender_user_id, sender_name, region_code, path,
                           target_regions, target_roles, target_area, recipients, created_at)
      SELECT ${n.title}, ${n.body}, 'urgent', true, ${n.senderUserId},
             coalesce((SELECT display_name FROM users WHERE id = ${n.senderUserId}), ${n.senderName}), ${n.regionCode}, ${n.path},
             ${JSON.stringify(n.regionCodes)}::jsonb, '[]'::jsonb,
             (SELECT e.area FROM emergencies e WHERE e.id = ${n.emergencyId} AND e.drawn),
             (SELECT count(*) FROM recipients), ${now}::timestamptz
       WHERE EXISTS (SELECT 1 FROM recipients)
      RETURNING id, recipients
    ), receipts AS (
      INSERT INTO notice_receipts (notice_id, worker_id, grid_code)
      SELECT n.id, r.worker_id, r.grid_code FROM notice n CROSS JOIN recipients r
    ), linked AS (
      UPDATE emergencies e SET notice_id = n.id FROM notice n WHERE e.id = ${n.emergencyId}
    )
    SELECT n.id, n.recipients,
           (SELECT json_agg(u.id) FROM users u JOIN recipients r ON r.worker_id = u.worker_id WHERE u.active) AS "userIds"
      FROM notice n`);
  return row ? { id: row.id, recipients: row.recipients, userIds: row.userIds ?? [] } : undefined;
}

interface EmergencyRow {
  id: number;
  type: EmergencyType;
  level: number;
  note: string;
  status: EmergencyStatus;
  declaredAt: Date;
  closedAt: Date | null;
  declaredBy: number | null;
  declaredByName: string;
  regionCode: string;
  regionName: string;
  path: string;
  areaRegionNames: { code: string; name: string }[] | null;
  drawn: boolean;
  area: string;
  noticeId: number | null;
}

const EMERGENCY_COLUMNS = sql`
  e.id, e.type, e.level, e.note, e.status, e.declared_at AS "declaredAt", e.closed_at AS "closedAt",
  e.declared_by AS "declaredBy", e.declared_by_name AS "declaredByName", e.region_code AS "regionCode", jr.name AS "regionName", e.path,
  (SELECT json_agg(json_build_object('code', ar.code, 'name', ar.name) ORDER BY ar.code)
     FROM regions ar WHERE ar.code IN (SELECT jsonb_array_elements_text(e.area_regions))) AS "areaRegionNames",
  e.drawn, ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(e.area, 0.00003)), 6) AS area, e.notice_id AS "noticeId"`;

function toSummary(r: EmergencyRow): EmergencySummary & { path: string } {
  return {
    id: r.id,
    type: r.type,
    level: r.level,
    note: r.note,
    status: r.status,
    declaredAt: iso(r.declaredAt)!,
    closedAt: iso(r.closedAt),
    declaredBy: { userId: r.declaredBy, name: r.declaredByName },
    region: { code: r.regionCode, name: r.regionName },
    areaRegions: r.areaRegionNames ?? [],
    drawn: r.drawn,
    area: JSON.parse(r.area) as EmergencySummary['area'],
    noticeId: r.noticeId,
    path: r.path,
  };
}

/** Whether any grid of the emergency lies inside the scope. */
const meets = (scope: Scope) => sql`EXISTS (SELECT 1 FROM emergency_grids eg WHERE eg.emergency_id = e.id AND ${scope.covers('eg.grid_path')})`;

/** Emergencies whose area meets the desk's jurisdiction, newest first. */
export async function listForDesk(db: Queryable, scope: Scope, status: EmergencyStatus | undefined, limit: number): Promise<(EmergencySummary & { path: string })[]> {
  const { rows } = await db.query<EmergencyRow>(sql`
    SELECT ${EMERGENCY_COLUMNS} FROM emergencies e JOIN regions jr ON jr.code = e.region_code
     WHERE ${meets(scope)} ${status ? sql`AND e.status = ${status}` : sql``}
     ORDER BY e.id DESC LIMIT ${limit}`);
  return rows.map(toSummary);
}

/** One emergency, if its area meets the scope. */
export async function findForDesk(db: Queryable, scope: Scope, id: number): Promise<(EmergencySummary & { path: string }) | undefined> {
  const { rows: [r] } = await db.query<EmergencyRow>(sql`
    SELECT ${EMERGENCY_COLUMNS} FROM emergencies e JOIN regions jr ON jr.code = e.region_code
     WHERE e.id = ${id} AND ${meets(scope)}`);
  return r ? toSummary(r) : undefined;
}

export interface CallUpRow {
  emergencyId: number;
  gridCode: string;
  gridName: string;
  party: boolean;
  acknowledgedAt: string | null;
  reportedInAt: string | null;
}

/** The emergencies a worker was called up for, newest first, with their call-up. */
export async function listForWorker(db: Queryable, workerId: number, status: EmergencyStatus | undefined, limit: number): Promise<{ emergency: EmergencySummary & { path: string }; callUp: CallUpRow }[]> {
  const { rows } = await db.query<EmergencyRow & { gridCode: string; gridName: string; party: boolean; acknowledgedAt: Date | null; reportedInAt: Date | null }>(sql`
    SELECT ${EMERGENCY_COLUMNS}, c.grid_code AS "gridCode", g.name AS "gridName", c.party,
           c.acknowledged_at AS "acknowledgedAt", c.reported_in_at AS "reportedInAt"
      FROM emergency_callups c JOIN emergencies e ON e.id = c.emergency_id JOIN regions jr ON jr.code = e.region_code
      JOIN regions g ON g.code = c.grid_code
     WHERE c.worker_id = ${workerId} ${status ? sql`AND e.status = ${status}` : sql``}
     ORDER BY e.id DESC LIMIT ${limit}`);
  return rows.map((r) => ({
    emergency: toSummary(r),
    callUp: { emergencyId: r.id, gridCode: r.gridCode, gridName: r.gridName, party: r.party, acknowledgedAt: iso(r.acknowledgedAt), reportedInAt: iso(r.reportedInAt) },
  }));
}

interface GridDbRow {
  code: string;
  name: string;
  path: string;
  lon: number;
  lat: number;
  called: number;
  acknowledged: number;
  reportedIn: number;
  partyCalled: number;
  partyReportedIn: number;
}

const GRID_COLUMNS = sql`
  eg.grid_code AS code, g.name, eg.grid_path AS path, eg.lon, eg.lat,
  eg.called, eg.acknowledged, eg.reported_in AS "reportedIn", eg.party_called AS "partyCalled", eg.party_reported_in AS "partyReportedIn"`;

const toGrid = ({ path: _path, ...r }: GridDbRow): EmergencyGridRow => r;

/** The emergency's grids inside the scope, with their counts. */
export async function grids(db: Queryable, scope: Scope, id: number): Promise<EmergencyGridRow[]> {
  const { rows } = await db.query<GridDbRow>(sql`
    SELECT ${GRID_COLUMNS} FROM emergency_grids eg JOIN regions g ON g.code = eg.grid_code
     WHERE eg.emergency_id = ${id} AND ${scope.covers('eg.grid_path')} ORDER BY eg.grid_code`);
  return rows.map(toGrid);
}

/** Some grids of some emergencies (what changed), with their paths for the rooms to tell. */
export async function gridsByCode(db: Queryable, keys: readonly { id: number; grid: string }[]): Promise<(EmergencyGridRow & { emergencyId: number; path: string })[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<GridDbRow & { emergencyId: number }>(sql`
    SELECT eg.emergency_id AS "emergencyId", ${GRID_COLUMNS}
      FROM json_to_recordset(${JSON.stringify(keys)}::json) AS k(id bigint, grid text)
      JOIN emergency_grids eg ON eg.emergency_id = k.id AND eg.grid_code = k.grid
      JOIN regions g ON g.code = eg.grid_code`);
  return rows.map((r) => ({ ...toGrid(r), emergencyId: r.emergencyId, path: r.path }));
}

/** The paths of every grid of the emergency (the rooms its events go to). */
export async function gridPaths(db: Queryable, id: number): Promise<string[]> {
  const { rows } = await db.query<{ path: string }>(sql`SELECT grid_path AS path FROM emergency_grids WHERE emergency_id = ${id}`);
  return rows.map((r) => r.path);
}

export const sumCounts = (rows: readonly MobilisationCounts[]): MobilisationCounts =>
  rows.reduce((a, r) => ({ called: a.called + r.called, acknowledged: a.acknowledged + r.acknowledged, reportedIn: a.reportedIn + r.reportedIn }), { called: 0, acknowledged: 0, reportedIn: 0 });

export interface CallUpForUpdate {
  status: EmergencyStatus;
  gridCode: string;
  party: boolean;
  acknowledgedAt: Date | null;
  reportedInAt: Date | null;
  noticeId: number | null;
  inside: boolean | null;
}

/** A worker's call-up, locked, with whether a point lies inside their grid (ST_Contains on the grid). */
export async function lockCallUp(db: Queryable, id: number, workerId: number, point?: { lon: number; lat: number }): Promise<CallUpForUpdate | undefined> {
  const { rows: [r] } = await db.query<CallUpForUpdate>(sql`
    SELECT e.status, c.grid_code AS "gridCode", c.party, c.acknowledged_at AS "acknowledgedAt", c.reported_in_at AS "reportedInAt",
           e.notice_id AS "noticeId",
           CASE WHEN ${point ? point.lon : null}::float8 IS NULL THEN NULL
                ELSE ST_Contains(g.geom, ST_SetSRID(ST_MakePoint(${point ? point.lon : null}::float8, ${point ? point.lat : null}::float8), 4326)) END AS inside
      FROM emergency_callups c JOIN emergencies e ON e.id = c.emergency_id JOIN regions g ON g.code = c.grid_code
     WHERE c.emergency_id = ${id} AND c.worker_id = ${workerId}
       FOR UPDATE OF c`);
  return r;
}

export interface AckKey {
  id: number;
  workerId: number;
  userId: number;
  ip: string | null;
}

/**
 * 收到 for many call-ups in one statement (the phones' acknowledgements gathered for a few
 * milliseconds): each first acknowledgement of an active emergency is stamped, counted in its grid,
 * reads the call-up notice (its receipt and the notice's running counts) and is audited. Returns the
 * call-ups that changed; the others were already acknowledged, are not call-ups, or the emergency is over.
 */
export async function acknowledgeMany(db: Queryable, keys: readonly AckKey[], now: number): Promise<{ id: number; workerId: number; gridCode: string; noticeId: number | null }[]> {
  if (keys.length === 0) return [];
  const at = new Date(now).toISOString();
  const { rows } = await db.query<{ id: number; workerId: number; gridCode: string; noticeId: number | null }>(sql`
    WITH k AS (
      SELECT DISTINCT ON (k.id, k.w) k.id, k.w, k.u, k.ip FROM json_to_recordset(${JSON.stringify(keys.map((k) => ({ id: k.id, w: k.workerId, u: k.userId, ip: k.ip })))}::json)
        AS k(id bigint, w bigint, u bigint, ip text)
    ), c AS (
      UPDATE emergency_callups c SET acknowledged_at = ${at}::timestamptz
        FROM k, emergencies e
       WHERE c.emergency_id = k.id AND c.worker_id = k.w AND c.acknowledged_at IS NULL AND e.id = k.id AND e.status = 'active'
      RETURNING c.emergency_id, c.worker_id, c.grid_code, e.notice_id, k.u, k.ip
    ), g AS (
      UPDATE emergency_grids eg SET acknowledged = eg.acknowledged + x.n
        FROM (SELECT emergency_id, grid_code, count(*)::int AS n FROM c GROUP BY emergency_id, grid_code) x
       WHERE eg.emergency_id = x.emergency_id AND eg.grid_code = x.grid_code
    ), old AS (
      SELECT r.notice_id, r.worker_id, r.delivered_at IS NULL AS undelivered
        FROM notice_receipts r JOIN c ON r.notice_id = c.notice_id AND r.worker_id = c.worker_id
       WHERE r.read_at IS NULL
    ), r AS (
      UPDATE notice_receipts r SET read_at = ${at}::timestamptz, delivered_at = coalesce(r.delivered_at, ${at}::timestamptz)
        FROM old WHERE r.notice_id = old.notice_id AND r.worker_id = old.worker_id AND r.read_at IS NULL
      RETURNING r.notice_id, old.undelivered
    ), n AS (
      UPDATE notices n SET read_count = n.read_count + x.reads, delivered_count = n.delivered_count + x.delivered
        FROM (SELECT notice_id, count(*)::int AS reads, (count(*) FILTER (WHERE undelivered))::int AS delivered FROM r GROUP BY notice_id) x
       WHERE n.id = x.notice_id
    ), a AS (
      INSERT INTO audit_log (user_id, action, subject_type, subject_id, detail, ip)
      SELECT c.u, 'emergency.acknowledged', 'emergency', c.emergency_id::text,
             jsonb_build_object('workerId', c.worker_id, 'noticeId', c.notice_id), c.ip
        FROM c
    )
    SELECT emergency_id AS id, worker_id AS "workerId", grid_code AS "gridCode", notice_id AS "noticeId" FROM c`);
  return rows;
}

/**
 * Fresh planner statistics for the tables a declaration fills in one go (call-ups, the grids'
 * counts, the notice's receipts), so that acknowledgements find their rows by key.
 */
export async function analyseCallUps(db: Queryable): Promise<void> {
  await db.query(sql`ANALYZE emergency_callups, emergency_grids, notice_receipts`);
}

/** A worker's call-up as it stands (light: for replies), undefined when they were not called. */
export async function callUpOf(db: Queryable, id: number, workerId: number): Promise<{ status: EmergencyStatus; gridCode: string; acknowledgedAt: string | null; reportedInAt: string | null } | undefined> {
  const { rows: [r] } = await db.query<{ status: EmergencyStatus; gridCode: string; acknowledgedAt: Date | null; reportedInAt: Date | null }>(sql`
    SELECT e.status, c.grid_code AS "gridCode", c.acknowledged_at AS "acknowledgedAt", c.reported_in_at AS "reportedInAt"
      FROM emergency_callups c JOIN emergencies e ON e.id = c.emergency_id
     WHERE c.emergency_id = ${id} AND c.worker_id = ${workerId}`);
  return r ? { ...r, acknowledgedAt: iso(r.acknowledgedAt), reportedInAt: iso(r.reportedInAt) } : undefined;
}

/** 报到: the first report-in counts in the grid (and acknowledges, when that had not happened). */
export async function reportIn(db: Queryable, id: number, workerId: number, c: CallUpForUpdate, point: { lon: number; lat: number }, now: number): Promise<void> {
  const at = new Date(now).toISOString();
  const newAck = c.acknowledgedAt === null ? 1 : 0;
  await db.query(sql`
    UPDATE emergency_callups SET reported_in_at = ${at}::timestamptz, acknowledged_at = coalesce(acknowledged_at, ${at}::timestamptz),
           reported_in_geom = ST_SetSRID(ST_MakePoint(${point.lon}::float8, ${point.lat}::float8), 4326)
     WHERE emergency_id = ${id} AND worker_id = ${workerId}`);
  await db.query(sql`
    UPDATE emergency_grids SET reported_in = reported_in + 1, acknowledged = acknowledged + ${newAck},
           party_reported_in = party_reported_in + ${c.party ? 1 : 0},
           first_reported_in_at = coalesce(first_reported_in_at, ${at}::timestamptz)
     WHERE emergency_id = ${id} AND grid_code = ${c.gridCode}`);
}

/** Closes an active emergency; false when it was not active. */
export async function close(db: Queryable, id: number, userId: number, now: number): Promise<boolean> {
  const { rowCount } = await db.query(sql`
    UPDATE emergencies SET status = 'closed', closed_at = ${new Date(now).toISOString()}::timestamptz, closed_by = ${userId}
     WHERE id = ${id} AND status = 'active'`);
  return rowCount > 0;
}

export async function saveReport(db: Queryable, id: number, report: unknown): Promise<void> {
  await db.query(sql`UPDATE emergencies SET report = ${JSON.stringify(report)}::jsonb WHERE id = ${id}`);
}

export async function loadReport(db: Queryable, id: number): Promise<unknown> {
  const { rows: [r] } = await db.query<{ report: unknown }>(sql`SELECT report FROM emergencies WHERE id = ${id}`);
  return r?.report ?? null;
}

/** Open tickets by status and open alarms in the emergency's grids inside the scope. */
export async function situation(db: Queryable, scope: Scope, id: number): Promise<{ byStatus: Record<string, number>; alarms: { id: number; kind: string; status: string; lon: number; lat: number; workerName: string; raisedAt: string }[] }> {
  const { rows } = await db.query<{ status: string; n: number }>(sql`
    SELECT t.status, count(*)::int AS n
      FROM emergency_grids eg JOIN tickets t ON t.grid_code = eg.grid_code
     WHERE eg.emergency_id = ${id} AND ${scope.covers('eg.grid_path')} AND t.status NOT IN ('closed', 'cancelled')
     GROUP BY t.status`);
  const { rows: alarms } = await db.query<{ id: number; kind: string; status: string; lon: number; lat: number; workerName: string; raisedAt: Date }>(sql`
    SELECT a.id, a.kind, a.status, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, w.name AS "workerName", a.raised_at AS "raisedAt"
      FROM emergency_grids eg JOIN alarms a ON a.grid_code = eg.grid_code JOIN workers w ON w.id = a.worker_id
     WHERE eg.emergency_id = ${id} AND ${scope.covers('eg.grid_path')} AND a.status IN ('raised', 'acknowledged')
     ORDER BY a.id DESC LIMIT 100`);
  return {
    byStatus: Object.fromEntries(rows.map((r) => [r.status, r.n])),
    alarms: alarms.map((a) => ({ ...a, raisedAt: iso(a.raisedAt)! })),
  };
}

/** What the after-action report is made from: every call-up's times and the area's tickets and alarms in the window. */
export async function reportFacts(db: Queryable, id: number): Promise<{
  ackS: number[];
  reportS: number[];
  grids: { code: string; name: string; called: number; acknowledged: number; reportedIn: number; firstReportInS: number | null }[];
  tickets: { filed: number; closed: number; open: number; byStatus: Record<string, number>; responseMedianS: number | null };
  alarms: { at: string; text: string }[];
}> {
  const { rows: times } = await db.query<{ ack: number | null; rep: number | null }>(sql`
    SELECT extract(epoch FROM c.acknowledged_at - e.declared_at)::float8 AS ack, extract(epoch FROM c.reported_in_at - e.declared_at)::float8 AS rep
      FROM emergency_callups c JOIN emergencies e ON e.id = c.emergency_id
     WHERE c.emergency_id = ${id} AND (c.acknowledged_at IS NOT NULL OR c.reported_in_at IS NOT NULL)`);
  const { rows: gridRows } = await db.query<{ code: string; name: string; called: number; acknowledged: number; reportedIn: number; firstReportInS: number | null }>(sql`
    SELECT eg.grid_code AS code, g.name, eg.called, eg.acknowledged, eg.reported_in AS "reportedIn",
           extract(epoch FROM eg.first_reported_in_at - e.declared_at)::float8 AS "firstReportInS"
      FROM emergency_grids eg JOIN emergencies e ON e.id = eg.emergency_id JOIN regions g ON g.code = eg.grid_code
     WHERE eg.emergency_id = ${id} ORDER BY eg.grid_code`);
  const { rows: statusRows } = await db.query<{ status: string; n: number; filed: number; closed: number; response: number | null }>(sql`
    WITH e AS (SELECT declared_at, coalesce(closed_at, now()) AS closed_at FROM emergencies WHERE id = ${id}),
    t AS (
      SELECT t.* FROM emergency_grids eg JOIN tickets t ON t.grid_code = eg.grid_code, e
       WHERE eg.emergency_id = ${id}
         AND (t.received_at BETWEEN e.declared_at AND e.closed_at OR t.closed_at BETWEEN e.declared_at AND e.closed_at)
    )
    SELECT t.status, count(*)::int AS n,
           count(*) FILTER (WHERE t.received_at >= (SELECT declared_at FROM e))::int AS filed,
           count(*) FILTER (WHERE t.closed_at IS NOT NULL AND t.closed_at <= (SELECT closed_at FROM e))::int AS closed,
           NULL::float8 AS response
      FROM t GROUP BY t.status`);
  const { rows: [resp] } = await db.query<{ s: number | null }>(sql`
    WITH e AS (SELECT declared_at, coalesce(closed_at, now()) AS closed_at FROM emergencies WHERE id = ${id})
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.accepted_at - t.received_at))::float8 AS s
      FROM emergency_grids eg JOIN tickets t ON t.grid_code = eg.grid_code, e
     WHERE eg.emergency_id = ${id} AND t.received_at BETWEEN e.declared_at AND e.closed_at AND t.accepted_at IS NOT NULL`);
  const { rows: alarmRows } = await db.query<{ at: Date; name: string; kind: string }>(sql`
    WITH e AS (SELECT declared_at, coalesce(closed_at, now()) AS closed_at FROM emergencies WHERE id = ${id})
    SELECT a.raised_at AS at, w.name, a.kind
      FROM emergency_grids eg JOIN alarms a ON a.grid_code = eg.grid_code JOIN workers w ON w.id = a.worker_id, e
     WHERE eg.emergency_id = ${id} AND a.raised_at BETWEEN e.declared_at AND e.closed_at
     ORDER BY a.raised_at LIMIT 50`);
  const byStatus: Record<string, number> = {};
  let filed = 0;
  let closed = 0;
  let open = 0;
  for (const r of statusRows) {
    byStatus[r.status] = r.n;
    filed += r.filed;
    closed += r.closed;
    if (r.status !== 'closed' && r.status !== 'cancelled') open += r.n;
  }
  return {
    ackS: times.filter((t) => t.ack !== null).map((t) => t.ack!),
    reportS: times.filter((t) => t.rep !== null).map((t) => t.rep!),
    grids: gridRows,
    tickets: { filed, closed, open, byStatus, responseMedianS: resp?.s ?? null },
    alarms: alarmRows.map((a) => ({ at: iso(a.at)!, text: `${a.kind === 'sos' ? '一键报警' : a.kind}：${a.name}` })),
  };
}

/** Party members' and grid workers' call-ups not yet answered, for the simulated phones. */
export async function pendingCallUps(db: Queryable, id: number): Promise<{ workerId: number; party: boolean; gridCode: string; acknowledged: boolean; lon: number; lat: number }[]> {
  const { rows } = await db.query<{ workerId: number; party: boolean; gridCode: string; acknowledged: boolean; lon: number; lat: number }>(sql`
    SELECT c.worker_id AS "workerId", c.party, c.grid_code AS "gridCode", c.acknowledged_at IS NOT NULL AS acknowledged,
           ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat
      FROM emergency_callups c JOIN regions g ON g.code = c.grid_code
      CROSS JOIN LATERAL (SELECT (ST_Dump(ST_GeneratePoints(g.geom, 1, c.worker_id::int))).geom) p
     WHERE c.emergency_id = ${id} AND c.reported_in_at IS NULL
     ORDER BY c.worker_id`);
  return rows;
}

// Resources (应急资源).

interface ResourceRow {
  id: number;
  kind: ResourceKind;
  name: string;
  lon: number;
  lat: number;
  capacity: number | null;
  headcount: number | null;
  contact: string;
  note: string;
  regionCode: string;
  regionName: string;
  distanceM?: number;
}

const RESOURCE_COLUMNS = sql`
  s.id, s.kind, s.name, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, s.capacity, s.headcount, s.contact, s.note,
  s.region_code AS "regionCode", rr.name AS "regionName"`;

const toResource = (r: ResourceRow): Resource => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  lon: r.lon,
  lat: r.lat,
  capacity: r.capacity,
  headcount: r.headcount,
  contact: r.contact,
  note: r.note,
  region: { code: r.regionCode, name: r.regionName },
  ...(r.distanceM !== undefined ? { distanceM: Math.round(r.distanceM) } : {}),
});

export async function listResources(db: Queryable, scope: Scope): Promise<Resource[]> {
  const { rows } = await db.query<ResourceRow>(sql`
    SELECT ${RESOURCE_COLUMNS} FROM emergency_resources s JOIN regions rr ON rr.code = s.region_code
     WHERE ${scope.covers('s.path')} ORDER BY s.kind, s.id`);
  return rows.map(toResource);
}

/**
 * The resources nearest a point inside the scope: KNN over the GiST index (`<->` orders by the
 * index), then the exact distance in metres on the spheroid for the few returned.
 */
export async function nearestResources(db: Queryable, scope: Scope, lon: number, lat: number, kind: ResourceKind | undefined, limit: number): Promise<Resource[]> {
  const { rows } = await db.query<ResourceRow>(sql`
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326) AS geom),
    near AS (
      SELECT s.* FROM emergency_resources s, p
       WHERE ${scope.covers('s.path')} ${kind ? sql`AND s.kind = ${kind}` : sql``}
       ORDER BY s.geom <-> p.geom LIMIT ${limit}
    )
    SELECT ${RESOURCE_COLUMNS}, ST_Distance(s.geom::geography, p.geom::geography) AS "distanceM"
      FROM near s JOIN regions rr ON rr.code = s.region_code, p
     ORDER BY "distanceM"`);
  return rows.map(toResource);
}

/** The smallest region holding a point inside the scope (a resource's region). */
export async function regionAt(db: Queryable, scope: Scope, lon: number, lat: number): Promise<{ code: string; path: string } | undefined> {
  const { rows: [r] } = await db.query<{ code: string; path: string }>(sql`
    SELECT r.code, r.path FROM regions r
     WHERE r.level IN ('district', 'street', 'community', 'grid') AND ${scope.covers('r.path')}
       AND ST_Contains(r.geom, ST_SetSRID(ST_MakePoint(${lon}::float8, ${lat}::float8), 4326))
     ORDER BY length(r.path) DESC LIMIT 1`);
  return r;
}

export interface ResourceValues {
  kind: ResourceKind;
  name: string;
  lon: number;
  lat: number;
  capacity: number | null;
  headcount: number | null;
  contact: string;
  note: string;
}

export async function insertResource(db: Queryable, v: ResourceValues, region: { code: string; path: string }): Promise<number> {
  const { rows: [r] } = await db.query<{ id: number }>(sql`
    INSERT INTO emergency_resources (kind, name, region_code, path, geom, capacity, headcount, contact, note)
    VALUES (${v.kind}, ${v.name}, ${region.code}, ${region.path}, ST_SetSRID(ST_MakePoint(${v.lon}::float8, ${v.lat}::float8), 4326),
            ${v.capacity}, ${v.headcount}, ${v.contact}, ${v.note})
    RETURNING id`);
  return r!.id;
}

export async function findResource(db: Queryable, scope: Scope, id: number): Promise<Resource | undefined> {
  const { rows: [r] } = await db.query<ResourceRow>(sql`
    SELECT ${RESOURCE_COLUMNS} FROM emergency_resources s JOIN regions rr ON rr.code = s.region_code
     WHERE s.id = ${id} AND ${scope.covers('s.path')}`);
  return r ? toResource(r) : undefined;
}

export async function updateResource(db: Queryable, id: number, v: ResourceValues, region: { code: string; path: string }): Promise<void> {
  await db.query(sql`
    UPDATE emergency_resources SET kind = ${v.kind}, name = ${v.name}, region_code = ${region.code}, path = ${region.path},
           geom = ST_SetSRID(ST_MakePoint(${v.lon}::float8, ${v.lat}::float8), 4326), capacity = ${v.capacity}, headcount = ${v.headcount},
           contact = ${v.contact}, note = ${v.note}, updated_at = now()
     WHERE id = ${id}`);
}

export async function deleteResource(db: Queryable, id: number): Promise<void> {
  await db.query(sql`DELETE FROM emergency_resources WHERE id = ${id}`);
}

/**
 * A few resources for a seeded district, the same every run: a shelter in each community (sized by
 * its households), a supply point and an emergency team in each street. Replaces the district's.
 */
export async function seedResources(db: Queryable, districtCode: string): Promise<number> {
  const { rows: [d] } = await db.query<{ path: string }>(sql`SELECT path FROM regions WHERE code = ${districtCode}`);
  if (!d) return 0;
  const under = d.path + '%';
  await db.query(sql`DELETE FROM emergency_resources WHERE path LIKE ${under}`);
  const { rowCount: shelters } = await db.query(sql`
    INSERT INTO emergency_resources (kind, name, region_code, path, geom, capacity, contact, note)
    SELECT 'shelter', regexp_replace(c.name, '(社区|居委会|村)$', '') || '应急避难场所', c.code, c.path, ST_PointOnSurface(c.geom),
           greatest(200, round(coalesce((SELECT sum(g.households) FROM regions g WHERE g.parent_code = c.code), 2000) * 0.3 / 50) * 50)::int,
           '0351-' || lpad(((abs(hashtext(c.code)) % 9000000) + 1000000)::text, 7, '0'), '社区广场及活动中心'
      FROM regions c WHERE c.level = 'community' AND c.path LIKE ${under}`);
  const { rowCount: points } = await db.query(sql`
    INSERT INTO emergency_resources (kind, name, region_code, path, geom, capacity, contact, note)
    SELECT 'supply_point', regexp_replace(s.name, '街道$', '') || '应急物资储备点', s.code, s.path,
           ST_PointOnSurface((SELECT c.geom FROM regions c WHERE c.parent_code = s.code ORDER BY c.code LIMIT 1)),
           NULL, '0351-' || lpad(((abs(hashtext(s.code || 'p')) % 9000000) + 1000000)::text, 7, '0'), '沙袋、救生衣、帐篷、饮用水、方便食品'
      FROM regions s WHERE s.level = 'street' AND s.path LIKE ${under}`);
  const { rowCount: teams } = await db.query(sql`
    INSERT INTO emergency_resources (kind, name, region_code, path, geom, headcount, contact, note)
    SELECT 'team', regexp_replace(s.name, '街道$', '') || '应急救援队', s.code, s.path,
           ST_PointOnSurface((SELECT c.geom FROM regions c WHERE c.parent_code = s.code ORDER BY c.code DESC LIMIT 1)),
           20 + abs(hashtext(s.code)) % 25, '0351-' || lpad(((abs(hashtext(s.code || 't')) % 9000000) + 1000000)::text, 7, '0'), '党员突击队、民兵、物业抢险人员'
      FROM regions s WHERE s.level = 'street' AND s.path LIKE ${under}`);
  return shelters + points + teams;
}
