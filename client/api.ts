/**
 * The one door to the HTTP API: every call carries the session's bearer token, is typed with the
 * shared contract, and fails with an ApiRequestError whose `code` the UI can branch on.
 */
import type { ClientConfig, LoginBody, LoginResponse, RegionFeatureCollection, UserDto, WorkerDto, WorkersQuery } from '@shared/api';
import { isApiError, type ErrorCode } from '@shared/errors';
import type { RegionLevel } from '@shared/domain';

/**
 * Codes the client adds to the server's own: the server could not be reached at all, or answered
 * with something that is not the contract (a proxy's HTML error page, say).
 */
export type ClientErrorCode = 'NETWORK_UNREACHABLE' | 'BAD_RESPONSE';

export class ApiRequestError extends Error {
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** HTTP status, 0 when no response arrived. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }

  /** The token is missing, forged or expired: the only cure is signing in again. */
  get isAuthFailure(): boolean {
    return this.code === 'AUTH_REQUIRED' || this.code === 'AUTH_TOKEN_INVALID' || this.code === 'AUTH_TOKEN_EXPIRED';
  }
}

let tokenSource: () => string | null = () => null;
let onAuthFailure: (error: ApiRequestError) => void = () => {};

/**
 * Wires the module to the session without importing the store (which imports this module):
 * where the token comes from, and what to do when the server rejects it.
 */
export function configureApi(options: { token: () => string | null; onAuthFailure: (error: ApiRequestError) => void }): void {
  tokenSource = options.token;
  onAuthFailure = options.onAuthFailure;
}

/** The bearer token of the current session, for requests made outside this module (map tiles). */
export function currentToken(): string | null {
  return tokenSource();
}

interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = tokenSource();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';

  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiRequestError('NETWORK_UNREACHABLE', (error as Error).message || 'fetch failed', 0);
  }

  const text = await response.text();
  let payload: unknown = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined;
    }
  }
  if (!response.ok) {
    // A gateway in front of the server answers 502–504 when the server is down: same cure for the user.
    const error = isApiError(payload)
      ? new ApiRequestError(payload.code, payload.message, response.status)
      : response.status >= 502 && response.status <= 504
        ? new ApiRequestError('NETWORK_UNREACHABLE', `HTTP ${response.status}`, response.status)
        : new ApiRequestError('BAD_RESPONSE', `HTTP ${response.status}`, response.status);
    if (error.isAuthFailure) onAuthFailure(error);
    throw error;
  }
  if (payload === undefined) throw new ApiRequestError('BAD_RESPONSE', 'the response is not JSON', response.status);
  return payload as T;
}

export const api = {
  login: (body: LoginBody) => request<LoginResponse>('/api/auth/login', { method: 'POST', body }),
  me: () => request<UserDto>('/api/auth/me'),
  config: () => request<ClientConfig>('/api/config'),
  regions: (level: RegionLevel, parent?: string, signal?: AbortSignal) =>
    request<RegionFeatureCollection>('/api/regions', { query: { level, parent }, signal }),
  workers: (query: WorkersQuery = {}, signal?: AbortSignal) => request<WorkerDto[]>('/api/workers', { query: { ...query }, signal }),
};
