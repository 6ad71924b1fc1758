/**
 * Cameras (视频监控): data (scoped reads, admin changes, CSV import), the nearest cameras to a point,
 * play grants through the media side, and the status checker (a PeriodicJob): demo sources are
 * online when the simulator can run, RTSP sources when their host accepts a TCP connection, HLS and
 * GB/T 28181 play URLs when they answer an HTTP request.
 */
import { connect } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../platform/db';
import type { Scope, Principal } from '../../platform/auth/scope';
import { AppError } from '../../platform/errors';
import { PeriodicJob } from '../../platform/jobs';
import type { Clock } from '../../platform/clock';
import { audit } from '../auth/repository';
import {
  CAMERA_CODECS,
  CAMERA_CSV_COLUMNS,
  CAMERA_KINDS,
  CAMERA_SOURCE_TYPES,
  playKindOf,
  type CameraBody,
  type CameraCodec,
  type CameraCollection,
  type CameraDetail,
  type CameraImportResult,
  type CameraKind,
  type CameraSourceType,
  type CameraStatus,
  type NearestCamera,
  type PlayGrant,
} from '@shared/cameras-api';
import * as repo from './repository';
import { redactSource, type CameraMedia } from './media';

export interface CameraServiceDeps {
  db: Db;
  clock: Clock;
  media: CameraMedia;
  log: FastifyBaseLogger;
  checkIntervalS: number;
}

/** A source URL the server can use for its type; the reason when not. */
export function sourceProblem(type: CameraSourceType, url: string): string | null {
  const u = url.trim();
  if (type === 'demo') return /^demo:(offline)?$/.test(u) ? null : 'a demo source is "demo:" (or "demo:offline")';
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return 'source_url is not a URL';
  }
  if (type === 'rtsp') return parsed.protocol === 'rtsp:' || parsed.protocol === 'rtsps:' ? null : 'an RTSP source needs an rtsp:// URL';
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' || (type === 'gb28181' && (parsed.protocol === 'rtmp:' || parsed.protocol === 'rtsp:'))
    ? null
    : `a ${type} source needs an http(s):// play URL`;
}

/**
 * The source URL with the credentials set (write-only fields of the editor): `user`/`password`
 * undefined keep what `url` has, '' removes them. Demo sources have none.
 */
export function withCredentials(url: string, user: string | undefined, password: string | undefined): string {
  if (user === undefined && password === undefined) return url;
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return url;
  }
  if (u.protocol === 'demo:') return url;
  if (user !== undefined) u.username = user;
  if (password !== undefined) u.password = password;
  if (!u.username) u.password = '';
  return u.toString();
}

