import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import { CreateUserBody, UpdateUserBody, UserAccount, UserAccountList, UserIdParams } from '@shared/users-api';
import { UserService } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Accounts: administration inside a jurisdiction, and the changes that revoke tokens. */
    users: UserService;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

/**
 * Users administration (admin only, inside the admin's jurisdiction; an account outside it is a
 * 404). Wrapped with fastify-plugin so `app.users` is visible to the auth routes (password change).
 */
export default fp(
  async function userRoutes(app: App): Promise<void> {
    const service = new UserService({ db: app.db, sessions: app.sessions });
    app.decorate('users', service);

    app.get(
      '/api/users',
      {
        config: { auth: ['admin'] },
        schema: { tags: ['users'], summary: 'Accounts whose jurisdiction lies inside yours (admin)', response: { 200: UserAccountList, ...errors } },
      },
      async (request) => service.list(request.principal),
    );

    app.post(
      '/api/users',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['users'],
          summary: 'Create an account with a jurisdiction inside yours (admin)',
          body: CreateUserBody,
          response: { 201: UserAccount, ...errors },
        },
      },
      async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body, request.ip)),
    );

    app.patch(
      '/api/users/:id',
      {
        config: { auth: ['admin'] },
        schema: {
          tags: ['users'],
          summary: 'Change an account (admin): deactivating it or changing its password, role, jurisdiction or worker revokes its tokens and disconnects its sockets',
          params: UserIdParams,
          body: UpdateUserBody,
          response: { 200: UserAccount, ...errors },
        },
      },
      async (request) => service.update(request.principal, request.params.id, request.body, request.ip),
    );
  },
  { name: 'users' },
);
