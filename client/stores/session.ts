import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ClientConfig, UserDto } from '@shared/api';
import { api, configureApi, type ApiRequestError } from '@client/api';

const STORAGE_KEY = 'gridline.session';

interface StoredSession {
  token: string;
  expiresAt: string;
  /** Who signed in: lets the phone app (/field) open with no network. */
  user?: UserDto;
}

function readStored(): StoredSession | null {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as StoredSession | null;
    if (!parsed || typeof parsed.token !== 'string' || Date.parse(parsed.expiresAt) <= Date.now()) return null;
    return parsed;
  } catch {
    return null;
  }
}

/** Why the user is looking at the login page: shown there so a sudden sign-out is not a mystery. */
export type SignOutReason = 'expired' | 'revoked' | 'invalid' | 'wallRevoked' | null;

/** The sign-out reason for an auth error code (HTTP 401 body or socket connect_error). */
export function signOutReasonFor(code: string): Exclude<SignOutReason, null> {
  if (code === 'AUTH_TOKEN_EXPIRED') return 'expired';
  if (code === 'AUTH_TOKEN_REVOKED') return 'revoked';
  if (code === 'WALL_SESSION_REVOKED') return 'wallRevoked';
  return 'invalid';
}

/** When a token expires, from its own `exp` claim (a wall session's token arrives without an expiry beside it). */
function tokenExpiry(token: string): string | null {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null;
  } catch {
    return null;
  }
}

/**
 * Who is signed in: the token (kept in localStorage so a wall display survives a reload), the user
 * it belongs to, and the deployment config that comes with a session.
 */
export const useSessionStore = defineStore('session', () => {
  const stored = readStored();
  const token = ref<string | null>(stored?.token ?? null);
  const expiresAt = ref<string | null>(stored?.expiresAt ?? null);
  const user = shallowRef<UserDto | null>(null);
  const config = shallowRef<ClientConfig | null>(null);
  const signOutReason = ref<SignOutReason>(null);
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let configRequest: Promise<ClientConfig> | null = null;

  const signedIn = computed(() => token.value !== null && user.value !== null);

  function scheduleExpiry(): void {
    clearTimeout(expiryTimer);
    if (!expiresAt.value) return;
    // setTimeout overflows past ~24.8 days and a wall session's token lives weeks: wake up at most
    // that late, and sign out only once the expiry has really come.
    const left = Date.parse(expiresAt.value) - Date.now();
    expiryTimer = setTimeout(() => (left > 2 ** 31 - 1 ? scheduleExpiry() : logout('expired')), Math.max(0, Math.min(left, 2 ** 31 - 1)));
  }

  /**
   * Takes a wall display session's token (the wall opened once with /wall?session=…): kept like a
   * sign-in's, so the wall comes back by itself after a reload, a server restart or a network drop.
   * Returns false for a token that is not one (unreadable or already expired).
   */
  function adopt(wallToken: string): boolean {
    const expiry = tokenExpiry(wallToken);
    if (!expiry || Date.parse(expiry) <= Date.now()) return false;
    token.value = wallToken;
    expiresAt.value = expiry;
    user.value = null;
    signOutReason.value = null;
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: wallToken, expiresAt: expiry } satisfies StoredSession));
    return true;
  }

  async function login(username: string, password: string): Promise<UserDto> {
    const result = await api.login({ username, password });
    token.value = result.token;
    expiresAt.value = result.expiresAt;
    user.value = result.user;
    signOutReason.value = null;
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: result.token, expiresAt: result.expiresAt, user: result.user } satisfies StoredSession));
    scheduleExpiry();
    return result.user;
  }

  /** Loads the user behind a stored token (after a reload). Resolves false when there is none. */
  async function restore(): Promise<boolean> {
    if (!token.value) return false;
    if (user.value) return true;
    try {
      user.value = await api.me();
      scheduleExpiry();
      return true;
    } catch (error) {
      // An auth failure already signed out (onAuthFailure); a network error keeps the token so the
      // wall recovers by itself once the server is back.
      if ((error as ApiRequestError).isAuthFailure) return false;
      // No network at all: a grid worker's phone app opens offline as the user last seen with this
      // token (the server checks the token again with every request once the network is back).
      // The dashboards keep waiting for the server instead.
      const known = readStored();
      if ((error as ApiRequestError).status === 0 && known?.token === token.value && known.user?.role === 'worker') {
        user.value = known.user;
        scheduleExpiry();
        return true;
      }
      throw error;
    }
  }

  function logout(reason: SignOutReason = null): void {
    clearTimeout(expiryTimer);
    token.value = null;
    expiresAt.value = null;
    user.value = null;
    config.value = null;
    configRequest = null;
    signOutReason.value = reason;
    localStorage.removeItem(STORAGE_KEY);
  }

  /** Deployment settings (basemap, tick interval), fetched once per session. */
  function loadConfig(): Promise<ClientConfig> {
    if (config.value) return Promise.resolve(config.value);
    configRequest ??= api.config().then(
      (c) => (config.value = c),
      (error: unknown) => {
        configRequest = null;
        throw error;
      },
    );
    return configRequest;
  }

  configureApi({
    token: () => token.value,
    // Any 401: the token is no good any more. Only the first of a burst of failing requests counts.
    onAuthFailure: (error) => {
      if (token.value) logout(signOutReasonFor(error.code));
    },
  });

  return { token, expiresAt, user, config, signOutReason, signedIn, login, adopt, restore, logout, loadConfig };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useSessionStore, import.meta.hot));
