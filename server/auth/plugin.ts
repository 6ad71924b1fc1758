import { randomBytes } from 'node:crypto';
import fp from 'fastify-plugin';
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROLE_HOME, type UserRole } from '@shared/domain';
import type { UserDto } from '@shared/api';
import { AppError } from '../errors';
import { Scope, type Principal } from './scope';
import { loadOrCreateSecret, type UserRow } from './repository';

/** Claims in a login token. Short names: the token travels with every request. */
interface Claims {
  sub: string;
  usr: string;
  role: UserRole;
  reg: string;
  path: string;
  wid: number | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a token (only health and login are). */
    public?: boolean;
  }
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Signs a login token for a user. */
    issueToken(user: UserRow): { token: string; expiresAt: Date };
    /** Verifies a token (HTTP bearer or socket handshake) and returns who it belongs to. */
    authenticate(token: string | undefined): Principal;
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

export interface AuthOptions {
  secret: string | undefined;
  tokenTtlS: number;
}

/**
 * Authentication for every route: a bearer token is required unless the route's config says
 * `public: true`. The principal (user + jurisdiction scope) is attached to the request.
 */
export default fp(async function authPlugin(app: FastifyInstance, opts: AuthOptions) {
  const secret = opts.secret ?? (await loadOrCreateSecret(app.db, () => randomBytes(48).toString('base64url')));
  await app.register(jwt, { secret, sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'] } });

  app.decorate('issueToken', (user: UserRow) => {
    const claims: Claims = {
      sub: String(user.id),
      usr: user.username,
      role: user.role,
      reg: user.regionCode,
      path: user.regionPath,
      wid: user.workerId,
    };
    const token = app.jwt.sign(claims, { expiresIn: opts.tokenTtlS });
    return { token, expiresAt: new Date(Date.now() + opts.tokenTtlS * 1000) };
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
    return {
      userId: Number(claims.sub),
      username: claims.usr,
      role: claims.role,
      workerId: claims.wid,
      scope: Scope.of(claims.reg, claims.path),
    };
  });

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.routeOptions.config.public) return;
    // Only API routes carry data; the dashboard's static files and the API docs are public.
    if (!request.url.startsWith('/api/')) return;
    request.principal = app.authenticate(bearer(request));
  });
});

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && value ? value : undefined;
}
