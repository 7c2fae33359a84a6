// Audit events: one document per decision in the `audit` collection, keyed by request id.
// A request that reserves a pair writes its event as `pending` in the same commit as the reservation and
// completes it once with the outcome; every other request writes its final event in one create.

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
  /** Set for webhook deliveries. */
  webhookId?: string;
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
}

export interface AuditEvent extends AuditFields {
  requestId: string;
  source: Source;
  caller: string;
  claimedCaller?: string;
  webhookId?: string;
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

export function auditEvent(
  ctx: RequestContext,
  pair: { courseId: unknown; userId: unknown; role: unknown; pairKey: string | null },
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
  return event;
}

/** Firestore refuses `undefined` values; leave such fields out. */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
