import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/platform/config';
import { checkStartup } from '../../server/platform/startup-checks';
import { defaultSecretFile, resolveJwtSecret } from '../../server/platform/auth/secret';

const LONG = 'x'.repeat(48);
const prod = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'production', ...env });

describe('checkStartup in production', () => {
  it('refuses to start without JWT_SECRET or JWT_SECRET_FILE', () => {
    const { errors } = checkStartup(prod());
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/JWT_SECRET/);
  });

  it('starts with either a long JWT_SECRET or a JWT_SECRET_FILE', () => {
    expect(checkStartup(prod({ JWT_SECRET: LONG }))).toEqual({ errors: [], warnings: [] });
    expect(checkStartup(prod({ JWT_SECRET_FILE: '/run/secrets/jwt' }))).toEqual({ errors: [], warnings: [] });
  });

  it('refuses a short JWT_SECRET, and both at once', () => {
    expect(checkStartup(prod({ JWT_SECRET: 'secret' })).errors[0]).toMatch(/shorter than 32/);
    expect(checkStartup(prod({ JWT_SECRET: LONG, JWT_SECRET_FILE: '/run/secrets/jwt' })).errors[0]).toMatch(/not both/);
  });

  it('refuses accounts on the demo password once the database says so', () => {
    const config = prod({ JWT_SECRET: LONG });
    expect(checkStartup(config, { demoAccounts: 0 }).errors).toEqual([]);
    expect(checkStartup(config, { demoAccounts: 3 }).errors[0]).toMatch(/^3 account\(s\) still use the demo password/);
  });

  it('runs the simulator only when SIMULATE=1 is set explicitly, and says so', () => {
    expect(prod().simulate).toBe(false);
    expect(prod().simulateTickets).toBe(false);
    expect(prod({ SIMULATE: '' }).simulate).toBe(false);
    const on = prod({ SIMULATE: '1', JWT_SECRET: LONG });
    expect([on.simulate, on.simulateTickets]).toEqual([true, true]);
    expect(checkStartup(on)).toEqual({ errors: [], warnings: [expect.stringMatching(/SIMULATE=1 in production/)] });
  });
});

describe('outside production', () => {
  it('needs no secret, and keeps the simulator on unless SIMULATE=0', () => {
    expect(checkStartup(loadConfig({}))).toEqual({ errors: [], warnings: [] });
    expect(checkStartup(loadConfig({}), { demoAccounts: 5 }).errors).toEqual([]);
    expect(loadConfig({}).simulate).toBe(true);
    expect(loadConfig({ SIMULATE: '0' }).simulate).toBe(false);
  });
});

describe('resolveJwtSecret', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gridline-secret-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('generates a key file in DATA_DIR once (mode 0600) and reads the same secret after', () => {
    const dataDir = path.join(tmp(), 'data');
    const config = { ...loadConfig({ DATA_DIR: dataDir }) };
    const first = resolveJwtSecret(config);
    expect(first.length).toBeGreaterThanOrEqual(48);
    const file = defaultSecretFile(dataDir);
    expect(readFileSync(file, 'utf8')).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveJwtSecret(config)).toBe(first);
  });

  it('JWT_SECRET wins; JWT_SECRET_FILE is read (trimmed); neither writes a key file', () => {
    const dir = tmp();
    expect(resolveJwtSecret(loadConfig({ DATA_DIR: dir, JWT_SECRET: LONG }))).toBe(LONG);
    const file = path.join(dir, 'mounted');
    writeFileSync(file, `${LONG}\n`);
    expect(resolveJwtSecret(loadConfig({ DATA_DIR: dir, JWT_SECRET_FILE: file }))).toBe(LONG);
    expect(() => statSync(defaultSecretFile(dir))).toThrow();
  });

  it('in production never generates one, and refuses an empty or short file', () => {
    const dir = tmp();
    expect(() => resolveJwtSecret(loadConfig({ NODE_ENV: 'production', DATA_DIR: dir }))).toThrow(/JWT_SECRET/);
    expect(() => statSync(defaultSecretFile(dir))).toThrow();
    const file = path.join(dir, 'mounted');
    writeFileSync(file, 'short\n');
    expect(() => resolveJwtSecret(loadConfig({ NODE_ENV: 'production', JWT_SECRET_FILE: file }))).toThrow(/fewer than 32/);
    writeFileSync(file, '\n');
    expect(() => resolveJwtSecret(loadConfig({ JWT_SECRET_FILE: file }))).toThrow(/empty/);
  });
});
