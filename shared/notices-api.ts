/**
 * The notices' (信息发布) HTTP and realtime contract: TypeBox schemas with their inferred types under
 * the same name. A notice goes from a desk (the centre or a street) to the grid workers in a target
 * — regions of the hierarchy, an area drawn on the map, roles — and comes back as receipts: delivered
 * (the phone fetched it), read (the worker opened it), replied.
 */
import { Type, type Static } from 'typebox';
import { WORKER_ROLES } from './domain';
import { Id, Line, Text } from './api';

const literals = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

export const NOTICE_URGENCIES = ['normal', 'urgent'] as const;
export type NoticeUrgency = (typeof NOTICE_URGENCIES)[number];

/** Longest notice body, in characters: a page of text, not a document. */
export const NOTICE_BODY_MAX = 5000;
export const NOTICE_TITLE_MAX = 100;
export const NOTICE_REPLY_MAX = 1000;
/** At most this many workers who have not read are listed in a notice's detail (the count is always exact). */
export const NOTICE_UNREAD_LIST_MAX = 1000;

/** A GeoJSON Polygon in WGS 84: an outer ring (and holes), each closed, at most 2,000 positions. */
export const GeoJsonPolygon = Type.Object(
  {
    type: Type.Literal('Polygon'),
    coordinates: Type.Array(
      Type.Array(Type.Array(Type.Number(), { minItems: 2, maxItems: 3 }), { minItems: 4, maxItems: 2000 }),
      { minItems: 1, maxItems: 20 },
    ),
  },
  { additionalProperties: false },
);
export type GeoJsonPolygon = Static<typeof GeoJsonPolygon>;

/**
 * Who receives a notice: the active grid workers (专兼辅) whose home grid lies inside any of the
 * regions or inside the area (a union), within the sender's jurisdiction, of the roles given (all
 * if none). Neither regions nor area: the sender's whole jurisdiction.
 */
export const NoticeTarget = Type.Object(
  {
    regionCodes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32, pattern: '^[0-9A-Za-z_-]+$' }), { maxItems: 500 })),
    roles: Type.Optional(Type.Array(literals(WORKER_ROLES), { maxItems: WORKER_ROLES.length })),
    area: Type.Optional(GeoJsonPolygon),
  },
  { additionalProperties: false },
);
export type NoticeTarget = Static<typeof NoticeTarget>;

export const CreateNoticeBody = Type.Object(
  {
    title: Line({ maxLength: NOTICE_TITLE_MAX }),
    body: Text({ maxLength: NOTICE_BODY_MAX }),
    urgency: literals(NOTICE_URGENCIES),
    target: NoticeTarget,
    /** 需回执: the workers are asked to reply. */
    receiptRequired: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateNoticeBody = Static<typeof CreateNoticeBody>;

/** `POST /api/notices/recipients`: how many a target would reach, before sending. */
export const NoticeRecipientsBody = Type.Object({ target: NoticeTarget }, { additionalProperties: false });
export type NoticeRecipientsBody = Static<typeof NoticeRecipientsBody>;
export const NoticeRecipientCount = Type.Object({ recipients: Type.Number() });
export type NoticeRecipientCount = Static<typeof NoticeRecipientCount>;

export const CreatedNotice = Type.Object({ id: Type.Number(), recipients: Type.Number() });
export type CreatedNotice = Static<typeof CreatedNotice>;

/** Receipts of one notice, live on the sender's screen (`notice.receipts`). */
export const NoticeCounts = Type.Object({
  id: Type.Number(),
  recipients: Type.Number(),
  delivered: Type.Number(),
  read: Type.Number(),
  replied: Type.Number(),
});
export type NoticeCounts = Static<typeof NoticeCounts>;

/** A worker's own receipt of a notice. */
export const NoticeReceipt = Type.Object({
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
  readAt: Type.Union([Type.String(), Type.Null()]),
  repliedAt: Type.Union([Type.String(), Type.Null()]),
  reply: Type.Union([Type.String(), Type.Null()]),
});
export type NoticeReceipt = Static<typeof NoticeReceipt>;

export const NoticeSummary = Type.Object({
  ...NoticeCounts.properties,
  title: Type.String(),
  body: Type.String(),
  urgency: literals(NOTICE_URGENCIES),
  receiptRequired: Type.Boolean(),
  /** ISO-8601. */
  createdAt: Type.String(),
  sender: Type.Object({ userId: Type.Union([Type.Number(), Type.Null()]), name: Type.String(), region: Type.Object({ code: Type.String(), name: Type.String() }) }),
  target: Type.Object({
    regions: Type.Array(Type.Object({ code: Type.String(), name: Type.String() })),
    roles: Type.Array(literals(WORKER_ROLES)),
    area: Type.Boolean(),
  }),
  /** When the sender last reminded those who had not read; null if never. */
  remindedAt: Type.Union([Type.String(), Type.Null()]),
  /** The caller's own receipt (a worker's); null for a desk. */
  receipt: Type.Union([NoticeReceipt, Type.Null()]),
});
export type NoticeSummary = Static<typeof NoticeSummary>;

export const NoticeList = Type.Object({ total: Type.Number(), items: Type.Array(NoticeSummary) });
export type NoticeList = Static<typeof NoticeList>;

export const NoticeRecipient = Type.Object({
  workerId: Type.Number(),
  name: Type.String(),
  phone: Type.String(),
  role: literals(WORKER_ROLES),
  grid: Type.Object({ code: Type.String(), name: Type.String() }),
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
  remindedAt: Type.Union([Type.String(), Type.Null()]),
});
export type NoticeRecipient = Static<typeof NoticeRecipient>;

export const NoticeReply = Type.Object({
  workerId: Type.Number(),
  name: Type.String(),
  grid: Type.Object({ code: Type.String(), name: Type.String() }),
  body: Type.String(),
  at: Type.String(),
});
export type NoticeReply = Static<typeof NoticeReply>;

/**
 * One notice. For a desk whose jurisdiction covers it: who has not read (at most
 * NOTICE_UNREAD_LIST_MAX, by grid; `recipients - read` is the exact count) and the replies, newest
 * first. For a worker: `unread` and `replies` are null and `receipt` is theirs.
 */
export const NoticeDetail = Type.Object({
  ...NoticeSummary.properties,
  unread: Type.Union([Type.Array(NoticeRecipient), Type.Null()]),
  replies: Type.Union([Type.Array(NoticeReply), Type.Null()]),
});
export type NoticeDetail = Static<typeof NoticeDetail>;

export const NoticeIdParams = Type.Object({ id: Id() });
export type NoticeIdParams = Static<typeof NoticeIdParams>;

export const NoticesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
  },
  { additionalProperties: false },
);
export type NoticesQuery = Static<typeof NoticesQuery>;

export const NoticeReplyBody = Type.Object({ body: Text({ maxLength: NOTICE_REPLY_MAX }) }, { additionalProperties: false });
export type NoticeReplyBody = Static<typeof NoticeReplyBody>;

export const NoticeReminded = Type.Object({ id: Type.Number(), reminded: Type.Number() });
export type NoticeReminded = Static<typeof NoticeReminded>;

/** `notice.published` to each recipient's phone: the notice as they see it (a reminder repeats it). */
export const NoticePublished = Type.Object({
  ...NoticeSummary.properties,
  /** True when the sender reminds those who have not read. */
  reminder: Type.Boolean(),
});
export type NoticePublished = Static<typeof NoticePublished>;
