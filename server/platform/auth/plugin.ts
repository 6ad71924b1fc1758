import fp from 'fastify-plugin';
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROLE_HOME, USER_ROLES, type UserRole } from '@shared/domain';
import type { UserDto } from '@shared/api';
import { AppError } from '../errors';
import { Scope, type Principal } from './scope';
import { loadTokenStates, type UserRow } from '../../modules/auth/repository';
import { Sessions } from './sessions';

/** Claims in a login token. Short names: the token travels with every request. */
interface Claims {
  sub: string;
  usr: string;
  role: UserRole;
  reg: string;
  path: string;
  wid: number | null;
  /** The user's token version when it was issued: any other current version revokes it. */
  ver: number;
  /** A wall display session's id (shared/wall-api.ts): a read-only identity with a long-lived token. */
  wss?: number;
}

/**
 * Who may call a route, declared on the route itself (`config: { auth: … }`):
 * - `'public'`: anyone, no token (only health, login, the device protocols and the dashboard's files);
 * - a list of roles: a signed-in user holding one of them;
 * - nothing: any signed-in user. A route that declares nothing is closed, never open.
 */
export type RouteAuth = 'public' | readonly UserRole[];

/** One route as the app registered it, with who may call it (undefined: any signed-in user). */
export interface RouteEntry {
  method: string;
  url: string;
  auth: RouteAuth | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /**
     * A wall display session is read-only: it may call GET and HEAD routes its role allows, and a
     * route that changes something only when the route says so here (the wall's own rotation).
     */
    wallSessionWrites?: boolean;
  }
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Signs a login token for a user (a wall session's: its id and its own, long life). */
    issueToken(user: UserRow, options?: IssueOptions): { token: string; expiresAt: Date };
    /** Verifies a token (HTTP bearer or socket handshake) and returns who it belongs to. */
    authenticate(token: string | undefined): Principal;
    /** Each user's current token version and active flag; revocations are announced here. */
    sessions: Sessions;
    /** Every route registered after the auth plugin, with its declared access (for the route sweep and audits). */
    routeTable: RouteEntry[];
  }
}

export function toUserDto(user: UserRow): UserDto {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    role: user.role,
    region: { code: user.regionCode, name: user.regionName, level: user.regionLevel },
    workerId: user.workerId,
    home: ROLE_HOME[user.role],
  };
}

export interface IssueOptions {
  /** Life of the token, s (default: the configured TOKEN_TTL_S). */
  ttlS?: number;
  /** The wall display session the token stands for: read-only, revoked with the session. */
  wallSessionId?: number;
}

export interface AuthOptions {
  /** HMAC secret of the tokens (see resolveJwtSecret: never from the database). */
  secret: string;
  tokenTtlS: number;
}

/**
 * Authentication for every route, failing closed: a bearer token is required unless the route
 * declares `auth: 'public'`, and the role must be one the route lists. The principal (user +
 * jurisdiction scope) is attached to the request.
 */
