// POST /webhooks/sis: verify the signature, parse the event, send each enrollment through the same ledger
// and audit as /v1/invitations (bounded concurrency, one pair at a time), answer one result per enrollment in
// order. The webhook-id is the delivery's idempotency key: a redelivery of a finished delivery gets the same
// results; with another body it runs again. Refused deliveries are audited through the refusal limiter.
import {createHash} from 'node:crypto';
import type {AuditEvent, RequestContext} from '../audit';
import {auditEvent, boundedId, shortHash} from '../audit';
import type {Config} from '../config';
import {Answer, fromError, ItemResult} from '../answers';
import type {CreateFlow} from '../create/flow';
import {
  errorInfo,
  gatewayError,
  retryable,
  toApiError,
  violatedFields,
} from '../errors';
import type {IdempotencyKeys} from '../idempotency';
import type {Ledger} from '../ledger';
import {pairKey} from '../ledger';
import * as logs from '../log-events';
import {oncePerKey} from '../once-per-key';
import type {RefusalAudit} from '../refusal-audit';
import type {Removals} from '../removal';
import {shouldRetry} from '../retry-decision';
import {parseJsonObjectBody, RawRequest} from '../validation';
import {
  Enrollment,
  EnrollmentEvent,
  Mapping,
  mapEnrollment,
  parseEvent,
  planDelivery,
} from './enrollments';
import {SignatureHeaders, SignatureVerifier} from './signature';

export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
/** An unverified webhook-id longer than this (or not printable ASCII) is audited as its short hash. */
export const MAX_UNVERIFIED_WEBHOOK_ID = 64;
/** The same for a verified one, kept as sent up to the length other audited values are cut at. */
export const MAX_VERIFIED_WEBHOOK_ID = 256;

const NO_PAIR = {courseId: null, userId: null, role: null, pairKey: null};

export type {ItemResult} from '../answers';

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

export class WebhookProcessor {
  private readonly verifier: SignatureVerifier;

  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly removals: Removals,
    private readonly ledger: Ledger,
    private readonly deliveries: IdempotencyKeys,
    private readonly refusals: RefusalAudit,
  ) {
    this.verifier = new SignatureVerifier(config.webhookSecrets);
  }

  async handle(
    raw: RawRequest,
    headers: SignatureHeaders,
    requestId: string,
  ): Promise<WebhookAnswer> {
    const verification = this.verifier.verify(
      raw.rawBody ?? Buffer.alloc(0),
      headers,
    );
    if (!verification.ok) {
      // Audited without the body (an unauthenticated body is not trusted enough to keep), with the
      // sender-chosen webhook-id bounded, through the refusal limiter: anyone can send these.
      const webhookId = boundedId(
        headers['webhook-id'],
        MAX_UNVERIFIED_WEBHOOK_ID,
      );
      await this.refusals.record(
        auditEvent(
          {requestId, source: 'webhook', caller: 'unverified', webhookId},
          NO_PAIR,
          {
            outcome: 'rejected',
            httpStatus: 401,
            upstreamStatus: verification.reason,
          },
        ),
      );
      const e = gatewayError('UNAUTHENTICATED', verification.message, {
        details: [
          errorInfo(
            verification.reason,
            undefined,
            'classroom-gateway.webhooks',
          ),
        ],
      });
      return {
        ...fromError(e, 'rejected'),
        details: {reason: verification.reason},
      };
    }
    const webhookId = verification.webhookId;
    const ctx: RequestContext = {
      requestId,
      source: 'webhook',
      caller: `webhook:${verification.secretId}`,
      webhookId: boundedId(webhookId, MAX_VERIFIED_WEBHOOK_ID),
    };
    let event: EnrollmentEvent;
    try {
      event = parseEvent(parseJsonObjectBody(raw, MAX_WEBHOOK_BODY_BYTES));
    } catch (err) {
      const e = toApiError(err);
      await this.refusals.record(
        auditEvent(ctx, NO_PAIR, {
          outcome: 'rejected',
          httpStatus: e.httpStatus,
          violations: violatedFields(e)?.slice(0, 10),
        }),
      );
      return fromError(e, 'rejected');
    }
    try {
      return await this.deliver(
        event,
        raw.rawBody ?? Buffer.alloc(0),
        webhookId,
        ctx,
      );
    } catch (err) {
      logs.deliveryFailed(requestId, ctx.webhookId, err);
      return fromError(toApiError(err), 'failed');
    }
  }

  /**
   * The delivery, once per body: a finished delivery's results are replayed for its webhook-id and body. The
   * same webhook-id with another body runs that body (the ledger makes the re-run safe), and its audit events
   * say so: a Standard Webhooks sender retries any non-2xx, so refusing it would only loop.
   */
  private async deliver(
    event: EnrollmentEvent,
    rawBody: Buffer,
    webhookId: string,
    ctx: RequestContext,
  ): Promise<WebhookAnswer> {
    const fingerprint = createHash('sha256').update(rawBody).digest('hex');
    const once = await oncePerKey(
      this.deliveries,
      {
        scope: 'webhook',
        key: webhookId,
        fingerprint,
        requestId: ctx.requestId,
        takeOverChanged: true,
        freeKeyWhenUnstored: true,
      },
      async previousFingerprint => {
        let runCtx = ctx;
        if (previousFingerprint) {
          // Stored fingerprints are full sha256 hex of the raw body; the audit keeps the same short form as shortHash.
          const reuse = {
            previousBody: `sha256:${previousFingerprint.slice(0, 16)}`,
            body: shortHash(rawBody),
          };
          runCtx = {...ctx, webhookIdReuse: reuse};
          logs.webhookIdReused(ctx.requestId, ctx.webhookId, reuse);
        }
        const answer = await this.process(event, runCtx);
        if (runCtx.webhookIdReuse)
          answer.details = {
            ...answer.details,
            webhookIdReuse: runCtx.webhookIdReuse,
          };
        return answer;
      },
      err => logs.deliveryOutcomeNotStored(ctx.requestId, err),
    );
    return once.answer;
  }

  private async process(
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
          ? {
              courseId:
                this.config.courseAliasPrefix + enrollment.class.sourcedId,
              userId: enrollment.user.email.toLowerCase(),
              role: enrollment.role,
              pairKey: null,
            }
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
