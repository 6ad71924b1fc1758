/**
 * Emergency mode (平战结合): the HTTP and realtime contract. A district or street leader declares an
 * emergency over an area (regions of the hierarchy or a drawn polygon) inside their jurisdiction;
 * every grid worker and every party member registered to a grid inside it is called up (a notice with
 * receipt on their phone), acknowledges (收到) and reports in (报到) inside their grid. Desks whose
 * jurisdiction meets the area switch to the emergency layout. Closing produces the after-action report.
 */
import { Type, type Static } from 'typebox';
import { TICKET_STATUSES } from './tickets';
import { Id, Text } from './api';
import { GeoJsonPolygon } from './notices-api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

export const EMERGENCY_TYPES = ['flood', 'fire', 'epidemic', 'public_order', 'other'] as const;
export type EmergencyType = (typeof EMERGENCY_TYPES)[number];
export const EMERGENCY_STATUSES = ['active', 'closed'] as const;
export type EmergencyStatus = (typeof EMERGENCY_STATUSES)[number];
/** Response levels: 1 is the gravest (I 级), 4 the least (IV 级). */
export const EMERGENCY_LEVELS = [1, 2, 3, 4] as const;
export const EMERGENCY_NOTE_MAX = 2000;

/** Level 1–4 as shown: I–IV. */
export function levelNumeral(level: number): string {
  return ['I', 'II', 'III', 'IV'][level - 1] ?? String(level);
}

export const EmergencyArea = Type.Object(
  {
    /** Regions of the hierarchy (streets, communities, grids) inside the leader's jurisdiction. */
    regionCodes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32, pattern: '^[0-9A-Za-z_-]+$' }), { maxItems: 500 })),
    /** Or a polygon drawn on the map (WGS 84); grids whose interior point lies in it are inside. */
    polygon: Type.Optional(GeoJsonPolygon),
  },
  { additionalProperties: false },
);
export type EmergencyArea = Static<typeof EmergencyArea>;

export const DeclareEmergencyBody = Type.Object(
  {
    type: literals(EMERGENCY_TYPES),
    level: Type.Integer({ minimum: 1, maximum: 4 }),
    area: EmergencyArea,
    note: Type.Optional(Text({ maxLength: EMERGENCY_NOTE_MAX })),
  },
  { additionalProperties: false },
);
export type DeclareEmergencyBody = Static<typeof DeclareEmergencyBody>;

/** Called / acknowledged (收到) / reported in (报到). */
export const MobilisationCounts = Type.Object({ called: Type.Number(), acknowledged: Type.Number(), reportedIn: Type.Number() });
export type MobilisationCounts = Static<typeof MobilisationCounts>;

export const EmergencyGridRow = Type.Object({
  code: Type.String(),
  name: Type.String(),
  /** The grid's interior point, for labels on the map. */
  lon: Type.Number(),
  lat: Type.Number(),
  ...MobilisationCounts.properties,
  /** Party members among those called / reported in. */
  partyCalled: Type.Number(),
  partyReportedIn: Type.Number(),
});
export type EmergencyGridRow = Static<typeof EmergencyGridRow>;

const GeoJsonMultiPolygon = Type.Object({ type: Type.Literal('MultiPolygon'), coordinates: Type.Array(Type.Array(Type.Array(Type.Array(Type.Number())))) });

export const EmergencySummary = Type.Object({
  id: Type.Number(),
  type: literals(EMERGENCY_TYPES),
  level: Type.Number(),
  note: Type.String(),
  status: literals(EMERGENCY_STATUSES),
  /** ISO-8601. */
  declaredAt: Type.String(),
  closedAt: Type.Union([Type.String(), Type.Null()]),
  declaredBy: Type.Object({ userId: Type.Union([Type.Number(), Type.Null()]), name: Type.String() }),
  /** The declaring leader's jurisdiction. */
  region: Type.Object({ code: Type.String(), name: Type.String() }),
  /** The regions named when declaring; empty for a drawn area. */
  areaRegions: Type.Array(Type.Object({ code: Type.String(), name: Type.String() })),
  drawn: Type.Boolean(),
  /** The area's outline (simplified for the map). */
  area: GeoJsonMultiPolygon,
  /** The call-up notice (信息发布 with receipts) on the phones. */
  noticeId: Type.Union([Type.Number(), Type.Null()]),
});
export type EmergencySummary = Static<typeof EmergencySummary>;

