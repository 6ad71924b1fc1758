/**
 * The domain vocabulary shared by server and client: territory levels, the work force's roles and
 * the platform's user roles. Pure data — no DOM, no Node.
 */

/** Territory hierarchy, each level tiling its parent: 区 → 街道/镇 → 社区/村 → 网格 → 微网格. */
export const REGION_LEVELS = ['district', 'street', 'community', 'grid', 'micro_grid'] as const;
export type RegionLevel = (typeof REGION_LEVELS)[number];

/** The field work force ("专兼辅") plus party members registered to grids (the emergency reserve). */
export const WORKER_ROLES = ['grid_leader', 'full_time', 'part_time', 'auxiliary', 'party_member'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** Platform accounts. Every user has a jurisdiction region and sees only what lies inside it. */
export const USER_ROLES = ['admin', 'leader', 'dispatcher', 'operator', 'worker'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** The page each role lands on after login. */
export const ROLE_HOME: Record<UserRole, string> = {
  admin: '/wall',
  // Leaders read the figures first (issue 12: they used to land on the operator's wall).
  leader: '/command',
  operator: '/wall',
  dispatcher: '/dispatch',
  worker: '/field',
};

/** Depth of each level in the hierarchy (district = 0). */
export function levelDepth(level: RegionLevel): number {
  return REGION_LEVELS.indexOf(level);
}

/** The level directly below, or null for micro-grids. */
export function childLevel(level: RegionLevel): RegionLevel | null {
  return REGION_LEVELS[levelDepth(level) + 1] ?? null;
}
