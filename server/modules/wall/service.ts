/**
 * The unattended wall (issue 14): wall display sessions and each account's rotation.
 *
 * A wall session is a dedicated account (role operator, the wall's region as its jurisdiction, a
 * random password nobody is told) with one long-lived token carrying the session's id (claim
 * `wss`): the auth plugin lets it read and nothing else but its own rotation. Revoking deactivates
 * the account and bumps its token version in the same transaction; the live hub tells the wall's
 * sockets `WALL_SESSION_REVOKED` and disconnects them, and the token is refused from then on with
 * that code. Creation and revocation are audited.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../platform/db';
import { AppError } from '../../platform/errors';
import type { Principal } from '../../platform/auth/scope';
import type { Sessions } from '../../platform/auth/sessions';
import type { IssueOptions } from '../../platform/auth/plugin';
import { hashPassword } from '../../platform/auth/password';
import { audit, findUserById, type UserRow } from '../auth/repository';
import { findRegionInScope } from '../users/repository';
import type { LiveHub } from '../realtime/hub';
import {
  DEFAULT_CAROUSEL,
  WALL_SESSION_DEFAULT_DAYS,
  sameView,
  type CreateWallSessionBody,
  type WallCarousel,
  type WallSession,
  type WallSessionCreated,
} from '@shared/wall-api';
import * as repo from './repository';

const iso = (v: Date | string) => new Date(v).toISOString();

export interface WallDeps {
  db: Db;
  sessions: Sessions;
  hub: LiveHub;
  issueToken(user: UserRow, options?: IssueOptions): { token: string; expiresAt: Date };
}

export class WallService {
  constructor(private readonly deps: WallDeps) {}

  private toDto(row: repo.WallSessionRow): WallSession {
    return {
      id: row.id,
      name: row.name,
      region: { code: row.regionCode, name: row.regionName, level: row.regionLevel },
      createdAt: iso(row.createdAt),
      createdBy: row.createdBy,
      expiresAt: iso(row.expiresAt),
      revokedAt: row.revokedAt === null ? null : iso(row.revokedAt),
      connected: row.revokedAt === null ? this.deps.hub.connectedCount(row.userId) : 0,
    };
  }

  /** The wall sessions of regions inside the administrator's jurisdiction, revoked ones too. */
  async list(p: Principal): Promise<WallSession[]> {
    return (await repo.listInScope(this.deps.db, p.scope)).map((r) => this.toDto(r));
  }

  /** Creates a wall session and its account; the token is returned this once. */
  async create(p: Principal, body: CreateWallSessionBody, ip?: string): Promise<WallSessionCreated> {
    const { db, sessions } = this.deps;
    const region = await findRegionInScope(db, p.scope, body.regionCode);
    if (!region) throw new AppError('NOT_FOUND', `No region ${body.regionCode} in your jurisdiction.`);
    const ttlS = (body.days ?? WALL_SESSION_DEFAULT_DAYS) * 86_400;
    const expiresAt = new Date(Date.now() + ttlS * 1000);
    // Nobody signs in with this account: its password is random and never shown.
    const passwordHash = await hashPassword(randomBytes(32).toString('base64url'));
    const created = await db.transaction(async (tx) => {
      const userId = await repo.insertWallAccount(tx, {
        username: `wall-${randomUUID()}`, displayName: body.name, passwordHash, regionCode: region.code,
      });
      const id = await repo.insertSession(tx, { name: body.name, userId, regionCode: region.code, createdBy: p.userId, expiresAt });
      await audit(tx, {
        userId: p.userId, action: 'wall_session.created', subjectType: 'wall_session', subjectId: String(id),
        detail: { name: body.name, regionCode: region.code, days: ttlS / 86_400, accountId: userId }, ip,
      });
      return { id, userId };
    });
    const user = await findUserById(db, created.userId);
    if (!user) throw new Error(`wall account ${created.userId} vanished`);
    sessions.observe({ userId: user.id, version: user.tokenVersion, active: user.active });
    const { token } = this.deps.issueToken(user, { ttlS, wallSessionId: created.id });
    const row = await repo.findInScope(db, p.scope, created.id);
    if (!row) throw new Error(`wall session ${created.id} vanished`);
    return { session: this.toDto(row), token, url: `/wall?session=${encodeURIComponent(token)}` };
  }

  /**
   * Revokes a wall session: its sockets are told and disconnected at once, its token refused from
   * then on. Revoking a revoked session changes nothing (and is not audited again).
   */
  async revoke(p: Principal, id: number, ip?: string): Promise<void> {
    const { db } = this.deps;
    const row = await repo.findInScope(db, p.scope, id);
    if (!row) throw new AppError('NOT_FOUND', `No wall session ${id} in your jurisdiction.`);
    const state = await db.transaction(async (tx) => {
      const next = await repo.revokeSession(tx, id, p.userId);
      if (next) {
        await audit(tx, {
          userId: p.userId, action: 'wall_session.revoked', subjectType: 'wall_session', subjectId: String(id),
          detail: { name: row.name, regionCode: row.regionCode, accountId: row.userId }, ip,
        });
      }
      return next;
    });
    if (!state) return;
    // The wall's own code first: the sessions' revocation would tell the sockets the generic one.
    this.deps.hub.revoke(row.userId, 'WALL_SESSION_REVOKED');
    this.deps.sessions.observe(state);
  }

  /** The account's rotation (a wall that never saved one gets the default: off). */
  async carousel(p: Principal): Promise<WallCarousel> {
    return (await repo.findCarousel(this.deps.db, p.userId)) ?? DEFAULT_CAROUSEL;
  }

  /** Saves the account's rotation; every street in it must be a street inside the jurisdiction. */
  async saveCarousel(p: Principal, carousel: WallCarousel): Promise<WallCarousel> {
    const views = carousel.views.filter((v, i) => carousel.views.findIndex((w) => sameView(v, w)) === i);
    const streets = views.flatMap((v) => (v.kind === 'street' ? [v.code] : []));
    if (streets.length > 0) {
      const known = await repo.streetsInScope(this.deps.db, p.scope, streets);
      const unknown = streets.filter((c) => !known.has(c));
      if (unknown.length > 0) throw new AppError('VALIDATION_FAILED', `Not a street in your jurisdiction: ${unknown.join(', ')}.`);
    }
    const saved = { ...carousel, views };
    await repo.saveCarousel(this.deps.db, p.userId, saved);
    return saved;
  }
}
