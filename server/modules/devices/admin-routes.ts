import { Type } from 'typebox';
import type { App } from '../../app';
import { DeviceDto, ErrorResponse, RegisterDeviceBody } from '@shared/api';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import { findWorkerInScope } from '../workers/repository';
import { deleteDeviceInScope, listDevicesInScope } from '../positions/repository';

const DeviceListItem = Type.Object({
  identifier: Type.String(),
  workerId: Type.Number(),
  workerName: Type.String(),
  kind: Type.String(),
  createdAt: Type.String(),
});
const DeviceListQuery = Type.Object(
  {
    workerId: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const DeviceParams = Type.Object({ identifier: RegisterDeviceBody.properties.identifier });

/**
 * Devices are bound, listed and removed by administrators, inside their jurisdiction only: a device
 * already bound to a worker elsewhere cannot be taken over; a removed device's fixes are refused
 * at once. Every change is audited.
 */
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
      const { identifier, workerId, kind = 'phone' } = request.body;
      // The worker must lie inside the admin's jurisdiction, checked through the scoped query.
      if (!(await findWorkerInScope(app.db, principal.scope, workerId))) throw new AppError('NOT_FOUND', `No worker ${workerId} in your jurisdiction.`);
      // …and so must the worker the device belongs to now, if any.
      if (!(await app.ingest.registerDevice(identifier, workerId, kind, principal.scope))) {
        throw new AppError('OUT_OF_JURISDICTION', `Device "${identifier}" belongs to a worker outside your jurisdiction.`);
      }
      await audit(app.db, { userId: principal.userId, action: 'device.registered', subjectType: 'device', subjectId: identifier, detail: { workerId, kind }, ip: request.ip });
      return reply.code(201).send({ identifier, workerId, kind });
    },
  );

  app.get(
    '/api/devices',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['devices'],
        summary: 'Devices bound to workers in your jurisdiction (admin), newest first',
        querystring: DeviceListQuery,
        response: { 200: Type.Array(DeviceListItem), 400: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (request) => {
      const { workerId, limit = 500, offset = 0 } = request.query;
      return listDevicesInScope(app.db, request.principal.scope, { workerId, limit, offset });
    },
  );

  app.delete(
    '/api/devices/:identifier',
    {
      config: { auth: ['admin'] },
      schema: {
        tags: ['devices'],
        summary: 'Remove a device (admin); its fixes are refused from now on, its stored positions stay',
        params: DeviceParams,
        response: { 204: Type.Null(), 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const { identifier } = request.params;
      const removed = await deleteDeviceInScope(app.db, principal.scope, identifier);
      if (!removed) throw new AppError('NOT_FOUND', `No device "${identifier}" in your jurisdiction.`);
      app.ingest.forgetDevice(identifier);
      await audit(app.db, { userId: principal.userId, action: 'device.deleted', subjectType: 'device', subjectId: identifier, detail: { workerId: removed.workerId }, ip: request.ip });
      return reply.code(204).send(null);
    },
  );
}
