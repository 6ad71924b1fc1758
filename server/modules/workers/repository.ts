import { sql, type Queryable } from '../../platform/db';
import type { Scope } from '../../platform/auth/scope';
import type { WorkerDto, WorkersQuery } from '@shared/api';

/** Workers whose home grid lies inside the scope (and the optional region filter). */
export async function listWorkers(db: Queryable, scope: Scope, filter: WorkersQuery = {}): Promise<WorkerDto[]> {
  const { rows } = await db.query<WorkerDto & { gridCode: string; gridName: string; gridPath: string }>(sql`
    SELECT w.id, w.code, w.name, w.phone, w.role, w.active,
           g.code AS "gridCode", g.name AS "gridName", g.path AS "gridPath"
      FROM workers w
      JOIN regions g ON g.code = w.home_grid_code
     WHERE ${scope.covers('g.path')}
       ${filter.role ? sql`AND w.role = ${filter.role}` : sql``}
       ${filter.active !== undefined ? sql`AND w.active = ${filter.active}` : sql``}
       ${filter.region ? sql`AND g.path LIKE ${'%/' + filter.region + '/%'}` : sql``}
     ORDER BY w.id`);
  return rows.map((r) => {
    const [, , streetCode = '', communityCode = ''] = r.gridPath.split('/');
    return {
      id: r.id,
      code: r.code,
      name: r.name,
      phone: r.phone,
      role: r.role,
      active: r.active,
      homeGrid: { code: r.gridCode, name: r.gridName },
      communityCode,
      streetCode,
    };
  });
}

/** One worker, only if their home grid lies inside the scope. */
export async function findWorkerInScope(db: Queryable, scope: Scope, id: number): Promise<{ id: number; name: string } | undefined> {
  const { rows } = await db.query<{ id: number; name: string }>(sql`
    SELECT w.id, w.name FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.id = ${id} AND ${scope.covers('g.path')}`);
  return rows[0];
}
