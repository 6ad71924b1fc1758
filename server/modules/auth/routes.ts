import type { App } from '../../app';
import { ChangePasswordBody, ErrorResponse, LoginBody, LoginResponse, UserDto } from '@shared/api';
import { AppError } from '../../platform/errors';
import { audit, findUserById, findUserByUsername } from './repository';
import { decoyHash, verifyPassword } from '../../platform/auth/password';
import { toUserDto } from '../../platform/auth/plugin';
import { LoginLimit } from '../../platform/limits';

export default async function authRoutes(app: App): Promise<void> {
  const loginLimit = new LoginLimit(app, {
    perAccount: app.config.loginLimitPerAccount,
    perAddress: app.config.loginLimitPerAddress,
    windowMs: app.config.loginLimitWindowS * 1000,
  });
  app.post(
    '/api/auth/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with username and password; returns a bearer token',
        description:
          'Failed attempts are limited per account and per client address (LOGIN_LIMIT_PER_ACCOUNT, LOGIN_LIMIT_PER_ADDRESS ' +
          'per LOGIN_LIMIT_WINDOW_S): beyond them 429 RATE_LIMITED with Retry-After (seconds). 503 SERVICE_UNAVAILABLE ' +
          'with Retry-After when too many passwords are being checked at once.',
        body: LoginBody,
        response: { 200: LoginResponse, 401: ErrorResponse, 403: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const attempt = await loginLimit.begin(request);
      try {
        const user = await findUserByUsername(app.db, username);
        // Verify against a decoy for unknown users so timing does not reveal which usernames exist.
        const ok = await verifyPassword(user?.passwordHash ?? (await decoyHash()), password);
        if (!user || !ok) {
          await attempt.failed();
          await audit(app.db, { userId: user?.id ?? null, action: 'auth.login_failed', detail: { username }, ip: request.ip });
          throw new AppError('AUTH_INVALID_CREDENTIALS', 'Wrong username or password.');
        }
        if (!user.active) throw new AppError('AUTH_ACCOUNT_DISABLED', 'This account is disabled: ask an administrator.');
        await audit(app.db, { userId: user.id, action: 'auth.login', ip: request.ip });
        const { token, expiresAt } = app.issueToken(user);
        return { token, expiresAt: expiresAt.toISOString(), user: toUserDto(user) };
      } finally {
        attempt.end();
      }
    },
  );

  app.get(
    '/api/auth/me',
    { schema: { tags: ['auth'], summary: 'The signed-in user', response: { 200: UserDto } } },
    async (request) => {
      const user = await findUserById(app.db, request.principal.userId);
      if (!user || !user.active) throw new AppError('AUTH_TOKEN_INVALID', 'This account no longer exists or is disabled.');
      // A wall display session's account is named after the wall.
      const wall = request.principal.wallSessionId;
      return wall === undefined ? toUserDto(user) : { ...toUserDto(user), wallSession: { id: wall, name: user.displayName } };
    },
  );

  app.post(
    '/api/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change the signed-in user’s password; every token of the user stops working (sign in again)',
        body: ChangePasswordBody,
        response: { 204: { type: 'null' }, 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const user = await findUserById(app.db, request.principal.userId);
      if (!user || !(await verifyPassword(user.passwordHash, request.body.currentPassword))) {
        throw new AppError('AUTH_INVALID_CREDENTIALS', 'The current password is wrong.');
      }
      // Revokes every token of the user, this one too: they sign in again with the new password.
      await app.users.changeOwnPassword(user.id, request.body.newPassword, request.ip);
      return reply.code(204).send(null);
    },
  );
}
