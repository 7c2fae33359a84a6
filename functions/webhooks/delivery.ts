// Runs the enrollments of one verified delivery: each through the same create flow, withdrawal and audit as
// /v1/invitations, pairs concurrently (WEBHOOK_CONCURRENCY) and one pair's enrollments in delivery order, then
// one answer within the request deadline: 200 with a result per enrollment, or 429/503 for what is left.
import type {AuditEvent, RequestContext} from '../audit';
import {auditEvent} from '../audit';
import type {Config} from '../config';
import {Answer, ItemResult, itemResultOf} from '../answers';
import type {CreateFlow} from '../create/flow';
import {isLocalRefusal} from '../circuit';
import {GoogleErrorObject, retryable} from '../errors';
import type {Ledger} from '../ledger';
import {pairKey} from '../ledger';
import {CALL_RESERVE_MS} from '../pacer/pacer';
import type {Removals} from '../removal';
import {shouldRetry} from '../retry-decision';
import {
  Enrollment,
  EnrollmentEvent,
  Mapping,
  mapEnrollment,
  planDelivery,
} from './enrollments';

/** For the log line. */
export type WebhookOutcome =
  | 'rejected'
  | 'delivered'
  | 'incomplete'
  | 'replayed'
  | 'in_flight'
  | 'failed'
  | 'accepted';

export type WebhookAnswer = Answer<WebhookOutcome>;

/** Runs `fn` over `items` with at most `limit` at once. */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(
    Array.from({length: Math.min(limit, items.length)}, worker),
  );
}

function counts(results: ItemResult[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of results) c[r.outcome] = (c[r.outcome] ?? 0) + 1;
  return c;
}

/** Passes over a delivery's enrollments at most: the first, then retries of what failed for a passing reason. */
const MAX_PASSES = 3;

/** What one enrollment came to, and how long its error asks to wait before a redelivery. */
interface Done {
  result: ItemResult;
  retryAfterS?: number;
}

export class DeliveryRunner {
  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly removals: Removals,
    private readonly ledger: Ledger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs a delivery within REQUEST_DEADLINE_MS of its arrival: every enrollment shares that deadline (so the pacer
   * lets each wait for quota as long as the delivery can), failures that may pass are retried inside it, and what
   * is left when it comes is answered for redelivery.
   */
  async run(
    event: EnrollmentEvent,
    ctx: RequestContext,
  ): Promise<WebhookAnswer> {
    const deadline = this.now() + this.config.requestDeadlineMs;
    const enrollments = event.data.enrollments;
    const mappings = enrollments.map(e =>
      mapEnrollment(e, this.config.courseAliasPrefix),
    );
    // Enrollments of one pair run one after another, so that the delivery's order decides, not a race.
    const plan = planDelivery(mappings);
    const skipped: AuditEvent[] = [];
    const done = new Array<Done | undefined>(enrollments.length);
    let groups = plan.groups;
    for (let pass = 1; groups.length > 0; pass++) {
      await forEachLimited(
        groups,
        this.config.webhookConcurrency,
        async group => {
          for (const i of group) {
            const later = plan.supersededBy.get(i);
            // Near the deadline only what needs no call is settled (a skip); the rest waits for the redelivery,
            // rather than start a call that could not finish (a timed-out create costs a reconciliation later).
            const needsCall =
              mappings[i]!.kind !== 'skip' && later === undefined;
            if (needsCall && this.now() >= deadline - CALL_RESERVE_MS) return;
            const itemCtx: RequestContext = {
              ...ctx,
              requestId: `${ctx.requestId}.${i}${pass > 1 ? `.${pass}` : ''}`,
            };
            const reason =
              later === undefined
                ? undefined
                : `superseded by enrollment ${enrollments[later]!.sourcedId} later in this delivery`;
            done[i] = await this.processOne(
              enrollments[i]!,
              mappings[i]!,
              itemCtx,
              reason,
              skipped,
              deadline,
            );
          }
        },
      );
      if (pass >= MAX_PASSES || this.now() >= deadline - CALL_RESERVE_MS) break;
      groups = groups
        .map(g => g.filter(i => worthRetrying(done[i])))
        .filter(g => g.length > 0);
    }
    await this.ledger.appendAuditMany(skipped);
    return this.summarize(
      enrollments.map((e, i) => done[i] ?? notStarted(e.sourcedId)),
    );
  }

