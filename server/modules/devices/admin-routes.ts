import type { App } from '../../app';
import { DeviceDto, ErrorResponse, RegisterDeviceBody } from '@shared/api';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import { findWorkerInScope } from '../workers/repository';

export default async function deviceAdminRoutes(app: App): Promise<void> {
  app.post(
    '/api/devices',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['devices'],
        summary: 'Register a phone or tracker to a worker (admin); its fixes then count as that worker’s',
        body: RegisterDeviceBody,
        response: { 201: DeviceDto, 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      if (principal.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an administrator can register devices.');
      const { identifier, workerId, kind = 'phone' } = request.body;
      // The worker must lie inside the admin's jurisdiction, checked through the scoped query.
      if (!(await findWorkerInScope(app.db, principal.scope, workerId))) throw new AppError('NOT_FOUND', `No worker ${workerId} in your jurisdiction.`);
      await app.ingest.registerDevice(identifier, workerId, kind);
      await audit(app.db, { userId: principal.userId, action: 'device.registered', subjectType: 'device', subjectId: identifier, detail: { workerId, kind }, ip: request.ip });
      return reply.code(201).send({ identifier, workerId, kind });
    },
  );
}