/** Whether a source URL carries credentials. */
function credentialsOf(url: string): { user: string; password: string } | null {
  try {
    const u = new URL(url);
    return u.username || u.password ? { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : null;
  } catch {
    return null;
  }
}

/** RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF; returns rows with their 1-based line numbers. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      fields.push(field);
      if (fields.some((f) => f.trim() !== '')) rows.push({ line: rowLine, fields });
      fields = [];
      field = '';
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  fields.push(field);
  if (fields.some((f) => f.trim() !== '')) rows.push({ line: rowLine, fields });
  return rows;
}

export const CSV_TEMPLATE =
  '\uFEFF' + CAMERA_CSV_COLUMNS.join(',') + '\r\n' +
  'YZ-CAM-9001,迎泽大街与解放路口（东北角）,junction,112.5643,37.8567,225,70,rtsp,rtsp://user:password@10.0.0.21:554/Streaming/Channels/101,h264\r\n' +
  'YZ-CAM-9002,双塔寺高点,high_point,112.5905,37.8517,,,hls,https://nvr.example.org/live/9002/index.m3u8,h265\r\n';

export class CameraService {
  readonly checker: PeriodicJob<number>;

  constructor(private readonly deps: CameraServiceDeps) {
    this.checker = new PeriodicJob('camera status check', () => this.checkAll(), deps.log, deps.checkIntervalS * 1000);
  }

  async collection(scope: Scope): Promise<CameraCollection> {
    const cameras = await repo.list(this.deps.db, scope);
    return {
      type: 'FeatureCollection',
      features: cameras.map(({ lon, lat, path: _p, ...properties }) => ({ type: 'Feature' as const, id: properties.id, geometry: { type: 'Point' as const, coordinates: [lon, lat] }, properties })),
    };
  }

  /** One camera in the caller's jurisdiction: 404 when there is none, 403 when it lies outside. */
  private async visible(scope: Scope, id: number): Promise<repo.CameraRecord> {
    const camera = await repo.find(this.deps.db, scope, id);
    if (camera) return camera;
    if (await repo.exists(this.deps.db, id)) throw new AppError('OUT_OF_JURISDICTION', 'This camera lies outside your jurisdiction.');
    throw new AppError('NOT_FOUND', 'No such camera.');
  }

  async detail(p: Principal, id: number): Promise<CameraDetail> {
    const { path: _p, ...camera } = await this.visible(p.scope, id);
    if (p.role !== 'admin') return camera;
    const source = await repo.sourceOf(this.deps.db, id);
    return { ...camera, source: source ? redactSource(source.sourceUrl) : undefined, sourceHasCredentials: source ? credentialsOf(source.sourceUrl) !== null : undefined };
  }

  nearest(scope: Scope, lon: number, lat: number, limit: number): Promise<NearestCamera[]> {
    return repo.nearest(this.deps.db, scope, lon, lat, limit);
  }

  async play(p: Principal, id: number, origin: string): Promise<PlayGrant> {
    const camera = await this.visible(p.scope, id);
    const source = await repo.sourceOf(this.deps.db, id);
    if (!source) throw new AppError('NOT_FOUND', 'No such camera.');
    if (camera.status === 'offline' || source.sourceUrl === 'demo:offline') {
      throw new AppError('CAMERA_OFFLINE', camera.statusReason ?? '设备离线');
    }
    return this.deps.media.play({ id, code: source.code, name: source.name, sourceType: source.sourceType, sourceUrl: source.sourceUrl, codec: source.codec }, playKindOf(source.sourceType, source.codec), p.userId, origin);
  }

  private values(b: CameraBody): repo.CameraValues {
    const sourceUrl = withCredentials(b.sourceUrl.trim(), b.sourceUser, b.sourcePassword);
    const problem = sourceProblem(b.sourceType, sourceUrl);
    if (problem) throw new AppError('VALIDATION_FAILED', problem);
    return {
      code: b.code.trim(),
      name: b.name.trim(),
      kind: b.kind,
      lon: b.lon,
      lat: b.lat,
      bearing: b.bearing ?? null,
      fovDeg: b.fovDeg ?? null,
      sourceType: b.sourceType,
      sourceUrl,
      codec: b.codec ?? 'h264',
    };
  }

  private async place(scope: Scope, lon: number, lat: number) {
    const place = await repo.placeOf(this.deps.db, scope, lon, lat);
    if (!place) throw new AppError('OUT_OF_JURISDICTION', 'The point lies outside your jurisdiction.');
    return place;
  }

  async create(p: Principal, body: CameraBody, ip: string): Promise<CameraDetail> {
    const v = this.values(body);
    const place = await this.place(p.scope, v.lon, v.lat);
    if (await repo.findByCode(this.deps.db, v.code)) throw new AppError('CAMERA_CODE_TAKEN', `A camera with code ${v.code} exists already.`);
    const id = await this.deps.db.transaction(async (tx) => {
      const id = await repo.insert(tx, v, place);
      await audit(tx, { userId: p.userId, action: 'camera.created', subjectType: 'camera', subjectId: String(id), detail: { ...v, sourceUrl: redactSource(v.sourceUrl) }, ip });
      return id;
    });
    void this.checkOne(id).catch(() => {});
    return this.detail(p, id);
  }

  async update(p: Principal, id: number, patch: Partial<CameraBody>, ip: string): Promise<CameraDetail> {
    const current = await this.visible(p.scope, id);
    const source = (await repo.sourceOf(this.deps.db, id))!;
    // A new URL without credentials of its own keeps the stored ones, unless the patch sets them.
    const kept = patch.sourceUrl && !credentialsOf(patch.sourceUrl) ? credentialsOf(source.sourceUrl) : null;
    const merged: CameraBody = {
      code: current.code, name: current.name, kind: current.kind, lon: current.lon, lat: current.lat, bearing: current.bearing, fovDeg: current.fovDeg,
      sourceType: current.sourceType, sourceUrl: source.sourceUrl, codec: current.codec, ...patch,
      sourceUser: patch.sourceUser ?? kept?.user, sourcePassword: patch.sourcePassword ?? kept?.password,
    };
    const v = this.values(merged);
    const place = await this.place(p.scope, v.lon, v.lat);
    const other = await repo.findByCode(this.deps.db, v.code);
    if (other && other.id !== id) throw new AppError('CAMERA_CODE_TAKEN', `A camera with code ${v.code} exists already.`);
    await this.deps.db.transaction(async (tx) => {
      await repo.update(tx, id, v, place);
      const { sourceUser, sourcePassword, ...rest } = patch;
      const credentials = sourceUser !== undefined || sourcePassword !== undefined ? { credentialsChanged: true } : {};
      await audit(tx, { userId: p.userId, action: 'camera.updated', subjectType: 'camera', subjectId: String(id), detail: { ...rest, ...credentials, ...(patch.sourceUrl ? { sourceUrl: redactSource(patch.sourceUrl) } : {}) }, ip });
    });
    if (patch.sourceUrl || patch.sourceType || patch.sourceUser !== undefined || patch.sourcePassword !== undefined) void this.checkOne(id).catch(() => {});
    return this.detail(p, id);
  }

  async remove(p: Principal, id: number, ip: string): Promise<void> {
    const current = await this.visible(p.scope, id);
    await this.deps.db.transaction(async (tx) => {
      await repo.remove(tx, id);
      await audit(tx, { userId: p.userId, action: 'camera.deleted', subjectType: 'camera', subjectId: String(id), detail: { code: current.code, name: current.name }, ip });
    });
  }

  /**
   * CSV import: each row on its own (a good row is kept even when others are refused); a code that
   * exists inside the admin's jurisdiction is updated, one outside it is refused.
   */
  async importCsv(p: Principal, text: string, ip: string): Promise<CameraImportResult> {
    const rows = parseCsv(text);
    const result: CameraImportResult = { created: 0, updated: 0, errors: [] };
    const header = rows.shift();
    const names = header?.fields.map((f) => f.trim().toLowerCase()) ?? [];
    const missing = CAMERA_CSV_COLUMNS.filter((c) => !['bearing', 'fov', 'codec'].includes(c) && !names.includes(c));
    if (!header || missing.length) {
      result.errors.push({ line: header?.line ?? 1, code: null, message: `The header row must name the columns ${CAMERA_CSV_COLUMNS.join(',')} (missing: ${missing.join(', ') || 'all'}); download the template.` });
      return result;
    }
    if (rows.length > 5000) {
      result.errors.push({ line: 1, code: null, message: `At most 5000 rows per file (this one has ${rows.length}).` });
      return result;
    }
    const seen = new Set<string>();
    for (const row of rows) {
      const get = (c: string) => (row.fields[names.indexOf(c)] ?? '').trim();
      const code = get('code') || null;
      const fail = (message: string) => result.errors.push({ line: row.line, code, message });
      try {
        if (!code || !/^[A-Za-z0-9_.-]{1,64}$/.test(code)) { fail('code: 1–64 letters, digits, "_", "." or "-"'); continue; }
        if (seen.has(code)) { fail(`code ${code} appears twice in the file`); continue; }
        seen.add(code);
        const name = get('name');
        if (!name || name.length > 100) { fail('name: required, at most 100 characters'); continue; }
        const kind = get('kind') as CameraKind;
        if (!CAMERA_KINDS.includes(kind)) { fail(`kind must be one of ${CAMERA_KINDS.join(', ')}`); continue; }
        const lon = Number(get('lon'));
        const lat = Number(get('lat'));
        if (!get('lon') || !get('lat') || !Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90) { fail('lon/lat: decimal degrees (WGS 84)'); continue; }
        const num = (c: string, min: number, max: number): number | null | 'bad' => {
          const t = get(c);
          if (t === '') return null;
          const n = Number(t);
          return Number.isFinite(n) && n >= min && n <= max ? n : 'bad';
        };
        const bearing = num('bearing', 0, 360);
        const fov = num('fov', 0.1, 360);
        if (bearing === 'bad') { fail('bearing: 0–360 degrees from north, or empty'); continue; }
        if (fov === 'bad') { fail('fov: 0–360 degrees, or empty'); continue; }
        const sourceType = get('source_type') as CameraSourceType;
        if (!CAMERA_SOURCE_TYPES.includes(sourceType)) { fail(`source_type must be one of ${CAMERA_SOURCE_TYPES.join(', ')}`); continue; }
        const sourceUrl = get('source_url');
        const problem = sourceProblem(sourceType, sourceUrl);
        if (problem) { fail(`source_url: ${problem}`); continue; }
        const codec = (get('codec') || 'h264') as CameraCodec;
        if (!CAMERA_CODECS.includes(codec)) { fail(`codec must be one of ${CAMERA_CODECS.join(', ')}`); continue; }
        const place = await repo.placeOf(this.deps.db, p.scope, lon, lat);
        if (!place) { fail('the point lies outside your jurisdiction'); continue; }
        const v: repo.CameraValues = { code, name, kind, lon, lat, bearing, fovDeg: fov, sourceType, sourceUrl, codec };
        const existing = await repo.findByCode(this.deps.db, code);
        if (existing && !p.scope.contains(existing.path)) { fail(`code ${code} belongs to a camera outside your jurisdiction`); continue; }
        await this.deps.db.transaction(async (tx) => {
          if (existing) await repo.update(tx, existing.id, v, place);
          else await repo.insert(tx, v, place);
        });
        if (existing) result.updated++;
        else result.created++;
      } catch (error) {
        this.deps.log.warn({ err: error, line: row.line }, 'camera import row');
        fail('the row could not be stored');
      }
    }
    await audit(this.deps.db, { userId: p.userId, action: 'camera.imported', subjectType: 'camera', detail: { created: result.created, updated: result.updated, refused: result.errors.length }, ip });
    if (result.created + result.updated > 0) void this.checker.sweep().catch(() => {});
    return result;
  }

  private async checkOne(id: number): Promise<void> {
    const all = await repo.allSources(this.deps.db);
    const c = all.find((x) => x.id === id);
    if (!c) return;
    const r = await this.probe(c.sourceType, c.sourceUrl);
    await repo.setStatuses(this.deps.db, [{ id, ...r }], this.deps.clock.now());
  }

  /** One pass of the status checker; returns how many cameras changed status. */
  async checkAll(): Promise<number> {
    const all = await repo.allSources(this.deps.db);
    const results: { id: number; status: CameraStatus; reason: string | null }[] = [];
    const queue = [...all];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await this.probe(c.sourceType, c.sourceUrl);
        results.push({ id: c.id, ...r });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await repo.setStatuses(this.deps.db, results, this.deps.clock.now());
    const before = new Map(all.map((c) => [c.id, `${c.status}|${c.statusReason ?? ''}`]));
    return results.filter((r) => before.get(r.id) !== `${r.status}|${r.reason ?? ''}`).length;
  }

  private async probe(type: CameraSourceType, url: string): Promise<{ status: CameraStatus; reason: string | null }> {
    if (type === 'demo') {
      if (url === 'demo:offline') return { status: 'offline', reason: '设备离线（演示）' };
      const why = this.deps.media.simulatorUnavailable();
      return why ? { status: 'offline', reason: why } : { status: 'online', reason: null };
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return { status: 'offline', reason: '视频源地址无效' };
    }
    if (u.protocol === 'rtsp:' || u.protocol === 'rtsps:' || u.protocol === 'rtmp:') {
      const port = Number(u.port) || (u.protocol === 'rtmp:' ? 1935 : u.protocol === 'rtsps:' ? 322 : 554);
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port, timeout: 3000 });
        socket.once('connect', () => { socket.destroy(); resolve(true); });
        socket.once('timeout', () => { socket.destroy(); resolve(false); });
        socket.once('error', () => resolve(false));
      });
      return ok ? { status: 'online', reason: null } : { status: 'offline', reason: `无法连接视频源（${u.hostname}:${port}）` };
    }
    try {
      const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(4000), redirect: 'follow' });
      await res.body?.cancel().catch(() => {});
      return res.ok ? { status: 'online', reason: null } : { status: 'offline', reason: `视频源返回 HTTP ${res.status}` };
    } catch {
      return { status: 'offline', reason: `视频源无应答（${u.hostname}）` };
    }
  }
}
