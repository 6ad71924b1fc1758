import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';

/** Shortest signing secret accepted in production (HS256 wants at least 256 bits). */
export const MIN_SECRET_LENGTH = 32;

/** Where the generated secret lives outside production when neither JWT_SECRET nor JWT_SECRET_FILE is set. */
export function defaultSecretFile(dataDir: string): string {
  return path.join(dataDir, 'jwt-secret');
}

/**
 * The HMAC secret that signs login tokens: JWT_SECRET, else the contents of JWT_SECRET_FILE (a
 * mounted secret), else — outside production only — a key file in DATA_DIR generated on first
 * start (mode 0600). Never the database: whoever can read the data must not be able to sign tokens.
 */
export function resolveJwtSecret(config: Pick<Config, 'jwtSecret' | 'jwtSecretFile' | 'dataDir' | 'production'>): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.jwtSecretFile) {
    const secret = readFileSync(config.jwtSecretFile, 'utf8').trim();
    if (!secret) throw new Error(`JWT_SECRET_FILE ${config.jwtSecretFile} is empty`);
    if (config.production && secret.length < MIN_SECRET_LENGTH) {
      throw new Error(`JWT_SECRET_FILE ${config.jwtSecretFile} holds fewer than ${MIN_SECRET_LENGTH} characters`);
    }
    return secret;
  }
  if (config.production) throw new Error('NODE_ENV=production needs JWT_SECRET or JWT_SECRET_FILE');
  const file = defaultSecretFile(config.dataDir);
  mkdirSync(config.dataDir, { recursive: true });
  try {
    // 'wx': only the first of several processes starting at once writes it; the others read it.
    writeFileSync(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (!secret) throw new Error(`${file} is empty: delete it to generate a new signing secret`);
  return secret;
}
