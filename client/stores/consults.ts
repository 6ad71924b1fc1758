/**
 * Video consults (可视会商) as this screen knows them: the consults it takes part in or watches over
 * (kept live by `consult.invited` / `consult.updated`, re-read on every connect), the call ringing
 * on this phone, the call this screen is in, and whether video can be used at all (the media server
 * may not be installed: then the buttons say the one command that installs it).
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef } from 'vue';
import type { ConsultGrant, ConsultInvitee, ConsultList, ConsultSummary, InvitableDesk, InvitableDeskList, JoinConsultBody, VideoStatus } from '@shared/consults-api';
import { CONSULT_CALLER_ROLES, CONSULT_JOIN_UNINVITED_ROLES } from '@shared/consults-api';
import { request } from '@client/api';
import { useSessionStore } from '@client/stores/session';

export const consultsApi = {
  video: () => request<VideoStatus>('/api/consults/video'),
  invitable: () => request<InvitableDeskList>('/api/consults/invitable'),
  list: (status: 'active' | 'all' = 'active') => request<ConsultList>('/api/consults', { query: { status } }),
  create: (body: { invitees: ConsultInvitee[]; ticketId?: number; alarmId?: number }) => request<ConsultSummary>('/api/consults', { method: 'POST', body }),
  join: (id: number, body: JoinConsultBody = {}) => request<ConsultGrant>(`/api/consults/${id}/join`, { method: 'POST', body }),
  transition: (id: number, action: 'accept' | 'decline' | 'leave' | 'end') => request<ConsultSummary>(`/api/consults/${id}/transitions`, { method: 'POST', body: { action } }),
};

export const useConsultsStore = defineStore('consults', () => {
  const session = useSessionStore();
  const byId = shallowRef(new Map<number, ConsultSummary>());
  const video = ref<VideoStatus | null>(null);
  /** The call this screen is in (or watches): its id and how. */
  const inCall = ref<{ id: number; mode: 'talk' | 'watch' } | null>(null);
  /** Calls this screen put away (declined, or the wall's tile closed). */
  const dismissed = ref(new Set<number>());
  /** Consults that ended on this screen, with why (for the caller's "declined / no answer" notice). */
  const lastEnded = shallowRef<ConsultSummary | null>(null);
  /** The desks and leaders this desk may invite (loaded when the pick dialog opens). */
  const desks = shallowRef<InvitableDesk[]>([]);

  const me = computed(() => session.user?.id ?? null);
  const mayCall = computed(() => (CONSULT_CALLER_ROLES as readonly string[]).includes(session.user?.role ?? ''));
  const mayJoinUninvited = computed(() => (CONSULT_JOIN_UNINVITED_ROLES as readonly string[]).includes(session.user?.role ?? ''));
  const active = computed(() => [...byId.value.values()].filter((c) => c.status !== 'ended').sort((a, b) => b.id - a.id));
  /** The call ringing on this screen: I am invited and have not answered. */
  const ringing = computed(() =>
    active.value.find((c) => !dismissed.value.has(c.id) && c.participants.some((p) => p.userId === me.value && p.state === 'ringing')) ?? null,
  );
  const current = computed(() => (inCall.value ? (byId.value.get(inCall.value.id) ?? null) : null));
  const videoReady = computed(() => video.value?.status === 'ok');

  function upsert(c: ConsultSummary): void {
    // A phone sits in its grid's room too: it keeps only the consults it is part of.
    if (session.user?.role === 'worker' && !c.participants.some((p) => p.userId === me.value)) return;
    const map = byId.value;
    map.set(c.id, c);
    if (c.status === 'ended') {
      lastEnded.value = c;
      if (inCall.value?.id === c.id) inCall.value = null;
    }
    triggerRef(byId);
  }

  function onInvited(c: ConsultSummary): void {
    dismissed.value.delete(c.id);
    upsert(c);
  }

  async function resync(): Promise<void> {
    if (!session.user) return;
    const [list, status] = await Promise.all([consultsApi.list('active'), consultsApi.video().catch(() => null)]);
    const map = new Map<number, ConsultSummary>();
    for (const c of list.items) map.set(c.id, c);
    // Keep ended ones this screen already knew (their outcome is shown for a moment).
    for (const [id, c] of byId.value) if (c.status === 'ended' && !map.has(id)) map.set(id, c);
    byId.value = map;
    if (status) video.value = status;
  }

  async function loadVideo(): Promise<VideoStatus> {
    video.value = await consultsApi.video();
    return video.value;
  }

  async function loadDesks(): Promise<InvitableDesk[]> {
    desks.value = (await consultsApi.invitable()).items;
    return desks.value;
  }

  async function start(body: { invitees: ConsultInvitee[]; ticketId?: number; alarmId?: number }): Promise<ConsultSummary> {
    const c = await consultsApi.create(body);
    upsert(c);
    inCall.value = { id: c.id, mode: 'talk' };
    return c;
  }

  async function answer(id: number): Promise<void> {
    upsert(await consultsApi.transition(id, 'accept'));
    inCall.value = { id, mode: 'talk' };
  }

  async function decline(id: number): Promise<void> {
    dismissed.value.add(id);
    upsert(await consultsApi.transition(id, 'decline'));
  }

  function open(id: number, mode: 'talk' | 'watch'): void {
    inCall.value = { id, mode };
  }

  /** Leaves the call (the caller may end it for everyone instead). */
  async function hangUp(end = false): Promise<void> {
    const call = inCall.value;
    inCall.value = null;
    if (!call || call.mode === 'watch') return;
    try {
      upsert(await consultsApi.transition(call.id, end ? 'end' : 'leave'));
    } catch {
      // Already ended or left: nothing to undo.
    }
  }

  function reset(): void {
    byId.value = new Map();
    desks.value = [];
    inCall.value = null;
    dismissed.value = new Set();
  }

  return {
    byId, video, inCall, dismissed, lastEnded, desks, active, ringing, current, videoReady, mayCall, mayJoinUninvited,
    upsert, onInvited, resync, loadVideo, loadDesks, start, answer, decline, open, hangUp, reset,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useConsultsStore, import.meta.hot));
