// The create flow: validate, deduplicate in the ledger, forward only what is new, answer as Classroom would.
import { auditEvent, AuditFields, Outcome, RequestContext } from './audit';
import type { ClassroomInvitations, Invitation } from './classroom';
import type { Config } from './config';
import { ApiError, errorInfo, gatewayError, retryable, toApiError } from './errors';
import { fingerprint, IdempotencyKeys, isStorable, parseIdempotencyKey } from './idempotency';
import { isRetryable, retryAfterMs, withRetries } from './retry';
import type { Claim, Ledger, LedgerSnapshot } from './ledger';
import { pairKey } from './ledger';
import { errorFields, log } from './logs';
import { InvitationRequest, parseCreateRequest, RawRequest } from './validation';

export interface Answer {
  httpStatus: number;
  body: unknown;
  headers: Record<string, string>;
  outcome: Outcome;
  /** Classroom's error status when the answer carries Classroom's refusal. */
  upstreamStatus?: string;
}

/** What Classroom answers to a second invitation for the same user and course. */
export const CLASSROOM_ALREADY_EXISTS_MESSAGE = 'Requested entity already exists';

// Reads while waiting for an in-flight first request: quick at first, then gentler on Firestore.
const POLL_START_MS = 25;
const POLL_MAX_MS = 250;
const MAX_ROUNDS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(invitation: Invitation, outcome: Outcome, headers: Record<string, string> = {}): Answer {
  return { httpStatus: 200, body: invitation, headers, outcome };
}

function fromError(err: ApiError, outcome: Outcome): Answer {
  const answer: Answer = { httpStatus: err.httpStatus, body: err.toJSON(), headers: err.headers, outcome };
  if (err.upstream) answer.upstreamStatus = err.status;
  return answer;
}

function upstreamFields(err: ApiError): Pick<AuditFields, 'upstreamStatus' | 'upstreamMessage'> {
  return err.upstream ? { upstreamStatus: err.status, upstreamMessage: err.body.message.slice(0, 500) } : {};
}

export class InvitationGateway {
  private readonly inflight = new Map<string, { answer: Promise<Answer>; requestId: string }>();

