/** SQL of the unattended wall: wall display sessions and each account's rotation. */
import { join, sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { TokenState } from '../../platform/auth/sessions';
import type { RegionLevel } from '@shared/domain';
import type { WallCarousel } from '@shared/wall-api';

export interface WallSessionRow {
  id: number;
  name: string;
  userId: number;
  regionCode: string;
  regionName: string;
  regionLevel: RegionLevel;
  createdAt: Date | string;
  createdBy: string | null;
  expiresAt: Date | string;
  revokedAt: Date | string | null;
}

const SELECT_SESSION = sql`
  SELECT w.id, w.name, w.user_id AS "userId", w.region_code AS "regionCode", r.name AS "regionName", r.level AS "regionLevel",
         w.created_at AS "createdAt", c.display_name AS "createdBy", w.expires_at AS "expiresAt", w.revoked_at AS "revokedAt"
    FROM wall_sessions w JOIN regions r ON r.code = w.region_code LEFT JOIN users c ON c.id = w.created_by`;

/** Wall sessions whose region lies inside the scope, newest first. */
export async function listInScope(db: Queryable, scope: Scope): Promise<WallSessionRow[]> {
  const { rows } = await db.query<WallSessionRow>(sql`${SELECT_SESSION} WHERE ${scope.covers('r.path')} ORDER BY w.id DESC`);
  return rows;
}

export async function findInScope(db: Queryable, scope: Scope, id: number): Promise<WallSessionRow | undefined> {
  const { rows } = await db.query<WallSessionRow>(sql`${SELECT_SESSION} WHERE w.id = ${id} AND ${scope.covers('r.path')}`);
  return rows[0];
}

/** The wall's own account: role operator, the wall's region, a password nobody knows. */
export async function insertWallAccount(
  db: Queryable,
  a: { username: string; displayName: string; passwordHash: string; regionCode: string },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code)
    VALUES (${a.username}, ${a.displayName}, ${a.passwordHash}, 'operator', ${a.regionCode})
    RETURNING id`);
  return Number(rows[0]!.id);
}

export async function insertSession(
  db: Queryable,
  s: { name: string; userId: number; regionCode: string; createdBy: number; expiresAt: Date },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(sql`
    INSERT INTO wall_sessions (name, user_id, region_code, created_by, expires_at)
    VALUES (${s.name}, ${s.userId}, ${s.regionCode}, ${s.createdBy}, ${s.expiresAt})
    RETURNING id`);
  return Number(rows[0]!.id);
}

/**
 * Revokes a session not yet revoked: marks it, deactivates its account and bumps the account's
 * token version in one statement pair. Returns the account's new token state, or undefined when
 * the session was already revoked.
 */
export async function revokeSession(db: Queryable, id: number, by: number): Promise<TokenState | undefined> {
  const { rows } = await db.query<{ userId: number }>(sql`
    UPDATE wall_sessions SET revoked_at = now(), revoked_by = ${by}
     WHERE id = ${id} AND revoked_at IS NULL RETURNING user_id AS "userId"`);
  const userId = rows[0]?.userId;
  if (userId === undefined) return undefined;
  const { rows: states } = await db.query<TokenState>(sql`
    UPDATE users SET active = false, token_version = token_version + 1 WHERE id = ${userId}
    RETURNING id AS "userId", token_version AS "version", active`);
  return states[0] && { ...states[0], userId: Number(states[0].userId) };
}

/** Whether an account is a wall session's (no person signs in with it). */
export async function isWallAccount(db: Queryable, userId: number): Promise<boolean> {
  const { rows } = await db.query(sql`SELECT 1 FROM wall_sessions WHERE user_id = ${userId}`);
  return rows.length > 0;
}

export async function findCarousel(db: Queryable, userId: number): Promise<WallCarousel | undefined> {
  const { rows } = await db.query<{ carousel: WallCarousel | string }>(sql`SELECT carousel FROM wall_settings WHERE user_id = ${userId}`);
  const value = rows[0]?.carousel;
  return typeof value === 'string' ? (JSON.parse(value) as WallCarousel) : value;
}

export async function saveCarousel(db: Queryable, userId: number, carousel: WallCarousel): Promise<void> {
  await db.query(sql`
    INSERT INTO wall_settings (user_id, carousel, updated_at) VALUES (${userId}, ${JSON.stringify(carousel)}::jsonb, now())
    ON CONFLICT (user_id) DO UPDATE SET carousel = EXCLUDED.carousel, updated_at = now()`);
}

/** Which of these codes are streets inside the scope. */
export async function streetsInScope(db: Queryable, scope: Scope, codes: readonly string[]): Promise<Set<string>> {
  if (codes.length === 0) return new Set();
  const { rows } = await db.query<{ code: string }>(sql`
    SELECT code FROM regions WHERE level = 'street' AND code IN (${join(codes.map((c) => sql`${c}`), ', ')}) AND ${scope.covers('path')}`);
  return new Set(rows.map((r) => r.code));
}
