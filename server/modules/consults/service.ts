/**
 * Video consults on the server: the control plane over Janus. Creating a consult makes a room with
 * a fresh pin and secret, records who is rung and rings them; answering, declining, leaving and
 * ending move it on; a ring nobody answers in time becomes no-answer. A join grant adds a fresh token
 * to Janus (a session for the videoroom plugin only) and to this room's ACL: unused, it is revoked
 * when it expires; used, it lasts while its holder's feed is in the room, and ends with the consult.
 * When a consult ends its room is destroyed and it is written on its ticket's or alarm's timeline.
 * With CONSULT_RECORDING=1 the room records every publisher into the consult's own folder; when the
 * consult ends the files are converted (recording.ts), listed, and written on the timeline too.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import {
  CONSULT_JOIN_UNINVITED_ROLES,
  type ConsultAction,
  type ConsultEndReason,
  type ConsultGrant,
  type ConsultRecording,
  type ConsultSummary,
  type InvitableDesk,
  type CreateConsultBody,
  type JoinConsultBody,
  type VideoStatus,
} from '@shared/consults-api';
import type { Db, Queryable } from '../../platform/db';
import { raw } from '../../platform/db';
import type { Principal } from '../../platform/auth/scope';
import type { Clock } from '../../platform/clock';
import { AppError } from '../../platform/errors';
import { audit } from '../auth/repository';
import { insertEvent as insertTicketEvent } from '../tickets/repository';
import { insertEvent as insertAlarmEvent } from '../alarms/repository';
import { browserIceServers, INSTALL_COMMAND, type VideoConfig } from '../video/config';
import type { Room, VideoBackend } from '../video/janus';
import { JANUS_PROXY_PATH } from '../video/proxy';
import type { ConsultBroadcaster } from './broadcast';
import { convertRecordings, settle } from './recording';
import * as repo from './repository';

const ALL = raw('true');
/** How often a used grant's holder is looked for in its room, ms. */
const PRESENCE_CHECK_MS = 30_000;

interface Grant {
  token: string;
  consultId: number;
  userId: number;
  feedId: number;
  expiresAt: number;
  /** Seen in the room at least once. */
  used: boolean;
  timer: NodeJS.Timeout | null;
}

export interface ConsultServiceDeps {
  db: Db;
  clock: Clock;
  video: VideoBackend | undefined;
  videoConfig: VideoConfig;
  broadcast: ConsultBroadcaster;
  log?: FastifyBaseLogger;
}

const isDesk = (p: Principal) => p.role !== 'worker';