  constructor(
    private readonly config: Config,
    private readonly ledger: Ledger,
    private readonly classroom: ClassroomInvitations,
    private readonly keys: IdempotencyKeys | undefined = undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** A request refused before validation (e.g. by the caller policy), audited like any decision. */
  async refuse(raw: RawRequest, ctx: RequestContext, err: ApiError): Promise<Answer> {
    const body = (typeof raw.body === 'object' && raw.body !== null ? raw.body : {}) as Record<string, unknown>;
    const answer = fromError(err, 'rejected');
    try {
      await this.decide(ctx, { courseId: body.courseId, userId: body.userId, role: body.role, pairKey: null }, answer, { reason: err.body.message });
    } catch (auditErr) {
      log('ERROR', 'could not write the audit event of a refused request', { requestId: ctx.requestId, ...errorFields(auditErr) });
    }
    return answer;
  }

  /** POST /v1/invitations. Never throws: every path ends in an answer and an audit event. */
  async createFromHttp(raw: RawRequest, ctx: RequestContext, idempotencyKeyHeader?: string): Promise<Answer> {
    let req: InvitationRequest;
    let key: string | undefined;
    try {
      req = parseCreateRequest(raw);
      key = parseIdempotencyKey(idempotencyKeyHeader);
    } catch (err) {
      const e = toApiError(err);
      const body = (typeof raw.body === 'object' && raw.body !== null ? raw.body : {}) as Record<string, unknown>;
      const violations = (e.body.details?.[0] as { fieldViolations?: { field: string }[] } | undefined)?.fieldViolations;
      const answer = fromError(e, 'rejected');
      try {
        await this.decide(ctx, { courseId: body.courseId, userId: body.userId, role: body.role, pairKey: null }, answer, {
          violations: violations?.map((v) => v.field),
        });
      } catch (auditErr) {
        // The caller's mistake stays a 400 even when the audit store is down; the log keeps the trace.
        log('ERROR', 'could not write the audit event of a rejected request', { requestId: ctx.requestId, ...errorFields(auditErr) });
      }
      return answer;
    }
    if (key === undefined || !this.keys) return this.create(req, ctx);
    try {
      return await this.createWithKey(this.keys, req, key, ctx);
    } catch (err) {
      log('ERROR', 'idempotency key handling failed', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  private async createWithKey(keys: IdempotencyKeys, req: InvitationRequest, key: string, ctx: RequestContext): Promise<Answer> {
    const pair = { ...req, pairKey: pairKey(req.courseId, req.userId) };
    const decision = await keys.begin(ctx.caller, key, fingerprint(req), ctx.requestId);
    switch (decision.kind) {
      case 'replay': {
        const r = decision.response;
        const answer: Answer = {
          httpStatus: r.httpStatus,
          body: JSON.parse(r.body) as unknown,
          headers: { ...r.headers, 'Idempotent-Replayed': 'true' },
          outcome: 'replayed',
        };
        return this.decide(ctx, pair, answer, { idempotencyKey: key });
      }
      case 'mismatch':
        return this.decide(ctx, pair, fromError(decision.error, 'rejected'), { idempotencyKey: key });
      case 'in_flight':
        return this.decide(ctx, pair, fromError(decision.error, 'in_flight'), { idempotencyKey: key });
      case 'new': {
        const answer = await this.create(req, ctx);
        const status = (answer.body as { error?: { status?: string } } | undefined)?.error?.status;
        const { 'Idempotent-Replayed': _ledgerReplay, ...headers } = answer.headers;
        try {
          await keys.finish(decision.claim, { httpStatus: answer.httpStatus, body: JSON.stringify(answer.body), headers }, isStorable(answer.httpStatus, status));
        } catch (err) {
          // The answer stands; the key stays pending until its lease ends, then a retry runs again,
          // which the ledger makes safe.
          log('ERROR', 'could not store the idempotency key outcome', { requestId: ctx.requestId, ...errorFields(err) });
        }
        return answer;
      }
    }
  }

  /** The ledger and Classroom part, for a request that passed validation. */
  async create(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    const refusal = this.policyRefusal(req, ctx);
    if (refusal) {
      const answer = fromError(refusal, 'rejected');
      try {
        return await this.decide(ctx, { ...req, pairKey: pairKey(req.courseId, req.userId) }, answer, { reason: refusal.body.message });
      } catch (err) {
        log('ERROR', 'could not write the audit event of a refused request', { requestId: ctx.requestId, ...errorFields(err) });
        return answer;
      }
    }
    // Identical requests in flight in this instance share one pass through the ledger (single flight):
    // a burst of duplicates costs Firestore one claim per instance, not one per request.
    const key = pairKey(req.courseId, req.userId);
    const flightKey = `${key}|${req.role}`;
    const leader = this.inflight.get(flightKey);
    if (leader) return this.follow(await leader.answer, leader.requestId, req, key, ctx);
    const answer = this.createGuarded(req, ctx);
    this.inflight.set(flightKey, { answer, requestId: ctx.requestId });
    try {
      return await answer;
    } finally {
      this.inflight.delete(flightKey);
    }
  }

  /** The district's policy, checked before the ledger and Classroom. */
  private policyRefusal(req: InvitationRequest, ctx: RequestContext): ApiError | undefined {
    const domains = this.config.allowedEmailDomains;
    if (domains.length > 0) {
      const at = req.userId.lastIndexOf('@');
      if (at < 0) {
        return policyError('USER_ID_NOT_CHECKABLE', 'Only email addresses can be invited while ALLOWED_EMAIL_DOMAINS is set: a numeric user id cannot be checked against it.');
      }
      const domain = req.userId.slice(at + 1);
      if (!domains.includes(domain)) return policyError('EMAIL_DOMAIN_NOT_ALLOWED', `Invitations to ${domain} are not allowed by this gateway's policy.`);
    }
    if (ctx.source === 'webhook' && req.role === 'OWNER') {
      return policyError('OWNER_NOT_FROM_WEBHOOK', 'Course ownership is never granted from a webhook.');
    }
    return undefined;
  }

  private async createGuarded(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    try {
      return await this.dedupAndForward(req, ctx);
    } catch (err) {
      // Storage or programming faults: the caller may retry; no invitation was lost (a claim keeps its lease).
      log('ERROR', 'invitation request failed inside the gateway', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  /** A duplicate that arrived while an identical request was in flight here gets that request's outcome. */
  private async follow(leader: Answer, leaderRequestId: string, req: InvitationRequest, key: string, ctx: RequestContext): Promise<Answer> {
    const pair = { ...req, pairKey: key };
    const invitation = leader.httpStatus === 200 ? (leader.body as Invitation) : undefined;
    const answer: Answer = invitation
      ? ok(invitation, 'replayed', { 'Idempotent-Replayed': 'true' })
      : { ...leader, headers: { ...leader.headers } };
    try {
      return await this.decide(ctx, pair, answer, { invitationId: invitation?.id, sharedWith: leaderRequestId });
    } catch (err) {
      log('ERROR', 'could not write the audit event of a shared outcome', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  private async dedupAndForward(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = { ...req, pairKey: key };
    const started = this.now();
    const deadline = started + this.config.requestDeadlineMs;
    const waitUntil = Math.min(started + this.config.inflightWaitMs, deadline);
    const pending = auditEvent(ctx, pair, { outcome: 'pending', httpStatus: 0 });

    for (let round = 0; round < MAX_ROUNDS; round++) {
      const snap = await this.ledger.read(key);
      if (!snap) {
        const claim = await this.ledger.claimNew(key, req, pending);
        if (claim) return this.forward(claim, req, deadline);
        continue; // another request reserved it between our read and our commit
      }
      const { entry } = snap;
      if (entry.state === 'created' && entry.invitation) {
        if (entry.role === req.role) {
          return this.decide(ctx, pair, ok(entry.invitation, 'replayed', { 'Idempotent-Replayed': 'true' }), {
            invitationId: entry.invitation.id,
          });
        }
        return this.decide(ctx, pair, fromError(alreadyExists(), 'conflict'), { invitationId: entry.invitation.id });
      }
      if (this.ledger.isLeaseExpired(entry)) {
        const claim = await this.ledger.takeOver(snap, key, req, pending);
        if (claim) return this.forward(claim, req, deadline);
        continue;
      }
      if (this.now() >= waitUntil) return this.inFlight(ctx, pair, snap);
      await sleep(Math.min(POLL_MAX_MS, POLL_START_MS * 1.5 ** round));
    }
    return this.inFlight(ctx, pair, undefined);
  }

  /** Calls Classroom for a reserved pair (with retries inside the deadline) and records what happened. */
  private async forward(claim: Claim, req: InvitationRequest, deadline: number): Promise<Answer> {
    const r = await withRetries((timeoutMs) => this.classroom.create(req, { timeoutMs }), {
      deadline,
      callTimeoutMs: this.config.classroomTimeoutMs,
      policy: this.config.retryPolicy,
      toApiError,
    });
    if (r.value) {
      const invitation = r.value;
      await this.recordSafely(claim, invitation, 'created', { outcome: 'created', httpStatus: 200, invitationId: invitation.id });
      return ok(invitation, 'created');
    }
    const e = r.error;
    if (e?.upstream && e.status === 'ALREADY_EXISTS') return this.reconcile(claim, req, e, deadline);
    if (!e || (!e.upstream && e.status === 'DEADLINE_EXCEEDED')) {
      // A create that timed out may have succeeded upstream: keep the pair reserved with its lease ended,
      // so that the next request takes it over and reconciles through ALREADY_EXISTS, never inviting twice.
      const timeout = deadlineExceeded();
      await this.ledger.expireLease(claim, { outcome: 'failed', httpStatus: timeout.httpStatus, upstreamStatus: 'DEADLINE_EXCEEDED' });
      return fromError(timeout, 'failed');
    }
    return this.giveUp(claim, e);
  }

  /** Releases the pair and answers a failure: Classroom's own, or a retryable one after the retries ran out. */
  private async giveUp(claim: Claim, e: ApiError): Promise<Answer> {
    const answer = isRetryable(e) ? exhausted(e) : e;
    await this.ledger.release(claim, { outcome: 'failed', httpStatus: answer.httpStatus, ...upstreamFields(e) });
    return fromError(answer, 'failed');
  }

  /** Classroom already holds an invitation for the pair (another tool, or an attempt that crashed). */
  private async reconcile(claim: Claim, req: InvitationRequest, alreadyExistsErr: ApiError, deadline: number): Promise<Answer> {
    const r = await withRetries((timeoutMs) => this.classroom.findForPair(req.courseId, req.userId, { timeoutMs }), {
      deadline,
      callTimeoutMs: this.config.classroomTimeoutMs,
      policy: this.config.retryPolicy,
      toApiError,
    });
    if (r.error || (r.value === undefined && r.deadlineReached)) {
      return this.giveUp(claim, r.error ?? deadlineExceeded());
    }
    const existing = r.value;
    if (!existing) {
      // Gone between the two calls (accepted or deleted): nothing to adopt; answer what Classroom said.
      await this.ledger.release(claim, { outcome: 'conflict', httpStatus: alreadyExistsErr.httpStatus, ...upstreamFields(alreadyExistsErr) });
      return fromError(alreadyExistsErr, 'conflict');
    }
    if (existing.role === req.role) {
      await this.recordSafely(claim, existing, 'adopted', { outcome: 'adopted', httpStatus: 200, invitationId: existing.id });
      return ok(existing, 'adopted');
    }
    await this.recordSafely(claim, existing, 'adopted', {
      outcome: 'conflict',
      httpStatus: alreadyExistsErr.httpStatus,
      invitationId: existing.id,
      ...upstreamFields(alreadyExistsErr),
    });
    return fromError(alreadyExistsErr, 'conflict');
  }

  /**
   * Classroom has acted; a failure to record that must not turn its success into an error. The
   * reservation keeps its lease, and its successor reconciles through ALREADY_EXISTS.
   */
  private async recordSafely(claim: Claim, invitation: Invitation, origin: 'created' | 'adopted', audit: AuditFields): Promise<void> {
    try {
      await this.ledger.recordCreated(claim, invitation, origin, audit);
    } catch (err) {
      log('ERROR', 'could not record the outcome in the ledger', { requestId: claim.requestId, ...errorFields(err) });
    }
  }

  private async inFlight(ctx: RequestContext, pair: Parameters<typeof auditEvent>[1], snap: LedgerSnapshot | undefined): Promise<Answer> {
    const leaseLeftMs = snap?.entry.leaseExpiresAt ? snap.entry.leaseExpiresAt.toMillis() - this.now() : 1000;
    const retryAfterS = Math.min(5, Math.max(1, leaseLeftMs / 1000));
    const err = retryable(
      'ABORTED',
      'An identical request for this user and course is still in progress. Retry after the indicated delay.',
      retryAfterS,
      'REQUEST_IN_FLIGHT',
    );
    return this.decide(ctx, pair, fromError(err, 'in_flight'), {});
  }

  /** Writes the final audit event of a request that reserved nothing, then answers. */
  private async decide(
    ctx: RequestContext,
    pair: Parameters<typeof auditEvent>[1],
    answer: Answer,
    extra: Partial<AuditFields>,
  ): Promise<Answer> {
    await this.ledger.appendAudit(auditEvent(ctx, pair, { outcome: answer.outcome, httpStatus: answer.httpStatus, ...extra }));
    return answer;
  }
}

function policyError(reason: string, message: string): ApiError {
  return gatewayError('PERMISSION_DENIED', message, { details: [errorInfo(reason)] });
}

/** Our deadline passed before Classroom answered; the invitation may exist. */
export function deadlineExceeded(): ApiError {
  return gatewayError('DEADLINE_EXCEEDED', 'Classroom did not answer within the deadline. The invitation may have been created; retry to find out.');
}

/** A retryable failure that outlasted the retries: 429 for quota, 503 for the rest, with Retry-After. */
export function exhausted(e: ApiError): ApiError {
  const afterS = Math.ceil((retryAfterMs(e) ?? 0) / 1000);
  if (e.status === 'RESOURCE_EXHAUSTED') {
    // Classroom's own quota error, passed through, with a delay for the caller.
    return new ApiError({ httpStatus: 429, body: e.body, upstream: e.upstream, headers: { ...e.headers, 'Retry-After': String(Math.max(afterS, 10)) } });
  }
  const what = e.upstream ? `Classroom answered ${e.httpStatus} ${e.status}` : 'Classroom could not be reached';
  return retryable('UNAVAILABLE', `${what} and retries did not help. Retry the request later.`, Math.max(afterS, 5), 'UPSTREAM_UNAVAILABLE');
}

export function alreadyExists(): ApiError {
  return gatewayError('ALREADY_EXISTS', CLASSROOM_ALREADY_EXISTS_MESSAGE);
}
