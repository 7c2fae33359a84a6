// POST /webhooks/sis: verify the signature, parse the event, send each enrollment through the same ledger
// and audit as /v1/invitations (bounded concurrency), answer one result per enrollment in order. The
// webhook-id is the delivery's idempotency key: a redelivery of a finished delivery gets the same results.
import { createHash } from 'node:crypto';
import type { AuditEvent, RequestContext } from '../audit';
import { auditEvent } from '../audit';
import type { Config } from '../config';
import { ApiError, GoogleErrorObject, gatewayError, retryable, toApiError } from '../errors';
import type { Answer, InvitationGateway } from '../gateway';
import type { IdempotencyKeys } from '../idempotency';
import { isStorable } from '../idempotency';
import type { Invitation } from '../classroom';
import type { Ledger } from '../ledger';
import { errorFields, log } from '../logs';
import { parseJsonObjectBody, RawRequest } from '../validation';
import { EnrollmentEvent, mapEnrollment, parseEvent } from './enrollments';
import { SignatureHeaders, SignatureVerifier } from './signature';

export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface ItemResult {
  sourcedId: string;
  outcome: string;
  invitation?: Invitation;
  error?: GoogleErrorObject;
  reason?: string;
}

export interface WebhookAnswer {
  httpStatus: number;
  body: unknown;
  headers: Record<string, string>;
  /** For the log line: rejected, delivered, incomplete, replayed, in_flight, failed. */
  outcome: string;
  details?: Record<string, unknown>;
}

