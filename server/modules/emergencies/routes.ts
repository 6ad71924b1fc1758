import fp from 'fastify-plugin';
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import {
  CallUpState,
  DeclaredEmergency,
  DeclareEmergencyBody,
  EmergenciesQuery,
  EmergencyDetail,
  EmergencyIdParams,
  EmergencyList,
  EmergencyReport,
  EmergencySituation,
  levelNumeral,
  NearestQuery,
  ReportInBody,
  ReportQuery,
  Resource,
  ResourceBody,
  ResourceIdParams,
  ResourceList,
  ResourcePatch,
} from '@shared/emergencies-api';
import { shanghaiWallClock } from '@shared/shanghai-time';
import { addSheet, newWorkbook, sendFile, workbookBuffer, XLSX_TYPE } from '../../platform/exports';
import { AppError } from '../../platform/errors';
import type { Scope } from '../../platform/auth/scope';
import { audit } from '../auth/repository';
import { NoticeBroadcaster } from '../notices/broadcast';
import { EmergencyBroadcaster } from './broadcast';
import * as repo from './repository';
import { EmergencyService, TYPE_LABELS } from './service';

declare module 'fastify' {
  interface FastifyInstance {
    /** Emergency mode (平战结合): declaring, mobilisation, report-in, after-action report. */
    emergencies: EmergencyService;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse };
/** The desks that follow an emergency on their wall or desk. */
const DESKS = ['admin', 'leader', 'operator', 'dispatcher'] as const;

const STATUS_LABELS: Record<string, string> = {
  received: '待受理', registered: '已立案', dispatched: '已派遣', accepted: '已接单', in_progress: '处置中', resolved: '已处置',
  verified: '已核查', closed: '已结案', returned: '已退回', escalated: '已上报', cancelled: '已作废',
};

/** The after-action report as a workbook: 概况, 时间线, 动员曲线, 网格, 工单. */
async function reportWorkbook(r: EmergencyReport): Promise<Buffer> {
  const wb = newWorkbook();
  const t = (iso: string) => shanghaiWallClock(Date.parse(iso)).toISOString().slice(0, 19).replace('T', ' ');
  const s = (v: number | null) => (v === null ? null : Math.round(v));
  addSheet(wb, {
    sheetName: '概况',
    columns: [{ key: 'k', header: '项目', width: 22 }, { key: 'v', header: '数值', width: 36 }],
    rows: [
      { k: '类型', v: TYPE_LABELS[r.type] },
      { k: '级别', v: `${levelNumeral(r.level)}级` },
      { k: '启动时间', v: t(r.declaredAt) },
      { k: '结束时间', v: t(r.closedAt) },
      { k: '持续（分钟）', v: Math.round(r.durationS / 60) },
      { k: '动员人数', v: r.mobilisation.called },
      { k: '收到人数', v: r.mobilisation.acknowledged },
      { k: '报到人数', v: r.mobilisation.reportedIn },
      { k: '收到用时中位数（秒）', v: s(r.responseTimes.acknowledgeMedianS) },
      { k: '收到用时 P90（秒）', v: s(r.responseTimes.acknowledgeP90S) },
      { k: '报到用时中位数（秒）', v: s(r.responseTimes.reportInMedianS) },
      { k: '报到用时 P90（秒）', v: s(r.responseTimes.reportInP90S) },
      { k: '工单响应中位数（秒）', v: s(r.responseTimes.ticketResponseMedianS) },
      { k: '期间新增工单', v: r.tickets.filed },
      { k: '期间结案工单', v: r.tickets.closed },
      { k: '结束时未结工单', v: r.tickets.open },
    ],
  });
  addSheet(wb, {
    sheetName: '时间线',
    columns: [{ key: 'at', header: '时间', width: 22 }, { key: 'text', header: '事件', width: 60 }],
    rows: r.timeline.map((e) => ({ at: t(e.at), text: e.text })),
  });
  addSheet(wb, {
    sheetName: '动员曲线',
    columns: [{ key: 'minute', header: '启动后（分钟）', width: 16 }, { key: 'acknowledged', header: '累计收到', width: 12 }, { key: 'reportedIn', header: '累计报到', width: 12 }],
    rows: r.curve,
  });
  addSheet(wb, {
    sheetName: '网格',
    columns: [
      { key: 'code', header: '网格编码', width: 20 },
      { key: 'name', header: '网格', width: 24 },
      { key: 'called', header: '动员', width: 10 },
      { key: 'acknowledged', header: '收到', width: 10 },
      { key: 'reportedIn', header: '报到', width: 10 },
      { key: (g) => (g.firstReportInS === null ? null : Math.round(g.firstReportInS / 60)), header: '首人报到（分钟）', width: 16 },
    ],
    rows: r.grids,
  });
  addSheet(wb, {
    sheetName: '工单',
    columns: [{ key: 'status', header: '状态', width: 14 }, { key: 'n', header: '数量', width: 10 }],
    rows: Object.entries(r.tickets.byStatus).map(([status, n]) => ({ status: STATUS_LABELS[status] ?? status, n })),
  });
  return workbookBuffer(wb);
}

/**
 * Emergency mode: leaders declare and close; desks whose jurisdiction meets the area follow it
 * (`emergency.declared`, `emergency.mobilisation`, `emergency.closed`); the called people's phones
 * acknowledge and report in. Resources (shelters, supply points, teams) are data an admin keeps.
 * Registered after the hub (events) and the notices (the call-up is a notice).
 */
export default fp(
  async function emergencyRoutes(app: App): Promise<void> {
    const broadcast = new EmergencyBroadcaster(() => app.hub.io, app.db, 150, (error) => app.log.error({ err: error }, 'emergency broadcast failed'));
    const noticeReceipts = new NoticeBroadcaster(() => app.hub.io, app.db, 100, (error) => app.log.error({ err: error }, 'call-up receipts broadcast failed'));
    const service = new EmergencyService({ db: app.db, clock: app.clock, broadcast, ingest: app.ingest, noticeReceipts, log: app.log });
    app.decorate('emergencies', service);
    app.addHook('preClose', async () => {
      await service.drain();
      await broadcast.close();
      await noticeReceipts.close();
    });

    app.post(
      '/api/emergencies',
      {
        config: { auth: ['leader'] },
        schema: {
          tags: ['emergencies'],
          summary: 'Declare an emergency (district or street leader) over regions and/or a drawn polygon inside your jurisdiction; calls up every grid worker and party member there',
          description:
            'Audited. 403 EMERGENCY_LEADER_REQUIRED for a leader of another level, 403 EMERGENCY_AREA_OUT_OF_JURISDICTION, 400 EMERGENCY_AREA_UNKNOWN, ' +
            '400 EMERGENCY_AREA_EMPTY when the area holds no grid. The call-up is an urgent notice with receipt on each called person’s phone.',
          body: DeclareEmergencyBody,
          response: { 201: DeclaredEmergency, ...errors },
        },
      },
      async (request, reply) => reply.code(201).send(await service.declare(request.principal, request.body, request.ip)),
    );

    app.get(
      '/api/emergencies',
      {
        schema: {
          tags: ['emergencies'],
          summary: 'Desks: the emergencies whose area meets your jurisdiction, with your part of the counts and grids; workers: those you were called up for',
          querystring: EmergenciesQuery,
          response: { 200: EmergencyList, 400: ErrorResponse, 401: ErrorResponse },
        },
      },
      async (request) => ({ items: await service.list(request.principal, request.query) }),
    );

    app.get(
      '/api/emergencies/:id',
      {
        schema: {
          tags: ['emergencies'],
          summary: 'One emergency with mobilisation {called, acknowledged, reportedIn} and per-grid rows (inside your jurisdiction); for a called worker their own call-up',
          params: EmergencyIdParams,
          response: { 200: EmergencyDetail, ...errors },
        },
      },
      async (request) => service.detail(request.principal, request.params.id),
    );

    app.get(
      '/api/emergencies/:id/situation',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['emergencies'],
          summary: 'Open tickets by status and open alarms in the area (inside your jurisdiction)',
          params: EmergencyIdParams,
          response: { 200: EmergencySituation, ...errors },
        },
      },
      async (request) => service.situation(request.principal, request.params.id),
    );

