import { build, type App } from '../../server/app';
import { loadConfig, type Config } from '../../server/platform/config';
import type { Db } from '../../server/platform/db';
import type { Clock } from '../../server/platform/clock';
import { TEST_DEMO_PASSWORD } from './template';

export interface TestAppOptions {
  clock?: Clock;
  config?: Partial<Config>;
  clientDir?: string;
}

/** The tests' token signing secret (so no key file is written into ./data, and tests can sign their own tokens). */
export const TEST_JWT_SECRET = 'test-jwt-secret-of-at-least-32-characters';

/** The real application on a test database (no client files, no listening unless asked). */
export async function buildTestApp(db: Db, options: TestAppOptions = {}): Promise<App> {
  const config = { ...loadConfig({}), demoPassword: TEST_DEMO_PASSWORD, jwtSecret: TEST_JWT_SECRET, ...options.config };
  return build({ db, config, clock: options.clock, clientDir: options.clientDir });
}

/** Logs in through the real endpoint and returns the bearer header. */
export async function login(app: App, username: string, password = TEST_DEMO_PASSWORD): Promise<{ authorization: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`);
  return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
}

export async function token(app: App, username: string): Promise<string> {
  return (await login(app, username)).authorization.slice('Bearer '.length);
}
