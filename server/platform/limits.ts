/**
 * Limits that keep one client from wearing the server out: failed logins per account and per
 * address, and a fixed-window counter for expensive socket requests. Password hashing has its own
 * bound (platform/auth/password.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { normalizeIP } from '@fastify/rate-limit';
import { AppError } from './errors';

/**
 * An error the client should retry after a while: the error handler (server/app.ts) sends its
 * `Retry-After` header (seconds) beside the usual `{ code, message }` body.
 */
export class RetryLaterError extends AppError {
  constructor(
    code: 'RATE_LIMITED' | 'SERVICE_UNAVAILABLE',
    message: string,
    readonly retryAfterS: number,
  ) {
    super(code, message);
  }
}

export interface LoginLimitOptions {
  /** Failed attempts allowed per account (username, lower-cased) per window. */
  perAccount: number;
  /** Failed attempts allowed per client address per window. */
  perAddress: number;
  windowMs: number;
}

/** One login attempt under way: report a failure, and always end it. */
export interface LoginAttempt {
  /** The password was wrong (or the account unknown): counts against the account and the address. */
  failed(): Promise<void>;
  /** Releases the attempt's reservation; call once, whatever the outcome. */
  end(): void;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/** Entries each counter keeps (LRU): enough for every account and many addresses at once. */
const COUNTER_ENTRIES = 10_000;

/**
 * Counts failed logins, per account and per address, in @fastify/rate-limit's stores. Only
 * failures count: a user who signs in often (a wall display after each reload) is never locked
 * out by their own successes, and a success does not reset anything either, so an attacker who
 * holds one valid account cannot clear their address's count by signing in between guesses.
 *
 * Attempts still being checked are reserved, so a burst of parallel guesses cannot all pass the
 * check before the first failure is counted.
 */
export class LoginLimit {
  private readonly account: Limiter;
  private readonly address: Limiter;
  private readonly inFlight = new Map<string, number>();

  constructor(
    app: Pick<FastifyInstance, 'createRateLimit'>,
    private readonly options: LoginLimitOptions,
  ) {
    const limiter = (max: number, key: (request: FastifyRequest) => string): Limiter =>
      app.createRateLimit({ max, timeWindow: options.windowMs, keyGenerator: key, cache: COUNTER_ENTRIES } as Parameters<
        FastifyInstance['createRateLimit']
      >[0]);
    this.account = limiter(options.perAccount, (request) => `account:${usernameOf(request)}`);
    this.address = limiter(options.perAddress, (request) => `address:${normalizeIP(request.ip)}`);
  }

  /**
   * Starts an attempt, or throws RATE_LIMITED (with Retry-After) when the address or the account
   * has used up its failures for the window.
   */
  async begin(request: FastifyRequest): Promise<LoginAttempt> {
    const checks = [
      { limiter: this.address, max: this.options.perAddress },
      { limiter: this.account, max: this.options.perAccount },
    ];
    const keys: string[] = [];
    let waitS = 0;
    for (const { limiter, max } of checks) {
      const state = await limiter(request, { increment: false });
      keys.push(state.key);
      if (state.isAllowed) continue;
      const used = max - state.remaining + (this.inFlight.get(state.key) ?? 0);
      if (used >= max) {
        // Blocked only by attempts still in flight: they end within a second or two.
        waitS = Math.max(waitS, state.ttl > 0 ? state.ttlInSeconds : 1);
      }
    }
    if (waitS > 0) {
      throw new RetryLaterError('RATE_LIMITED', `Too many failed sign-in attempts: try again in ${formatWait(waitS)}.`, waitS);
    }
    for (const key of keys) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let ended = false;
    return {
      failed: async () => {
        await Promise.all([this.address(request), this.account(request)]);
      },
      end: () => {
        if (ended) return;
        ended = true;
        for (const key of keys) {
          const left = (this.inFlight.get(key) ?? 1) - 1;
          if (left > 0) this.inFlight.set(key, left);
          else this.inFlight.delete(key);
        }
      },
    };
  }
}

function usernameOf(request: FastifyRequest): string {
  const username = (request.body as { username?: unknown } | undefined)?.username;
  return typeof username === 'string' ? username.trim().toLowerCase() : '';
}

function formatWait(seconds: number): string {
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} s`;
}

/**
 * At most `max` uses per window of `windowMs`, windows starting at the first use after the last
 * one ended. For one socket's expensive requests; not shared between processes.
 */
export class WindowCounter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one use at `now` (ms). Returns 0 when allowed, else the ms until the window ends. */
  take(now: number): number {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.max) return this.windowStart + this.windowMs - now;
    this.used++;
    return 0;
  }
}
