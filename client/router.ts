import { createRouter, createWebHistory, type RouteLocationRaw } from 'vue-router';
import type { UserRole } from '@shared/domain';
import { useSessionStore } from '@client/stores/session';

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean;
    /** Roles allowed; others are sent to their own home page. */
    roles?: readonly UserRole[];
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('@client/pages/LoginPage.vue'), meta: { public: true } },
    {
      path: '/wall',
      name: 'wall',
      component: () => import('@client/pages/WallPage.vue'),
      meta: { roles: ['admin', 'leader', 'operator'] },
    },
    {
      path: '/dispatch',
      name: 'dispatch',
      component: () => import('@client/pages/DispatchPage.vue'),
      meta: { roles: ['admin', 'leader', 'operator', 'dispatcher'] },
    },
    {
      // The leader's screen: live KPIs with drill-down, assessment and exports (issue 12).
      path: '/command',
      name: 'command',
      component: () => import('@client/pages/CommandPage.vue'),
      meta: { roles: ['admin', 'leader'] },
    },
    {
      path: '/replay',
      name: 'replay',
      component: () => import('@client/components/replay/ReplayPage.vue'),
      meta: { roles: ['admin', 'leader', 'operator', 'dispatcher'] },
    },
    {
      path: '/cameras',
      name: 'cameras',
      component: () => import('@client/components/camera/CameraWallPage.vue'),
      meta: { roles: ['admin', 'leader', 'operator', 'dispatcher'] },
    },
    { path: '/field', name: 'field', component: () => import('@client/pages/FieldPage.vue'), meta: { roles: ['worker'] } },
    { path: '/', name: 'home', redirect: () => useSessionStore().user?.home ?? '/login' },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
});

router.beforeEach(async (to): Promise<RouteLocationRaw | true> => {
  const session = useSessionStore();
  // A wall opened with a wall display session (/wall?session=…): keep the token, drop it from the
  // address (it must not linger in the history or on the screen).
  if (typeof to.query.session === 'string') {
    const { session: wallToken, ...query } = to.query;
    if (session.adopt(wallToken as string)) return { path: to.path, query, hash: to.hash, replace: true };
    return { name: 'login', query: {} };
  }
  if (to.meta.public) {
    // Someone already signed in who opens /login goes to their own page instead.
    if (to.name === 'login' && session.token && (await restoreQuietly())) return session.user!.home;
    return true;
  }
  if (!session.token) return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } };
  if (!(await restoreQuietly())) return { name: 'login', query: { redirect: to.fullPath } };
  const user = session.user!;
  if (to.meta.roles && !to.meta.roles.includes(user.role)) return user.home;
  return true;
});

/**
 * Loads the user behind a stored token. A server that is down must not throw the wall back to the
 * login page (it would then sit there after the server returns): keep retrying instead.
 */
async function restoreQuietly(): Promise<boolean> {
  const session = useSessionStore();
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.restore();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 * 2 ** attempt)));
      if (!session.token) return false;
    }
  }
}
