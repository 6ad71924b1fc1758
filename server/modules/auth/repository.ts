import { sql, type Queryable } from '../../platform/db';
import type { UserRole } from '@shared/domain';
import type { RegionLevel } from '@shared/domain';
import type { TokenState } from '../../platform/auth/sessions';

export interface UserRow {
  id: number;
  username: string;
  displayName: string;
  passwordHash: string;
  role: UserRole;
  regionCode: string;
  regionName: string;
  regionLevel: RegionLevel;
  regionPath: string;
  workerId: number | null;
  demoPassword: boolean;
  active: boolean;
  /** Current version of the user's tokens: a token carrying another one is revoked. */
  tokenVersion: number;
}

/** One user row with its region; add a WHERE. */
export const SELECT_USER = sql`
  SELECT u.id, u.username, u.display_name AS "displayName", u.password_hash AS "passwordHash", u.role,
         u.region_code AS "regionCode", r.name AS "regionName", r.level AS "regionLevel", r.path AS "regionPath",
         u.worker_id AS "workerId", u.demo_password AS "demoPassword", u.active,
         u.token_version AS "tokenVersion"
    FROM users u JOIN regions r ON r.code = u.region_code`;

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE u.username = ${username}`);
  return rows[0];
}

export async function findUserById(db: Queryable, id: number): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE u.id = ${id}`);
  return rows[0];
}

/** Sets a password and bumps the token version: every token of the user stops working. */
export async function setPassword(db: Queryable, userId: number, passwordHash: string): Promise<TokenState | undefined> {
  const { rows } = await db.query<TokenState>(sql`UPDATE users SET password_hash = ${passwordHash}, demo_password = false,
    password_changed_at = now(), token_version = token_version + 1 WHERE id = ${userId}
    RETURNING id AS "userId", token_version AS "version", active`);
  return rows[0];
}

/** Every user's token version and active flag: the auth plugin holds them in memory. */
export async function loadTokenStates(db: Queryable): Promise<TokenState[]> {
  const { rows } = await db.query<TokenState>(sql`SELECT id AS "userId", token_version AS "version", active FROM users`);
  return rows;
}

export async function countDemoPasswords(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql`SELECT count(*) AS n FROM users WHERE active AND demo_password`);
  return rows[0]?.n ?? 0;
}

export interface AuditEntry {
  userId: number | null;
  action: string;
  subjectType?: string;
  subjectId?: string;
  detail?: unknown;
  ip?: string;
}

export async function audit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query(sql`INSERT INTO audit_log (user_id, action, subject_type, subject_id, detail, ip)
    VALUES (${e.userId}, ${e.action}, ${e.subjectType ?? null}, ${e.subjectId ?? null},
            ${e.detail === undefined ? null : JSON.stringify(e.detail)}::jsonb, ${e.ip ?? null})`);
}
