import fp from 'fastify-plugin';
import type { App } from '../../app';
import { AppError } from '../../platform/errors';
import type { PeriodicJob } from '../../platform/jobs';
import { ErrorResponse } from '@shared/api';
import { haversineM } from '@shared/geo';
import { columnsToFixes, segmentRanges, simplifyRange, simplifyTrack, speedAt, splitSegments, toGpx, tripsAndStops, type FixColumns, type TripRules } from '@shared/tracks';
import {
  TRACK_MAX_WINDOW_DAYS, TRACK_ROLES, TrackCollection, TrackEventList, TrackEventsQuery, TrackQuery, TripsDay, TripsQuery, WorkerParams,
  type TrackFeature,
} from '@shared/tracks-api';
import { gridsAt, loadFixColumns, loadFixes, trackEvents, workerInScope, type TrackWorker } from './repository';
import { positionPartitionJob, type PartitionPass } from './partition-job';

declare module 'fastify' {
  interface FastifyInstance {
    /** Creates day partitions of worker_positions ahead and drops those past POSITION_RETENTION_DAYS. */
    positionPartitions: PeriodicJob<PartitionPass>;
  }
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
const DAY_MS = 86_400_000;

/** A window from two ISO times: to after from, at most 31 days. */
function window(from: string, to: string): { fromMs: number; toMs: number } {
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  if (!(toMs > fromMs)) throw new AppError('TRACK_WINDOW_INVALID', '`to` must come after `from`');
  if (toMs - fromMs > TRACK_MAX_WINDOW_DAYS * DAY_MS) {
    throw new AppError('TRACK_WINDOW_TOO_LONG', `A track window covers at most ${TRACK_MAX_WINDOW_DAYS} days`);
  }
  return { fromMs, toMs };
}

/**
 * The worker's track as GeoJSON: a LineString per continuous segment, simplified, times and speeds per
 * vertex. Works on columns and indices: a day is 8,640 fixes, and an object per fix (twice) was most
 * of the route's own time.
 */
export function trackCollection(
  worker: TrackWorker,
  c: FixColumns,
  opts: { fromMs: number; toMs: number; gapS: number; tolerance: number },
): TrackCollection {
  const features: TrackFeature[] = [];
  let vertices = 0;
  for (const [start, end] of segmentRanges(c.t, c.n, opts.gapS * 1000)) {
    const kept = simplifyRange(c.lon, c.lat, start, end, opts.tolerance);
    let distanceM = 0;
    for (let i = start + 1; i < end; i++) distanceM += haversineM(c.lon[i - 1]!, c.lat[i - 1]!, c.lon[i]!, c.lat[i]!);
    vertices += kept.length;
    features.push({
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: kept.map((i) => [c.lon[i]!, c.lat[i]!]) },
      properties: {
        workerId: worker.id,
        times: kept.map((i) => new Date(c.t[i]!).toISOString()),
        timestamps: kept.map((i) => c.t[i]!),
        // Speeds from the full segment (neighbours of dropped vertices still count).
        speeds: kept.map((i) => Math.round(speedAt(c, i, start, end) * 100) / 100),
        fixes: end - start,
        distanceM: Math.round(distanceM * 10) / 10,
      },
    });
  }
  return {
    type: 'FeatureCollection',
    features,
    properties: {
      workerId: worker.id,
      name: worker.name,
      from: new Date(opts.fromMs).toISOString(),
      to: new Date(opts.toMs).toISOString(),
      tolerance: opts.tolerance,
      fixes: c.n,
      vertices,
    },
  };
}

/**
 * Tracks and trips (轨迹): a worker's track over a window (GeoJSON, or a GPX / GeoJSON download),
 * their tickets' moments in it, trips and stops of a Shanghai day; and the job that keeps position
 * history partitioned and within its retention. Desks only, inside their jurisdiction (404 outside).
 */
