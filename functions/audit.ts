// Audit events: one document per decision in the `audit` collection, keyed by request id.
// A request that reserves a pair writes its event as `pending` in the same commit as the reservation and
// completes it once with the outcome; every other request writes its final event in one create.
// Refusals carry `expireAt` (see refusal-audit.ts); decisions carry none and are kept.
import {createHash} from 'node:crypto';

export type Source = 'http' | 'webhook';

export type Outcome =
  | 'pending' // reserved, Classroom call under way (a crash leaves this visible)
  | 'created' // Classroom created the invitation
  | 'adopted' // Classroom already had it with this role; the gateway took it over
  | 'replayed' // answered from the ledger, no Classroom call
  | 'conflict' // the pair holds another role (409 ALREADY_EXISTS)
  | 'in_flight' // a first request was still under way (409 ABORTED)
  | 'rejected' // invalid request, refused by policy, or unauthenticated: never forwarded
  | 'skipped' // a webhook enrollment that maps to no invitation (role, status)
  | 'replaced' // a pending invitation of another role was deleted and this one created (?replace=true)
  | 'deleted' // DELETE /v1/invitations/{id}: deleted in Classroom, the ledger entry released
  | 'withdrawn' // a tobedeleted enrollment withdrew the pending invitation
  | 'validated' // ?validateOnly=true: checked, nothing done
  | 'failed'; // Classroom or the gateway refused; the pair was released

export interface RequestContext {
  requestId: string;
  source: Source;
  /** Who called, as verified: an identity from a token the function verified, `webhook:<secretId>`, or `unverified`. */
  caller: string;
  /** What an unverified token claimed (bounded, control characters removed): evidence, never an identity. */
  claimedCaller?: string;
  /** Set for webhook deliveries (bounded: see boundedId). */
  webhookId?: string;
  /** Set when a delivery re-runs because its webhook-id came again with another body. */
  webhookIdReuse?: WebhookIdReuse;
  /** Set for an item of a long-running operation (a batch, a large delivery), run by a worker. */
  operationId?: string;
}

/** Short body fingerprints (`sha256:<16 hex>`) of a webhook-id's previous and current delivery. */
export interface WebhookIdReuse {
  previousBody: string;
  body: string;
}

export interface AuditFields {
  outcome: Outcome;
  httpStatus: number;
  invitationId?: string;
  upstreamStatus?: string;
  upstreamMessage?: string;
  violations?: string[];
  idempotencyKey?: string;
  /** Set when this request shared the outcome of an identical one in flight in the same instance. */
  sharedWith?: string;
  /** Why a request was skipped or refused, in words. */
  reason?: string;
  /** The invitation a replacement or withdrawal deleted. */
  replacedInvitationId?: string;
  /** The admin whose identity (and quota) the Classroom call used; absent: the service account itself. */
  classroomSubject?: string;
  /** Refusals only: when Firestore's TTL policy may delete the event. */
  expireAt?: Date;
  /** A summary of refusals that were counted, not written one by one (refusal-audit.ts). */
  suppressedCount?: number;
  /** `"<httpStatus> <reason>"` → count, for the same summary. */
  suppressedByKind?: Record<string, number>;
  suppressedFrom?: Date;
  suppressedUntil?: Date;
}

export interface AuditEvent extends AuditFields {
  requestId: string;
  source: Source;
  caller: string;
  claimedCaller?: string;
  webhookId?: string;
  webhookIdReuse?: WebhookIdReuse;
  operationId?: string;
  courseId: string | null;
  userId: string | null;
  role: string | null;
  pairKey: string | null;
}

/** Values from a request kept for the audit even when invalid: strings only, bounded. */
export function auditValue(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  return v.length > 256 ? v.slice(0, 256) : v;
}

/** The pair a decision is about, as asked (unvalidated values are bounded by auditValue). */
export interface AuditPair {
  courseId: unknown;
  userId: unknown;
  role: unknown;
  pairKey: string | null;
}

export function auditEvent(
  ctx: RequestContext,
  pair: AuditPair,
  fields: AuditFields,
): AuditEvent {
  const event: AuditEvent = {
    requestId: ctx.requestId,
    source: ctx.source,
    caller: ctx.caller,
    courseId: auditValue(pair.courseId),
    userId: auditValue(pair.userId),
    role: auditValue(pair.role),
    pairKey: pair.pairKey,
    ...definedOnly(fields),
  };
  if (ctx.claimedCaller) event.claimedCaller = ctx.claimedCaller;
  if (ctx.webhookId) event.webhookId = ctx.webhookId;
  if (ctx.webhookIdReuse) event.webhookIdReuse = ctx.webhookIdReuse;
  if (ctx.operationId) event.operationId = ctx.operationId;
  return event;
}

/** `sha256:` + the first 16 hex digits: enough to tell values apart in an audit, short enough to keep. */
export function shortHash(v: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(v).digest('hex').slice(0, 16);
}

/**
 * A sender-chosen identifier (e.g. a webhook-id) as the audit keeps it: as sent when it is 1 to `max`
 * printable ASCII characters, else its short hash, so that no request can make an audit event large.
 */
export function boundedId(
  v: string | undefined,
  max: number,
): string | undefined {
  if (v === undefined || v === '') return undefined;
  return v.length <= max && /^[\x21-\x7e]+$/.test(v) ? v : shortHash(v);
}

/** Firestore refuses `undefined` values; leave such fields out. */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as T;
}

/** Where a Classroom call reports the admin it went out as (CallOptions.via). */
export interface CallTrace {
  subject?: string;
}

/** The audit field naming that admin, when there was one. */
export function subjectField(
  via: CallTrace,
): Pick<AuditFields, 'classroomSubject'> {
  return via.subject ? {classroomSubject: via.subject} : {};
}
