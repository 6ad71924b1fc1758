import { hash, verify } from '@node-rs/argon2';
import { RetryLaterError } from '../limits';

/** argon2id (memory-hard), OWASP's minimum: 19 MiB, 2 passes. */
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Seconds a client turned away by a full hashing queue is told to wait. */
const BUSY_RETRY_AFTER_S = 2;

/**
 * Bounds password hashing: each argon2 run holds 19 MiB, so at most `concurrency` run at once,
 * at most `queue` more wait their turn, and any beyond that are turned away at once with
 * SERVICE_UNAVAILABLE (503, Retry-After) instead of piling up memory and latency in a login flood.
 */
export class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {
    if (concurrency < 1) throw new Error('HashGate needs a concurrency of at least 1');
  }

  /** Operations running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waiting.length >= this.queue) {
        throw new RetryLaterError('SERVICE_UNAVAILABLE', 'The server is busy checking passwords: try again in a moment.', BUSY_RETRY_AFTER_S);
      }
      // The finishing operation hands its slot straight to us: `running` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

let gate = new HashGate(4, 16);

/** Sets the bound on password hashing for this process (from PASSWORD_HASH_CONCURRENCY / _QUEUE). */
export function configurePasswordHashing(options: { concurrency: number; queue: number }): void {
  gate = new HashGate(options.concurrency, options.queue);
}

/** Hashes a new password. Rejects with SERVICE_UNAVAILABLE when too many hashes are under way. */
export function hashPassword(password: string): Promise<string> {
  return gate.run(() => hash(password, OPTIONS));
}

/**
 * True when `password` matches `stored`; false for a wrong password or a malformed hash. Rejects
 * with SERVICE_UNAVAILABLE when too many hashes are under way.
 */
export function verifyPassword(stored: string, password: string): Promise<boolean> {
  return gate.run(async () => {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  });
}

/** A valid hash of no known password: login of an unknown user spends the same time as a real one. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  // Made once, outside the gate: a busy gate must not leave a rejected decoy cached forever.
  decoy ??= hash(`decoy-${Math.random()}`, OPTIONS);
  return decoy;
}
