import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  ALARM_DESK_ROLES,
  ALARM_DISPATCH_ROLES,
  AlarmDetail,
  AlarmDispatchBody,
  AlarmDispatchResult,
  AlarmIdParams,
  AlarmList,
  AlarmsQuery,
  AlarmSummary,
  AlarmTransitionBody,
  RaiseAlarmBody,
} from '@shared/alarms-api';
import { AlarmBroadcaster } from './broadcast';
import { AlarmService } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Alarms (一键报警): SOS from devices and the phone app, taken by the desks. */
    alarms: AlarmService;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

/**
 * Alarms: raised by a device fix with `alarm=sos` (through the ingest's alarm sink, whatever the
 * fix's fate — a resend or a fix in the same second as the previous one raises too) or by the phone
 * app; listed, acknowledged, resolved or cancelled by the desks whose jurisdiction covers the
 * worker's home grid; one click sends the nearest free workers. Needs the hub, `app.tickets` and
 * `app.dispatch`, so the app registers it after dispatch.
 */
export default fp(
  async function alarmRoutes(app: App): Promise<void> {
    const service = new AlarmService({
      db: app.db,
      clock: app.clock,
      broadcast: new AlarmBroadcaster(() => app.hub.io),
      tickets: app.tickets,
      dispatch: app.dispatch,
      log: app.log,
    });
    app.decorate('alarms', service);
    const unsubscribe = app.ingest.onAlarm((fix) => service.fromDevice(fix));
    app.addHook('onClose', async () => unsubscribe());

    app.post(
      '/api/alarms',
      {
        config: { auth: ['worker'] },
        schema: {
          tags: ['alarms'],
          summary: 'The phone app’s SOS: a signed-in worker raises an alarm for themselves at their position',
          description:
            '201 with the new alarm. While the worker has an open SOS, another joins it: 200 with the same alarm (a "repeated" timeline entry). ' +
            'The same clientId again answers 200 with the alarm it raised or joined and records nothing.',
          body: RaiseAlarmBody,
          response: { 200: AlarmSummary, 201: AlarmSummary, ...errors, 422: ErrorResponse },
        },
      },
      async (request, reply) => {
        const { alarm, created } = await service.fromApp(request.principal, request.body, request.ip);
        return reply.code(created ? 201 : 200).send(alarm);
      },
    );

    app.get(
      '/api/alarms',
      {
        schema: {
          tags: ['alarms'],
          summary: 'Alarms of the workers in your jurisdiction (a worker: their own); open ones (default) or all, open first, newest first',
          querystring: AlarmsQuery,
          response: { 200: AlarmList, 400: ErrorResponse, 401: ErrorResponse },
        },
      },
      async (request) => service.list(request.principal, request.query),
    );

    app.get(
      '/api/alarms/:id',
      {
        schema: {
          tags: ['alarms'],
          summary: 'One alarm with its timeline, the worker’s trail of the last 10 minutes and the tickets that sent people to it',
          params: AlarmIdParams,
          response: { 200: AlarmDetail, ...errors },
        },
      },
      async (request) => service.detail(request.principal, request.params.id),
    );

    app.post(
      '/api/alarms/:id/transitions',
      {
        config: { auth: [...ALARM_DESK_ROLES, 'worker'] },
        schema: {
          tags: ['alarms'],
          summary: 'Acknowledge (接警), resolve (处置完毕) or mark a false alarm (误报); a worker may only cancel their own alarm as false, with a reason',
          description:
            '409 ALARM_TRANSITION_NOT_ALLOWED when the alarm’s status does not allow the action — a second acknowledge included. ' +
            'A resolve or false alarm repeated by the user who made it answers 200 with the alarm as it stands. 404 outside your jurisdiction.',
          params: AlarmIdParams,
          body: AlarmTransitionBody,
          response: { 200: AlarmDetail, ...errors },
        },
      },
      async (request) => service.transition(request.principal, request.params.id, request.body, request.ip),
    );

    app.post(
      '/api/alarms/:id/dispatch',
      {
        config: { auth: [...ALARM_DISPATCH_ROLES] },
        schema: {
          tags: ['alarms'],
          summary: 'Send the nearest free workers (or those named) to the alarm: one immediate ticket per worker at its position, dispatched',
          params: AlarmIdParams,
          body: AlarmDispatchBody,
          response: { 200: AlarmDispatchResult, ...errors, 422: ErrorResponse },
        },
      },
      async (request) => service.dispatch(request.principal, request.params.id, request.body, request.ip),
    );
  },
  { name: 'alarms', dependencies: ['tickets', 'dispatch'] },
);
