// The create flow: validate, deduplicate in the ledger, forward only what is new, answer as Classroom would.
import { auditEvent, AuditFields, Outcome, RequestContext } from './audit';
import type { ClassroomInvitations, Invitation } from './classroom';
import type { Config } from './config';
import { ApiError, gatewayError, retryable, toApiError } from './errors';
import type { Claim, Ledger, LedgerSnapshot } from './ledger';
import { pairKey } from './ledger';
import { errorFields, log } from './logs';
import { InvitationRequest, parseCreateRequest, RawRequest } from './validation';

export interface Answer {
  httpStatus: number;
  body: unknown;
  headers: Record<string, string>;
  outcome: Outcome;
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
  return { httpStatus: err.httpStatus, body: err.toJSON(), headers: err.headers, outcome };
}

function upstreamFields(err: ApiError): Pick<AuditFields, 'upstreamStatus' | 'upstreamMessage'> {
  return err.upstream ? { upstreamStatus: err.status, upstreamMessage: err.body.message.slice(0, 500) } : {};
}

export class InvitationGateway {
  constructor(
    private readonly config: Config,
    private readonly ledger: Ledger,
    private readonly classroom: ClassroomInvitations,
    private readonly now: () => number = Date.now,
  ) {}

  /** POST /v1/invitations. Never throws: every path ends in an answer and an audit event. */
  async createFromHttp(raw: RawRequest, ctx: RequestContext): Promise<Answer> {
    let req: InvitationRequest;
    try {
      req = parseCreateRequest(raw);
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
    return this.create(req, ctx);
  }

  /** The ledger and Classroom part, for a request that passed validation. */
  async create(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    try {
      return await this.dedupAndForward(req, ctx);
    } catch (err) {
      // Storage or programming faults: the caller may retry; no invitation was lost (a claim keeps its lease).
      log('ERROR', 'invitation request failed inside the gateway', { requestId: ctx.requestId, ...errorFields(err) });
      return fromError(toApiError(err), 'failed');
    }
  }

  private async dedupAndForward(req: InvitationRequest, ctx: RequestContext): Promise<Answer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = { ...req, pairKey: key };
    const waitUntil = this.now() + this.config.inflightWaitMs;
    const pending = auditEvent(ctx, pair, { outcome: 'pending', httpStatus: 0 });

    for (let round = 0; round < MAX_ROUNDS; round++) {
      const snap = await this.ledger.read(key);
      if (!snap) {
        const claim = await this.ledger.claimNew(key, req, pending);
        if (claim) return this.forward(claim, req);
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
        if (claim) return this.forward(claim, req);
        continue;
      }
      if (this.now() >= waitUntil) return this.inFlight(ctx, pair, snap);
      await sleep(Math.min(POLL_MAX_MS, POLL_START_MS * 1.5 ** round));
    }
    return this.inFlight(ctx, pair, undefined);
  }

  /** Calls Classroom for a reserved pair and records what happened. */
  private async forward(claim: Claim, req: InvitationRequest): Promise<Answer> {
    const timeoutMs = this.config.classroomTimeoutMs;
    let invitation: Invitation;
    try {
      invitation = await this.classroom.create(req, { timeoutMs });
    } catch (err) {
      const e = toApiError(err);
      if (e.upstream && e.status === 'ALREADY_EXISTS') return this.reconcile(claim, req, e);
      if (e.status === 'DEADLINE_EXCEEDED') {
        // The create may have succeeded upstream: keep the pair reserved, lease ended, so that the next
        // request takes it over and reconciles through ALREADY_EXISTS instead of inviting twice.
        await this.ledger.expireLease(claim, { outcome: 'failed', httpStatus: e.httpStatus, upstreamStatus: 'DEADLINE_EXCEEDED' });
        return fromError(e, 'failed');
      }
      await this.ledger.release(claim, { outcome: 'failed', httpStatus: e.httpStatus, ...upstreamFields(e) });
      return fromError(e, 'failed');
    }
    await this.recordSafely(claim, invitation, 'created', { outcome: 'created', httpStatus: 200, invitationId: invitation.id });
    return ok(invitation, 'created');
  }

  /** Classroom already holds an invitation for the pair (another tool, or an attempt that crashed). */
  private async reconcile(claim: Claim, req: InvitationRequest, alreadyExistsErr: ApiError): Promise<Answer> {
    let existing: Invitation | undefined;
    try {
      existing = await this.classroom.findForPair(req.courseId, req.userId, { timeoutMs: this.config.classroomTimeoutMs });
    } catch (err) {
      const e = toApiError(err);
      await this.ledger.release(claim, { outcome: 'failed', httpStatus: e.httpStatus, ...upstreamFields(e) });
      return fromError(e, 'failed');
    }
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

export function alreadyExists(): ApiError {
  return gatewayError('ALREADY_EXISTS', CLASSROOM_ALREADY_EXISTS_MESSAGE);
}
