/**
 * The worker's phone: on duty or not, the outbox (待发送) and its sender, and the worker's own SOS.
 *
 * Everything the phone sends goes into the outbox (IndexedDB) first and is sent from there, in
 * the order it was made (an SOS first of all): at once when online, again when the network returns
 * (the `online` event) and with a growing pause (2 s … 60 s) after a failure. An entry leaves the
 * outbox only once the server has it; one the server refuses for good stays, marked, until the
 * worker discards it. Sending again after a lost answer is harmless: positions are keyed by their
 * time, reports and SOS by their client id, a photo is checked against the ticket before it is
 * sent a second time.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef, watch } from 'vue';
import { APP_FIXES_MAX, type AppFix, type AppFixesReply } from '@shared/field';
import type { CreateTicketBody, TicketDetail, TicketSummary, TransitionBody } from '@shared/tickets-api';
import type { AlarmSummary } from '@shared/alarms-api';
import { ApiRequestError, request } from '@client/api';
import { useTicketsStore } from '@client/stores/tickets';
import { useAlarmsStore } from '@client/stores/alarms';
import { useConnectionStore } from '@client/stores/connection';
import * as outbox from './outbox';
import type { OutboxEntry } from './outbox';
import { createTracker, type PhoneFix } from './tracker';
import { armSound } from './ring';

const DUTY_KEY = 'gridline.field.onDuty';
const ALARM_KEY = 'gridline.field.alarm';
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/** Even with no event, look at the outbox this often. */
const SWEEP_MS = 30_000;

type Verdict = 'done' | 'retry' | 'stop';

const OPEN = new Set(['raised', 'acknowledged']);
const RANK: Record<AlarmSummary['status'], number> = { raised: 0, acknowledged: 1, resolved: 2, false_alarm: 2 };

/** What to do after a failed request: try again later, stop (signed out), or give this entry up. */
function classify(error: unknown): 'retry' | 'stop' | 'fail' {
  if (!(error instanceof ApiRequestError)) return 'retry';
  if (error.status === 401) return 'stop';
  if (error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500) return 'retry';
  return 'fail';
}

