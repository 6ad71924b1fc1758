import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRandom } from '@shared/random';
import { shanghaiHour } from '@shared/shanghai-time';
import {
  DEFAULT_BEHAVIOUR,
  HOURLY_PROFILE,
  PUBLISHED_WEEK,
  TICKET_CLASSES,
  arrivals,
  drawTicket,
  handlingS,
  meanTicketsPerHour,
  offerResponse,
  ticketsPerHourAt,
} from '../../server/modules/simulator/ticket-model';

const YINGZE_GRIDS = 853;
// Monday 00:00 in Shanghai.
const MONDAY = Date.parse('2026-11-22T16:00:00Z');
const WEEK = 7 * 24 * 3_600_000;

describe('ticket filing rhythm', () => {
  it('scales the published Zhangqiu week to Yingze: about 5,000 a week, 30 an hour', () => {
    expect(meanTicketsPerHour(YINGZE_GRIDS) * 168).toBeCloseTo((10_471 * 853) / 1_782, 6);
    expect(meanTicketsPerHour(YINGZE_GRIDS)).toBeGreaterThan(29);
    expect(meanTicketsPerHour(YINGZE_GRIDS)).toBeLessThan(31);
    expect(meanTicketsPerHour(YINGZE_GRIDS, 20)).toBeCloseTo(20 * meanTicketsPerHour(YINGZE_GRIDS), 6);
    expect(HOURLY_PROFILE.reduce((a, b) => a + b, 0) / 24).toBeCloseTo(1, 9);
  });

  it('files a simulated week in the published volume, quiet at night and busiest mid-morning and afternoon', () => {
    const random = createRandom('week');
    const times = arrivals(MONDAY, MONDAY + WEEK, (t) => ticketsPerHourAt(t, YINGZE_GRIDS), random);
    const expected = (10_471 * 853) / 1_782; // 5,012; a Poisson count's σ is about 71
    expect(times.length).toBeGreaterThan(expected - 300);
    expect(times.length).toBeLessThan(expected + 300);
    expect(times.every((t, i) => t >= MONDAY && t < MONDAY + WEEK && (i === 0 || t >= times[i - 1]!))).toBe(true);

    const byHour = new Array<number>(24).fill(0);
    for (const t of times) byHour[Math.floor(shanghaiHour(t))]!++;
    const night = byHour.slice(0, 6).reduce((a, b) => a + b, 0);
    expect(night / times.length).toBeLessThan(0.04);
    const perHour = times.length / 24;
    expect(byHour[10]!).toBeGreaterThan(2 * perHour);
    expect(byHour[15]!).toBeGreaterThan(2 * perHour);
    expect(byHour[12]!).toBeLessThan(byHour[10]! * 0.7); // the lunch dip
    expect(byHour[3]!).toBeLessThan(perHour * 0.2);
  });

  it('files nothing at rate 0 and keeps the rate exact over long runs', () => {
    expect(arrivals(MONDAY, MONDAY + WEEK, () => 0, createRandom('zero'))).toEqual([]);
    const times = arrivals(0, 1_000 * 3_600_000, () => 12, createRandom('flat'));
    expect(times.length / 1_000).toBeGreaterThan(11.7);
    expect(times.length / 1_000).toBeLessThan(12.3);
  });
});

