// POST /webhooks/sis: verify the signature, parse the event, send each enrollment through the same ledger
// and audit as /v1/invitations (bounded concurrency, one pair at a time), answer one result per enrollment in
// order. The webhook-id is the delivery's idempotency key: a redelivery of a finished delivery gets the same
// results; with another body it runs again. Refused deliveries are audited through the refusal limiter.
import {createHash} from 'node:crypto';
import type {RequestContext} from '../audit';
import {auditEvent, boundedId, shortHash} from '../audit';
import type {Config} from '../config';
import {fromError} from '../answers';
import type {CreateFlow} from '../create/flow';
import {errorInfo, gatewayError, toApiError, violatedFields} from '../errors';
import type {IdempotencyKeys} from '../idempotency';
import type {Ledger} from '../ledger';
import * as logs from '../log-events';
import {oncePerKey} from '../once-per-key';
import type {RefusalAudit} from '../refusal-audit';
import type {Removals} from '../removal';
import {parseJsonObjectBody, RawRequest} from '../validation';
import {EnrollmentEvent, parseEvent} from './enrollments';
import {DeliveryRunner, WebhookAnswer} from './delivery';
import {actionableCount, startDeliveryOperation} from './async-delivery';
import type {HttpOperations} from '../http/operations';
import type {Intake} from '../operations/intake';
import {SignatureHeaders, SignatureVerifier} from './signature';

export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
/** An unverified webhook-id longer than this (or not printable ASCII) is audited as its short hash. */
export const MAX_UNVERIFIED_WEBHOOK_ID = 64;
/** The same for a verified one, kept as sent up to the length other audited values are cut at. */
export const MAX_VERIFIED_WEBHOOK_ID = 256;

const NO_PAIR = {courseId: null, userId: null, role: null, pairKey: null};

export type {ItemResult} from '../answers';

export type {WebhookAnswer, WebhookOutcome} from './delivery';

export class WebhookProcessor {
  private readonly verifier: SignatureVerifier;
  private readonly runner: DeliveryRunner;

  constructor(
    private readonly config: Config,
    flow: CreateFlow,
    removals: Removals,
    ledger: Ledger,
    private readonly deliveries: IdempotencyKeys,
    private readonly refusals: RefusalAudit,
    private readonly intake?: Intake,
    /** Answers a redelivery of a delivery taken as an operation with that operation as it is now. */
    private readonly operations?: HttpOperations,
  ) {
    this.verifier = new SignatureVerifier(config.webhookSecrets);
    this.runner = new DeliveryRunner(config, flow, removals, ledger);
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
        // Too much to finish inside a sender's timeout: taken as an operation, answered 202 at once.
        const answer =
          this.intake &&
          actionableCount(event, this.config) > this.config.webhookInlineMax
            ? await startDeliveryOperation(
                event,
                runCtx,
                this.config,
                this.intake,
              )
            : await this.runner.run(event, runCtx);
        if (runCtx.webhookIdReuse)
          answer.details = {
            ...answer.details,
            webhookIdReuse: runCtx.webhookIdReuse,
          };
        return answer;
      },
      err => logs.deliveryOutcomeNotStored(ctx.requestId, err),
    );
    return this.operations
      ? await this.operations.asNow(once.answer)
      : once.answer;
  }
}
