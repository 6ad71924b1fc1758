/**
 * The wall's view of tickets: a heatmap of where they came from and the counters, over a window
 * that ends now (by the app's clock). Both go through the caller's jurisdiction.
 */
import type { App } from '../../app';
import { ErrorResponse } from '@shared/api';
import { TicketHeat, TicketHeatQuery, TicketStats, TicketStatsQuery, type TicketWindow } from '@shared/tickets-api';
import { AppError } from '../../platform/errors';
import * as repo from './repository';
import { heatCells, statCounts } from './stats-repository';
import { shanghaiMidnight } from '@shared/shanghai-time';

const DAY_MS = 86_400_000;

/**
 * The bounds of a window ending at `now`: 'today' from the last midnight in Asia/Shanghai, '7d' and
 * '30d' from exactly 7 or 30 days before. Both bounds inclusive: a ticket received at this very
 * millisecond counts.
 */
export function windowBounds(window: TicketWindow, now: number): { from: number; to: number } {
  switch (window) {
    case 'today':
      return { from: shanghaiMidnight(now), to: now };
    case '7d':
      return { from: now - 7 * DAY_MS, to: now };
    case '30d':
      return { from: now - 30 * DAY_MS, to: now };
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse };

export async function ticketStatsRoutes(app: App): Promise<void> {
  app.get(
    '/api/tickets/heat',
    {
      schema: {
        tags: ['tickets'],
        summary: 'Where tickets came from: those received in the window (today since midnight Asia/Shanghai, 7d, 30d) inside the caller’s jurisdiction, binned to ~50 m cells, columnar (lon, lat, weight per cell)',
        querystring: TicketHeatQuery,
        response: { 200: TicketHeat, ...errors },
      },
    },
    async (request): Promise<TicketHeat> => {
      const { window, category } = request.query;
      if (category !== undefined && !(await repo.findCategory(app.db, category))) {
        throw new AppError('TICKET_CATEGORY_UNKNOWN', `There is no category "${category}".`);
      }
      const { from, to } = windowBounds(window, app.clock.now());
      const cells = await heatCells(app.db, request.principal.scope, from, to, category);
      return {
        window,
        category: category ?? null,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        ...cells,
      };
    },
  );

  app.get(
    '/api/tickets/stats',
    {
      schema: {
        tags: ['tickets'],
        summary: 'The wall’s counters for tickets in the caller’s jurisdiction over a window (default today since midnight Asia/Shanghai): received by class and status, open, overdue now, closed and closed on time (按期结案率)',
        querystring: TicketStatsQuery,
        response: { 200: TicketStats, ...errors },
      },
    },
    async (request): Promise<TicketStats> => {
      const window = request.query.window ?? 'today';
      const { from, to } = windowBounds(window, app.clock.now());
      const c = await statCounts(app.db, request.principal.scope, from, to);
      return {
        window,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        total: c.total,
        byCategory: c.byClass,
        byStatus: c.byStatus,
        open: c.open,
        overdueNow: c.overdueNow,
        closed: c.closed,
        closedOnTime: c.closedOnTime,
        onTimeRate: c.closed > 0 ? c.closedOnTime / c.closed : null,
      };
    },
  );
}