describe('what a simulated ticket is about', () => {
  const random = createRandom('mix');
  const draws = Array.from({ length: 50_000 }, () => drawTicket(random));
  const share = (f: (d: (typeof draws)[number]) => boolean) => draws.filter(f).length / draws.length;

  it('has the five classes in the published proportions', () => {
    const categorised = Object.values(PUBLISHED_WEEK.byClass).reduce((a, b) => a + b, 0);
    for (const c of TICKET_CLASSES) {
      const published = PUBLISHED_WEEK.byClass[c] / categorised;
      expect(share((d) => d.class === c), c).toBeGreaterThan(published - 0.01);
      expect(share((d) => d.class === c), c).toBeLessThan(published + 0.01);
    }
  });

  it('uses only sub-categories the database has, each under its class', () => {
    const migration = readFileSync('server/platform/db/migrations/002_tickets.sql', 'utf8');
    const known = new Set([...migration.matchAll(/\('([a-z_]+\.[a-z_]+)', '([a-z_]+)'/g)].map((m) => `${m[1]}|${m[2]}`));
    const used = new Set(draws.map((d) => `${d.category}|${d.class}`));
    expect(known.size).toBeGreaterThan(25);
    for (const u of used) expect(known, u).toContain(u);
    expect(used.size).toBeGreaterThan(25); // every sub-category comes up
  });

  it('is mostly scheduled, some immediate, few long-term; mostly found on patrol', () => {
    expect(share((d) => d.urgency === 'scheduled')).toBeGreaterThan(0.7);
    expect(share((d) => d.urgency === 'immediate')).toBeGreaterThan(0.08);
    expect(share((d) => d.urgency === 'immediate')).toBeLessThan(0.22);
    expect(share((d) => d.urgency === 'long_term')).toBeGreaterThan(0.02);
    expect(share((d) => d.urgency === 'long_term')).toBeLessThan(0.1);
    expect(share((d) => d.source === 'patrol')).toBeGreaterThan(0.6);
    expect(share((d) => d.source === 'hotline')).toBeGreaterThan(0.1);
    expect(share((d) => d.category === 'safety.gas' && d.urgency === 'immediate') / share((d) => d.category === 'safety.gas')).toBeGreaterThan(0.4);
  });

  it('describes each in short Chinese, saying where a call came from', () => {
    for (const d of draws.slice(0, 2_000)) {
      expect(d.description.length).toBeGreaterThan(4);
      expect(d.description.length).toBeLessThan(80);
      expect(d.description).toMatch(/[\u4e00-\u9fff]/);
      if (d.source === 'hotline') expect(d.description).toMatch(/^12345热线/);
    }
    expect(new Set(draws.map((d) => d.description)).size).toBeGreaterThan(500);
  });
});

describe('how simulated people answer', () => {
  it('mostly accepts an offer within seconds to minutes, before it times out; sometimes declines or stays silent', () => {
    const random = createRandom('offers');
    const answers = Array.from({ length: 20_000 }, () => offerResponse(random, DEFAULT_BEHAVIOUR, 180));
    const kinds = (k: string) => answers.filter((a) => a.kind === k).length / answers.length;
    expect(kinds('ignore')).toBeGreaterThan(0.03);
    expect(kinds('ignore')).toBeLessThan(0.05);
    expect(kinds('decline')).toBeGreaterThan(0.06);
    expect(kinds('decline')).toBeLessThan(0.08);
    const delays = answers.flatMap((a) => (a.kind === 'accept' ? [a.afterS] : [])).sort((a, b) => a - b);
    expect(delays[0]!).toBeGreaterThanOrEqual(5);
    expect(delays.at(-1)!).toBeLessThanOrEqual(162);
    expect(delays[Math.floor(delays.length / 2)]!).toBeGreaterThan(35);
    expect(delays[Math.floor(delays.length / 2)]!).toBeLessThan(55);
    for (const a of answers) if (a.kind === 'decline') expect(a.reason.length).toBeGreaterThan(4);
  });

  it('handles immediate tickets in minutes, scheduled ones in about an hour, long-term ones in hours to days', () => {
    const random = createRandom('handling');
    const median = (u: 'immediate' | 'scheduled' | 'long_term') => {
      const xs = Array.from({ length: 5_000 }, () => handlingS(random, DEFAULT_BEHAVIOUR, u)).sort((a, b) => a - b);
      expect(xs.at(-1)!).toBeLessThanOrEqual(DEFAULT_BEHAVIOUR.handlingMaxS[u]);
      return xs[2_500]!;
    };
    expect(median('immediate') / 60).toBeGreaterThan(15);
    expect(median('immediate') / 60).toBeLessThan(25);
    expect(median('scheduled') / 60).toBeGreaterThan(50);
    expect(median('scheduled') / 60).toBeLessThan(70);
    expect(median('long_term') / 3600).toBeGreaterThan(6);
    expect(median('long_term') / 3600).toBeLessThan(10);
  });
});