/** One emergency as a desk sees it: counts and grid rows only inside the desk's jurisdiction. */
export const EmergencyDetail = Type.Object({
  ...EmergencySummary.properties,
  mobilisation: MobilisationCounts,
  grids: Type.Array(EmergencyGridRow),
  /** A called worker's own call-up (for their phone); null for a desk. */
  me: Type.Union([
    Type.Object({
      gridCode: Type.String(),
      gridName: Type.String(),
      acknowledgedAt: Type.Union([Type.String(), Type.Null()]),
      reportedInAt: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
});
export type EmergencyDetail = Static<typeof EmergencyDetail>;

export const EmergencyList = Type.Object({ items: Type.Array(EmergencyDetail) });
export type EmergencyList = Static<typeof EmergencyList>;

export const EmergenciesQuery = Type.Object(
  {
    status: Type.Optional(literals(EMERGENCY_STATUSES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);
export type EmergenciesQuery = Static<typeof EmergenciesQuery>;

export const EmergencyIdParams = Type.Object({ id: Id() });
export type EmergencyIdParams = Static<typeof EmergencyIdParams>;

export const DeclaredEmergency = Type.Object({ ...EmergencySummary.properties, mobilisation: MobilisationCounts, grids: Type.Number() });
export type DeclaredEmergency = Static<typeof DeclaredEmergency>;

/** The phone at its grid: its position now. */
export const ReportInBody = Type.Object(
  {
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export type ReportInBody = Static<typeof ReportInBody>;

export const CallUpState = Type.Object({
  emergencyId: Type.Number(),
  gridCode: Type.String(),
  acknowledgedAt: Type.Union([Type.String(), Type.Null()]),
  reportedInAt: Type.Union([Type.String(), Type.Null()]),
});
export type CallUpState = Static<typeof CallUpState>;

/** Open tickets by status and open alarms inside the area (the caller's part of it). */
export const EmergencySituation = Type.Object({
  id: Type.Number(),
  ticketsByStatus: Type.Record(Type.String(), Type.Number()),
  openTickets: Type.Number(),
  openAlarms: Type.Number(),
  alarms: Type.Array(Type.Object({ id: Type.Number(), kind: Type.String(), status: Type.String(), lon: Type.Number(), lat: Type.Number(), workerName: Type.String(), raisedAt: Type.String() })),
});
export type EmergencySituation = Static<typeof EmergencySituation>;

/** The after-action report, written when the emergency is closed. */
export const EmergencyReport = Type.Object({
  id: Type.Number(),
  type: literals(EMERGENCY_TYPES),
  level: Type.Number(),
  declaredAt: Type.String(),
  closedAt: Type.String(),
  durationS: Type.Number(),
  mobilisation: MobilisationCounts,
  timeline: Type.Array(Type.Object({ at: Type.String(), kind: Type.String(), text: Type.String() })),
  /** Cumulative counts per minute since declaration. */
  curve: Type.Array(Type.Object({ minute: Type.Number(), acknowledged: Type.Number(), reportedIn: Type.Number() })),
  /** Tickets of the area filed or handled while the emergency lasted. */
  tickets: Type.Object({ filed: Type.Number(), closed: Type.Number(), open: Type.Number(), byStatus: Type.Record(Type.String(), Type.Number()) }),
  /** Seconds: from declaration to 收到 and to 报到 (median, p90); ticket response (filed → accepted), median. */
  responseTimes: Type.Object({
    acknowledgeMedianS: Type.Union([Type.Number(), Type.Null()]),
    acknowledgeP90S: Type.Union([Type.Number(), Type.Null()]),
    reportInMedianS: Type.Union([Type.Number(), Type.Null()]),
    reportInP90S: Type.Union([Type.Number(), Type.Null()]),
    ticketResponseMedianS: Type.Union([Type.Number(), Type.Null()]),
  }),
  grids: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), ...MobilisationCounts.properties, firstReportInS: Type.Union([Type.Number(), Type.Null()]) })),
});
export type EmergencyReport = Static<typeof EmergencyReport>;

export const ReportQuery = Type.Object({ format: Type.Optional(literals(['json', 'xlsx'] as const)) }, { additionalProperties: false });
export type ReportQuery = Static<typeof ReportQuery>;

// Resources (应急资源) an admin keeps as data.
export const RESOURCE_KINDS = ['shelter', 'supply_point', 'team'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const ResourceBody = Type.Object(
  {
    kind: literals(RESOURCE_KINDS),
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    /** Shelters: people it holds. */
    capacity: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()])),
    /** Teams: people in the team. */
    headcount: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000 }), Type.Null()])),
    contact: Type.Optional(Type.String({ maxLength: 100 })),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ResourceBody = Static<typeof ResourceBody>;
export const ResourcePatch = Type.Partial(ResourceBody, { additionalProperties: false });
export type ResourcePatch = Static<typeof ResourcePatch>;

export const Resource = Type.Object({
  id: Type.Number(),
  kind: literals(RESOURCE_KINDS),
  name: Type.String(),
  lon: Type.Number(),
  lat: Type.Number(),
  capacity: Type.Union([Type.Number(), Type.Null()]),
  headcount: Type.Union([Type.Number(), Type.Null()]),
  contact: Type.String(),
  note: Type.String(),
  region: Type.Object({ code: Type.String(), name: Type.String() }),
  /** Metres from the point asked about (nearest only). */
  distanceM: Type.Optional(Type.Number()),
});
export type Resource = Static<typeof Resource>;
export const ResourceList = Type.Object({ items: Type.Array(Resource) });
export type ResourceList = Static<typeof ResourceList>;
export const NearestQuery = Type.Object(
  {
    lon: Type.Number({ minimum: -180, maximum: 180 }),
    lat: Type.Number({ minimum: -90, maximum: 90 }),
    kind: Type.Optional(literals(RESOURCE_KINDS)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 5 })),
  },
  { additionalProperties: false },
);
export type NearestQuery = Static<typeof NearestQuery>;
export const ResourceIdParams = Type.Object({ id: Id() });

/** `emergency.mobilisation`: the grids (inside the room's jurisdiction) whose counts changed. */
export interface EmergencyMobilisationChange {
  id: number;
  grids: EmergencyGridRow[];
}
/** `emergency.closed`. */
export interface EmergencyClosed {
  id: number;
  closedAt: string;
}
/** Ticket statuses counted as open in the situation. */
export const OPEN_TICKET_STATUSES = TICKET_STATUSES.filter((s) => s !== 'closed' && s !== 'cancelled');
