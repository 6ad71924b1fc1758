/**
 * The one door to the HTTP API: every call carries the session's bearer token, is typed with the
 * shared contract, and fails with an ApiRequestError whose `code` the UI can branch on. Any 401
 * (but a sign-in's own) ends the session: the store clears it and the app shows the login page.
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
    /** From `Retry-After` (429, 503): seconds until a retry can succeed. */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }

  /** The session's token is missing, forged, expired or revoked: the only cure is signing in again. */
  get isAuthFailure(): boolean {
    return this.status === 401 && this.code !== 'AUTH_INVALID_CREDENTIALS';
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

/** The bearer token of the current session, for requests the browser makes itself (maplibre's tiles). */
export function currentToken(): string | null {
  return tokenSource();
}

/**
 * A request made outside this module (maplibre fetching a tile) was answered 401: sign out as
 * for any other.
 */
export function reportUnauthorized(url: string): void {
  onAuthFailure(new ApiRequestError('AUTH_REQUIRED', `401 from ${url}`, 401));
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with its own content type (a photo). */
  raw?: Blob;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /**
   * A 401 here is about the credentials in the body (sign-in), not the session: it must not sign
   * anybody out. Every other 401 does.
   */
  checksCredentials?: boolean;
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), null when absent or unreadable. */
function retryAfterOf(response: Response): number | null {
  const header = response.headers.get('retry-after');
  if (!header) return null;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : Math.ceil((Date.parse(header) - Date.now()) / 1000);
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null;
}

async function send(path: string, options: RequestOptions, accept: string): Promise<Response> {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { accept };
  const token = tokenSource();
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  } else if (options.raw) {
    headers['content-type'] = options.raw.type || 'application/octet-stream';
    body = options.raw;
  }

  let response: Response;
  try {
    response = await fetch(url, { method: options.method ?? 'GET', headers, body, signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiRequestError('NETWORK_UNREACHABLE', (error as Error).message || 'fetch failed', 0);
  }
  if (response.ok) return response;

  let payload: unknown = undefined;
  try {
    payload = JSON.parse(await response.text());
  } catch {
    // Not the contract (a proxy's error page): classified by status below.
  }
  const retryAfterS = retryAfterOf(response);
  // A gateway in front of the server answers 502–504 when the server is down: same cure for the user.
  const error = isApiError(payload)
    ? new ApiRequestError(payload.code, payload.message, response.status, retryAfterS)
    : response.status === 401
      ? new ApiRequestError('AUTH_REQUIRED', 'HTTP 401', 401)
      : response.status >= 502 && response.status <= 504
        ? new ApiRequestError('NETWORK_UNREACHABLE', `HTTP ${response.status}`, response.status, retryAfterS)
        : new ApiRequestError('BAD_RESPONSE', `HTTP ${response.status}`, response.status, retryAfterS);
  if (response.status === 401 && !options.checksCredentials) onAuthFailure(error);
  throw error;
}

/**
 * Calls the API and returns its JSON answer. Every request of the dashboard goes through here (or
 * `requestBlob`): the session's token goes along, and any 401 signs the user out.
 */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options, 'application/json');
  const text = await response.text();
  if (!text) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiRequestError('BAD_RESPONSE', 'the response is not JSON', response.status);
  }
}

/** Like `request`, for binary answers (a ticket's photo). */
export async function requestBlob(path: string, options: RequestOptions = {}): Promise<Blob> {
  const response = await send(path, options, '*/*');
  return response.blob();
}

export const api = {
  login: (body: LoginBody) => request<LoginResponse>('/api/auth/login', { method: 'POST', body, checksCredentials: true }),
  me: () => request<UserDto>('/api/auth/me'),
  config: () => request<ClientConfig>('/api/config'),
  regions: (level: RegionLevel, parent?: string, signal?: AbortSignal) =>
    request<RegionFeatureCollection>('/api/regions', { query: { level, parent }, signal }),
  workers: (query: WorkersQuery = {}, signal?: AbortSignal) => request<WorkerDto[]>('/api/workers', { query: { ...query }, signal }),
};
