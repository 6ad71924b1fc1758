import { join, sql, type Queryable, type Sql } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { TokenState } from '../../platform/auth/sessions';
import type { RegionLevel, UserRole } from '@shared/domain';
import { SELECT_USER, type UserRow } from '../auth/repository';

/**
 * A wall display session's own account is not a person's: it is listed, revoked and audited under
 * /api/wall-sessions, never among the accounts (where it would read as one more operator).
 */
const NOT_A_WALL = sql`NOT EXISTS (SELECT 1 FROM wall_sessions ws WHERE ws.user_id = u.id)`;

/** People's accounts whose jurisdiction lies inside the scope, oldest first. */
export async function listUsersInScope(db: Queryable, scope: Scope): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE ${scope.covers('r.path')} AND ${NOT_A_WALL} ORDER BY u.id`);
  return rows;
}

/** One person's account, if its jurisdiction lies inside the scope (a wall session's account is not one). */
export async function findUserInScope(db: Queryable, scope: Scope, id: number): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE u.id = ${id} AND ${scope.covers('r.path')} AND ${NOT_A_WALL}`);
  return rows[0];
}

/** A region inside the scope. */
export async function findRegionInScope(db: Queryable, scope: Scope, code: string): Promise<{ code: string; path: string; level: RegionLevel } | undefined> {
  const { rows } = await db.query<{ code: string; path: string; level: RegionLevel }>(sql`
    SELECT r.code, r.path, r.level FROM regions r WHERE r.code = ${code} AND ${scope.covers('r.path')}`);
  return rows[0];
}

export async function usernameTaken(db: Queryable, username: string): Promise<boolean> {
  const { rows } = await db.query(sql`SELECT 1 FROM users WHERE lower(username) = lower(${username})`);
  return rows.length > 0;
}

export interface NewUser {
  username: string;
  displayName: string;
  passwordHash: string;
  role: UserRole;
  regionCode: string;
  workerId: number | null;
}

export async function insertUser(db: Queryable, u: NewUser): Promise<TokenState> {
  const { rows } = await db.query<TokenState>(sql`
    INSERT INTO users (username, display_name, password_hash, role, region_code, worker_id)
    VALUES (${u.username}, ${u.displayName}, ${u.passwordHash}, ${u.role}, ${u.regionCode}, ${u.workerId})
    RETURNING id AS "userId", token_version AS "version", active`);
  return rows[0]!;
}

export interface UserChanges {
  active?: boolean;
  role?: UserRole;
  regionCode?: string;
  passwordHash?: string;
  displayName?: string;
  workerId?: number | null;
}

/**
 * Applies the changes; with `revoke` the token version goes up in the same statement, so every
 * token issued before stops working. Returns the state the auth plugin must now hold.
 */
export async function updateUser(db: Queryable, id: number, changes: UserChanges, revoke: boolean): Promise<TokenState | undefined> {
  const set: Sql[] = [];
  if (changes.active !== undefined) set.push(sql`active = ${changes.active}`);
  if (changes.role !== undefined) set.push(sql`role = ${changes.role}`);
  if (changes.regionCode !== undefined) set.push(sql`region_code = ${changes.regionCode}`);
  if (changes.displayName !== undefined) set.push(sql`display_name = ${changes.displayName}`);
  if (changes.workerId !== undefined) set.push(sql`worker_id = ${changes.workerId}`);
  if (changes.passwordHash !== undefined) {
    set.push(sql`password_hash = ${changes.passwordHash}`, sql`demo_password = false`, sql`password_changed_at = now()`);
  }
  if (revoke) set.push(sql`token_version = token_version + 1`);
  if (set.length === 0) return undefined;
  const { rows } = await db.query<TokenState>(sql`
    UPDATE users SET ${join(set, ', ')} WHERE id = ${id}
    RETURNING id AS "userId", token_version AS "version", active`);
  return rows[0];
}
