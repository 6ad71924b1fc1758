/**
 * Accounts, administered inside the administrator's jurisdiction: list, create, change. Every
 * change is audited, and every change that alters what a token stands for (deactivation,
 * reactivation, password, role, jurisdiction, worker) bumps the account's token version in the
 * same statement, then tells the in-memory sessions, which revoke the old tokens at once and
 * disconnect the account's sockets.
 */
import type { UserAccount, CreateUserBody, UpdateUserBody } from '@shared/users-api';
import type { Db } from '../../platform/db';
import { AppError } from '../../platform/errors';
import { Scope, type Principal } from '../../platform/auth/scope';
import type { Sessions, TokenState } from '../../platform/auth/sessions';
import { hashPassword } from '../../platform/auth/password';
import { toUserDto } from '../../platform/auth/plugin';
import { audit, setPassword, type UserRow } from '../auth/repository';
import { findWorkerInScope } from '../workers/repository';
import * as repo from './repository';

export function toUserAccount(user: UserRow): UserAccount {
  return { ...toUserDto(user), active: user.active, demoPassword: user.demoPassword };
}

/** PostgreSQL's unique_violation: two admins creating the same username at once. */
const UNIQUE_VIOLATION = '23505';

export class UserService {
  constructor(private readonly deps: { db: Db; sessions: Sessions }) {}

  async list(p: Principal): Promise<UserAccount[]> {
    requireAdmin(p);
    return (await repo.listUsersInScope(this.deps.db, p.scope)).map(toUserAccount);
  }

  async create(p: Principal, body: CreateUserBody, ip?: string): Promise<UserAccount> {
    requireAdmin(p);
    const { db } = this.deps;
    const region = await repo.findRegionInScope(db, p.scope, body.regionCode);
    if (!region) throw new AppError('NOT_FOUND', `No region ${body.regionCode} in your jurisdiction.`);
    const workerId = body.workerId ?? null;
    if (workerId !== null && !(await findWorkerInScope(db, Scope.of(region.code, region.path), workerId))) {
      throw new AppError('NOT_FOUND', `No worker ${workerId} in region ${region.code}.`);
    }
    if (await repo.usernameTaken(db, body.username)) throw new AppError('CONFLICT', `The username ${body.username} is taken.`);
    const passwordHash = await hashPassword(body.password);
    let state: TokenState;
    try {
      state = await db.transaction(async (tx) => {
        const created = await repo.insertUser(tx, {
          username: body.username, displayName: body.displayName, passwordHash, role: body.role, regionCode: region.code, workerId,
        });
        await audit(tx, {
          userId: p.userId, action: 'user.created', subjectType: 'user', subjectId: String(created.userId),
          detail: { username: body.username, role: body.role, regionCode: region.code, workerId }, ip,
        });
        return created;
      });
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new AppError('CONFLICT', `The username ${body.username} is taken.`);
      throw error;
    }
    this.deps.sessions.observe(state);
    return this.account(p, state.userId);
  }

  async update(p: Principal, id: number, body: UpdateUserBody, ip?: string): Promise<UserAccount> {
    requireAdmin(p);
    const { db } = this.deps;
    const user = await repo.findUserInScope(db, p.scope, id);
    if (!user) throw new AppError('NOT_FOUND', `No user ${id} in your jurisdiction.`);
    if (user.id === p.userId && (body.active === false || (body.role !== undefined && body.role !== user.role))) {
      // Nobody can lock themselves out; another administrator can.
      throw new AppError('FORBIDDEN', 'You cannot deactivate your own account or change your own role.');
    }

    const changes: repo.UserChanges = {};
    if (body.active !== undefined && body.active !== user.active) changes.active = body.active;
    if (body.role !== undefined && body.role !== user.role) changes.role = body.role;
    if (body.displayName !== undefined && body.displayName !== user.displayName) changes.displayName = body.displayName;
    let region = { code: user.regionCode, path: user.regionPath };
    if (body.regionCode !== undefined && body.regionCode !== user.regionCode) {
      const found = await repo.findRegionInScope(db, p.scope, body.regionCode);
      if (!found) throw new AppError('NOT_FOUND', `No region ${body.regionCode} in your jurisdiction.`);
      region = found;
      changes.regionCode = found.code;
    }
    if (body.workerId !== undefined && body.workerId !== user.workerId) changes.workerId = body.workerId;
    const workerId = changes.workerId !== undefined ? changes.workerId : user.workerId;
    if (workerId !== null && (changes.workerId !== undefined || changes.regionCode !== undefined)
      && !(await findWorkerInScope(db, Scope.of(region.code, region.path), workerId))) {
      throw new AppError('NOT_FOUND', `No worker ${workerId} in region ${region.code}.`);
    }
    if (body.password !== undefined) changes.passwordHash = await hashPassword(body.password);

    // Only the display name leaves the account's tokens as they are.
    const revoke = Object.keys(changes).some((k) => k !== 'displayName');
    const state = await db.transaction(async (tx) => {
      const next = await repo.updateUser(tx, user.id, changes, revoke);
      if (next) {
        const { passwordHash, ...shown } = changes;
        await audit(tx, {
          userId: p.userId, action: 'user.updated', subjectType: 'user', subjectId: String(user.id),
          detail: { ...shown, ...(passwordHash ? { password: 'changed' } : {}), revoked: revoke }, ip,
        });
      }
      return next;
    });
    if (state) this.deps.sessions.observe(state);
    return this.account(p, user.id);
  }

  /** The signed-in user's own new password: every one of their tokens stops, this one too. */
  async changeOwnPassword(userId: number, newPassword: string, ip?: string): Promise<void> {
    const passwordHash = await hashPassword(newPassword);
    const state = await this.deps.db.transaction(async (tx) => {
      const next = await setPassword(tx, userId, passwordHash);
      await audit(tx, { userId, action: 'auth.password_changed', subjectType: 'user', subjectId: String(userId), ip });
      return next;
    });
    if (state) this.deps.sessions.observe(state);
  }

  private async account(p: Principal, id: number): Promise<UserAccount> {
    // Read back through the admin's scope: an account moved outside it is no longer theirs to see.
    const user = await repo.findUserInScope(this.deps.db, p.scope, id);
    if (!user) throw new AppError('NOT_FOUND', `User ${id} is no longer in your jurisdiction.`);
    return toUserAccount(user);
  }
}

function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator can manage accounts.');
}