export default fp(async function authPlugin(app: FastifyInstance, opts: AuthOptions) {
  if (!opts.secret) throw new Error('the auth plugin needs a signing secret');
  await app.register(jwt, { secret: opts.secret, sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'] } });
  const sessions = new Sessions();
  sessions.load(await loadTokenStates(app.db));
  app.decorate('sessions', sessions);

  app.decorate('issueToken', (user: UserRow, options: IssueOptions = {}) => {
    // The row was just read: it may know of a change this process has not seen yet.
    const state = Number.isInteger(user.tokenVersion)
      ? sessions.observe({ userId: user.id, version: user.tokenVersion, active: user.active })
      : sessions.get(user.id);
    if (!state?.active) throw new AppError('AUTH_ACCOUNT_DISABLED', 'This account is disabled: ask an administrator.');
    const claims: Claims = {
      sub: String(user.id),
      usr: user.username,
      role: user.role,
      reg: user.regionCode,
      path: user.regionPath,
      wid: user.workerId,
      ver: state.version,
      ...(options.wallSessionId !== undefined ? { wss: options.wallSessionId } : {}),
    };
    const ttlS = options.ttlS ?? opts.tokenTtlS;
    const token = app.jwt.sign(claims, { expiresIn: ttlS });
    return { token, expiresAt: new Date(Date.now() + ttlS * 1000) };
  });

  app.decorate('authenticate', (token: string | undefined): Principal => {
    if (!token) throw new AppError('AUTH_REQUIRED', 'Sign in first: this request needs a token (Authorization: Bearer …).');
    let claims: Claims;
    try {
      claims = app.jwt.verify<Claims>(token);
    } catch (error) {
      const expired = (error as { code?: string }).code === 'FAST_JWT_EXPIRED';
      throw expired
        ? new AppError('AUTH_TOKEN_EXPIRED', 'Your session has expired: sign in again.')
        : new AppError('AUTH_TOKEN_INVALID', 'The token is not valid: sign in again.');
    }
    const userId = Number(claims.sub);
    // From memory, not the database: the users service moves the versions when it changes a user.
    const wallSessionId = typeof claims.wss === 'number' ? claims.wss : undefined;
    if (!sessions.valid(userId, claims.ver)) {
      throw wallSessionId !== undefined
        ? new AppError('WALL_SESSION_REVOKED', 'This wall display session was revoked by an administrator.')
        : new AppError('AUTH_TOKEN_REVOKED', 'This session was ended (account disabled or changed): sign in again.');
    }
    return {
      userId,
      username: claims.usr,
      role: claims.role,
      workerId: claims.wid,
      scope: Scope.of(claims.reg, claims.path),
      ...(wallSessionId !== undefined ? { wallSessionId } : {}),
    };
  });

  app.decorateRequest('principal', null as unknown as Principal);
  // The route table keeps the route options themselves: a later onRoute hook (publicRoutes) may still set `auth`.
  const routes: { method: string; url: string; options: { config?: { auth?: RouteAuth } } }[] = [];
  app.decorate('routeTable', {
    getter: (): RouteEntry[] => routes.map((r) => ({ method: r.method, url: r.url, auth: r.options.config?.auth })),
  });
  // Every route's declaration is checked when it is added: a typo fails the start, not a request.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url, options: route });
    const auth = route.config?.auth;
    if (auth === undefined || auth === 'public') return;
    if (!Array.isArray(auth) || auth.length === 0 || auth.some((r) => !USER_ROLES.includes(r))) {
      throw new Error(`route ${String(route.method)} ${route.url}: config.auth must be 'public' or a non-empty list of roles`);
    }
  });
  // The decision follows the route the router matched (decoded, as it routes), never the raw URL,
  // so '/%61pi/…' is the same route as '/api/…'. Only an unmatched request (404, the dashboard's
  // client-side routes) goes on without a principal, and no handler of ours runs for it.
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.is404) return;
    const auth = request.routeOptions.config?.auth;
    if (auth === 'public') return;
    const principal = app.authenticate(bearer(request));
    if (auth && !auth.includes(principal.role)) {
      throw new AppError('FORBIDDEN', 'Your role may not do this.');
    }
    if (principal.wallSessionId !== undefined && !READS.has(request.method) && !request.routeOptions.config?.wallSessionWrites) {
      throw new AppError('WALL_SESSION_READ_ONLY', 'A wall display session only shows: it cannot change anything.');
    }
    request.principal = principal;
  });
  // Belt and braces: a handler never runs for a closed route without a principal.
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (request.is404 || request.routeOptions.config?.auth === 'public') return;
    if (!request.principal) throw new AppError('AUTH_REQUIRED', 'Sign in first: this request needs a token.');
  });
});

/**
 * Registers plugins whose routes are public by nature (the dashboard's static files, the API docs
 * page): every route added inside gets `auth: 'public'`. Only for routes that serve no data.
 */
export function publicRoutes(register: (scope: FastifyInstance) => Promise<void>) {
  return async function publicScope(scope: FastifyInstance) {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), auth: 'public' };
    });
    await register(scope);
  };
}

/** What a read-only wall session may send. */
const READS = new Set(['GET', 'HEAD']);

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && value ? value : undefined;
}
