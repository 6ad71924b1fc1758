import type { FastifyBaseLogger } from 'fastify';
import { PeriodicJob } from '../../platform/jobs';
import type { DispatchService } from './service';

/** How often unanswered offers are looked for, ms: a few seconds late on a minutes-long timeout. */
export const OFFER_SWEEP_MS = 5_000;

/**
 * Re-offers tickets whose offer went unanswered: the offer is closed as expired and the ticket goes
 * to the next nearest free worker, or the dispatcher hears nobody is left. Each pass returns the
 * tickets re-offered.
 */
export function dispatchOfferJob(service: DispatchService, log: FastifyBaseLogger, intervalMs = OFFER_SWEEP_MS): PeriodicJob<number[]> {
  return new PeriodicJob('dispatch offer sweep', () => service.expireOffers(), log, intervalMs);
}
