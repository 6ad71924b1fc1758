import { sql, type Queryable } from '../../platform/db';

/** Workers not on duty (`workers.active = false`: the party-member reserve until mobilised, leavers). */
export async function inactiveWorkerIds(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(sql`SELECT id FROM workers WHERE NOT active`);
  return rows.map((r) => r.id);
}