export const useFieldStore = defineStore('field', () => {
  const userId = ref<number | null>(null);
  const workerId = ref<number | null>(null);
  /** The outbox in memory, mirrored in IndexedDB (oldest first). */
  const entries = shallowRef<OutboxEntry[]>([]);
  const loaded = ref(false);
  const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
  const sending = ref(false);
  const nextRetryAt = ref<number | null>(null);
  /** The last thing that went out, for the phone's "已发送" line. */
  /** What went out last: a report carries its ticket number and client id (the form that made it shows the number). */
  const lastSent = ref<{ at: number; kind: OutboxEntry['kind']; number: string | null; clientId?: string } | null>(null);
  const onDuty = ref(false);
  /** The worker's open (or just closed) SOS, as the server last told it. */
  const alarm = shallowRef<AlarmSummary | null>(null);

  const tracker = createTracker((fix) => void queueFix(fix));

  const pending = computed(() => entries.value.filter((e) => e.state === 'pending'));
  const failed = computed(() => entries.value.filter((e) => e.state === 'failed'));
  /** An SOS pressed but not yet taken by the server. */
  const sosQueued = computed(() => pending.value.some((e) => e.kind === 'sos'));

  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  let flushing: Promise<void> | null = null;
  let again = false;

  const onOnline = () => {
    online.value = true;
    failures = 0;
    void flush();
  };
  const onOffline = () => {
    online.value = false;
  };

  // -------------------------------------------------------------------------------------------
  // Start and stop

  /** For the signed-in worker: read back the outbox (it survives the app being closed), resume duty, send. */
  async function start(user: { id: number; workerId: number | null }): Promise<void> {
    if (userId.value === user.id && loaded.value) return;
    stop();
    userId.value = user.id;
    workerId.value = user.workerId;
    entries.value = await outbox.list(user.id);
    loaded.value = true;
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    online.value = navigator.onLine;
    sweepTimer = setInterval(() => void flush(), SWEEP_MS);
    const stored = readAlarm();
    if (stored) alarm.value = stored;
    if (localStorage.getItem(`${DUTY_KEY}.${user.id}`) === '1' && user.workerId != null) {
      onDuty.value = true;
      tracker.start();
    }
    void flush();
    void refreshAlarm();
  }

  function stop(): void {
    tracker.stop();
    onDuty.value = false;
    window.removeEventListener('online', onOnline);
    window.removeEventListener('offline', onOffline);
    clearInterval(sweepTimer);
    clearTimeout(retryTimer);
    userId.value = null;
    workerId.value = null;
    entries.value = [];
    loaded.value = false;
    alarm.value = null;
  }

  // -------------------------------------------------------------------------------------------
  // Duty

  /** 上班: share the position (call from the button's click: it also arms the task ring). */
  function goOnDuty(): void {
    if (userId.value == null || workerId.value == null) return;
    armSound();
    onDuty.value = true;
    localStorage.setItem(`${DUTY_KEY}.${userId.value}`, '1');
    tracker.start();
  }

  /** 下班: stop sharing (positions already taken stay queued until sent). */
  function goOffDuty(): void {
    onDuty.value = false;
    if (userId.value != null) localStorage.removeItem(`${DUTY_KEY}.${userId.value}`);
    tracker.stop();
  }

  // -------------------------------------------------------------------------------------------
  // Queueing

  async function add(entry: OutboxEntry): Promise<void> {
    entry.seq = await outbox.put(entry);
    entries.value = [...entries.value, entry];
    void flush();
  }

  const base = () => ({ userId: userId.value!, createdAt: Date.now(), attempts: 0, lastError: null, state: 'pending' as const });

  async function queueFix(fix: PhoneFix): Promise<void> {
    if (userId.value == null) return;
    const body: AppFix = {
      time: new Date(fix.time).toISOString(),
      lat: fix.lat,
      lon: fix.lon,
      accuracy: Math.round(fix.accuracy * 10) / 10,
      ...(fix.speed != null ? { speed: fix.speed } : {}),
      ...(fix.heading != null ? { heading: fix.heading } : {}),
      clientId: outbox.clientId('fix'),
    };
    await add({ ...base(), kind: 'fix', fix: body });
  }

  /**
   * Now by the server's clock, as far as the phone knows it (the offset from the last session.ready):
   * a phone's own clock may run minutes off, and the server refuses a report or an alarm dated more
   * than a minute into its future.
   */
  function serverNow(): number {
    return Date.now() + useConnectionStore().clockOffset;
  }

  /** 上报: filed now (its time is now, whenever it reaches the server). */
  async function queueReport(report: Omit<CreateTicketBody, 'clientId' | 'reportedAt'>, photos: Blob[]): Promise<string> {
    const now = serverNow();
    const clientId = outbox.clientId('report');
    await add({
      ...base(),
      kind: 'report',
      body: { ...report, clientId, reportedAt: new Date(now).toISOString() },
      photos,
      ticketId: null,
      ticketNumber: null,
      photosSent: 0,
      photoInDoubt: false,
    });
    return clientId;
  }

  async function queueTask(ticket: { id: number; number: string }, body: TransitionBody): Promise<void> {
    await add({ ...base(), kind: 'task', ticketId: ticket.id, ticketNumber: ticket.number, body });
  }

  /** SOS: sent at once with the position (queued if offline). */
  async function raiseSos(at: { lon: number; lat: number; accuracy?: number | undefined }): Promise<void> {
    const now = serverNow();
    await add({
      ...base(),
      kind: 'sos',
      body: {
        kind: 'sos',
        lon: at.lon,
        lat: at.lat,
        ...(at.accuracy != null ? { accuracy: Math.round(at.accuracy) } : {}),
        time: new Date(now).toISOString(),
        clientId: outbox.clientId('sos'),
      },
    });
  }

  async function cancelSos(note: string): Promise<void> {
    const id = alarm.value?.id;
    if (id == null) return;
    await add({ ...base(), kind: 'sos-cancel', alarmId: id, note });
  }

  /** The worker gives up an entry the server refused. */
  async function discard(entry: OutboxEntry): Promise<void> {
    if (entry.seq == null) return;
    await outbox.remove([entry.seq]);
    entries.value = entries.value.filter((e) => e !== entry);
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  async function drop(done: OutboxEntry[]): Promise<void> {
    await outbox.remove(done.map((e) => e.seq!));
    const gone = new Set(done);
    entries.value = entries.value.filter((e) => !gone.has(e));
  }

  async function save(entry: OutboxEntry): Promise<void> {
    await outbox.put(entry);
    triggerRef(entries);
  }

  async function giveUp(entry: OutboxEntry, error: unknown): Promise<void> {
    entry.state = 'failed';
    entry.lastError = error instanceof Error ? error.message : String(error);
    await save(entry);
  }

  async function sendFixes(head: OutboxEntry & { kind: 'fix' }, queue: OutboxEntry[]): Promise<Verdict> {
    // The fixes made one after another go together.
    const batch: (OutboxEntry & { kind: 'fix' })[] = [];
    for (const e of queue.slice(queue.indexOf(head))) {
      if (e.kind !== 'fix' || batch.length >= APP_FIXES_MAX) break;
      batch.push(e);
    }
    const reply = await request<AppFixesReply>('/api/positions', { method: 'POST', body: { fixes: batch.map((e) => e.fix) } });
    // Stored, already stored or refused for good: out of the outbox. Not stored now: again later.
    const later = new Set(reply.results.filter((r) => r.code === 'SERVICE_UNAVAILABLE').map((r) => r.index));
    await drop(batch.filter((_, i) => !later.has(i)));
    if (later.size) return 'retry';
    lastSent.value = { at: Date.now(), kind: 'fix', number: null };
    return 'done';
  }

  async function sendReport(e: OutboxEntry & { kind: 'report' }): Promise<Verdict> {
    if (e.ticketId == null) {
      const ticket = await request<TicketSummary>('/api/tickets', { method: 'POST', body: e.body });
      e.ticketId = ticket.id;
      e.ticketNumber = ticket.number;
      await save(e);
    }
    while (e.photosSent < e.photos.length) {
      if (e.photoInDoubt) {
        // The last upload's answer never came: the ticket says whether it arrived.
        const detail = await request<TicketDetail>(`/api/tickets/${e.ticketId}`);
        if (detail.photos.length > e.photosSent) {
          e.photosSent++;
          e.photoInDoubt = false;
          await save(e);
          continue;
        }
      }
      const photo = e.photos[e.photosSent]!;
      e.photoInDoubt = true;
      await save(e);
      try {
        await request(`/api/tickets/${e.ticketId}/photos`, { method: 'POST', raw: photo.type ? photo : photo.slice(0, photo.size, 'image/jpeg') });
      } catch (error) {
        if (classify(error) !== 'fail') throw error;
        // This photo is refused for good (not an image, too large): the rest still go.
        e.lastError = (error as Error).message;
      }
      e.photosSent++;
      e.photoInDoubt = false;
      await save(e);
    }
    await drop([e]);
    lastSent.value = { at: Date.now(), kind: 'report', number: e.ticketNumber, clientId: e.body.clientId };
    return 'done';
  }

  async function sendOne(head: OutboxEntry, queue: OutboxEntry[]): Promise<Verdict> {
    switch (head.kind) {
      case 'fix':
        return sendFixes(head, queue);
      case 'report':
        return sendReport(head);
      case 'task':
        await useTicketsStore().act(head.ticketId, head.body);
        await drop([head]);
        return 'done';
      case 'sos': {
        const raised = await request<AlarmSummary>('/api/alarms', { method: 'POST', body: head.body });
        setAlarm(raised);
        await drop([head]);
        return 'done';
      }
      case 'sos-cancel': {
        const updated = await request<AlarmSummary>(`/api/alarms/${head.alarmId}/transitions`, {
          method: 'POST',
          body: { action: 'false_alarm', note: head.note },
        });
        setAlarm(updated);
        await drop([head]);
        return 'done';
      }
    }
  }

  function scheduleRetry(): void {
    failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
    clearTimeout(retryTimer);
    nextRetryAt.value = Date.now() + delay;
    retryTimer = setTimeout(() => void flush(), delay);
  }

  async function drain(): Promise<void> {
    for (;;) {
      if (userId.value == null) return;
      if (!navigator.onLine) {
        // Nothing to try until the `online` event.
        online.value = false;
        return;
      }
      const queue = pending.value;
      if (queue.length === 0) {
        failures = 0;
        return;
      }
      // An SOS goes before everything else; the rest in the order it was made.
      const head = queue.find((e) => e.kind === 'sos') ?? queue[0]!;
      head.attempts++;
      let verdict: Verdict;
      try {
        verdict = await sendOne(head, queue);
      } catch (error) {
        const what = classify(error);
        if (what === 'fail') {
          await giveUp(head, error);
          continue;
        }
        head.lastError = (error as Error).message;
        triggerRef(entries);
        verdict = what;
      }
      if (verdict === 'retry') {
        scheduleRetry();
        return;
      }
      if (verdict === 'stop') return;
      failures = 0;
      nextRetryAt.value = null;
    }
  }

  /** Sends what is pending; a call while sending runs the loop once more afterwards. */
  function flush(): Promise<void> {
    if (flushing) {
      again = true;
      return flushing;
    }
    clearTimeout(retryTimer);
    sending.value = true;
    flushing = (async () => {
      try {
        do {
          again = false;
          await drain();
        } while (again && nextRetryAt.value === null);
      } finally {
        sending.value = false;
        flushing = null;
      }
    })();
    return flushing;
  }

  // -------------------------------------------------------------------------------------------
  // The worker's SOS

  function readAlarm(): AlarmSummary | null {
    try {
      const a = JSON.parse(localStorage.getItem(`${ALARM_KEY}.${userId.value}`) ?? 'null') as AlarmSummary | null;
      return a && typeof a.id === 'number' ? a : null;
    } catch {
      return null;
    }
  }

  function setAlarm(a: AlarmSummary | null): void {
    alarm.value = a;
    if (userId.value == null) return;
    if (a) localStorage.setItem(`${ALARM_KEY}.${userId.value}`, JSON.stringify(a));
    else localStorage.removeItem(`${ALARM_KEY}.${userId.value}`);
  }

  /** A newer state of the worker's own alarm (events and HTTP answers may cross: never go back). */
  function onAlarm(a: AlarmSummary): void {
    if (workerId.value == null || a.worker.id !== workerId.value) return;
    const known = alarm.value;
    if (known && known.id !== a.id && !OPEN.has(a.status)) return;
    if (known?.id === a.id && RANK[a.status] < RANK[known.status]) return;
    setAlarm(a);
  }

  // alarm.raised / alarm.updated reach the worker's own account too: the alarms store (which also
  // re-reads the open ones on every reconnect) holds them; the phone follows its own.
  const alarms = useAlarmsStore();
  watch([() => alarms.open, () => alarms.closed], ([open, closed]) => {
    for (const a of [...open, ...closed]) onAlarm(a);
  });

  /** After a (re)connection or on start: the newest state of the worker's alarm. */
  async function refreshAlarm(): Promise<void> {
    const id = alarm.value?.id;
    if (id == null || !navigator.onLine) return;
    try {
      setAlarm(await request<AlarmSummary>(`/api/alarms/${id}`));
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 404) setAlarm(null);
    }
  }

  /** The worker closes the card of a finished alarm. */
  function dismissAlarm(): void {
    if (alarm.value && (alarm.value.status === 'resolved' || alarm.value.status === 'false_alarm')) setAlarm(null);
  }

  return {
    entries,
    pending,
    failed,
    loaded,
    online,
    sending,
    nextRetryAt,
    lastSent,
    onDuty,
    alarm,
    sosQueued,
    trackerStatus: tracker.status,
    lastFix: tracker.last,
    start,
    stop,
    goOnDuty,
    goOffDuty,
    queueReport,
    queueTask,
    raiseSos,
    cancelSos,
    discard,
    flush,
    onAlarm,
    refreshAlarm,
    dismissAlarm,
  };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useFieldStore, import.meta.hot));
