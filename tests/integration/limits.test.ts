import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { LightMyRequestResponse } from 'fastify';
import type { Db } from '../../server/platform/db';
import type { App } from '../../server/app';
import { ManualClock } from '../../server/platform/clock';
import { HashGate } from '../../server/platform/auth/password';
import type { ClientToServerEvents, ServerToClientEvents } from '@shared/realtime';
import { createTestDb } from '../support/db';
import { buildTestApp, token } from '../support/app';
import { TEST_DEMO_PASSWORD } from '../support/template';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let db: Db;
let app: App;
let base: string;
const clock = new ManualClock(Date.now());
const sockets: Client[] = [];

beforeAll(async () => {
  db = await createTestDb();
  // The defaults: 10 failures per account and 30 per address per 15 minutes, 6 resyncs a minute.
  app = await buildTestApp(db, { clock });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app?.close();
  await db?.close();
});

const login = (target: App, username: string, password: string, remoteAddress: string) =>
  target.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress });

function expectRateLimited(res: LightMyRequestResponse, maxWaitS = 15 * 60): number {
  expect(res.statusCode).toBe(429);
  expect(res.json()).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/try again in/) });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(maxWaitS);
  return retryAfter;
}

describe('failed logins are limited per account and per address', () => {
  it('a burst of 30 wrong passwords for admin: 10 are checked, the rest get 429 RATE_LIMITED with Retry-After', async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, () => login(app, 'admin', 'wrong-guess', '10.1.0.1')));
    const checked = burst.filter((r) => r.statusCode === 401);
    const limited = burst.filter((r) => r.statusCode === 429);
    expect(checked).toHaveLength(10);
    expect(limited).toHaveLength(20);
    for (const res of checked) expect(res.json().code).toBe('AUTH_INVALID_CREDENTIALS');
    for (const res of limited) expectRateLimited(res);

    // Later attempts on the account, from anywhere and in any letter case, wait for the window.
    const later = await login(app, 'ADMIN', 'another-guess', '10.1.0.2');
    expect(expectRateLimited(later)).toBeGreaterThan(14 * 60);
    // Even the right password waits: the account is closed to guessing, not only to wrong guesses.
    expectRateLimited(await login(app, 'admin', TEST_DEMO_PASSWORD, '10.1.0.1'));

    // Another account, from another address, with its right password, signs in as usual.
    const other = await login(app, 'operator', TEST_DEMO_PASSWORD, '10.1.0.9');
    expect(other.statusCode).toBe(200);
    expect(other.json().user.username).toBe('operator');
  });

  it('30 failures from one address, over many accounts, close that address only', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await login(app, `nobody-${i}`, 'guess', '10.2.0.1');
      expect(res.statusCode, `attempt ${i + 1}`).toBe(401);
    }
    expectRateLimited(await login(app, 'nobody-30', 'guess', '10.2.0.1'));
    expectRateLimited(await login(app, 'dispatcher', TEST_DEMO_PASSWORD, '10.2.0.1'));
    expect((await login(app, 'dispatcher', TEST_DEMO_PASSWORD, '10.2.0.2')).statusCode).toBe(200);
  });

  it('successful logins are not counted: a user who signs in often is never locked out', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await login(app, 'leader', TEST_DEMO_PASSWORD, '10.3.0.1');
      expect(res.statusCode, `login ${i + 1}`).toBe(200);
    }
    // Nine failures after twelve successes still leave the tenth attempt, the right one, through.
    for (let i = 0; i < 9; i++) expect((await login(app, 'leader', 'typo', '10.3.0.1')).statusCode).toBe(401);
    expect((await login(app, 'leader', TEST_DEMO_PASSWORD, '10.3.0.1')).statusCode).toBe(200);
  });
});

describe('workers.resync is limited per socket', () => {
  it('answers 6 a minute, then RATE_LIMITED without a snapshot; another socket and the next minute are unaffected', async () => {
    const open = async (): Promise<{ socket: Client; snapshots: () => number }> => {
      const socket: Client = connect(base, { auth: { token: await token(app, 'operator') }, transports: ['websocket'] });
      sockets.push(socket);
      let snapshots = 0;
      const first = new Promise<void>((resolve) => socket.once('workers.snapshot', () => resolve()));
      socket.on('workers.snapshot', () => snapshots++);
      await first;
      return { socket, snapshots: () => snapshots };
    };
    const a = await open();
    for (let i = 0; i < 6; i++) {
      const ack = await a.socket.emitWithAck('workers.resync');
      expect(ack.ok, `resync ${i + 1}`).toBe(true);
    }
    const before = a.snapshots();
    const refused = await a.socket.emitWithAck('workers.resync');
    expect(refused).toEqual({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/At most 6 resyncs a minute/) } });
    // Give a wrongly sent snapshot the time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(a.snapshots()).toBe(before);

    const b = await open();
    expect((await b.socket.emitWithAck('workers.resync')).ok).toBe(true);

    clock.advance(60_000);
    expect((await a.socket.emitWithAck('workers.resync')).ok).toBe(true);
  });
});

describe('password hashing is bounded', () => {
  it('runs at most `concurrency` at once, queues `queue` more and turns the rest away with SERVICE_UNAVAILABLE', async () => {
    const gate = new HashGate(2, 1);
    const releases: (() => void)[] = [];
    const started: number[] = [];
    const task = (n: number) => () =>
      new Promise<number>((resolve) => {
        started.push(n);
        releases.push(() => resolve(n));
      });
    const running = [gate.run(task(1)), gate.run(task(2)), gate.run(task(3))];
    expect(gate.load).toEqual({ running: 2, waiting: 1 });
    await expect(gate.run(task(4))).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', statusCode: 503, retryAfterS: 2 });
    await Promise.resolve();
    expect(started).toEqual([1, 2]);
    releases.shift()!();
    await running[0];
    // The freed slot went to the waiting task, not to a newcomer.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual([1, 2, 3]);
    expect(gate.load).toEqual({ running: 2, waiting: 0 });
    for (const release of releases.splice(0)) release();
    expect(await Promise.all(running)).toEqual([1, 2, 3]);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  it('a login flood beyond the hashing queue gets 503 SERVICE_UNAVAILABLE with Retry-After, not a growing backlog', async () => {
    // Its own app with one hash at a time and no queue (the bound is per process: this reconfigures it).
    const small = await buildTestApp(db, { clock, config: { passwordHashConcurrency: 1, passwordHashQueue: 0 } });
    try {
      const users = ['admin', 'leader', 'operator', 'dispatcher', 'worker'];
      const flood = await Promise.all(
        Array.from({ length: 12 }, (_, i) => login(small, users[i % users.length]!, TEST_DEMO_PASSWORD, `10.4.0.${i + 1}`)),
      );
      const busy = flood.filter((r) => r.statusCode === 503);
      expect(flood.filter((r) => r.statusCode === 200).length).toBeGreaterThan(0);
      expect(busy.length).toBeGreaterThan(0);
      expect(flood.every((r) => r.statusCode === 200 || r.statusCode === 503)).toBe(true);
      for (const res of busy) {
        expect(res.json()).toEqual({ code: 'SERVICE_UNAVAILABLE', message: expect.any(String) });
        expect(res.headers['retry-after']).toBe('2');
      }
      // A turned-away attempt is no failed login: the account is not closed by the flood.
      expect((await login(small, 'admin', TEST_DEMO_PASSWORD, '10.4.1.1')).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });
});
