import { sql, type Queryable } from '../db';
import type { Polygon } from './patrol';

export interface FieldWorker {
  id: number;
  code: string;
  grid: Polygon[];
}

/** Active field workers (not the party-member reserve) with their home grid's polygons. */
export async function loadFieldWorkers(db: Queryable, limit?: number): Promise<FieldWorker[]> {
  const { rows } = await db.query<{ id: number; code: string; geom: string }>(sql`
    SELECT w.id, w.code, ST_AsGeoJSON(g.geom, 7) AS geom
      FROM workers w JOIN regions g ON g.code = w.home_grid_code
     WHERE w.active AND w.role <> 'party_member'
     ORDER BY w.id
     ${limit ? sql`LIMIT ${limit}` : sql``}`);
  return rows.map((r) => ({ id: r.id, code: r.code, grid: (JSON.parse(r.geom) as { coordinates: Polygon[] }).coordinates }));
}
