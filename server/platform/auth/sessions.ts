/**
 * Which login tokens are still good, without a database query per request: each user's current
 * token version and active flag, loaded at start and moved forward by whoever changes a user (the
 * users service, a password change, a login reading the row). A token carries the version it was
 * issued with (claim `ver`); any other version, or an inactive user, is revoked.
 *
 * A user's state is a function of its version: every change that matters (deactivation,
 * reactivation, password, role, jurisdiction, worker) bumps it, so a newer version always wins and
 * an older read of the row never rolls the state back.
 */
export interface TokenState {
  userId: number;
  version: number;
  active: boolean;
}

export type RevokedListener = (userId: number) => void;

export class Sessions {
  private readonly users = new Map<number, { version: number; active: boolean }>();
  private readonly listeners = new Set<RevokedListener>();

  load(states: readonly TokenState[]): void {
    for (const s of states) this.observe(s);
  }

  /** The state a token of this user must match, if the user is known. */
  get(userId: number): { version: number; active: boolean } | undefined {
    return this.users.get(userId);
  }

  /** Whether a token issued with `version` for this user is still good. */
  valid(userId: number, version: unknown): boolean {
    const state = this.users.get(userId);
    return state !== undefined && state.active && state.version === version;
  }

  /**
   * Records a user's state as read from (or just written to) the database. A newer version than the
   * one known revokes the user's earlier tokens: listeners hear of it (the live hub disconnects the
   * user's sockets). Returns the state now held.
   */
  observe(state: TokenState): { version: number; active: boolean } {
    const known = this.users.get(state.userId);
    if (known && known.version >= state.version) return known;
    const next = { version: state.version, active: state.active };
    this.users.set(state.userId, next);
    if (known) for (const listener of this.listeners) listener(state.userId);
    return next;
  }

  /** Calls `listener` with the user's id whenever a user's tokens are revoked; returns the unsubscribe. */
  onRevoked(listener: RevokedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
