/**
 * Notices (信息发布) as the dashboard sees them: on a desk, the notices issued in its jurisdiction
 * with live receipt counts and the selected one's unread list and replies; on a worker's phone, the
 * inbox (unread first). Kept live by the socket (client/realtime.ts routes `notice.published` and
 * `notice.receipts` here). A worker's phone counts as delivered when it fetches its inbox, which
 * it does as each notice arrives.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef, watch } from 'vue';
import type {
  CreatedNotice,
  CreateNoticeBody,
  NoticeCounts,
  NoticeDetail,
  NoticeList,
  NoticePublished,
  NoticeRecipientCount,
  NoticeReminded,
  NoticeSummary,
  NoticeTarget,
} from '@shared/notices-api';
import { request } from '@client/api';
import { useSessionStore } from '@client/stores/session';

export const noticesApi = {
  list: () => request<NoticeList>('/api/notices', { query: { limit: 100 } }),
  detail: (id: number) => request<NoticeDetail>(`/api/notices/${id}`),
  create: (body: CreateNoticeBody) => request<CreatedNotice>('/api/notices', { method: 'POST', body }),
  /** How many a target would reach (nothing is sent). */
  recipients: (target: NoticeTarget) => request<NoticeRecipientCount>('/api/notices/recipients', { method: 'POST', body: { target } }),
  read: (id: number) => request<NoticeSummary>(`/api/notices/${id}/read`, { method: 'POST' }),
  reply: (id: number, body: string) => request<NoticeSummary>(`/api/notices/${id}/reply`, { method: 'POST', body: { body } }),
  remind: (id: number) => request<NoticeReminded>(`/api/notices/${id}/remind`, { method: 'POST' }),
};

/** Share of the recipients in percent, one decimal, rounded down (100 only when all, 0 only when none). */
export function percent(part: number, whole: number): number {
  if (whole <= 0 || part <= 0) return 0;
  return Math.max(0.1, Math.floor((part * 1000) / whole) / 10);
}

let audio: AudioContext | null = null;

/**
 * An urgent notice on the phone: three short tones (Web Audio, no file to load) and a vibration.
 * Browsers allow sound only after the page was touched once; a phone's user has signed in, so it
 * has been.
 */
export function ringUrgent(): void {
  try {
    navigator.vibrate?.([300, 120, 300, 120, 300]);
  } catch {
    // Not every browser vibrates.
  }
  try {
    const Ctor = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctor) return;
    audio ??= new Ctor();
    void audio.resume();
    const t0 = audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t0 + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.3, t0 + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.3 + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0 + i * 0.3);
      osc.stop(t0 + i * 0.3 + 0.22);
    }
  } catch {
    // No sound is better than a broken inbox.
  }
}

export const useNoticesStore = defineStore('notices', () => {
  const session = useSessionStore();
  const byId = shallowRef(new Map<number, NoticeSummary>());
  const loaded = ref(false);
  const selectedId = ref<number | null>(null);
  const detail = ref<NoticeDetail | null>(null);
  /** Urgent notices that arrived on this phone and are not read yet (for the banner). */
  const rang = ref(0);

  const isWorker = computed(() => session.user?.role === 'worker');

  /** Newest first (desk); on a phone unread first, urgent first among them, then newest. */
  const list = computed(() => {
    const all = [...byId.value.values()];
    if (!isWorker.value) return all.sort((a, b) => b.id - a.id);
    const unread = (n: NoticeSummary) => (n.receipt?.readAt ? 1 : 0);
    const urgent = (n: NoticeSummary) => (n.urgency === 'urgent' ? 0 : 1);
    return all.sort((a, b) => unread(a) - unread(b) || urgent(a) - urgent(b) || b.id - a.id);
  });
  const unreadCount = computed(() => [...byId.value.values()].filter((n) => n.receipt && !n.receipt.readAt).length);
  const selected = computed(() => (selectedId.value == null ? null : (byId.value.get(selectedId.value) ?? null)));

  function upsert(n: NoticeSummary): void {
    byId.value.set(n.id, n);
    triggerRef(byId);
  }

  async function load(): Promise<void> {
    const res = await noticesApi.list();
    byId.value = new Map(res.items.map((n) => [n.id, n]));
    loaded.value = true;
  }

  async function refreshDetail(): Promise<void> {
    const id = selectedId.value;
    if (id == null) return;
    const d = await noticesApi.detail(id);
    if (selectedId.value !== id) return;
    detail.value = d;
    const { unread: _u, replies: _r, ...summary } = d;
    upsert(summary);
  }

  async function select(id: number | null): Promise<void> {
    selectedId.value = id;
    detail.value = null;
    if (id != null) await refreshDetail();
  }

  async function send(body: CreateNoticeBody): Promise<CreatedNotice> {
    const created = await noticesApi.create(body);
    await load();
    await select(created.id);
    return created;
  }

  async function remind(id: number): Promise<number> {
    const { reminded } = await noticesApi.remind(id);
    if (selectedId.value === id) await refreshDetail();
    return reminded;
  }

  /** The worker opened a notice: their receipt says read (once; reading again changes nothing). */
  async function read(id: number): Promise<void> {
    const n = byId.value.get(id);
    if (n?.receipt?.readAt) return;
    upsert(await noticesApi.read(id));
  }

  async function reply(id: number, body: string): Promise<void> {
    upsert(await noticesApi.reply(id, body));
  }

  // --- live events ---------------------------------------------------------------------------

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** A notice for this phone (or a reminder): show it, fetch the inbox (which marks it delivered), ring if urgent. */
  function onPublished(n: NoticePublished): void {
    const { reminder: _r, ...summary } = n;
    const known = byId.value.get(n.id);
    if (!known) upsert(summary);
    if (n.urgency === 'urgent' || n.reminder) {
      ringUrgent();
      rang.value++;
    }
    void load().catch(() => {});
  }

  /** Receipts of a notice changed: new counts now; the unread list of the open one shortly after. */
  function onReceipts(c: NoticeCounts): void {
    const n = byId.value.get(c.id);
    if (n) upsert({ ...n, ...c });
    if (detail.value?.id === c.id) {
      detail.value = { ...detail.value, ...c };
      // Bursts of reads refresh the list of who has not read at most once a second.
      refreshTimer ??= setTimeout(() => {
        refreshTimer = undefined;
        void refreshDetail().catch(() => {});
      }, 1000);
    }
  }

  /** After a (re)connection: events may have been missed while the link was down. */
  async function resync(): Promise<void> {
    if (!loaded.value) return;
    await load();
    await refreshDetail();
  }

  function reset(): void {
    byId.value = new Map();
    loaded.value = false;
    selectedId.value = null;
    detail.value = null;
    rang.value = 0;
  }

  // Another sign-in (or a sign-out): nothing of the previous account's notices may linger.
  watch(() => session.token, reset);

  return { byId, loaded, list, unreadCount, selectedId, selected, detail, rang, load, select, send, remind, read, reply, onPublished, onReceipts, resync, reset };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useNoticesStore, import.meta.hot));