const RETRYABLE = new Set(['ABORTED', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED']);

/** Runs `fn` over `items` with at most `limit` at once, keeping results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function answerOf(e: ApiError, outcome: string): WebhookAnswer {
  return { httpStatus: e.httpStatus, body: e.toJSON(), headers: e.headers, outcome };
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
    private readonly gateway: InvitationGateway,
    private readonly ledger: Ledger,
    private readonly deliveries: IdempotencyKeys,
  ) {
    this.verifier = new SignatureVerifier(config.webhookSecrets);
  }

  async handle(raw: RawRequest, headers: SignatureHeaders, requestId: string): Promise<WebhookAnswer> {
    const webhookId = headers['webhook-id']?.slice(0, 256);
    const verification = this.verifier.verify(raw.rawBody ?? Buffer.alloc(0), headers);
    if (!verification.ok) {
      // Audited without the body: an unauthenticated body is not trusted enough to keep.
      await this.auditSafely({
        ...auditEvent({ requestId, source: 'webhook', caller: 'unverified', webhookId }, { courseId: null, userId: null, role: null, pairKey: null }, {
          outcome: 'rejected',
          httpStatus: 401,
          upstreamStatus: verification.reason,
        }),
      });
      const e = gatewayError('UNAUTHENTICATED', verification.message, {
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: verification.reason, domain: 'classroom-gateway.webhooks' }],
      });
      return { ...answerOf(e, 'rejected'), details: { reason: verification.reason } };
    }
    const ctx: RequestContext = { requestId, source: 'webhook', caller: `webhook:${verification.secretId}`, webhookId: verification.webhookId };
    let event: EnrollmentEvent;
    try {
      event = parseEvent(parseJsonObjectBody(raw, MAX_WEBHOOK_BODY_BYTES));
    } catch (err) {
      const e = toApiError(err);
      await this.auditSafely(auditEvent(ctx, { courseId: null, userId: null, role: null, pairKey: null }, { outcome: 'rejected', httpStatus: e.httpStatus }));
      return answerOf(e, 'rejected');
    }
    try {
      return await this.deliver(event, raw.rawBody ?? Buffer.alloc(0), ctx);
    } catch (err) {
      log('ERROR', 'webhook delivery failed inside the gateway', { requestId, webhookId, ...errorFields(err) });
      return answerOf(toApiError(err), 'failed');
    }
  }

  /** The delivery, once: a finished delivery's results are replayed for its webhook-id. */
  private async deliver(event: EnrollmentEvent, rawBody: Buffer, ctx: RequestContext): Promise<WebhookAnswer> {
    const fingerprint = createHash('sha256').update(rawBody).digest('hex');
    const decision = await this.deliveries.begin('webhook', ctx.webhookId!, fingerprint, ctx.requestId);
    if (decision.kind === 'replay') {
      const r = decision.response;
      return { httpStatus: r.httpStatus, body: JSON.parse(r.body) as unknown, headers: { ...r.headers, 'Idempotent-Replayed': 'true' }, outcome: 'replayed' };
    }
    if (decision.kind !== 'new') return answerOf(decision.error, decision.kind === 'mismatch' ? 'rejected' : 'in_flight');
    const answer = await this.process(event, ctx);
    const status = (answer.body as { error?: { status?: string } }).error?.status;
    try {
      await this.deliveries.finish(decision.claim, { httpStatus: answer.httpStatus, body: JSON.stringify(answer.body), headers: answer.headers }, isStorable(answer.httpStatus, status));
    } catch (err) {
      log('ERROR', 'could not store the webhook delivery outcome', { requestId: ctx.requestId, ...errorFields(err) });
    }
    return answer;
  }

  private async process(event: EnrollmentEvent, ctx: RequestContext): Promise<WebhookAnswer> {
    const skipped: AuditEvent[] = [];
    const results = await mapLimited(event.data.enrollments, this.config.webhookConcurrency, async (enrollment, i): Promise<ItemResult> => {
      const itemCtx: RequestContext = { ...ctx, requestId: `${ctx.requestId}.${i}` };
      const mapping = mapEnrollment(enrollment, this.config.courseAliasPrefix);
      if (mapping.kind === 'skip') {
        const courseId = this.config.courseAliasPrefix + enrollment.class.sourcedId;
        skipped.push(
          auditEvent(itemCtx, { courseId, userId: enrollment.user.email.toLowerCase(), role: enrollment.role, pairKey: null }, {
            outcome: 'skipped',
            httpStatus: 200,
            reason: mapping.reason,
          }),
        );
        return { sourcedId: enrollment.sourcedId, outcome: 'skipped', reason: mapping.reason };
      }
      const a: Answer =
        mapping.kind === 'withdraw'
          ? await this.gateway.withdraw(mapping.invitation, itemCtx)
          : // A changed role for a pending invitation is the SIS's intent: replace it.
            await this.gateway.create(mapping.invitation, itemCtx, { replace: true });
      const error = (a.body as { error?: GoogleErrorObject }).error;
      if (error) return { sourcedId: enrollment.sourcedId, outcome: a.outcome, error };
      if (a.outcome === 'skipped') return { sourcedId: enrollment.sourcedId, outcome: 'skipped', reason: (a.body as { reason?: string }).reason };
      if (a.outcome === 'withdrawn') return { sourcedId: enrollment.sourcedId, outcome: 'withdrawn' };
      return { sourcedId: enrollment.sourcedId, outcome: a.outcome, invitation: a.body as Invitation };
    });
    await this.ledger.appendAuditMany(skipped);
    return this.summarize(results);
  }

  /** 200 with every result, or 429/503 + Retry-After when any item should be tried again later. */
  private summarize(results: ItemResult[]): WebhookAnswer {
    const pending = results.filter((r) => r.error && RETRYABLE.has(r.error.status));
    const details = { enrollments: results.length, outcomes: counts(results) };
    if (pending.length === 0) return { httpStatus: 200, body: { results }, headers: {}, outcome: 'delivered', details };
    const throttled = pending.some((r) => r.error!.status === 'RESOURCE_EXHAUSTED');
    const retryAfterS = throttled ? 30 : 5;
    const e = retryable(
      throttled ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE',
      `${pending.length} of ${results.length} enrollments could not be completed now; redeliver this event. Completed ones will be answered from the ledger.`,
      retryAfterS,
      throttled ? 'ENROLLMENTS_THROTTLED' : 'ENROLLMENTS_INCOMPLETE',
    );
    // Google's error JSON, with the per-item results beside it for the operator.
    return { httpStatus: e.httpStatus, body: { ...e.toJSON(), results }, headers: e.headers, outcome: 'incomplete', details };
  }

  private async auditSafely(event: AuditEvent): Promise<void> {
    try {
      await this.ledger.appendAudit(event);
    } catch (err) {
      log('ERROR', 'could not write a webhook audit event', { requestId: event.requestId, ...errorFields(err) });
    }
  }
}

