// Runs the enrollments of one verified delivery: each through the same create flow, withdrawal and audit as
// /v1/invitations, pairs concurrently (WEBHOOK_CONCURRENCY) and one pair's enrollments in delivery order, then
// one answer: 200 with a result per enrollment, or 429/503 when some should be redelivered.
import type {AuditEvent, RequestContext} from '../audit';
import {auditEvent} from '../audit';
import type {Config} from '../config';
import type {Answer, ItemResult} from '../answers';
import type {CreateFlow} from '../create/flow';
import {retryable} from '../errors';
import type {Ledger} from '../ledger';
import {pairKey} from '../ledger';
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
  'rejected' | 'delivered' | 'incomplete' | 'replayed' | 'in_flight' | 'failed';

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

export class DeliveryRunner {
  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly removals: Removals,
    private readonly ledger: Ledger,
  ) {}

  async run(
    event: EnrollmentEvent,
    ctx: RequestContext,
  ): Promise<WebhookAnswer> {
    const enrollments = event.data.enrollments;
    const mappings = enrollments.map(e =>
      mapEnrollment(e, this.config.courseAliasPrefix),
    );
    // Enrollments of one pair run one after another, so that the delivery's order decides, not a race.
    const plan = planDelivery(mappings);
    const skipped: AuditEvent[] = [];
    const results = new Array<ItemResult>(enrollments.length);
    await forEachLimited(
      plan.groups,
      this.config.webhookConcurrency,
      async group => {
        for (const i of group) {
          const itemCtx: RequestContext = {
            ...ctx,
            requestId: `${ctx.requestId}.${i}`,
          };
          const later = plan.supersededBy.get(i);
          const reason =
            later === undefined
              ? undefined
              : `superseded by enrollment ${enrollments[later]!.sourcedId} later in this delivery`;
          results[i] = await this.processOne(
            enrollments[i]!,
            mappings[i]!,
            itemCtx,
            reason,
            skipped,
          );
        }
      },
    );
    await this.ledger.appendAuditMany(skipped);
    return this.summarize(results);
  }

  /** One enrollment; `supersededReason` when a later one of the same delivery decides its pair. */
  private async processOne(
    enrollment: Enrollment,
    mapping: Mapping,
    itemCtx: RequestContext,
    supersededReason: string | undefined,
    skipped: AuditEvent[],
  ): Promise<ItemResult> {
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
      return {sourcedId: enrollment.sourcedId, outcome: 'skipped', reason};
    }
    const a =
      mapping.kind === 'withdraw'
        ? await this.removals.withdraw(mapping.invitation, itemCtx)
        : // A changed role for a pending invitation is the SIS's intent: replace it.
          await this.flow.create(mapping.invitation, itemCtx, {replace: true});
    switch (a.kind) {
      case 'error':
        return {
          sourcedId: enrollment.sourcedId,
          outcome: a.outcome,
          error: a.body.error,
        };
      case 'skipped':
        return {
          sourcedId: enrollment.sourcedId,
          outcome: 'skipped',
          reason: a.body.reason,
        };
      case 'empty':
        return {sourcedId: enrollment.sourcedId, outcome: 'withdrawn'};
      case 'invitation':
        return {
          sourcedId: enrollment.sourcedId,
          outcome: a.outcome,
          invitation: a.body,
        };
    }
  }

  /** 200 with every result, or 429/503 + Retry-After when any item should be tried again later. */
  private summarize(results: ItemResult[]): WebhookAnswer {
    const pending = results.filter(
      r =>
        r.error &&
        shouldRetry('sender', {httpStatus: r.error.code, error: r.error}),
    );
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
      r => r.error!.status === 'RESOURCE_EXHAUSTED',
    );
    const retryAfterS = throttled ? 30 : 5;
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
