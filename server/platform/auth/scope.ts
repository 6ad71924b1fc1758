import { sql, raw, type Sql } from '../db/sql';
import type { UserRole } from '@shared/domain';

/**
 * A user's jurisdiction: the region they are responsible for and everything below it.
 * Every repository method that reads or writes scoped data takes a Scope and filters with
 * `scope.covers(pathColumn)` — the one predicate all jurisdiction checks go through. Regions carry
 * a materialised path ('/140106/140106001/…/'), so "inside my jurisdiction" is a prefix match.
 */
export class Scope {
  private constructor(
    /** Path of the jurisdiction region, or null for the system (simulator, seed, jobs). */
    readonly path: string | null,
    readonly regionCode: string | null,
  ) {}

  static of(regionCode: string, path: string): Scope {
    if (!path.startsWith('/') || !path.endsWith('/')) throw new Error(`bad region path ${path}`);
    return new Scope(path, regionCode);
  }

  /** Internal work that is not done on behalf of a user. Never built from a request. */
  static system(): Scope {
    return new Scope(null, null);
  }

  get isSystem(): boolean {
    return this.path === null;
  }

  /** SQL predicate: the row whose region path is in `pathColumn` lies inside this jurisdiction. */
  covers(pathColumn: string): Sql {
    if (this.path === null) return raw('true');
    // Escape LIKE wildcards; codes are digits but the predicate must not depend on that.
    const prefix = this.path.replace(/[\\%_]/g, (c) => `\\${c}`);
    return sql`${raw(pathColumn)} LIKE ${prefix + '%'}`;
  }

  /** Whether a region path lies inside this jurisdiction (for in-memory checks, e.g. live events). */
  contains(path: string): boolean {
    return this.path === null || path.startsWith(this.path);
  }
}

/** Who is asking: the authenticated user with their scope. */
export interface Principal {
  userId: number;
  username: string;
  role: UserRole;
  workerId: number | null;
  scope: Scope;
  /** Set for a wall display session (read-only, long-lived): its id. */
  wallSessionId?: number;
}