export default fp(
  async function trackRoutes(app: App): Promise<void> {
    const job = positionPartitionJob(app.db, app.clock, app.config.positionRetentionDays, app.log);
    app.decorate('positionPartitions', job);
    app.addHook('onReady', async () => {
      // The first pass at start, so a fresh database has today's partition before the first hour passes.
      job.sweep().catch((err: unknown) => app.log.error({ err }, 'position partitions failed'));
      job.start();
    });
    app.addHook('onClose', async () => job.stop());

    const rules: TripRules = {
      minTripDistanceM: app.config.tripMinDistanceM,
      minTripDurationS: app.config.tripMinDurationS,
      minParkingDurationS: app.config.tripMinParkingS,
      maxNoDataS: app.config.tripMaxNoDataS,
      speedThresholdKn: app.config.tripSpeedThresholdKn,
      maxGapS: app.config.trackGapS,
    };

    const findWorker = async (scope: Parameters<typeof workerInScope>[1], id: number) => {
      const worker = await workerInScope(app.db, scope, id);
      if (!worker) throw new AppError('NOT_FOUND', 'No such worker in your jurisdiction');
      return worker;
    };

    app.get(
      '/api/workers/:id/track',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['tracks'],
          summary: 'A worker’s track over a window (≤ 31 days): a LineString per continuous segment (gaps over TRACK_GAP_S split it) with times and speeds per vertex, simplified to `tolerance` metres; format=gpx or geojson downloads it',
          params: WorkerParams,
          querystring: TrackQuery,
          response: { 200: TrackCollection, ...errors },
        },
      },
      async (request, reply) => {
        const { fromMs, toMs } = window(request.query.from, request.query.to);
        const worker = await findWorker(request.principal.scope, request.params.id);
        const columns = await loadFixColumns(app.db, worker.id, fromMs, toMs);
        const format = request.query.format ?? 'json';
        const stamp = new Date(fromMs).toISOString().slice(0, 10);
        if (format === 'gpx') {
          const segments = splitSegments(columnsToFixes(columns), app.config.trackGapS * 1000).map((s) => simplifyTrack(s, request.query.tolerance ?? 0));
          return reply
            .type('application/gpx+xml; charset=utf-8')
            .header('content-disposition', `attachment; filename="track-${worker.id}-${stamp}.gpx"`)
            .send(toGpx(`${worker.name} ${new Date(fromMs).toISOString()} – ${new Date(toMs).toISOString()}`, segments) as never);
        }
        const body = trackCollection(worker, columns, { fromMs, toMs, gapS: app.config.trackGapS, tolerance: request.query.tolerance ?? 0 });
        if (format === 'geojson') {
          void reply.type('application/geo+json; charset=utf-8')
            .header('content-disposition', `attachment; filename="track-${worker.id}-${stamp}.geojson"`);
        }
        return body;
      },
    );

    app.get(
      '/api/workers/:id/track/events',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['tracks'],
          summary: 'What happened inside a window (≤ 31 days) to tickets the worker reported or holds, with their locations: shown at their moments in a replay',
          params: WorkerParams,
          querystring: TrackEventsQuery,
          response: { 200: TrackEventList, ...errors },
        },
      },
      async (request) => {
        const { fromMs, toMs } = window(request.query.from, request.query.to);
        const worker = await findWorker(request.principal.scope, request.params.id);
        return trackEvents(app.db, worker.id, fromMs, toMs);
      },
    );

    app.get(
      '/api/workers/:id/trips',
      {
        config: { auth: TRACK_ROLES },
        schema: {
          tags: ['tracks'],
          summary: 'Trips and stops of a Shanghai day (Traccar’s rules: a trip ≥ 500 m or ≥ 300 s, a stop ≥ 300 s, no data for 3,600 s ends a trip): distance walked, time moving, stops with place and duration',
          params: WorkerParams,
          querystring: TripsQuery,
          response: { 200: TripsDay, ...errors },
        },
      },
      async (request) => {
        const fromMs = Date.parse(`${request.query.date}T00:00:00+08:00`);
        if (Number.isNaN(fromMs)) throw new AppError('VALIDATION_FAILED', 'No such date');
        const worker = await findWorker(request.principal.scope, request.params.id);
        const fixes = await loadFixes(app.db, worker.id, fromMs, fromMs + DAY_MS);
        const day = tripsAndStops(fixes, rules);
        const places = await gridsAt(app.db, [
          ...day.stops.map((s) => ({ lon: s.lon, lat: s.lat })),
          ...day.trips.flatMap((t) => [t.start, t.end]),
        ]);
        const place = (i: number, p: { lon: number; lat: number }) => ({
          lon: p.lon, lat: p.lat, gridCode: places[i]?.code ?? null, gridName: places[i]?.name ?? null,
        });
        const iso = (ms: number) => new Date(ms).toISOString();
        const k = day.stops.length;
        return {
          workerId: worker.id,
          date: request.query.date,
          fixes: fixes.length,
          distanceM: Math.round(day.distanceM * 10) / 10,
          movingS: day.movingS,
          stops: day.stops.map((s, i) => ({ start: iso(s.start), end: iso(s.end), durationS: s.durationS, place: place(i, s) })),
          trips: day.trips.map((t, i) => ({
            start: iso(t.start.time),
            end: iso(t.end.time),
            from: place(k + 2 * i, t.start),
            to: place(k + 2 * i + 1, t.end),
            distanceM: Math.round(t.distanceM * 10) / 10,
            durationS: t.durationS,
            movingS: t.movingS,
          })),
        };
      },
    );
  },
  { name: 'tracks' },
);
