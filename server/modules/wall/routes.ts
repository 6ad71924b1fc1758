import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import { CreateWallSessionBody, WallCarousel, WallSessionCreated, WallSessionIdParams, WallSessionList } from '@shared/wall-api';
import { WallService } from './service';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
/** Who has a wall (the pages that show /wall). */
const WALL_ROLES = ['admin', 'leader', 'operator'] as const;

/**
 * The unattended wall: administrators create, list and revoke wall display sessions inside their
 * jurisdiction; a wall (a person's or a wall session's) reads and saves its own rotation. Needs
 * the live hub (a revocation disconnects the wall's sockets), so it is registered after it.
 */
export default async function wallRoutes(app: App): Promise<void> {
  const service = new WallService({ db: app.db, sessions: app.sessions, hub: app.hub, issueToken: app.issueToken.bind(app) });

  app.get(
    '/api/wall-sessions',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['wall'],
        summary: 'Wall display sessions of regions inside your jurisdiction, revoked ones too (admin)',
        response: { 200: WallSessionList, ...errors },
      },
    },
    async (request) => service.list(request.principal),
  );

  app.post(
    '/api/wall-sessions',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['wall'],
        summary: 'Create a wall display session (admin): a read-only identity scoped to the region with a long-lived token (shown once)',
        description: 'Open the wall once with the returned url (/wall?session=…): it keeps the token, re-authenticates by itself after a ' +
          'server restart or a network drop, and may read what an operator of the region reads and save its own rotation, nothing else ' +
          '(403 WALL_SESSION_READ_ONLY).',
        body: CreateWallSessionBody,
        response: { 201: WallSessionCreated, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body, request.ip)),
  );

  app.delete(
    '/api/wall-sessions/:id',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['wall'],
        summary: 'Revoke a wall display session (admin): its sockets are disconnected at once and its token refused (401 WALL_SESSION_REVOKED)',
        params: WallSessionIdParams,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      await service.revoke(request.principal, request.params.id, request.ip);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/wall/carousel',
    {
      config: { auth: [...WALL_ROLES] },
      schema: { tags: ['wall'], summary: 'Your wall’s rotation (轮播): views and seconds per view (off until saved)', response: { 200: WallCarousel, ...errors } },
    },
    async (request) => service.carousel(request.principal),
  );

  app.put(
    '/api/wall/carousel',
    {
      // The operator at a wall session's screen sets its rotation: the one thing such a wall writes.
      config: { auth: [...WALL_ROLES], wallSessionWrites: true },
      schema: {
        tags: ['wall'],
        summary: 'Save your wall’s rotation (a wall session saves its own); streets must lie inside your jurisdiction',
        body: WallCarousel,
        response: { 200: WallCarousel, ...errors },
      },
    },
    async (request) => service.saveCarousel(request.principal, request.body),
  );
}
