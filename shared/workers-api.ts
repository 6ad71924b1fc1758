/**
 * The work force's presence over time (issue 14, the wall's online trend): how many field workers
 * (grid leaders, full-, part-time and auxiliary; not party members) were online at each minute of
 * the last hours, from the stored positions, inside the caller's jurisdiction. "Online" is what the
 * live state means by it: a fix within the offline timeout (OFFLINE_AFTER_S) before that moment.
 */
import { Type, type Static } from 'typebox';
import type { UserRole } from './domain';

/** Who may read it: the desks and the wall (a grid worker's jurisdiction is one grid). */
export const ONLINE_HISTORY_ROLES: UserRole[] = ['admin', 'leader', 'operator', 'dispatcher'];
export const ONLINE_HISTORY_MAX_HOURS = 24;
export const ONLINE_HISTORY_STEP_S = 60;

export const OnlineHistoryQuery = Type.Object(
  {
    /** How far back, in hours (default 2). */
    hours: Type.Optional(Type.Integer({ minimum: 1, maximum: ONLINE_HISTORY_MAX_HOURS })),
  },
  { additionalProperties: false },
);
export type OnlineHistoryQuery = Static<typeof OnlineHistoryQuery>;

export const OnlineHistory = Type.Object({
  /** Seconds between samples (60). */
  stepS: Type.Integer(),
  /** The offline timeout the counts use, ms. */
  offlineAfterMs: Type.Integer(),
  /** Sample times, ms since epoch, on whole minutes, oldest first; the last one is at or before the server's now. */
  t: Type.Array(Type.Number()),
  /** Field workers online at each sample time. */
  online: Type.Array(Type.Integer()),
});
export type OnlineHistory = Static<typeof OnlineHistory>;
