/**
 * The HTTP contract of tracks, trips and patrol coverage (轨迹巡查): TypeBox schemas with their
 * inferred types under the same name.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Id } from './api';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** A Shanghai calendar day. */
const Day = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', maxLength: 10, description: 'YYYY-MM-DD, a Shanghai calendar day' });

/** Who may look at tracks, trips and coverage: the desks (the wall and the dispatch desk). */
export const TRACK_ROLES = ['admin', 'leader', 'operator', 'dispatcher'] as const;

/** The longest window one track request may cover, days. */
export const TRACK_MAX_WINDOW_DAYS = 31;

export const WorkerParams = Type.Object({ id: Id() });
export type WorkerParams = Static<typeof WorkerParams>;

export const TrackQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time', maxLength: 40 }),
    to: Type.String({ format: 'date-time', maxLength: 40 }),
    /** Douglas–Peucker tolerance in metres; 0 keeps every fix. */
    tolerance: Type.Optional(Type.Number({ minimum: 0, maximum: 10_000 })),
    /** geojson (default) answers inline; gpx and geojson-file come as a download. */
    format: Type.Optional(Type.Enum(['json', 'geojson', 'gpx'])),
  },
  { additionalProperties: false },
);
export type TrackQuery = Static<typeof TrackQuery>;

/** One continuous stretch of a track (no gap over TRACK_GAP_S inside), vertices with their times and speeds. */
export const TrackFeature = Type.Object({
  type: Type.Literal('Feature'),
  geometry: Type.Object({
    type: Type.Literal('LineString'),
    coordinates: Type.Array(Type.Array(Type.Number())),
  }),
  properties: Type.Object({
    workerId: Type.Number(),
    /** ISO time of each vertex. */
    times: Type.Array(Type.String()),
    /** ms since epoch of each vertex (what a TripsLayer wants). */
    timestamps: Type.Array(Type.Number()),
    /** m/s at each vertex. */
    speeds: Type.Array(Type.Number()),
    /** Fixes in the stretch before simplification. */
    fixes: Type.Number(),
    distanceM: Type.Number(),
  }),
});
export type TrackFeature = Static<typeof TrackFeature>;

export const TrackCollection = Type.Object({
  type: Type.Literal('FeatureCollection'),
  features: Type.Array(TrackFeature),
  properties: Type.Object({
    workerId: Type.Number(),
    name: Type.String(),
    from: Type.String(),
    to: Type.String(),
    tolerance: Type.Number(),
    fixes: Type.Number(),
    vertices: Type.Number(),
  }),
});
export type TrackCollection = Static<typeof TrackCollection>;

export const TripsQuery = Type.Object({ date: Day }, { additionalProperties: false });
export type TripsQuery = Static<typeof TripsQuery>;

const Place = Type.Object({ lon: Type.Number(), lat: Type.Number(), gridCode: Nullable(Type.String()), gridName: Nullable(Type.String()) });

export const TripDto = Type.Object({
  start: Type.String(),
  end: Type.String(),
  from: Place,
  to: Place,
  distanceM: Type.Number(),
  durationS: Type.Number(),
  movingS: Type.Number(),
});
export type TripDto = Static<typeof TripDto>;

export const StopDto = Type.Object({
  start: Type.String(),
  end: Type.String(),
  durationS: Type.Number(),
  place: Place,
});
export type StopDto = Static<typeof StopDto>;

export const TripsDay = Type.Object({
  workerId: Type.Number(),
  date: Type.String(),
  fixes: Type.Number(),
  distanceM: Type.Number(),
  movingS: Type.Number(),
  trips: Type.Array(TripDto),
  stops: Type.Array(StopDto),
});
export type TripsDay = Static<typeof TripsDay>;

/** Tickets the worker reported or was assigned, with what happened to them inside a window. */
export const TrackEventsQuery = Type.Object(
  { from: Type.String({ format: 'date-time', maxLength: 40 }), to: Type.String({ format: 'date-time', maxLength: 40 }) },
  { additionalProperties: false },
);
export type TrackEventsQuery = Static<typeof TrackEventsQuery>;

export const TrackEvent = Type.Object({
  ticketId: Type.Number(),
  number: Type.String(),
  at: Type.String(),
  kind: Type.String(),
  toStatus: Nullable(Type.String()),
  category: Type.String(),
  lon: Type.Number(),
  lat: Type.Number(),
});
export type TrackEvent = Static<typeof TrackEvent>;
export const TrackEventList = Type.Array(TrackEvent);
export type TrackEventList = Static<typeof TrackEventList>;

export const COVERAGE_LEVELS = ['street', 'community', 'grid'] as const;

export const CoverageQuery = Type.Object(
  {
    date: Day,
    level: Type.Optional(Type.Enum([...COVERAGE_LEVELS])),
    /** A region code: only regions under it. */
    parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,32}$' })),
  },
  { additionalProperties: false },
);
export type CoverageQuery = Static<typeof CoverageQuery>;

export const CoverageRow = Type.Object({
  code: Type.String(),
  name: Type.String(),
  /** microGridsVisited ÷ microGrids, 0..1. */
  coverage: Type.Number(),
  microGridsVisited: Type.Number(),
  microGrids: Type.Number(),
  /** Walked that day by the workers whose home grid lies inside, m. */
  distanceM: Type.Number(),
});
export type CoverageRow = Static<typeof CoverageRow>;
export const CoverageList = Type.Array(CoverageRow);
export type CoverageList = Static<typeof CoverageList>;

export const MicroGridVisitsQuery = Type.Object(
  { date: Day, parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,32}$' })) },
  { additionalProperties: false },
);
export type MicroGridVisitsQuery = Static<typeof MicroGridVisitsQuery>;

/** Micro-grids inside the jurisdiction with the number of worker-hours that touched each that day. */
export const MicroGridVisits = Type.Array(Type.Object({ code: Type.String(), visits: Type.Number(), workers: Type.Number() }));
export type MicroGridVisits = Static<typeof MicroGridVisits>;

export const WorkerPatrolQuery = Type.Object({ date: Day, parent: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z_-]{1,32}$' })) }, { additionalProperties: false });
export type WorkerPatrolQuery = Static<typeof WorkerPatrolQuery>;

/** Per worker and day: distance, micro-grids visited, time inside their own grid. */
export const WorkerPatrolRow = Type.Object({
  workerId: Type.Number(),
  name: Type.String(),
  gridCode: Type.String(),
  distanceM: Type.Number(),
  microGridsVisited: Type.Number(),
  insideOwnGridS: Type.Number(),
});
export type WorkerPatrolRow = Static<typeof WorkerPatrolRow>;
export const WorkerPatrolList = Type.Array(WorkerPatrolRow);
export type WorkerPatrolList = Static<typeof WorkerPatrolList>;
