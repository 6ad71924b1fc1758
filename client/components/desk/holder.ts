/**
 * Who holds the selected ticket, for the desk: the worker it was sent to, since when (offered,
 * accepted, started, from the timeline), when an unanswered offer goes to the next worker, and
 * where the worker is now (the live positions the socket keeps in the workers store).
 */
import { computed, type Ref } from 'vue';
import type { TicketDetail, TicketSummary } from '@shared/tickets-api';
import { WORKER_FLAGS } from '@shared/realtime';
import type { WorkerRole } from '@shared/domain';
import { geodesicDistanceM } from '@shared/dispatch';
import { useWorkersStore } from '@client/stores/workers';

/** Statuses in which a worker holds the ticket. */
export const HELD_STATUSES = ['dispatched', 'accepted', 'in_progress'] as const;
export type HeldStatus = (typeof HELD_STATUSES)[number];

export interface Holder {
  workerId: number;
  name: string;
  role: WorkerRole | null;
  phone: string | null;
  status: HeldStatus;
  /** When the current offer went out, accepted, started (ms), from the timeline; null if not (yet) known. */
  offeredAt: number | null;
  acceptedAt: number | null;
  startedAt: number | null;
  /** When an unanswered offer goes to the next worker, ms; null: never, or already answered. */
  offerExpiresAt: number | null;
}

export interface HolderPosition {
  lon: number;
  lat: number;
  /** Time of the fix, ms. */
  fixAt: number;
  online: boolean;
  /** Ground distance to the ticket, m. */
  distanceM: number;
}

const isHeld = (s: string): s is HeldStatus => (HELD_STATUSES as readonly string[]).includes(s);

export function useHolder(ticket: Ref<TicketSummary | null>, detail: Ref<TicketDetail | null>) {
  const workers = useWorkersStore();

  const holder = computed<Holder | null>(() => {
    const t = ticket.value;
    if (!t || !t.assignedWorker || !isHeld(t.status)) return null;
    const d = detail.value?.id === t.id ? detail.value : null;
    const timeline = d?.timeline ?? [];
    // The latest offer (dispatch or reassignment) to this worker, and what followed it.
    let from = -1;
    for (let i = timeline.length - 1; i >= 0; i--) {
      if (timeline[i]!.kind === 'dispatched' || timeline[i]!.kind === 'reassigned') {
        from = i;
        break;
      }
    }
    const after = from >= 0 ? timeline.slice(from + 1) : [];
    const at = (kind: string): number | null => {
      const e = after.find((x) => x.kind === kind);
      return e ? Date.parse(e.at) : null;
    };
    const offerDetail = (from >= 0 ? timeline[from]!.detail : null) as { offerExpiresAt?: string | null } | null;
    const w = workers.roster.get(t.assignedWorker.id);
    return {
      workerId: t.assignedWorker.id,
      name: t.assignedWorker.name,
      role: w?.role ?? null,
      phone: w?.phone ?? null,
      status: t.status,
      offeredAt: from >= 0 ? Date.parse(timeline[from]!.at) : null,
      acceptedAt: at('accepted'),
      startedAt: at('started'),
      offerExpiresAt: t.status === 'dispatched' && offerDetail?.offerExpiresAt ? Date.parse(offerDetail.offerExpiresAt) : null,
    };
  });

  /** The holder's newest position (moves with every frame the socket brings). */
  const position = computed<HolderPosition | null>(() => {
    const h = holder.value;
    const t = ticket.value;
    if (!h || !t) return null;
    const live = workers.live;
    const i = live.index.get(h.workerId);
    if (i === undefined || i >= live.n) return null;
    const lon = live.lonLat[2 * i]!;
    const lat = live.lonLat[2 * i + 1]!;
    return {
      lon,
      lat,
      fixAt: live.time[i]! * 1000,
      online: (live.flags[i]! & WORKER_FLAGS.ONLINE) !== 0,
      distanceM: geodesicDistanceM(t.location.lon, t.location.lat, lon, lat),
    };
  });

  return { holder, position };
}
