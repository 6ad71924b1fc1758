/**
 * Notices (信息发布): a desk sends a notice to the grid workers in a target inside its
 * jurisdiction; each recipient's receipt records delivery (their phone fetched it: GET
 * /api/notices or /api/notices/:id by the worker), reading and replying. Every change is audited;
 * live events go out after commit.
 */
import type { FastifyBaseLogger } from 'fastify';
import type {
  CreateNoticeBody,
  CreatedNotice,
  GeoJsonPolygon,
  NoticeDetail,
  NoticeList,
  NoticeRecipientCount,
  NoticeReminded,
  NoticesQuery,
  NoticeSummary,
  NoticeTarget,
} from '@shared/notices-api';
import type { WorkerRole } from '@shared/domain';
import type { Db } from '../../platform/db';
import { Scope, type Principal } from '../../platform/auth/scope';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import type { NoticeBroadcaster } from './broadcast';
import * as repo from './repository';

export interface NoticeServiceDeps {
  db: Db;
  clock: Clock;
  broadcast: NoticeBroadcaster;
  log?: FastifyBaseLogger;
}

const notFound = () => new AppError('NOT_FOUND', 'No such notice.');

/** A drawn area the database can take: closed rings of longitudes and latitudes. */
function checkArea(area: GeoJsonPolygon): void {
  for (const ring of area.coordinates) {
    for (const [lon, lat] of ring) {
      if (!(lon! >= -180 && lon! <= 180 && lat! >= -90 && lat! <= 90)) {
        throw new AppError('VALIDATION_FAILED', 'The area’s positions must be longitude, latitude in WGS 84.');
      }
    }
    const first = ring[0]!;
    const last = ring[ring.length - 1]!;
    if (first[0] !== last[0] || first[1] !== last[1]) throw new AppError('VALIDATION_FAILED', 'Each ring of the area must end where it starts.');
  }
}

export class NoticeService {
  private readonly db: Db;
  private readonly clock: Clock;
  private readonly broadcast: NoticeBroadcaster;

  constructor(deps: NoticeServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.broadcast = deps.broadcast;
  }

  /**
   * Sends a notice: checks the target against the sender's jurisdiction, then writes the notice and
   * every receipt in one statement and pushes it to the recipients' phones.
   */
  async create(p: Principal, body: CreateNoticeBody, ip?: string): Promise<CreatedNotice> {
    const { regionCodes, roles, area } = await this.checkTarget(p, body.target);
    const now = this.clock.now();
    const { path, regionCode } = p.scope as { path: string; regionCode: string };
    const inserted = await this.db.transaction(async (tx) => {
      const n = await repo.insertNotice(tx, {
        title: body.title,
        body: body.body,
        urgency: body.urgency,
        receiptRequired: body.receiptRequired ?? false,
        senderUserId: p.userId,
        senderName: p.username,
        regionCode,
        path,
        regionCodes,
        roles,
        area,
        scope: p.scope,
        now,
      });
      if (!n) return undefined;
      await audit(tx, {
        userId: p.userId,
        action: 'notice.created',
        subjectType: 'notice',
        subjectId: String(n.id),
        detail: { recipients: n.recipients, urgency: body.urgency, receiptRequired: body.receiptRequired ?? false, target: { regionCodes, roles, area: area !== null } },
        ip,
      });
      return n;
    });
    if (!inserted) throw new AppError('NOTICE_NO_RECIPIENTS', 'Nobody in your jurisdiction is in this target.');
    const notice = await repo.findForDesk(this.db, Scope.system(), inserted.id);
    if (notice) this.broadcast.published(inserted.userIds, this.forRecipient(notice, false));
    this.broadcast.receiptsChanged([inserted.id]);
    return { id: inserted.id, recipients: inserted.recipients };
  }

  /** How many workers a target reaches now, checked as sending it would be; nothing is written. */
  async countRecipients(p: Principal, target: NoticeTarget): Promise<NoticeRecipientCount> {
    const checked = await this.checkTarget(p, target);
    return { recipients: await repo.countRecipients(this.db, { ...checked, scope: p.scope }) };
  }

  /** A target made unique and checked against the sender's jurisdiction (the errors sending gives). */
  private async checkTarget(p: Principal, target: NoticeTarget): Promise<{ regionCodes: string[]; roles: WorkerRole[]; area: GeoJsonPolygon | null }> {
    if (p.scope.isSystem || p.scope.path === null || p.scope.regionCode === null) throw new AppError('FORBIDDEN', 'Notices are sent on behalf of a desk.');
    const regionCodes = [...new Set(target.regionCodes ?? [])];
    const roles = [...new Set(target.roles ?? [])];
    const area = target.area ?? null;
    if (area) checkArea(area);
    const found = await repo.findRegions(this.db, regionCodes);
    const known = new Set(found.map((r) => r.code));
    const unknown = regionCodes.filter((c) => !known.has(c));
    if (unknown.length > 0) throw new AppError('NOTICE_TARGET_UNKNOWN', `Unknown region code(s): ${unknown.slice(0, 10).join(', ')}.`);
    const outside = found.filter((r) => !p.scope.contains(r.path));
    if (outside.length > 0) {
      throw new AppError('NOTICE_TARGET_OUT_OF_JURISDICTION', `Region(s) outside your jurisdiction: ${outside.slice(0, 10).map((r) => r.code).join(', ')}.`);
    }
    return { regionCodes, roles, area };
  }