  /** One enrollment; `supersededReason` when a later one of the same delivery decides its pair. */
  private async processOne(
    enrollment: Enrollment,
    mapping: Mapping,
    itemCtx: RequestContext,
    supersededReason: string | undefined,
    skipped: AuditEvent[],
    deadline: number,
  ): Promise<Done> {
    if (mapping.kind === 'skip' || supersededReason) {
      const reason =
        mapping.kind === 'skip' ? mapping.reason : supersededReason!;
      const pair =
        mapping.kind === 'skip'
          ? {...mapping.pair, pairKey: null}
          : {
              ...mapping.invitation,
              pairKey: pairKey(
                mapping.invitation.courseId,
                mapping.invitation.userId,
              ),
            };
      skipped.push(
        auditEvent(itemCtx, pair, {
          outcome: 'skipped',
          httpStatus: 200,
          reason,
        }),
      );
      return {
        result: {sourcedId: enrollment.sourcedId, outcome: 'skipped', reason},
      };
    }
    const a =
      mapping.kind === 'withdraw'
        ? await this.removals.withdraw(mapping.invitation, itemCtx, deadline)
        : // A changed role for a pending invitation is the SIS's intent: replace it.
          await this.flow.create(mapping.invitation, itemCtx, {
            replace: true,
            deadline,
          });
    return itemResultOf(a, enrollment.sourcedId);
  }

  /**
   * 200 with every result, or 429/503 when some enrollments should be redelivered: 429 when quota held any back,
   * with a Retry-After from the longest wait they were told (the pacer's backlog; 0 when the quota frees up
   * within the second).
   */
  private summarize(done: Done[]): WebhookAnswer {
    const results = done.map(d => d.result);
    const pending = done.filter(d => pendingError(d) !== undefined);
    const details = {enrollments: results.length, outcomes: counts(results)};
    if (pending.length === 0)
      return {
        kind: 'delivery',
        httpStatus: 200,
        body: {results},
        headers: {},
        outcome: 'delivered',
        details,
      };
    const throttled = pending.some(
      d => pendingError(d)!.status === 'RESOURCE_EXHAUSTED',
    );
    const retryAfterS = Math.max(0, ...pending.map(d => d.retryAfterS ?? 1));
    const e = retryable(
      throttled ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE',
      `${pending.length} of ${results.length} enrollments could not be completed now; redeliver this event. Completed ones will be answered from the ledger.`,
      retryAfterS,
      throttled ? 'ENROLLMENTS_THROTTLED' : 'ENROLLMENTS_INCOMPLETE',
    );
    // Google's error JSON, with the per-item results beside it for the operator.
    return {
      kind: 'incomplete',
      httpStatus: e.httpStatus,
      body: {...e.toJSON(), results},
      headers: e.headers,
      outcome: 'incomplete',
      details,
    };
  }
}

/** The error of an enrollment the sender should redeliver, if it is one. */
function pendingError(d: Done | undefined): GoogleErrorObject | undefined {
  const error = d?.result.error;
  return error && shouldRetry('sender', {httpStatus: error.code, error})
    ? error
    : undefined;
}

/**
 * Tried again inside the delivery: a failure that may pass (Classroom's 429 or 5xx after the request's own
 * retries, a pair in flight elsewhere), not the pacer's refusal, which already looked as far as the deadline.
 */
function worthRetrying(d: Done | undefined): boolean {
  const error = pendingError(d);
  return (
    error !== undefined &&
    // Classroom's errors never carry the gateway's own ErrorInfo, so judging the body alone is safe.
    !isLocalRefusal({upstream: false, body: error})
  );
}

/** An enrollment the delivery's deadline came before: the sender redelivers it. */
function notStarted(sourcedId: string): Done {
  // Nothing was sent for it: the redelivery may come at once (it waits for quota inside its own deadline).
  const e = retryable(
    'DEADLINE_EXCEEDED',
    "Not started: the delivery's deadline came first. Redeliver this event.",
    0,
    'DELIVERY_DEADLINE',
  );
  return {
    result: {sourcedId, outcome: 'not_started', error: e.body},
    retryAfterS: 0,
  };
}
