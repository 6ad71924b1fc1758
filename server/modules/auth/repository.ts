import { sql, type Queryable } from '../../platform/db';
import type { UserRole } from '@shared/domain';
import type { RegionLevel } from '@shared/domain';

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
}

const SELECT_USER = sql`
  SELECT u.id, u.username, u.display_name AS "displayName", u.password_hash AS "passwordHash", u.role,
         u.region_code AS "regionCode", r.name AS "regionName", r.level AS "regionLevel", r.path AS "regionPath",
         u.worker_id AS "workerId", u.demo_password AS "demoPassword", u.active
    FROM users u JOIN regions r ON r.code = u.region_code`;

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE u.username = ${username}`);
  return rows[0];
}

export async function findUserById(db: Queryable, id: number): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(sql`${SELECT_USER} WHERE u.id = ${id}`);
  return rows[0];
}

export async function setPassword(db: Queryable, userId: number, passwordHash: string): Promise<void> {
  await db.query(sql`UPDATE users SET password_hash = ${passwordHash}, demo_password = false,
    password_changed_at = now() WHERE id = ${userId}`);
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

/** The token signing secret: JWT_SECRET if set, else one generated at first start and kept. */
export async function loadOrCreateSecret(db: Queryable, generate: () => string): Promise<string> {
  await db.query(sql`INSERT INTO app_settings (key, value) VALUES ('jwt_secret', ${generate()})
    ON CONFLICT (key) DO NOTHING`);
  const { rows } = await db.query<{ value: string }>(sql`SELECT value FROM app_settings WHERE key = 'jwt_secret'`);
  if (!rows[0]) throw new Error('jwt secret missing after insert');
  return rows[0].value;
}
