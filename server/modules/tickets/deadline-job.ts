import type { FastifyBaseLogger } from 'fastify';
import { PeriodicJob } from '../../platform/jobs';
import type { TicketService } from './service';

/** How often overdue stages are looked for, ms. Escalation is a minutes-scale matter. */
export const DEADLINE_SWEEP_MS = 30_000;

/**
 * Escalates tickets whose running stage is past its deadline: a ticket not accepted, dispatched or
 * resolved in time goes one level up (grid → community → street → district centre → a department)
 * with a notice to that level. Each pass returns the ids escalated.
 */
export function ticketDeadlineJob(service: TicketService, log: FastifyBaseLogger, intervalMs = DEADLINE_SWEEP_MS): PeriodicJob<number[]> {
  return new PeriodicJob('ticket deadline sweep', () => service.escalateOverdue(), log, intervalMs);
}
