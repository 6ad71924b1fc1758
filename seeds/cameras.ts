/**
 * Demo cameras (演示摄像头) for a seeded district: about 60 at plausible places — main-road
 * junctions and landmarks of 迎泽区 by their approximate real coordinates, a high point in each
 * street, and community entrances spread over every street. All are demo data (see ATTRIBUTION):
 * their pictures come from the built-in simulator (`demo:`), a few are permanently offline, and
 * about one in five stands for an H.265 camera that plays through HLS.
 */
import { sql, type Queryable } from '../server/platform/db';

interface Landmark {
  name: string;
  kind: 'junction' | 'high_point' | 'entrance' | 'indoor';
  lon: number;
  lat: number;
  bearing: number | null;
  fov: number | null;
}

/** Approximate positions (WGS 84) of well-known places in 迎泽区; those outside the seeded outline are skipped. */
const LANDMARKS: Landmark[] = [
  { name: '迎泽大街与解放路口', kind: 'junction', lon: 112.5596, lat: 37.8566, bearing: 90, fov: 80 },
  { name: '迎泽大街与五一路口', kind: 'junction', lon: 112.5649, lat: 37.8566, bearing: 270, fov: 80 },
  { name: '迎泽大街与并州路口', kind: 'junction', lon: 112.5726, lat: 37.8565, bearing: 180, fov: 75 },
  { name: '迎泽大街与建设南路口', kind: 'junction', lon: 112.5818, lat: 37.8562, bearing: 0, fov: 75 },
  { name: '五一广场', kind: 'high_point', lon: 112.5650, lat: 37.8620, bearing: null, fov: null },
  { name: '柳巷步行街北口', kind: 'entrance', lon: 112.5638, lat: 37.8668, bearing: 180, fov: 60 },
  { name: '钟楼街与柳巷交叉口', kind: 'junction', lon: 112.5630, lat: 37.8645, bearing: 45, fov: 70 },
  { name: '太原火车站广场', kind: 'high_point', lon: 112.5860, lat: 37.8470, bearing: null, fov: null },
  { name: '太原站进站口', kind: 'entrance', lon: 112.5867, lat: 37.8478, bearing: 270, fov: 60 },
  { name: '迎泽公园南门', kind: 'entrance', lon: 112.5560, lat: 37.8528, bearing: 180, fov: 65 },
  { name: '双塔寺高点', kind: 'high_point', lon: 112.5925, lat: 37.8440, bearing: null, fov: null },
  { name: '并州南路与双塔西街口', kind: 'junction', lon: 112.5725, lat: 37.8445, bearing: 90, fov: 80 },
  { name: '朝阳街与建设南路口', kind: 'junction', lon: 112.5815, lat: 37.8505, bearing: 315, fov: 70 },
  { name: '桥东街与五一路口', kind: 'junction', lon: 112.5655, lat: 37.8600, bearing: 0, fov: 80 },
  { name: '郝庄立交桥', kind: 'high_point', lon: 112.6010, lat: 37.8530, bearing: null, fov: null },
  { name: '太原南站广场', kind: 'high_point', lon: 112.6260, lat: 37.8130, bearing: null, fov: null },
];