export class ConsultService {
  private readonly grants = new Map<string, Grant>();
  private readonly ringTimers = new Map<number, NodeJS.Timeout>();
  /** Whose feed is whose, per consult (the recordings are named after the people in them). */
  private readonly feeds = new Map<number, Map<number, number>>();
  /** Recordings being converted (close() waits for them). */
  private readonly converting = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly deps: ConsultServiceDeps) {}

  private get config(): VideoConfig {
    return this.deps.video?.config ?? this.deps.videoConfig;
  }

  videoStatus(): VideoStatus {
    const ringTimeoutS = this.config.ringTimeoutS;
    if (!this.deps.video) {
      return { status: 'unavailable', reason: this.config.offReason ?? 'Video is not configured.', ...(this.config.mode === 'off' && !this.config.offReason?.includes('VIDEO=0') ? { install: INSTALL_COMMAND } : {}), ringTimeoutS };
    }
    const h = this.deps.video.health();
    return { ...h, ringTimeoutS };
  }

  private requireVideo(): VideoBackend {
    const video = this.deps.video;
    const status = this.videoStatus();
    if (!video || status.status !== 'ok') {
      throw new AppError('VIDEO_UNAVAILABLE', status.install ? `Video consults need the media server: ${status.install}` : `Video is unavailable: ${status.reason ?? 'Janus is not running.'}`);
    }
    return video;
  }

  /** After a restart the previous process's rooms are gone: end what it left open, on the timelines too. */
  async start(): Promise<void> {
    const ids = await this.deps.db.transaction((tx) => repo.endAllOpen(tx, this.deps.clock.now()));
    for (const id of ids) {
      await this.recordOnTimeline(this.deps.db, id).catch((err: unknown) => this.deps.log?.error({ err }, 'consult timeline'));
      // What the previous process recorded is converted now (whose feed was whose is not known any more).
      const row = await repo.findRow(this.deps.db, id, ALL);
      if (row?.recordingDir) this.convertLater(row, new Map());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.ringTimers.values()) clearTimeout(t);
    this.ringTimers.clear();
    for (const g of this.grants.values()) if (g.timer) clearTimeout(g.timer);
    this.grants.clear();
    await Promise.allSettled([...this.converting]);
  }

  /** The desks and leaders the caller may invite besides workers. */
  async invitableDesks(p: Principal): Promise<InvitableDesk[]> {
    return repo.invitableDesks(this.deps.db, p);
  }

  /** A consult's recordings (the consult as `p` sees it). */
  async recordings(p: Principal, id: number): Promise<ConsultRecording[]> {
    const row = await repo.findRow(this.deps.db, id, repo.visibleTo(p));
    if (!row) throw new AppError('NOT_FOUND', `No consult ${id}.`);
    return (await repo.recordings(this.deps.db, id)).map(({ file: _file, ...r }) => r);
  }

  /** One recording's file on disk, for the download route (the consult as `p` sees it). */
  async recordingFile(p: Principal, id: number, recordingId: number): Promise<{ path: string; mime: string; bytes: number; name: string }> {
    const row = await repo.findRow(this.deps.db, id, repo.visibleTo(p));
    const rec = row ? (await repo.recordings(this.deps.db, id)).find((r) => r.id === recordingId) : undefined;
    if (!row || !rec) throw new AppError('NOT_FOUND', `No recording ${recordingId} of consult ${id}.`);
    const root = this.config.recordingsDir;
    const full = path.resolve(root, rec.file);
    if (!full.startsWith(root + path.sep)) throw new AppError('NOT_FOUND', `No recording ${recordingId} of consult ${id}.`);
    return { path: full, mime: rec.mime, bytes: rec.bytes, name: `consult-${id}-${rec.id}${path.extname(rec.file)}` };
  }

  // -------------------------------------------------------------------------------------------

  async create(p: Principal, body: CreateConsultBody, ip?: string): Promise<ConsultSummary> {
    const video = this.requireVideo();
    const db = this.deps.db;
    const ticket = body.ticketId === undefined ? null : await repo.ticketFor(db, body.ticketId, p);
    if (body.ticketId !== undefined && !ticket) throw new AppError('NOT_FOUND', `No ticket ${body.ticketId} in your jurisdiction.`);
    const alarm = body.alarmId === undefined ? null : await repo.alarmFor(db, body.alarmId, p);
    if (body.alarmId !== undefined && !alarm) throw new AppError('NOT_FOUND', `No alarm ${body.alarmId} in your jurisdiction.`);

    const invitees = new Map<number, { userId: number; workerId: number | null; gridPath: string | null }>();
    for (const inv of body.invitees) {
      if ('workerId' in inv) {
        const w = await repo.workerWithAccount(db, inv.workerId);
        if (!w) throw new AppError('NOT_FOUND', `No active worker ${inv.workerId}.`);
        if (!p.scope.contains(w.gridPath)) {
          throw new AppError('CONSULT_OUT_OF_JURISDICTION', `Worker ${inv.workerId} works outside your jurisdiction: you cannot call them.`);
        }
        if (w.userId === null) throw new AppError('CONSULT_INVITEE_UNREACHABLE', `Worker ${w.name} has no active account to ring.`);
        invitees.set(w.userId, { userId: w.userId, workerId: w.id, gridPath: w.gridPath });
      } else {
        const u = await repo.userWithPath(db, inv.userId);
        if (!u) throw new AppError('NOT_FOUND', `No active user ${inv.userId}.`);
        const where = u.gridPath ?? u.path;
        // A worker's account: their home grid must be ours. A desk: one jurisdiction inside the other.
        const ok = u.workerId !== null ? p.scope.contains(where) : p.scope.contains(u.path) || (p.scope.path !== null && p.scope.path.startsWith(u.path));
        if (!ok) throw new AppError('CONSULT_OUT_OF_JURISDICTION', `User ${inv.userId} is outside your jurisdiction: you cannot call them.`);
        invitees.set(u.id, { userId: u.id, workerId: u.workerId, gridPath: u.gridPath });
      }
    }
    invitees.delete(p.userId);
    if (invitees.size === 0) throw new AppError('VALIDATION_FAILED', 'Invite someone other than yourself.');

    const firstWorker = [...invitees.values()].find((i) => i.gridPath !== null);
    const regionPath = ticket?.gridPath ?? alarm?.gridPath ?? firstWorker?.gridPath ?? p.scope.path ?? (await repo.regionPathOf(db, p.userId));
    const where = ticket ?? alarm ?? null;

    // Recording: the consult's own folder, named before the room exists (Janus writes into it).
    const recordingDir = this.config.recording ? `${new Date(this.deps.clock.now()).toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}` : null;
    if (recordingDir) await mkdir(path.join(this.config.recordingsDir, recordingDir), { recursive: true, mode: 0o750 });
    const recordingPath = recordingDir ? path.join(this.config.recordingsDir, recordingDir) : undefined;
    const room = await video.createRoom(`consult by ${p.username}`, invitees.size + 4, recordingPath).catch(async (error: unknown) => {
      if (recordingPath) await rm(recordingPath, { recursive: true, force: true });
      throw error;
    });
    let id: number;
    try {
      const now = this.deps.clock.now();
      id = await db.transaction(async (tx) => {
        const consultId = await repo.insertConsult(tx, {
          room: room.room, pin: room.pin, secret: room.secret, ticketId: ticket?.id ?? null, alarmId: alarm?.id ?? null,
          regionPath, lon: where?.lon ?? null, lat: where?.lat ?? null, createdBy: p.userId, now, recordingDir,
        });
        await repo.insertParticipant(tx, { consultId, userId: p.userId, workerId: p.workerId, role: 'caller', state: 'joined', now });
        for (const inv of invitees.values()) {
          await repo.insertParticipant(tx, { consultId, userId: inv.userId, workerId: inv.workerId, role: 'invitee', state: 'ringing', now });
        }
        await audit(tx, { userId: p.userId, action: 'consult.created', subjectType: 'consult', subjectId: String(consultId), detail: { invitees: [...invitees.keys()], ticketId: ticket?.id ?? null, alarmId: alarm?.id ?? null }, ip });
        return consultId;
      });
    } catch (error) {
      await video.destroyRoom(room).catch(() => {});
      throw error;
    }
    this.scheduleRing(id);
    const consult = await this.summaryOf(id);
    this.deps.broadcast.invited(consult, [...invitees.keys()]);
    await this.emitUpdated(id, consult);
    return consult;
  }

  async list(p: Principal, activeOnly: boolean): Promise<ConsultSummary[]> {
    return repo.list(this.deps.db, repo.visibleTo(p), activeOnly, this.config.ringTimeoutS);
  }

  async get(p: Principal, id: number): Promise<ConsultSummary> {
    const row = await repo.findRow(this.deps.db, id, repo.visibleTo(p));
    if (!row) throw new AppError('NOT_FOUND', `No consult ${id}.`);
    return this.summaryOf(id);
  }

  /** `origin`: ws(s)://host:port of the request; browsers reach Janus through it (see video/proxy.ts). */
  async join(p: Principal, id: number, body: JoinConsultBody, origin: string): Promise<ConsultGrant> {
    const video = this.requireVideo();
    const watch = body.mode === 'watch';
    if (watch && !isDesk(p)) throw new AppError('FORBIDDEN', 'Only a desk or the wall watches a consult.');
    const now = this.deps.clock.now();
    const { row, changed } = await this.deps.db.transaction(async (tx) => {
      const row = await repo.findRow(tx, id, repo.visibleTo(p), true);
      if (!row) throw new AppError('NOT_FOUND', `No consult ${id}.`);
      if (row.status === 'ended') throw new AppError('CONSULT_TRANSITION_NOT_ALLOWED', 'The consult has ended.');
      const me = (await repo.participants(tx, id)).find((x) => x.userId === p.userId);
      let changed = false;
      if (!me) {
        const may = (CONSULT_JOIN_UNINVITED_ROLES as readonly string[]).includes(p.role) && p.scope.contains(row.regionPath);
        if (!may) throw new AppError('CONSULT_NOT_INVITED', 'Only the people invited to this consult may join it.');
        await repo.insertParticipant(tx, { consultId: id, userId: p.userId, workerId: p.workerId, role: 'joiner', state: 'joined', now });
        changed = true;
      } else if (me.state === 'declined' || me.state === 'no_answer') {
        throw new AppError('CONSULT_TRANSITION_NOT_ALLOWED', 'You did not answer this consult; the caller can call you again.');
      } else if (me.state !== 'joined') {
        // Joining answers a ringing call (or comes back after leaving).
        await repo.setParticipantState(tx, id, p.userId, 'joined', now);
        changed = true;
      }
      if (changed && row.status === 'ringing' && me?.role === 'invitee') await repo.setStatus(tx, id, 'active', now);
      if (changed) await audit(tx, { userId: p.userId, action: 'consult.joined', subjectType: 'consult', subjectId: String(id), detail: { watch } });
      return { row, changed };
    });
    const token = await video.allow(this.room(row));
    const grant: Grant = { token, consultId: id, userId: p.userId, feedId: randomInt(1, 2 ** 47), expiresAt: now + this.config.grantTtlS * 1000, used: false, timer: null };
    this.grants.set(token, grant);
    if (!watch) {
      const feeds = this.feeds.get(id) ?? new Map<number, number>();
      this.feeds.set(id, feeds.set(grant.feedId, p.userId));
    }
    this.scheduleGrantCheck(grant, this.config.grantTtlS * 1000);
    if (changed) {
      await this.settleRinging(id);
      await this.emitUpdated(id);
    }
    const url = this.config.publicUrl ?? `${origin}${JANUS_PROXY_PATH}`;
    return {
      consultId: id,
      room: row.room,
      url,
      token,
      pin: row.roomPin,
      feedId: grant.feedId,
      display: `${p.userId}`,
      publish: !watch,
      iceServers: browserIceServers(this.config),
      expiresAt: new Date(grant.expiresAt).toISOString(),
    };
  }

  async transition(p: Principal, id: number, action: ConsultAction, ip?: string): Promise<ConsultSummary> {
    const now = this.deps.clock.now();
    const ended = await this.deps.db.transaction(async (tx) => {
      const row = await repo.findRow(tx, id, repo.visibleTo(p), true);
      if (!row) throw new AppError('NOT_FOUND', `No consult ${id}.`);
      if (row.status === 'ended') throw new AppError('CONSULT_TRANSITION_NOT_ALLOWED', 'The consult has ended.');
      const people = await repo.participants(tx, id);
      const me = people.find((x) => x.userId === p.userId);
      let end: ConsultEndReason | null = null;
      switch (action) {
        case 'accept':
        case 'decline': {
          if (!me || me.role !== 'invitee') throw new AppError('CONSULT_NOT_INVITED', 'Only an invited person answers this call.');
          if (me.state !== 'ringing') throw new AppError('CONSULT_TRANSITION_NOT_ALLOWED', `You have already ${me.state === 'declined' ? 'declined' : 'answered'} this call.`);
          await repo.setParticipantState(tx, id, p.userId, action === 'accept' ? 'joined' : 'declined', now);
          if (action === 'accept' && row.status === 'ringing') await repo.setStatus(tx, id, 'active', now);
          if (action === 'decline') end = endWhenNobodyAnswers(people.map((x) => (x.userId === p.userId ? { ...x, state: 'declined' as const } : x)), 'declined');
          break;
        }
        case 'leave': {
          if (!me || me.state !== 'joined') throw new AppError('CONSULT_TRANSITION_NOT_ALLOWED', 'You are not in this consult.');
          await repo.setParticipantState(tx, id, p.userId, 'left', now);
          const after = people.map((x) => (x.userId === p.userId ? { ...x, state: 'left' as const } : x));
          if (!after.some((x) => x.state === 'joined')) end = 'everyone_left';
          else if (!after.some((x) => x.state === 'joined' && x.role !== 'caller' && x.role !== 'joiner') && !after.some((x) => x.state === 'ringing')) end = 'everyone_left';
          break;
        }
        case 'end': {
          const may = me?.role === 'caller' || (isDesk(p) && p.scope.contains(row.regionPath));
          if (!may) throw new AppError('FORBIDDEN', 'Only the caller or a desk over the consult ends it; leave it instead.');
          end = 'ended';
          break;
        }
      }
      if (end) await repo.endConsult(tx, id, end, p.userId, now);
      await audit(tx, { userId: p.userId, action: `consult.${action}`, subjectType: 'consult', subjectId: String(id), detail: end ? { ended: end } : undefined, ip });
      return end !== null;
    });
    if (action === 'leave') this.revokeFor(id, p.userId);
    if (ended) await this.afterEnd(id);
    else if (action === 'accept' || action === 'decline') await this.settleRinging(id);
    return this.emitUpdated(id);
  }

  // -------------------------------------------------------------------------------------------

  private room(row: repo.ConsultRow): Room {
    return { room: row.room, pin: row.roomPin, secret: row.roomSecret };
  }

  private async summaryOf(id: number): Promise<ConsultSummary> {
    const s = await repo.summary(this.deps.db, id, this.config.ringTimeoutS);
    if (!s) throw new AppError('NOT_FOUND', `No consult ${id}.`);
    return s;
  }

  private async emitUpdated(id: number, known?: ConsultSummary): Promise<ConsultSummary> {
    const consult = known ?? (await this.summaryOf(id));
    const row = await repo.findRow(this.deps.db, id, ALL);
    if (row) this.deps.broadcast.updated(consult, row.regionPath, consult.participants.map((x) => x.userId));
    return consult;
  }

  private scheduleRing(id: number): void {
    const timer = setTimeout(() => {
      this.ringTimers.delete(id);
      void this.ringExpired(id).catch((err: unknown) => this.deps.log?.error({ err, consultId: id }, 'consult ring timeout'));
    }, this.config.ringTimeoutS * 1000);
    timer.unref();
    this.ringTimers.set(id, timer);
  }

  /** Nobody rings any more: the ring timer has nothing left to do. */
  private async settleRinging(id: number): Promise<void> {
    const people = await repo.participants(this.deps.db, id);
    if (!people.some((x) => x.state === 'ringing')) {
      const t = this.ringTimers.get(id);
      if (t) clearTimeout(t);
      this.ringTimers.delete(id);
    }
  }

  private async ringExpired(id: number): Promise<void> {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const outcome = await this.deps.db.transaction(async (tx) => {
      const row = await repo.findRow(tx, id, ALL, true);
      if (!row || row.status === 'ended') return 'none' as const;
      const n = await repo.expireRinging(tx, id);
      if (row.status === 'ringing') {
        await repo.endConsult(tx, id, 'no_answer', null, now);
        return 'ended' as const;
      }
      return n > 0 ? ('changed' as const) : ('none' as const);
    });
    if (outcome === 'ended') await this.afterEnd(id);
    if (outcome !== 'none') await this.emitUpdated(id);
  }

  private async afterEnd(id: number): Promise<void> {
    const t = this.ringTimers.get(id);
    if (t) clearTimeout(t);
    this.ringTimers.delete(id);
    const row = await repo.findRow(this.deps.db, id, ALL);
    for (const g of [...this.grants.values()]) if (g.consultId === id) this.dropGrant(g, row);
    if (row && this.deps.video) await this.deps.video.destroyRoom(this.room(row)).catch((err: unknown) => this.deps.log?.warn({ err, consultId: id }, 'janus room destroy'));
    await this.recordOnTimeline(this.deps.db, id);
    const feeds = this.feeds.get(id) ?? new Map<number, number>();
    this.feeds.delete(id);
    if (row?.recordingDir) this.convertLater(row, feeds);
  }

  private convertLater(row: repo.ConsultRow, feeds: Map<number, number>): void {
    const job = this.convert(row, feeds).catch((err: unknown) => this.deps.log?.error({ err, consultId: row.id }, 'consult recording'));
    this.converting.add(job);
    void job.finally(() => this.converting.delete(job));
  }

  /** Converts the ended consult's recordings, lists them and writes them on its ticket's or alarm's timeline. */
  private async convert(row: repo.ConsultRow, feeds: Map<number, number>): Promise<void> {
    const dir = path.join(this.config.recordingsDir, row.recordingDir!);
    await settle(dir);
    const { made, errors } = await convertRecordings(dir);
    for (const e of errors) this.deps.log?.error({ consultId: row.id }, `consult recording: ${e}`);
    if (made.length === 0) return;
    const now = this.deps.clock.now();
    await this.deps.db.transaction(async (tx) => {
      for (const m of made) {
        await repo.insertRecording(tx, { consultId: row.id, userId: feeds.get(m.feedId) ?? null, file: path.join(row.recordingDir!, m.file), mime: m.mime, bytes: m.bytes, durationS: m.durationS, now });
      }
    });
    if (!row.ticketId && !row.alarmId) return;
    const list = await repo.recordings(this.deps.db, row.id);
    const files = list.map(({ file: _file, ...r }) => r);
    const mmss = (s: number) => `${Math.floor(Math.round(s) / 60)} 分 ${Math.round(s) % 60} 秒`;
    const note = `会商录像：${files.map((r) => `${r.name || '参与者'}${r.durationS === null ? '' : `（${mmss(r.durationS)}）`}`).join('、')}`;
    const detail = { consultId: row.id, recordings: files };
    await this.deps.db.transaction(async (tx) => {
      if (row.ticketId) await insertTicketEvent(tx, { ticketId: row.ticketId, at: now, actorUserId: null, kind: 'consult_recording', fromStatus: null, toStatus: null, note, detail });
      if (row.alarmId) await insertAlarmEvent(tx, { alarmId: row.alarmId, at: now, kind: 'consult_recording', actorUserId: null, note, detail });
    });
  }

  private revokeFor(consultId: number, userId: number): void {
    for (const g of [...this.grants.values()]) {
      if (g.consultId === consultId && g.userId === userId) void repo.findRow(this.deps.db, consultId, ALL).then((row) => this.dropGrant(g, row));
    }
  }

  private dropGrant(g: Grant, row: repo.ConsultRow | null): void {
    if (g.timer) clearTimeout(g.timer);
    this.grants.delete(g.token);
    if (row && this.deps.video) void this.deps.video.revoke(this.room(row), g.token).catch(() => {});
  }

  private scheduleGrantCheck(g: Grant, delayMs: number): void {
    g.timer = setTimeout(() => void this.checkGrant(g).catch((err: unknown) => this.deps.log?.warn({ err }, 'consult grant check')), delayMs);
    g.timer.unref();
  }

  /** An unused grant past its time is revoked; a used one lasts while its feed is in the room. */
  private async checkGrant(g: Grant): Promise<void> {
    if (this.closed || !this.grants.has(g.token)) return;
    const row = await repo.findRow(this.deps.db, g.consultId, ALL);
    if (!row || row.status === 'ended' || !this.deps.video) return this.dropGrant(g, row);
    let present = false;
    try {
      present = (await this.deps.video.participants(this.room(row))).includes(g.feedId);
    } catch {
      present = false;
    }
    if (present) {
      g.used = true;
      this.scheduleGrantCheck(g, PRESENCE_CHECK_MS);
    } else {
      this.dropGrant(g, row);
    }
  }

  /** Writes the finished consult on its ticket's and alarm's timelines: who, when, how long, who joined. */
  private async recordOnTimeline(db: Queryable, id: number): Promise<void> {
    const s = await repo.summary(db, id, this.config.ringTimeoutS);
    const row = await repo.findRow(db, id, ALL);
    if (!s || !row || (!row.ticketId && !row.alarmId)) return;
    const started = s.startedAt ? Date.parse(s.startedAt) : null;
    const ended = s.endedAt ? Date.parse(s.endedAt) : this.deps.clock.now();
    const durationS = started === null ? 0 : Math.max(0, Math.round((ended - started) / 1000));
    const joined = s.participants.filter((x) => x.joinedAt !== null).map((x) => x.name);
    const missed = s.participants.filter((x) => x.state === 'declined' || x.state === 'no_answer').map((x) => `${x.name}${x.state === 'declined' ? '（拒接）' : '（未接）'}`);
    const mmss = `${Math.floor(durationS / 60)} 分 ${durationS % 60} 秒`;
    const note = `视频会商${started === null ? '（未接通）' : ` ${mmss}`}：${joined.join('、')}${missed.length ? `；${missed.join('、')}` : ''}`;
    const detail = {
      consultId: id, createdAt: s.createdAt, startedAt: s.startedAt, endedAt: s.endedAt, durationS, endReason: s.endReason,
      caller: s.caller, participants: s.participants.map((x) => ({ userId: x.userId, name: x.name, role: x.role, state: x.state, joinedAt: x.joinedAt, leftAt: x.leftAt })),
    };
    await this.deps.db.transaction(async (tx) => {
      if (row.ticketId) await insertTicketEvent(tx, { ticketId: row.ticketId, at: ended, actorUserId: row.createdBy, kind: 'consult', fromStatus: null, toStatus: null, note, detail });
      if (row.alarmId) await insertAlarmEvent(tx, { alarmId: row.alarmId, at: ended, kind: 'consult', actorUserId: row.createdBy, note, detail });
    });
  }
}

/** Everyone invited has declined or not answered, and nobody answered: the call is over. */
function endWhenNobodyAnswers(people: repo.ParticipantRow[], reason: ConsultEndReason): ConsultEndReason | null {
  const invitees = people.filter((x) => x.role === 'invitee');
  if (invitees.some((x) => x.state === 'ringing' || x.state === 'joined' || x.state === 'left')) return null;
  return reason;
}