    app.post(
      '/api/emergencies/:id/close',
      {
        config: { auth: ['leader'] },
        schema: {
          tags: ['emergencies'],
          summary: 'End the emergency (a leader over the declaring jurisdiction); returns the after-action report',
          params: EmergencyIdParams,
          response: { 200: EmergencyReport, ...errors },
        },
      },
      async (request) => service.close(request.principal, request.params.id, request.ip),
    );

    app.get(
      '/api/emergencies/:id/report',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['emergencies'],
          summary: 'The after-action report of a closed emergency: timeline, mobilisation curve, tickets, response times; ?format=xlsx for Excel',
          params: EmergencyIdParams,
          querystring: ReportQuery,
          response: { 200: EmergencyReport, ...errors },
        },
      },
      async (request, reply) => {
        const report = await service.report(request.principal, request.params.id);
        if (request.query.format !== 'xlsx') return report;
        const name = `应急响应总结-${report.id}-${TYPE_LABELS[report.type]}${levelNumeral(report.level)}级`;
        return sendFile(reply, await reportWorkbook(report), `${name}.xlsx`, XLSX_TYPE);
      },
    );

    app.post(
      '/api/emergencies/:id/acknowledge',
      {
        config: { auth: ['worker'] },
        schema: {
          tags: ['emergencies'],
          summary: '收到: the called person acknowledges the call-up (idempotent)',
          params: EmergencyIdParams,
          response: { 200: CallUpState, ...errors },
        },
      },
      async (request) => service.acknowledge(request.principal, request.params.id, request.ip),
    );

    app.post(
      '/api/emergencies/:id/report-in',
      {
        config: { auth: ['worker'] },
        schema: {
          tags: ['emergencies'],
          summary: '报到: the called person is at their grid (the phone’s position now); they appear on the map',
          description: '422 EMERGENCY_REPORT_IN_OUTSIDE_GRID when the position is not inside the person’s grid (ST_Contains); 409 EMERGENCY_CLOSED after the end.',
          params: EmergencyIdParams,
          body: ReportInBody,
          response: { 200: CallUpState, ...errors },
        },
      },
      async (request) => service.reportIn(request.principal, request.params.id, request.body, request.ip),
    );

    // Resources (应急资源): data an admin keeps; every desk may look them up.
    app.get(
      '/api/emergency-resources',
      {
        config: { auth: [...DESKS] },
        schema: { tags: ['emergencies'], summary: 'Shelters, supply points and teams inside your jurisdiction', response: { 200: ResourceList, 401: ErrorResponse, 403: ErrorResponse } },
      },
      async (request) => ({ items: await repo.listResources(app.db, request.principal.scope) }),
    );

    app.get(
      '/api/emergency-resources/nearest',
      {
        config: { auth: [...DESKS] },
        schema: {
          tags: ['emergencies'],
          summary: 'The resources nearest a point (PostGIS KNN), with their distance in metres',
          querystring: NearestQuery,
          response: { 200: ResourceList, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
        },
      },
      async (request) => {
        const q = request.query;
        return { items: await repo.nearestResources(app.db, request.principal.scope, q.lon, q.lat, q.kind, q.limit ?? 5) };
      },
    );

    const values = (b: ResourceBody) => ({
      kind: b.kind,
      name: b.name.trim(),
      lon: b.lon,
      lat: b.lat,
      capacity: b.capacity ?? null,
      headcount: b.headcount ?? null,
      contact: b.contact ?? '',
      note: b.note ?? '',
    });
    const regionFor = async (scope: Scope, lon: number, lat: number) => {
      const region = await repo.regionAt(app.db, scope, lon, lat);
      if (!region) throw new AppError('OUT_OF_JURISDICTION', 'The point lies outside your jurisdiction.');
      return region;
    };

    app.post(
      '/api/emergency-resources',
      {
        config: { auth: ['admin'] },
        schema: { tags: ['emergencies'], summary: 'Add a resource (audited)', body: ResourceBody, response: { 201: Resource, ...errors } },
      },
      async (request, reply) => {
        const p = request.principal;
        const v = values(request.body);
        const region = await regionFor(p.scope, v.lon, v.lat);
        const id = await app.db.transaction(async (tx) => {
          const id = await repo.insertResource(tx, v, region);
          await audit(tx, { userId: p.userId, action: 'emergency_resource.created', subjectType: 'emergency_resource', subjectId: String(id), detail: v, ip: request.ip });
          return id;
        });
        return reply.code(201).send((await repo.findResource(app.db, p.scope, id))!);
      },
    );

    app.patch(
      '/api/emergency-resources/:id',
      {
        config: { auth: ['admin'] },
        schema: { tags: ['emergencies'], summary: 'Change a resource (audited)', params: ResourceIdParams, body: ResourcePatch, response: { 200: Resource, ...errors } },
      },
      async (request) => {
        const p = request.principal;
        const current = await repo.findResource(app.db, p.scope, request.params.id);
        if (!current) throw new AppError('NOT_FOUND', 'No such resource.');
        const v = values({ ...current, ...request.body } as ResourceBody);
        const region = await regionFor(p.scope, v.lon, v.lat);
        await app.db.transaction(async (tx) => {
          await repo.updateResource(tx, current.id, v, region);
          await audit(tx, { userId: p.userId, action: 'emergency_resource.updated', subjectType: 'emergency_resource', subjectId: String(current.id), detail: request.body, ip: request.ip });
        });
        return (await repo.findResource(app.db, p.scope, current.id))!;
      },
    );

    app.delete(
      '/api/emergency-resources/:id',
      {
        config: { auth: ['admin'] },
        schema: { tags: ['emergencies'], summary: 'Remove a resource (audited)', params: ResourceIdParams, response: { 204: { type: 'null' }, ...errors } },
      },
      async (request, reply) => {
        const p = request.principal;
        const current = await repo.findResource(app.db, p.scope, request.params.id);
        if (!current) throw new AppError('NOT_FOUND', 'No such resource.');
        await app.db.transaction(async (tx) => {
          await repo.deleteResource(tx, current.id);
          await audit(tx, { userId: p.userId, action: 'emergency_resource.deleted', subjectType: 'emergency_resource', subjectId: String(current.id), detail: { name: current.name }, ip: request.ip });
        });
        return reply.code(204).send(null);
      },
    );
  },
  { name: 'emergencies', dependencies: ['notices'] },
);