  /** Desks: the notices issued inside their jurisdiction. Workers: their inbox (now delivered). */
  async list(p: Principal, q: NoticesQuery): Promise<NoticeList> {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    if (p.role !== 'worker') return repo.listForDesk(this.db, p.scope, limit, offset);
    if (p.workerId === null) return { total: 0, items: [] };
    await this.delivered(p, p.workerId);
    return repo.listForWorker(this.db, p.workerId, limit, offset);
  }

  /** One notice: with who has not read and the replies for a desk; with their receipt for a worker. */
  async detail(p: Principal, id: number): Promise<NoticeDetail> {
    if (p.role === 'worker') {
      if (p.workerId === null) throw notFound();
      await this.delivered(p, p.workerId, id);
      const notice = await repo.findForWorker(this.db, p.workerId, id);
      if (!notice) throw notFound();
      return { ...notice, unread: null, replies: null };
    }
    const found = await repo.findForDesk(this.db, p.scope, id);
    if (!found) throw notFound();
    const { path: _path, ...notice } = found;
    const [unread, replies] = [await repo.unreadRecipients(this.db, id), await repo.replies(this.db, id)];
    return { ...notice, unread, replies };
  }

  /** The worker opened the notice. Reading again changes nothing. */
  async read(p: Principal, id: number, ip?: string): Promise<NoticeSummary> {
    const workerId = await this.recipient(p, id);
    const now = this.clock.now();
    const changed = await this.db.transaction(async (tx) => {
      const delivered = await repo.markDelivered(tx, workerId, now, id);
      const read = await repo.markRead(tx, workerId, id, now);
      if (read) await audit(tx, { userId: p.userId, action: 'notice.read', subjectType: 'notice', subjectId: String(id), detail: { workerId }, ip });
      return read || delivered.length > 0;
    });
    if (changed) this.broadcast.receiptsChanged([id]);
    return (await repo.findForWorker(this.db, workerId, id))!;
  }

  /** The worker's reply (which also reads the notice). The same reply again changes nothing; another replaces its text. */
  async reply(p: Principal, id: number, body: string, ip?: string): Promise<NoticeSummary> {
    const workerId = await this.recipient(p, id);
    const now = this.clock.now();
    const changed = await this.db.transaction(async (tx) => {
      const delivered = await repo.markDelivered(tx, workerId, now, id);
      const read = await repo.markRead(tx, workerId, id, now);
      const replied = await repo.reply(tx, workerId, id, body, now);
      if (read) await audit(tx, { userId: p.userId, action: 'notice.read', subjectType: 'notice', subjectId: String(id), detail: { workerId }, ip });
      if (replied.changed) {
        await audit(tx, { userId: p.userId, action: 'notice.replied', subjectType: 'notice', subjectId: String(id), detail: { workerId, first: replied.first, body }, ip });
      }
      return delivered.length > 0 || read || replied.changed;
    });
    if (changed) this.broadcast.receiptsChanged([id]);
    return (await repo.findForWorker(this.db, workerId, id))!;
  }

  /** Sends the notice again to those who have not read it; returns how many. */
  async remind(p: Principal, id: number, ip?: string): Promise<NoticeReminded> {
    const notice = await repo.findForDesk(this.db, p.scope, id);
    if (!notice) throw notFound();
    const now = this.clock.now();
    const { reminded, userIds } = await this.db.transaction(async (tx) => {
      const r = await repo.remind(tx, id, now);
      await audit(tx, { userId: p.userId, action: 'notice.reminded', subjectType: 'notice', subjectId: String(id), detail: { reminded: r.reminded }, ip });
      return r;
    });
    if (reminded > 0) {
      const { path: _path, ...summary } = notice;
      this.broadcast.published(userIds, this.forRecipient({ ...summary, remindedAt: new Date(now).toISOString() }, true));
    }
    return { id, reminded };
  }

  /** The worker's id when they received the notice; 404 otherwise. */
  private async recipient(p: Principal, id: number): Promise<number> {
    if (p.workerId === null) throw notFound();
    const notice = await repo.findForWorker(this.db, p.workerId, id);
    if (!notice) throw notFound();
    return p.workerId;
  }

  /** Marks what the worker's phone has now fetched as delivered. */
  private async delivered(p: Principal, workerId: number, noticeId?: number): Promise<void> {
    const now = this.clock.now();
    const changed = await this.db.transaction(async (tx) => {
      const ids = await repo.markDelivered(tx, workerId, now, noticeId);
      if (ids.length > 0) await audit(tx, { userId: p.userId, action: 'notice.delivered', subjectType: 'worker', subjectId: String(workerId), detail: { notices: ids } });
      return ids;
    });
    if (changed.length > 0) this.broadcast.receiptsChanged(changed);
  }

  private forRecipient(notice: NoticeSummary, reminder: boolean) {
    return { ...notice, receipt: { deliveredAt: null, readAt: null, repliedAt: null, reply: null }, reminder };
  }
}