/** Replaces the district's demo cameras; returns how many were seeded. */
export async function seedDemoCameras(db: Queryable, districtCode: string, target = 60): Promise<number> {
  const { rows: [d] } = await db.query<{ path: string }>(sql`SELECT path FROM regions WHERE code = ${districtCode}`);
  if (!d) return 0;
  const under = d.path + '%';
  await db.query(sql`DELETE FROM cameras WHERE demo AND path LIKE ${under}`);
  const candidates: Landmark[] = [];
  // Landmarks inside the outline.
  const { rows: inside } = await db.query<{ i: number }>(sql`
    SELECT (l->>'i')::int AS i FROM json_array_elements(${JSON.stringify(LANDMARKS.map((l, i) => ({ i, lon: l.lon, lat: l.lat })))}::json) AS l
     WHERE EXISTS (SELECT 1 FROM regions r WHERE r.code = ${districtCode}
                     AND ST_Contains(r.geom, ST_SetSRID(ST_MakePoint((l->>'lon')::float8, (l->>'lat')::float8), 4326)))`);
  for (const { i } of inside) candidates.push(LANDMARKS[Number(i)]!);
  // A high point in each street.
  const { rows: streets } = await db.query<{ name: string; lon: number; lat: number }>(sql`
    SELECT s.name, ST_X(ST_PointOnSurface(s.geom)) AS lon, ST_Y(ST_PointOnSurface(s.geom)) AS lat
      FROM regions s WHERE s.level = 'street' AND s.path LIKE ${under} ORDER BY s.code`);
  for (const s of streets) candidates.push({ name: `${s.name.replace(/街道$|镇$/, '')}高点`, kind: 'high_point', lon: Number(s.lon), lat: Number(s.lat), bearing: null, fov: null });
  // Community entrances, spread over the streets (round robin), each at its community's point on surface.
  const { rows: communities } = await db.query<{ name: string; street: string; lon: number; lat: number }>(sql`
    SELECT c.name, c.parent_code AS street, ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat
      FROM regions c WHERE c.level = 'community' AND c.path LIKE ${under} ORDER BY c.code`);
  const byStreet = new Map<string, typeof communities>();
  for (const c of communities) byStreet.set(c.street, [...(byStreet.get(c.street) ?? []), c]);
  const queues = [...byStreet.values()];
  const gates = ['东门', '南门', '西门', '北门'];
  for (let round = 0; candidates.length < target && queues.some((q) => q.length > round); round++) {
    for (const q of queues) {
      const c = q[round];
      if (!c || candidates.length >= target) continue;
      const gate = (round + c.name.length) % 4;
      candidates.push({ name: `${c.name}${gates[gate]}`, kind: round % 5 === 4 ? 'indoor' : 'entrance', lon: Number(c.lon), lat: Number(c.lat), bearing: [90, 180, 270, 0][gate]!, fov: round % 5 === 4 ? 100 : 60 });
    }
  }
  const rows = candidates.slice(0, target).map((c, i) => ({
    code: `CAM-${districtCode}-${String(i + 1).padStart(3, '0')}`,
    name: c.name,
    kind: c.kind,
    lon: c.lon,
    lat: c.lat,
    bearing: c.bearing,
    fov: c.fov,
    // A few permanently offline; one in five an "H.265" camera played through HLS.
    source: i % 20 === 7 ? 'demo:offline' : 'demo:',
    codec: i % 5 === 2 ? 'h265' : 'h264',
  }));
  const { rowCount } = await db.query(sql`
    INSERT INTO cameras (code, name, kind, region_code, path, grid_code, geom, bearing, fov_deg, source_type, source_url, codec, demo)
    SELECT x.code, x.name, x.kind, place.code, place.path, CASE WHEN place.level = 'grid' THEN place.code END,
           ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326), x.bearing, x.fov, 'demo', x.source, x.codec, true
      FROM json_to_recordset(${JSON.stringify(rows)}::json) AS x(code text, name text, kind text, lon float8, lat float8, bearing float8, fov float8, source text, codec text)
      CROSS JOIN LATERAL (
        SELECT r.code, r.path, r.level FROM regions r
         WHERE r.level IN ('district', 'street', 'community', 'grid') AND r.path LIKE ${under}
           AND ST_Contains(r.geom, ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326))
         ORDER BY length(r.path) DESC LIMIT 1) AS place
    ON CONFLICT (code) DO NOTHING`);
  return rowCount;
}

/** Seeds the demo cameras into a database seeded before cameras existed (npm start on an old ./data). */
export async function seedDemoCamerasIfNone(db: Queryable): Promise<number> {
  const { rows: [n] } = await db.query<{ n: number | string }>(sql`SELECT count(*) AS n FROM cameras`);
  if (Number(n?.n ?? 0) > 0) return 0;
  const { rows: districts } = await db.query<{ code: string }>(sql`SELECT code FROM regions WHERE level = 'district' ORDER BY code`);
  let total = 0;
  for (const d of districts) total += await seedDemoCameras(db, d.code);
  return total;
}
