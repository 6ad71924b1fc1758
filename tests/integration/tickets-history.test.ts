import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, sql, type Db } from '../../server/platform/db';
import { ManualClock } from '../../server/platform/clock';
import { DEFAULT_DEADLINE_RULES, TICKET_RULES, stageOf, ticketDay, type TicketStatus } from '@shared/tickets';
import type { TicketSummary } from '@shared/tickets-api';
import { seedRegion, seedTicketHistory, type TicketHistorySummary } from '../../seeds/seed';
import { PUBLISHED_CLASS_MIX, ZHANGQIU_WEEK } from '../../seeds/tickets-history';
import { createTestDb, TEST_DEMO_PASSWORD } from '../support/db';
import { buildTestApp, login } from '../support/app';

/** Sunday 22 Nov 2026, 10:00 in Shanghai. */
const NOW = Date.parse('2026-11-22T02:00:00Z');
const DAY = 86_400_000;
const clock = new ManualClock(NOW);
const YINGZE_GRIDS = 853;
/** What Zhangqiu's week predicts for Yingze over 30 days (≈ 21,500). */
const EXPECTED_30D = (ZHANGQIU_WEEK.tickets / ZHANGQIU_WEEK.grids) * YINGZE_GRIDS * (30 / 7);

let db: Db;
let summary: TicketHistorySummary;
let fingerprintBefore: Fingerprint;
const progress: string[] = [];

interface Fingerprint { tickets: string; events: string; counters: string; n: number }

/** Every history row that matters, with workers by code and users by name (their ids change when a region is seeded again). */
const fingerprint = async (): Promise<Fingerprint> =>
  (await db.query<Fingerprint>(sql`
    SELECT (SELECT md5(string_agg(concat_ws('|', t.number, t.source, t.category_code, t.urgency, t.status, t.level, t.description,
                                             ST_AsText(t.location), t.grid_code, w.code, r.code, ru.username, t.received_at, t.registered_at,
                                             t.dispatched_at, t.accepted_at, t.resolved_at, t.verified_at, t.closed_at, t.escalated_at,
                                             t.due_at, t.updated_at), ',' ORDER BY t.number))
              FROM tickets t LEFT JOIN workers w ON w.id = t.assigned_worker_id LEFT JOIN workers r ON r.id = t.reporter_worker_id
                   LEFT JOIN users ru ON ru.id = t.reporter_user_id) AS tickets,
           (SELECT md5(string_agg(concat_ws('|', t.number, e.kind, e.at, e.from_status, e.to_status, e.reason, u.username,
                                            e.detail->>'number', e.detail->'worker'->>'name'), ',' ORDER BY t.number, e.id))
              FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id LEFT JOIN users u ON u.id = e.actor_user_id) AS events,
           (SELECT string_agg(day || ':' || last, ',' ORDER BY day) FROM ticket_number_counters) AS counters,
           (SELECT count(*)::int FROM tickets) AS n`)).rows[0]!;

