import type { Config } from './config';
import { MIN_SECRET_LENGTH } from './auth/secret';

export interface StartupReport {
  /** Reasons to refuse to start. */
  errors: string[];
  /** Worth saying, not worth refusing. */
  warnings: string[];
}

/** What is only known once the database is open. */
export interface StartupFacts {
  /** Active accounts still on the seeded demo password. */
  demoAccounts?: number;
}

/**
 * What `npm start` refuses, as a pure function of the configuration (and, once the database is
 * open, of what it holds). With NODE_ENV=production: no signing secret given (a generated one
 * would sit beside the data), a short one, accounts on the demo password; the simulator only runs
 * when SIMULATE=1 asked for it (loadConfig), and then it is said out loud.
 */
export function checkStartup(
  config: Pick<Config, 'production' | 'jwtSecret' | 'jwtSecretFile' | 'simulate'>,
  facts: StartupFacts = {},
): StartupReport {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (config.jwtSecret && config.jwtSecretFile) {
    errors.push('Set JWT_SECRET or JWT_SECRET_FILE, not both.');
  }
  if (config.production) {
    if (!config.jwtSecret && !config.jwtSecretFile) {
      errors.push('NODE_ENV=production needs the token signing secret: set JWT_SECRET, or JWT_SECRET_FILE to a file that holds it.');
    } else if (config.jwtSecret && config.jwtSecret.length < MIN_SECRET_LENGTH) {
      errors.push(`JWT_SECRET is shorter than ${MIN_SECRET_LENGTH} characters: use a long random value (e.g. openssl rand -base64 48).`);
    }
    if (facts.demoAccounts !== undefined && facts.demoAccounts > 0) {
      errors.push(`${facts.demoAccounts} account(s) still use the demo password. ` +
        'Change them (POST /api/auth/password) or start without NODE_ENV=production.');
    }
    if (config.simulate) {
      warnings.push('SIMULATE=1 in production: simulated workers and tickets will appear beside real ones.');
    }
  }
  return { errors, warnings };
}
