// The create flow: validate, deduplicate in the ledger, forward only what is new, answer as Classroom would.
import { auditEvent, AuditFields, Outcome, RequestContext } from './audit';
import type { ClassroomInvitations, Invitation } from './classroom';
import type { Config } from './config';
import { ApiError, badRequest, errorInfo, gatewayError, retryable, toApiError } from './errors';
import { fingerprint, IdempotencyKeys, isStorable, parseIdempotencyKey } from './idempotency';
import { isRetryable, retryAfterMs, RetryResult, withRetries } from './retry';
import type { Claim, Ledger, LedgerEntry, LedgerOrigin, LedgerSnapshot } from './ledger';
import { pairKey } from './ledger';
import { errorFields, log } from './logs';
import type { RefusalAudit } from './refusal-audit';
import { InvitationRequest, parseCreateRequest, RawRequest } from './validation';

/** Request options of POST /v1/invitations. */
export interface CreateOptions {
  /** ?replace=true: a pending invitation of another role is deleted and this one created. */
  replace?: boolean;
  /** ?validateOnly=true (AIP-163): check everything, change nothing, call no one. */
  validateOnly?: boolean;
}

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
    /** Refusals before validation passed (anyone can send them): audited through a per-instance limiter. */
    private readonly refusals: RefusalAudit | undefined = undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** A request refused before validation (e.g. by the caller policy), audited like any decision. */
  async refuse(raw: RawRequest, ctx: RequestContext, err: ApiError): Promise<Answer> {
    return this.refuseCompactly(ctx, requestedPair(raw), fromError(err, 'rejected'), { reason: err.body.message });
  }

  /** POST /v1/invitations. Never throws: every path ends in an answer and an audit event. */
  async createFromHttp(raw: RawRequest, ctx: RequestContext, idempotencyKeyHeader?: string, opts: CreateOptions = {}): Promise<Answer> {
    let req: InvitationRequest;
    let key: string | undefined;
    try {
      req = parseCreateRequest(raw);
      key = parseIdempotencyKey(idempotencyKeyHeader);
    } catch (err) {
      const e = toApiError(err);
      const violations = (e.body.details?.[0] as { fieldViolations?: { field: string }[] } | undefined)?.fieldViolations;
      return this.refuseCompactly(ctx, requestedPair(raw), fromError(e, 'rejected'), { violations: violations?.map((v) => v.field).slice(0, 10) });
    }
    if (opts.validateOnly) return this.validate(req, ctx, opts);
    if (key === undefined || !this.keys) return this.create(req, ctx, opts);
    try {
      return await this.createWithKey(this.keys, req, key, ctx, opts);
    } catch (err) {
      log('ERROR', 'idempotency key handling failed', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  private async createWithKey(keys: IdempotencyKeys, req: InvitationRequest, key: string, ctx: RequestContext, opts: CreateOptions): Promise<Answer> {
    const pair = { ...req, pairKey: pairKey(req.courseId, req.userId) };
    // Keys are scoped per caller; unverified callers per claim, which spares honest callers from colliding and
    // gives a forger nothing it could not get by sending the same request itself.
    const scope = ctx.claimedCaller === undefined ? ctx.caller : `${ctx.caller}:${ctx.claimedCaller}`;
    const decision = await keys.begin(scope, key, fingerprint(req, opts), ctx.requestId);
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
        const answer = await this.create(req, ctx, opts);
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
  async create(req: InvitationRequest, ctx: RequestContext, opts: CreateOptions = {}): Promise<Answer> {
    const refusal = this.policyRefusal(req, ctx);
    if (refusal) {
      return this.decideSafely(ctx, { ...req, pairKey: pairKey(req.courseId, req.userId) }, fromError(refusal, 'rejected'), { reason: refusal.body.message });
    }
    // Identical requests in flight in this instance share one pass through the ledger (single flight):
    // a burst of duplicates costs Firestore one claim per instance, not one per request.
    const key = pairKey(req.courseId, req.userId);
    const flightKey = `${key}|${req.role}|${opts.replace ? 'replace' : ''}`;
    const leader = this.inflight.get(flightKey);
    if (leader) return this.follow(await leader.answer, leader.requestId, req, key, ctx);
    const answer = this.createGuarded(req, ctx, opts);
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

  private async createGuarded(req: InvitationRequest, ctx: RequestContext, opts: CreateOptions): Promise<Answer> {
    try {
      return await this.dedupAndForward(req, ctx, opts);
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

  private async dedupAndForward(req: InvitationRequest, ctx: RequestContext, opts: CreateOptions): Promise<Answer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = { ...req, pairKey: key };
    const started = this.now();
    const deadline = started + this.config.requestDeadlineMs;
    const waitUntil = Math.min(started + this.config.inflightWaitMs, deadline);
    const pending = auditEvent(ctx, pair, { outcome: 'pending', httpStatus: 0 });

    // Every branch that loses a race re-reads; the deadline bounds the rounds (each costs at least one read).
    let confirmed = false; // Classroom confirmed the entry during this request: never ask twice
    for (let round = 0; this.now() < deadline; round++) {
      let snap = await this.ledger.read(key);
      if (!snap) {
        const claim = await this.ledger.claimNew(key, req, pending);
        if (claim) return this.forward(claim, req, deadline);
        continue; // another request reserved it between our read and our commit
      }
      if (snap.entry.state === 'created' && snap.entry.invitation && !confirmed && this.isStale(snap.entry)) {
        const checked = await this.recheck(key, snap, deadline);
        if (checked === 'gone') continue; // released: now a new pair
        confirmed = true;
        if (checked === 'changed') continue;
        if (checked !== 'unknown') snap = checked;
      }
      const { entry } = snap;
      if (entry.state === 'created' && entry.invitation) {
        if (entry.role === req.role) {
          return this.decide(ctx, pair, ok(entry.invitation, 'replayed', { 'Idempotent-Replayed': 'true' }), {
            invitationId: entry.invitation.id,
          });
        }
        const refusal = opts.replace ? replaceRefusal(entry, ctx) : undefined;
        if (!opts.replace || refusal) {
          return this.decide(ctx, pair, fromError(alreadyExists(), 'conflict'), { invitationId: entry.invitation.id, reason: refusal });
        }
        const claim = await this.ledger.takeOver(snap, key, req, pending);
        if (claim) return this.replaceAndForward(claim, req, entry, deadline);
        continue;
      }
      if (this.ledger.isLeaseExpired(entry)) {
        const claim = await this.ledger.takeOver(snap, key, req, pending);
        if (claim) return this.forward({ ...claim, recovered: true }, req, deadline);
        continue;
      }
      if (this.now() >= waitUntil) return this.inFlight(ctx, pair, snap);
      await sleep(Math.min(POLL_MAX_MS, POLL_START_MS * 1.5 ** round, Math.max(0, deadline - this.now())));
    }
    return this.inFlight(ctx, pair, undefined);
  }

  /** Calls Classroom for a reserved pair (with retries inside the deadline) and records what happened. */
  private async forward(claim: Claim, req: InvitationRequest, deadline: number, replaced?: Invitation): Promise<Answer> {
    const r = await this.callClassroom((timeoutMs) => this.classroom.create(req, { timeoutMs }), deadline);
    if (r.value) {
      const invitation = r.value;
      const outcome = replaced ? 'replaced' : 'created';
      await this.recordSafely(claim, invitation, 'created', { outcome, httpStatus: 200, invitationId: invitation.id, replacedInvitationId: replaced?.id });
      return ok(invitation, outcome);
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

  /** Deletes the pending invitation of another role, then creates the requested one: one decision. */
  private async replaceAndForward(claim: Claim, req: InvitationRequest, old: LedgerEntry, deadline: number): Promise<Answer> {
    const previous = old.invitation!;
    const del = await this.callClassroom((timeoutMs) => this.classroom.delete(previous.id, { timeoutMs }), deadline);
    const e = failureOf(del);
    if (e && !(e.upstream && e.status === 'NOT_FOUND')) {
      // The old invitation still stands: put it back in the ledger, and answer why nothing changed.
      const answer = isRetryable(e) ? exhausted(e) : e;
      await this.recordSafely(claim, previous, old.origin ?? 'created', {
        outcome: 'failed',
        httpStatus: answer.httpStatus,
        invitationId: previous.id,
        ...upstreamFields(e),
      });
      return fromError(answer, 'failed');
    }
    // The old invitation is gone: no other key (the person's numeric id, the course's alias) may answer for it.
    await this.ledger.releaseInvitation(previous.id, { except: claim.key });
    return this.forward(claim, req, deadline, previous);
  }

  /** A Classroom call with the gateway's retry policy, inside the request's deadline. */
  private callClassroom<T>(call: (timeoutMs: number) => Promise<T>, deadline: number, maxAttempts?: number): Promise<RetryResult<T>> {
    const policy = maxAttempts ? { ...this.config.retryPolicy, maxAttempts } : this.config.retryPolicy;
    return withRetries(call, { deadline, callTimeoutMs: this.config.classroomTimeoutMs, policy, toApiError });
  }

  /** Is a created entry old enough that Classroom should confirm it before it answers for it? */
  private isStale(entry: LedgerEntry): boolean {
    const seen = (entry.checkedAt ?? entry.updatedAt)?.toMillis() ?? 0;
    return this.now() - seen >= this.config.ledgerRecheckAfterMs;
  }

  /**
   * Asks Classroom whether the invitation still exists (it may have been accepted or deleted elsewhere).
   * Present: the entry as it now stands (marked checked), or `changed` when another request wrote it meanwhile.
   * Gone: every entry holding it is released and the request proceeds as new. Unknown (Classroom unreachable):
   * the ledger's answer stands; a stale replay beats failing a request that is most likely a repeat.
   */
  private async recheck(key: string, snap: LedgerSnapshot, deadline: number): Promise<LedgerSnapshot | 'changed' | 'gone' | 'unknown'> {
    const id = snap.entry.invitation!.id;
    const r = await this.callClassroom((timeoutMs) => this.classroom.get(id, { timeoutMs }), deadline, 2);
    if (r.value) {
      try {
        return (await this.ledger.markChecked(key, snap)) ?? 'changed';
      } catch (err) {
        log('WARNING', 'could not mark a ledger entry checked', errorFields(err));
        return snap;
      }
    }
    if (r.error?.upstream && r.error.status === 'NOT_FOUND') {
      await this.ledger.releaseInvitation(id);
      return 'gone';
    }
    return 'unknown';
  }

  /** ?validateOnly=true: the answer the real call would most likely get; only an audit event is written. */
  private async validate(req: InvitationRequest, ctx: RequestContext, opts: CreateOptions): Promise<Answer> {
    const refusal = this.policyRefusal(req, ctx);
    const key = pairKey(req.courseId, req.userId);
    const pair = { ...req, pairKey: key };
    let answer: Answer;
    try {
      if (refusal) {
        answer = fromError(refusal, 'validated');
      } else {
        const snap = await this.ledger.read(key);
        const entry = snap?.entry;
        if (entry?.state === 'created' && entry.invitation && entry.role === req.role) {
          answer = ok(entry.invitation, 'validated');
        } else if (entry?.state === 'created' && entry.invitation && !opts.replace) {
          answer = fromError(alreadyExists(), 'validated');
        } else {
          // What a create would send back, but for the id only Classroom can assign.
          answer = { httpStatus: 200, body: { userId: req.userId, courseId: req.courseId, role: req.role }, headers: {}, outcome: 'validated' };
        }
      }
      return await this.decide(ctx, pair, answer, { reason: 'validateOnly' });
    } catch (err) {
      log('ERROR', 'validateOnly failed inside the gateway', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  /**
   * DELETE /v1/invitations/{id}: only for an invitation the ledger holds as made (or adopted) for a caller of this
   * gateway; any other id is answered 404 as Classroom words it, without a call, so the gateway cannot be used to
   * delete invitations other tools made. Then Classroom's delete, and every ledger entry holding the id released.
   */
  async deleteInvitation(id: string, ctx: RequestContext): Promise<Answer> {
    const nothing = { courseId: null, userId: null, role: null, pairKey: null };
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(id)) {
      const e = badRequest('Invalid invitation id.', [{ field: 'id', description: 'an invitation id as Classroom assigns it' }]);
      return this.refuseCompactly(ctx, nothing, fromError(e, 'rejected'), { invitationId: id.slice(0, 256) });
    }
    try {
      const holding = await this.ledger.findByInvitationId(id);
      const held = holding.filter(({ snapshot: { entry } }) => entry.state === 'created' && entry.origin === 'created');
      const first = held[0];
      if (!first) {
        return await this.decide(ctx, nothing, fromError(notFound(), 'rejected'), { invitationId: id, reason: 'the invitation is not held by this gateway' });
      }
      const pair = { courseId: first.snapshot.entry.courseId, userId: first.snapshot.entry.userId, role: first.snapshot.entry.role, pairKey: first.key };
      const deadline = this.now() + this.config.requestDeadlineMs;
      const r = await this.callClassroom((timeoutMs) => this.classroom.delete(id, { timeoutMs }), deadline);
      const e = failureOf(r);
      // The entries found before the call are re-read if they changed meanwhile (a replay marked one checked,
      // a replace took one over): each is released only if it still holds this invitation.
      if (!e || (e.upstream && e.status === 'NOT_FOUND')) await this.ledger.releaseInvitation(id, { found: holding });
      const answer: Answer = e ? fromError(isRetryable(e) ? exhausted(e) : e, 'failed') : { httpStatus: 200, body: {}, headers: {}, outcome: 'deleted' };
      return await this.decide(ctx, pair, answer, { invitationId: id, ...(e ? upstreamFields(e) : {}) });
    } catch (err) {
      log('ERROR', 'delete failed inside the gateway', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  /**
   * A tobedeleted enrollment: withdraws the pending invitation of that role for the pair, if this gateway created
   * it. Nothing pending, a pending invitation of another role, or one made elsewhere is reported as skipped.
   */
  async withdraw(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = { ...req, pairKey: key };
    try {
      const snap = await this.ledger.read(key);
      const entry = snap?.entry;
      if (!snap || !entry) return this.decide(ctx, pair, skipped('no pending invitation to withdraw'), { reason: 'no pending invitation to withdraw' });
      if (entry.state !== 'created' || !entry.invitation) {
        return this.decide(ctx, pair, fromError(retryable('ABORTED', 'An invitation for this pair is being created; withdraw it later.', 1, 'REQUEST_IN_FLIGHT'), 'in_flight'), {});
      }
      const why =
        entry.role !== req.role ? `the pending invitation is for role ${entry.role}, not ${req.role}` : entry.origin !== 'created' || entry.role === 'OWNER' ? 'the pending invitation was not created by this gateway' : undefined;
      if (why) return this.decide(ctx, pair, skipped(why), { reason: why, invitationId: entry.invitation.id });
      const id = entry.invitation.id;
      const deadline = this.now() + this.config.requestDeadlineMs;
      const r = await this.callClassroom((timeoutMs) => this.classroom.delete(id, { timeoutMs }), deadline);
      const e = failureOf(r);
      if (e && !(e.upstream && e.status === 'NOT_FOUND')) {
        return this.decide(ctx, pair, fromError(isRetryable(e) ? exhausted(e) : e, 'failed'), { invitationId: id, ...upstreamFields(e) });
      }
      await this.ledger.releaseInvitation(id);
      return this.decide(ctx, pair, { httpStatus: 200, body: {}, headers: {}, outcome: 'withdrawn' }, { replacedInvitationId: id });
    } catch (err) {
      log('ERROR', 'withdrawal failed inside the gateway', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  /**
   * For answers that stand whatever happens to the audit (a caller's mistake stays a 400 even when the audit
   * store is down); the log keeps the trace.
   */
  private async decideSafely(ctx: RequestContext, pair: Parameters<typeof auditEvent>[1], answer: Answer, extra: Partial<AuditFields>): Promise<Answer> {
    try {
      return await this.decide(ctx, pair, answer, extra);
    } catch (err) {
      log('ERROR', 'could not write an audit event', { requestId: ctx.requestId, ...errorFields(err) });
      return answer;
    }
  }

  /**
   * A refusal of a request that never passed validation or the caller check: anyone can send those, so they go
   * through the refusal limiter (bounded rate, expiring events) instead of one kept document each.
   */
  private async refuseCompactly(ctx: RequestContext, pair: Parameters<typeof auditEvent>[1], answer: Answer, extra: Partial<AuditFields>): Promise<Answer> {
    if (!this.refusals) return this.decideSafely(ctx, pair, answer, extra);
    await this.refusals.record(auditEvent(ctx, pair, { outcome: answer.outcome, httpStatus: answer.httpStatus, ...extra }));
    return answer;
  }

  /** Releases the pair and answers a failure: Classroom's own, or a retryable one after the retries ran out. */
  private async giveUp(claim: Claim, e: ApiError): Promise<Answer> {
    const answer = isRetryable(e) ? exhausted(e) : e;
    await this.ledger.release(claim, { outcome: 'failed', httpStatus: answer.httpStatus, ...upstreamFields(e) });
    return fromError(answer, 'failed');
  }

  /**
   * Who made an invitation Classroom already had: this gateway, if another ledger key (the person's numeric id, the
   * course's alias) records it as created here, or if this request took over a reservation whose holder died or
   * timed out mid-call (its create is what Classroom holds); else another tool or a person (`adopted` when it is
   * what was asked for, `observed` when not). Only `created` may later be deleted, replaced or withdrawn.
   */
  private async originOf(claim: Claim, existing: Invitation, req: InvitationRequest): Promise<LedgerOrigin> {
    const holders = await this.ledger.findByInvitationId(existing.id);
    if (holders.some(({ key, snapshot }) => key !== claim.key && snapshot.entry.state === 'created' && snapshot.entry.origin === 'created')) return 'created';
    if (claim.recovered && existing.role === req.role) return 'created';
    return existing.role === req.role ? 'adopted' : 'observed';
  }

  /** Classroom already holds an invitation for the pair (another tool, or an attempt that crashed). */
  private async reconcile(claim: Claim, req: InvitationRequest, alreadyExistsErr: ApiError, deadline: number): Promise<Answer> {
    const r = await this.callClassroom((timeoutMs) => this.classroom.findForPair(req.courseId, req.userId, { timeoutMs }), deadline);
    if (r.error || (r.value === undefined && r.deadlineReached)) {
      return this.giveUp(claim, r.error ?? deadlineExceeded());
    }
    const existing = r.value;
    if (!existing) {
      // Gone between the two calls (accepted or deleted): nothing to adopt; answer what Classroom said.
      await this.ledger.release(claim, { outcome: 'conflict', httpStatus: alreadyExistsErr.httpStatus, ...upstreamFields(alreadyExistsErr) });
      return fromError(alreadyExistsErr, 'conflict');
    }
    const origin = await this.originOf(claim, existing, req);
    if (existing.role === req.role) {
      await this.recordSafely(claim, existing, origin, { outcome: 'adopted', httpStatus: 200, invitationId: existing.id });
      return ok(existing, 'adopted');
    }
    await this.recordSafely(claim, existing, origin, {
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
  private async recordSafely(claim: Claim, invitation: Invitation, origin: LedgerOrigin, audit: AuditFields): Promise<void> {
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

/** The error a call ended with, a deadline that passed before any call counting as one. */
function failureOf(r: RetryResult<unknown>): ApiError | undefined {
  return r.error ?? (r.deadlineReached && !r.attempts ? deadlineExceeded() : undefined);
}

/** What an unvalidated request asked for, kept for its audit event. */
function requestedPair(raw: RawRequest): Parameters<typeof auditEvent>[1] {
  const body = (typeof raw.body === 'object' && raw.body !== null ? raw.body : {}) as Record<string, unknown>;
  return { courseId: body.courseId, userId: body.userId, role: body.role, pairKey: null };
}

function skipped(reason: string): Answer {
  return { httpStatus: 200, body: { reason }, headers: {}, outcome: 'skipped' };
}

/**
 * Why a request may not replace this pending invitation, or undefined when it may. A replacement deletes only what
 * this gateway created (an invitation another tool or a person made is theirs), and a feed's role change never
 * deletes an OWNER invitation: ownership is a person's decision.
 */
function replaceRefusal(entry: LedgerEntry, ctx: RequestContext): string | undefined {
  if (entry.origin !== 'created') return 'the pending invitation was not created by this gateway; it is never replaced';
  if (ctx.source === 'webhook' && entry.role === 'OWNER') return 'a webhook never replaces an OWNER invitation';
  return undefined;
}

/** Classroom's answer for an invitation id it does not know. */
export function notFound(): ApiError {
  return gatewayError('NOT_FOUND', 'Requested entity was not found.');
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