beforeAll(async () => {
  db = await createTestDb();
  const started = Date.now();
  summary = await seedTicketHistory(db, { clock, days: 30, progress: (done, total, label) => progress.push(`${label} ${done}/${total}`) });
  console.info(`[tickets-history] ${summary.tickets} tickets, ${summary.events} events seeded on ${db.engine} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  fingerprintBefore = await fingerprint();
});
afterAll(async () => {
  await db.close();
});

describe('the ticket history seed', () => {
  it('has the volume Zhangqiu’s week predicts for Yingze’s 853 grids, ending at the clock', async () => {
    expect(summary.districts).toEqual(['140106']);
    expect(summary.tickets).toBeGreaterThan(EXPECTED_30D * 0.92);
    expect(summary.tickets).toBeLessThan(EXPECTED_30D * 1.08);
    const { rows: [r] } = await db.query<{ n: number; first: Date; last: Date; lastEvent: Date; weeks: number[] }>(sql`
      SELECT count(*)::int AS n, min(received_at) AS first, max(received_at) AS last,
             (SELECT max(at) FROM ticket_events) AS "lastEvent",
             (SELECT array_agg(n ORDER BY w) FROM (
                SELECT floor(extract(epoch FROM ${new Date(NOW).toISOString()}::timestamptz - received_at) / (7 * 86400)) AS w, count(*)::int AS n
                  FROM tickets GROUP BY 1) x WHERE w < 4) AS weeks
        FROM tickets`);
    expect(r!.n).toBe(summary.tickets);
    expect(r!.first.getTime()).toBeGreaterThanOrEqual(NOW - 30 * DAY);
    expect(r!.first.getTime()).toBeLessThan(NOW - 29 * DAY);
    expect(r!.last.getTime()).toBeLessThan(NOW);
    expect(r!.last.getTime()).toBeGreaterThan(NOW - 3600_000);
    expect(r!.lastEvent.getTime()).toBeLessThanOrEqual(NOW);
    // Each of the four whole weeks ≈ 5,000 (10,471 × 853 / 1,782).
    const week = (ZHANGQIU_WEEK.tickets * YINGZE_GRIDS) / ZHANGQIU_WEEK.grids;
    for (const n of r!.weeks) {
      expect(n).toBeGreaterThan(week * 0.93);
      expect(n).toBeLessThan(week * 1.07);
    }
    expect(progress.at(-1)).toBe(`ticket history ${summary.tickets}/${summary.tickets}`);
  });

  it('follows the published class mix, with sub-categories inside each class', async () => {
    const { rows } = await db.query<{ cls: string; n: number; subs: number }>(sql`
      SELECT coalesce(c.parent_code, c.code) AS cls, count(*)::int AS n, count(*) FILTER (WHERE c.parent_code IS NOT NULL)::int AS subs
        FROM tickets t JOIN ticket_categories c ON c.code = t.category_code GROUP BY 1`);
    const published = PUBLISHED_CLASS_MIX.reduce((s, [, n]) => s + n, 0);
    expect(rows.map((r) => r.cls).sort()).toEqual(PUBLISHED_CLASS_MIX.map(([c]) => c).sort());
    for (const [cls, n] of PUBLISHED_CLASS_MIX) {
      const row = rows.find((r) => r.cls === cls)!;
      const share = row.n / summary.tickets;
      const expected = n / published;
      expect(Math.abs(share - expected), cls).toBeLessThan(Math.max(0.01, expected * 0.35));
      expect(row.subs / row.n, cls).toBeGreaterThan(0.8);
    }
  });

  it('comes in by day, not by night, and mostly scheduled, mostly from patrols', async () => {
    const { rows: hours } = await db.query<{ h: number; n: number }>(sql`
      SELECT floor(mod(extract(epoch FROM received_at) + 8 * 3600, 86400) / 3600)::int AS h, count(*)::int AS n FROM tickets GROUP BY 1 ORDER BY 1`);
    const at = (h: number) => hours.find((r) => r.h === h)?.n ?? 0;
    const night = [0, 1, 2, 3, 4, 5].reduce((s, h) => s + at(h), 0);
    expect(night / summary.tickets).toBeLessThan(0.05);
    expect(at(10)).toBeGreaterThan(at(12)); // a mid-morning peak, a lunch dip
    expect(at(15)).toBeGreaterThan(at(12)); // and an afternoon peak
    expect(at(10)).toBeGreaterThan(10 * at(3));

    const share = async (column: 'urgency' | 'source') => {
      const { rows } = await db.query<{ k: string; n: number }>(sql`SELECT ${raw(column)} AS k, count(*)::int AS n FROM tickets GROUP BY 1`);
      return Object.fromEntries(rows.map((r) => [r.k, r.n / summary.tickets]));
    };
    const urgency = await share('urgency');
    expect(urgency.scheduled).toBeGreaterThan(0.7);
    expect(urgency.immediate).toBeGreaterThan(0.1);
    expect(urgency.immediate).toBeLessThan(0.25);
    expect(urgency.long_term).toBeLessThan(0.08);
    const source = await share('source');
    expect(source.patrol).toBeGreaterThan(0.45);
    expect(source.hotline! + source.resident!).toBeGreaterThan(0.3);
    expect(source.referral).toBeLessThan(0.08);
    expect(Math.max(source.hotline!, source.resident!)).toBeLessThan(source.patrol!);
  });

  it('puts every ticket inside its grid — the grid PostGIS resolves for its point — over nearly all grids', async () => {
    const { rows: [r] } = await db.query<{ outside: number; other: number; grids: number; most: number }>(sql`
      SELECT
        (SELECT count(*)::int FROM tickets t JOIN regions g ON g.code = t.grid_code WHERE NOT ST_Intersects(g.geom, t.location)) AS outside,
        (SELECT count(*)::int FROM tickets t
          WHERE t.grid_code <> (SELECT g.code FROM regions g WHERE g.level = 'grid' AND ST_Intersects(g.geom, t.location) ORDER BY g.code LIMIT 1)
             OR t.grid_path <> (SELECT g.path FROM regions g WHERE g.code = t.grid_code)) AS other,
        (SELECT count(DISTINCT grid_code)::int FROM tickets) AS grids,
        (SELECT max(n)::int FROM (SELECT count(*) AS n FROM tickets GROUP BY grid_code) x) AS most`);
    expect(r!.outside).toBe(0);
    expect(r!.other).toBe(0);
    // Grids chosen uniformly: ~25 each, so every grid has some and none has a crowd.
    expect(r!.grids).toBeGreaterThanOrEqual(YINGZE_GRIDS - 5);
    expect(r!.most).toBeLessThan(60);
  });

  it('gives every ticket a complete timeline the workflow allows, its stamps, and a worker of its own grid', async () => {
    const { rows } = await db.query<{
      number: string; status: TicketStatus; level: string; kinds: string[]; froms: (string | null)[]; tos: string[]; ats: Date[];
      reasons: (string | null)[]; receivedAt: Date; registeredAt: Date | null; dispatchedAt: Date | null; acceptedAt: Date | null;
      resolvedAt: Date | null; verifiedAt: Date | null; closedAt: Date | null; escalatedAt: Date | null; updatedAt: Date;
      workerGrid: string | null; grid: string; stage: string | null; dueAt: Date; urgency: 'immediate' | 'scheduled' | 'long_term';
      stageStartedAt: Date | null; stageDueAt: Date | null;
    }>(sql`
      SELECT t.number, t.status, t.level, t.grid_code AS grid, w.home_grid_code AS "workerGrid", t.stage, t.due_at AS "dueAt", t.urgency,
             t.stage_started_at AS "stageStartedAt", t.stage_due_at AS "stageDueAt",
             t.received_at AS "receivedAt", t.registered_at AS "registeredAt", t.dispatched_at AS "dispatchedAt",
             t.accepted_at AS "acceptedAt", t.resolved_at AS "resolvedAt", t.verified_at AS "verifiedAt", t.closed_at AS "closedAt",
             t.escalated_at AS "escalatedAt", t.updated_at AS "updatedAt",
             array_agg(e.kind ORDER BY e.id) AS kinds, array_agg(e.from_status ORDER BY e.id) AS froms,
             array_agg(e.to_status ORDER BY e.id) AS tos, array_agg(e.at ORDER BY e.id) AS ats, array_agg(e.reason ORDER BY e.id) AS reasons
        FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id LEFT JOIN workers w ON w.id = t.assigned_worker_id
       GROUP BY t.id, w.home_grid_code`);
    expect(rows.length).toBe(summary.tickets);
    const allowed = new Set(Object.values(TICKET_RULES).flat().map((r) => `${r.from}>${r.to}:${r.event}`));
    const bad: string[] = [];
    const fail = (t: { number: string }, why: string) => bad.length < 10 && bad.push(`${t.number}: ${why}`);
    for (const t of rows) {
      const ats = t.ats.map((d) => new Date(d).getTime());
      if (t.kinds[0] !== 'created' || t.froms[0] !== null || t.tos[0] !== 'received') fail(t, 'does not start with created');
      if (ats[0] !== new Date(t.receivedAt).getTime()) fail(t, 'created is not at receipt');
      for (let i = 1; i < t.kinds.length; i++) {
        if (!allowed.has(`${t.froms[i]}>${t.tos[i]}:${t.kinds[i]}`)) fail(t, `${t.froms[i]}>${t.tos[i]}:${t.kinds[i]} is no rule`);
        if (t.froms[i] !== t.tos[i - 1]) fail(t, `event ${i} starts from ${t.froms[i]}, not ${t.tos[i - 1]}`);
        if (!(ats[i]! > ats[i - 1]!)) fail(t, `event ${i} is not after the one before`);
        if (['not_registered', 'cancelled'].includes(t.kinds[i]!) && !t.reasons[i]) fail(t, `${t.kinds[i]} without a reason`);
      }
      if (t.tos.at(-1) !== t.status) fail(t, `ends ${t.tos.at(-1)} but the ticket is ${t.status}`);
      if (new Date(t.updatedAt).getTime() !== ats.at(-1)) fail(t, 'updated_at is not its last event');
      const open = t.status !== 'closed' && t.status !== 'cancelled';
      if (t.stage !== stageOf(t.status)) fail(t, `stage ${t.stage} in status ${t.status}`);
      if (open !== (t.stageStartedAt !== null && t.stageDueAt !== null)) fail(t, 'stage window does not match whether it is open');
      if (open && !(new Date(t.stageStartedAt!).getTime() <= ats.at(-1)! && new Date(t.stageDueAt!).getTime() > new Date(t.stageStartedAt!).getTime())) fail(t, 'stage window');
      if (new Date(t.dueAt).getTime() !== new Date(t.receivedAt).getTime() + DEFAULT_DEADLINE_RULES[t.urgency].close * 60_000) fail(t, 'due_at');
      const last = (kind: string) => {
        const i = t.kinds.lastIndexOf(kind);
        return i < 0 ? null : ats[i];
      };
      const stamp = (d: Date | null) => (d === null ? null : new Date(d).getTime());
      const stamps = { registered: t.registeredAt, dispatched: t.dispatchedAt, accepted: t.acceptedAt, resolved: t.resolvedAt, verified: t.verifiedAt, closed: t.closedAt, escalated: t.escalatedAt };
      for (const [kind, d] of Object.entries(stamps)) if (stamp(d) !== last(kind)) fail(t, `${kind}_at is not its latest ${kind} event`);
      if (t.status === 'closed') {
        for (const k of ['registered', 'dispatched', 'accepted', 'started', 'resolved', 'verified', 'closed']) if (!t.kinds.includes(k)) fail(t, `closed without ${k}`);
        if (t.workerGrid !== t.grid) fail(t, `handled by a worker of ${t.workerGrid}`);
        if ((t.escalatedAt !== null) !== (t.level === 'community')) fail(t, 'level does not match its escalation');
      } else if (t.status === 'cancelled') {
        if (t.workerGrid !== null) fail(t, 'cancelled but still assigned');
      } else {
        // Open: cut at the seeding time, where its timeline had got to.
        const held = ['dispatched', 'accepted', 'in_progress', 'resolved', 'verified'].includes(t.status);
        if (held !== (t.workerGrid !== null)) fail(t, `${t.status} with${held ? 'out' : ''} a worker`);
        if (held && t.level === 'grid' && t.workerGrid !== t.grid) fail(t, `held by a worker of ${t.workerGrid}`);
        if ((t.escalatedAt !== null) !== (t.level === 'community')) fail(t, 'level does not match its escalation');
      }
    }
    expect(bad).toEqual([]);
  });

  it('closes ~90–95 % by the overall deadline (按期结案率), cancels a few with reasons, escalates a few', async () => {
    const { rows: [r] } = await db.query<{ closed: number; onTime: number; cancelled: number; notRegistered: number; escalated: number; autoEscalations: number }>(sql`
      SELECT count(*) FILTER (WHERE status = 'closed')::int AS closed,
             count(*) FILTER (WHERE status = 'closed' AND closed_at <= due_at)::int AS "onTime",
             count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
             (SELECT count(*)::int FROM ticket_events WHERE kind = 'not_registered') AS "notRegistered",
             count(*) FILTER (WHERE escalated_at IS NOT NULL)::int AS escalated,
             (SELECT count(*)::int FROM ticket_events WHERE kind = 'escalated' AND actor_user_id IS NULL AND reason LIKE '%超时%' AND (detail->>'auto')::boolean) AS "autoEscalations"
        FROM tickets`);
    expect(r!.closed + r!.cancelled + summary.open).toBe(summary.tickets);
    expect(r!.cancelled / summary.tickets).toBeGreaterThan(0.01);
    expect(r!.cancelled / summary.tickets).toBeLessThan(0.06);
    expect(r!.notRegistered).toBeGreaterThan(0);
    expect(r!.notRegistered).toBeLessThan(r!.cancelled);
    const rate = r!.onTime / r!.closed;
    expect(rate).toBeGreaterThan(0.9);
    expect(rate).toBeLessThan(0.95);
    expect(r!.onTime).toBe(summary.closedOnTime);
    expect(r!.escalated / summary.tickets).toBeGreaterThan(0.01);
    expect(r!.escalated / summary.tickets).toBeLessThan(0.05);
    expect(r!.autoEscalations).toBe(r!.escalated);
  });

  it('leaves the newest tickets open where their timeline stood at seeding time, and does not pile closures onto today', async () => {
    const since = (d: number) => new Date(NOW - d * DAY).toISOString();
    const { rows: [r] } = await db.query<{
      open: number; openLastDay: number; lastDay: number; oldOpen: number; overdue: number; byStatus: Record<string, number>; overdueByStage: Record<string, number> | null;
      dispatched: number; offers: number; offerMismatch: number; closedToday: number; closedDays: number[];
    }>(sql`
      SELECT count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled'))::int AS open,
             count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled') AND received_at >= ${since(1)}::timestamptz)::int AS "openLastDay",
             count(*) FILTER (WHERE received_at >= ${since(1)}::timestamptz)::int AS "lastDay",
             count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled') AND urgency <> 'long_term' AND received_at < ${since(8)}::timestamptz)::int AS "oldOpen",
             count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled') AND stage_due_at < ${new Date(NOW).toISOString()}::timestamptz)::int AS overdue,
             (SELECT json_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM tickets GROUP BY 1) s) AS "byStatus",
             (SELECT json_object_agg(stage, n) FROM (SELECT stage, count(*)::int AS n FROM tickets
               WHERE status NOT IN ('closed', 'cancelled') AND stage_due_at < ${new Date(NOW).toISOString()}::timestamptz GROUP BY 1) s) AS "overdueByStage",
             count(*) FILTER (WHERE status = 'dispatched')::int AS dispatched,
             (SELECT count(*)::int FROM ticket_offers WHERE outcome IS NULL) AS offers,
             (SELECT count(*)::int FROM tickets t LEFT JOIN ticket_offers o ON o.ticket_id = t.id AND o.outcome IS NULL
               WHERE t.status = 'dispatched' AND (o.worker_id IS DISTINCT FROM t.assigned_worker_id
                     OR o.offered_at IS DISTINCT FROM t.dispatched_at OR o.expires_at <> o.offered_at + interval '180 seconds')) AS "offerMismatch",
             count(*) FILTER (WHERE closed_at >= date_trunc('day', ${new Date(NOW).toISOString()}::timestamptz AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai')::int AS "closedToday",
             (SELECT array_agg(n ORDER BY d) FROM (
                SELECT date_trunc('day', closed_at AT TIME ZONE 'Asia/Shanghai') AS d, count(*)::int AS n FROM tickets
                 WHERE closed_at >= ${since(22)}::timestamptz AND closed_at < ${since(8)}::timestamptz GROUP BY 1) x) AS "closedDays"
        FROM tickets`);
    console.info(`[tickets-history] open at seeding time: ${r!.open} ${JSON.stringify(r!.byStatus)}; overdue ${r!.overdue} ${JSON.stringify(r!.overdueByStage)}`);
    expect(r!.open).toBe(summary.open);
    // A living queue: most of the last day's tickets are still being handled, every open stage is represented.
    expect(r!.openLastDay / r!.lastDay).toBeGreaterThan(0.5);
    for (const status of ['received', 'registered', 'dispatched', 'accepted', 'in_progress', 'resolved', 'verified']) {
      expect(r!.byStatus[status] ?? 0, status).toBeGreaterThan(0);
    }
    // Only long-term matters are still open after a week. Overdue at seeding time: only the few the
    // plan closes late (按期结案率 ≈ 94 %), verified in time but closed past the overall deadline.
    expect(r!.oldOpen).toBe(0);
    expect(r!.overdue / r!.open).toBeLessThan(0.05);
    expect(Object.keys(r!.overdueByStage ?? {}).filter((stage) => stage !== 'close')).toEqual([]);
    // A ticket waiting for its worker's answer has the offer the dispatch opened.
    expect(r!.offers).toBe(r!.dispatched);
    expect(r!.offerMismatch).toBe(0);
    // Today (10:00 on a Sunday) has closed no more than a whole ordinary day does.
    const typicalDay = r!.closedDays.reduce((a, b) => a + b, 0) / r!.closedDays.length;
    expect(r!.closedToday).toBeLessThan(typicalDay);
  });

  it('numbers each day from 0001 in receipt order, as its counter says, and a live ticket continues after them', async () => {
    const { rows } = await db.query<{ number: string; receivedAt: Date }>(sql`
      SELECT number, received_at AS "receivedAt" FROM tickets ORDER BY id`);
    const perDay = new Map<string, number>();
    const wrong: string[] = [];
    for (const t of rows) {
      const day = ticketDay(new Date(t.receivedAt).getTime());
      const seq = (perDay.get(day) ?? 0) + 1;
      perDay.set(day, seq);
      if (t.number !== `GD-${day}-${String(seq).padStart(4, '0')}` && wrong.length < 5) wrong.push(`${t.number} (${day} #${seq})`);
    }
    expect(wrong).toEqual([]);
    expect(new Set(rows.map((t) => t.number)).size).toBe(rows.length);
    const { rows: counters } = await db.query<{ day: string; last: number }>(sql`SELECT day, last FROM ticket_number_counters ORDER BY day`);
    expect(counters).toEqual([...perDay].sort().map(([day, last]) => ({ day, last })));
    expect(perDay.size).toBe(31); // 30 days back from 10:00 touch 31 calendar days

    // Filed after the seed, a live ticket takes today's next number.
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gridline-history-'));
    const app = await buildTestApp(db, { clock, config: { dataDir } });
    try {
      await app.ready();
      await app.ticketDeadlines.stop();
      await app.dispatchOffers.stop();
      const { rows: [grid] } = await db.query<{ lon: number; lat: number }>(sql`
        SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM regions WHERE level = 'grid' ORDER BY code LIMIT 1`);
      const res = await app.inject({
        method: 'POST', url: '/api/tickets', headers: await login(app, 'operator'),
        payload: { category: 'safety.gas', urgency: 'immediate', lon: grid!.lon, lat: grid!.lat, description: '燃气异味' },
      });
      expect(res.statusCode, res.body).toBe(201);
      const today = ticketDay(NOW);
      expect((res.json() as TicketSummary).number).toBe(`GD-${today}-${String(perDay.get(today)! + 1).padStart(4, '0')}`);
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('numbers a second seed over the same days after the tickets already there, and counters never go back', async () => {
    const before = new Map((await db.query<{ day: string; last: number }>(sql`SELECT day, last FROM ticket_number_counters`)).rows.map((r) => [r.day, r.last]));
    const more = await seedTicketHistory(db, { clock, days: 2, regionCode: '140106' });
    const { rows } = await db.query<{ day: string; n: number; distinct: number; max: number; last: number }>(sql`
      SELECT substr(t.number, 4, 8) AS day, count(*)::int AS n, count(DISTINCT t.number)::int AS distinct,
             max(split_part(t.number, '-', 3)::int) AS max, c.last
        FROM tickets t JOIN ticket_number_counters c ON c.day = substr(t.number, 4, 8)
       GROUP BY 1, c.last`);
    expect(rows.reduce((s, r) => s + r.n, 0)).toBe(fingerprintBefore.n + 1 + more.tickets);
    for (const r of rows) {
      expect(r.distinct).toBe(r.n);
      expect(r.last).toBe(r.max);
      expect(r.last).toBeGreaterThanOrEqual(before.get(r.day) ?? 0);
    }
    await expect(seedTicketHistory(db, { clock, regionCode: '999999' })).rejects.toThrow(/no district 999999/);
  });

  it('gives identical rows when the demo district is seeded again with force and the same clock', async () => {
    const again = await seedRegion(db, 'yingze', { force: true, demo: true, demoPassword: TEST_DEMO_PASSWORD, history: { clock, days: 30 } });
    expect(again.tickets).toEqual(summary);
    const after = await fingerprint();
    // Counters kept the highest numbers given (the live ticket's, the second seed's): never back.
    expect({ ...after, counters: '' }).toEqual({ ...fingerprintBefore, counters: '' });
    expect(after.counters).not.toBe('');
  });
});
