// The HTTP face of the invitations API: the raw request is validated, the Idempotency-Key header runs it once
// per key, ?validateOnly answers without acting; everything else is the create flow's. Never throws.
import {AuditPair, RequestContext} from '../audit';
import {Answer, fromError, ok} from '../answers';
import type {Config} from '../config';
import {CreateFlow, CreateOptions} from '../create/flow';
import {decide, refuseCompactly} from '../decisions';
import {ApiError, toApiError, violatedFields} from '../errors';
import {
  fingerprint,
  IdempotencyKeys,
  keyScope,
  parseIdempotencyKey,
} from '../idempotency';
import type {Ledger} from '../ledger';
import {pairKey} from '../ledger';
import * as logs from '../log-events';
import {oncePerKey} from '../once-per-key';
import {policyRefusal} from '../policy';
import type {RefusalAudit} from '../refusal-audit';
import {alreadyExists} from '../upstream';
import {InvitationRequest, parseCreateRequest, RawRequest} from '../validation';

export class HttpInvitations {
  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly ledger: Ledger,
    private readonly keys: IdempotencyKeys | undefined = undefined,
    /** Refusals before validation passed (anyone can send them): audited through a per-instance limiter. */
    private readonly refusals: RefusalAudit | undefined = undefined,
  ) {}

  /** A request refused before validation (e.g. by the caller policy), audited like any decision. */
  async refuse(
    raw: RawRequest,
    ctx: RequestContext,
    err: ApiError,
  ): Promise<Answer> {
    return refuseCompactly(
      this.ledger,
      this.refusals,
      ctx,
      requestedPair(raw),
      fromError(err, 'rejected'),
      {reason: err.body.message},
    );
  }

  /** POST /v1/invitations. Every path ends in an answer and an audit event. */
  async create(
    raw: RawRequest,
    ctx: RequestContext,
    idempotencyKeyHeader?: string,
    opts: CreateOptions = {},
  ): Promise<Answer> {
    let req: InvitationRequest;
    let key: string | undefined;
    try {
      req = parseCreateRequest(raw);
      key = parseIdempotencyKey(idempotencyKeyHeader);
    } catch (err) {
      const e = toApiError(err);
      return refuseCompactly(
        this.ledger,
        this.refusals,
        ctx,
        requestedPair(raw),
        fromError(e, 'rejected'),
        {violations: violatedFields(e)?.slice(0, 10)},
      );
    }
    if (opts.validateOnly) return this.validate(req, ctx, opts);
    if (key === undefined || !this.keys)
      return this.flow.create(req, ctx, opts);
    try {
      return await this.createWithKey(this.keys, req, key, ctx, opts);
    } catch (err) {
      logs.keyHandlingFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }

  private async createWithKey(
    keys: IdempotencyKeys,
    req: InvitationRequest,
    key: string,
    ctx: RequestContext,
    opts: CreateOptions,
  ): Promise<Answer> {
    const scope = keyScope(ctx);
    const once = await oncePerKey(
      keys,
      {
        scope,
        key,
        fingerprint: fingerprint(req, opts),
        requestId: ctx.requestId,
      },
      () => this.flow.create(req, ctx, opts),
      err => logs.keyOutcomeNotStored(ctx.requestId, err),
    );
    if (once.ran) return once.answer;
    return decide(
      this.ledger,
      ctx,
      {...req, pairKey: pairKey(req.courseId, req.userId)},
      once.answer,
      {idempotencyKey: key},
    );
  }

  /** ?validateOnly=true: the answer the real call would most likely get; only an audit event is written. */
  private async validate(
    req: InvitationRequest,
    ctx: RequestContext,
    opts: CreateOptions,
  ): Promise<Answer> {
    const refusal = policyRefusal(this.config, req, ctx);
    const key = pairKey(req.courseId, req.userId);
    const pair = {...req, pairKey: key};
    let answer: Answer;
    try {
      if (refusal) {
        answer = fromError(refusal, 'validated');
      } else {
        const snap = await this.ledger.read(key);
        const entry = snap?.entry;
        if (
          entry?.state === 'created' &&
          entry.invitation &&
          entry.role === req.role
        ) {
          answer = ok(entry.invitation, 'validated');
        } else if (
          entry?.state === 'created' &&
          entry.invitation &&
          !opts.replace
        ) {
          answer = fromError(alreadyExists(), 'validated');
        } else {
          // What a create would send back, but for the id only Classroom can assign.
          answer = {
            kind: 'preview',
            httpStatus: 200,
            body: {userId: req.userId, courseId: req.courseId, role: req.role},
            headers: {},
            outcome: 'validated',
          };
        }
      }
      return await decide(this.ledger, ctx, pair, answer, {
        reason: 'validateOnly',
      });
    } catch (err) {
      logs.validateOnlyFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }
}

/** What an unvalidated request asked for, kept for its audit event. */
function requestedPair(raw: RawRequest): AuditPair {
  const body = (
    typeof raw.body === 'object' && raw.body !== null ? raw.body : {}
  ) as Record<string, unknown>;
  return {
    courseId: body.courseId,
    userId: body.userId,
    role: body.role,
    pairKey: null,
  };
}
