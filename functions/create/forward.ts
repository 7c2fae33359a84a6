// The Classroom side of the create flow, for a pair this request has reserved: create (or replace) the
// invitation, reconcile an ALREADY_EXISTS, and record the outcome in the ledger; never invite twice.
import {AuditFields, CallTrace, subjectField} from '../audit';
import {CreateAnswer, fromError, ok} from '../answers';
import type {ClassroomInvitations, Invitation} from '../classroom';
import type {Config} from '../config';
import type {ApiError} from '../errors';
import type {Claim, LedgerEntry, LedgerOrigin} from '../ledger';
import type {CreateLedger} from './flow';
import * as logs from '../log-events';
import {isRetryable, withRetries} from '../retry';
import {
  retryOptions,
  deadlineExceeded,
  exhausted,
  failureOf,
  upstreamFields,
} from '../upstream';
import type {InvitationRequest} from '../validation';

export class Forwarder {
  constructor(
    private readonly config: Config,
    private readonly ledger: CreateLedger,
    private readonly classroom: ClassroomInvitations,
  ) {}

  /** Calls Classroom for a reserved pair (with retries inside the deadline) and records what happened. */
  async forward(
    claim: Claim,
    req: InvitationRequest,
    deadline: number,
    replaced?: Invitation,
  ): Promise<CreateAnswer> {
    const via: CallTrace = {};
    const r = await withRetries(
      o => this.classroom.create(req, {...o, via}),
      retryOptions(this.config, deadline),
    );
    if (r.value) {
      const invitation = r.value;
      const outcome = replaced ? 'replaced' : 'created';
      await this.recordSafely(claim, invitation, 'created', {
        outcome,
        httpStatus: 200,
        invitationId: invitation.id,
        replacedInvitationId: replaced?.id,
        ...subjectField(via),
      });
      return ok(invitation, outcome);
    }
    const e = r.error;
    if (e?.upstream && e.status === 'ALREADY_EXISTS')
      return this.reconcile(claim, req, e, deadline);
    if (!e || (!e.upstream && e.status === 'DEADLINE_EXCEEDED')) {
      // A create that timed out may have succeeded upstream: keep the pair reserved with its lease ended,
      // so that the next request takes it over and reconciles through ALREADY_EXISTS, never inviting twice.
      const timeout = deadlineExceeded();
      await this.ledger.expireLease(claim, {
        outcome: 'failed',
        httpStatus: timeout.httpStatus,
        upstreamStatus: 'DEADLINE_EXCEEDED',
        ...subjectField(via),
      });
      return fromError(timeout, 'failed');
    }
    return this.giveUp(claim, e, via);
  }

  /** Deletes the pending invitation of another role, then creates the requested one: one decision. */
  async replaceAndForward(
    claim: Claim,
    req: InvitationRequest,
    old: LedgerEntry,
    deadline: number,
  ): Promise<CreateAnswer> {
    const previous = old.invitation!;
    const via: CallTrace = {};
    const del = await withRetries(
      o => this.classroom.delete(previous.id, {...o, via}),
      retryOptions(this.config, deadline),
    );
    const e = failureOf(del);
    if (e && !(e.upstream && e.status === 'NOT_FOUND')) {
      // The old invitation still stands: put it back in the ledger, and answer why nothing changed.
      const answer = isRetryable(e) ? exhausted(e) : e;
      await this.recordSafely(claim, previous, old.origin ?? 'created', {
        outcome: 'failed',
        httpStatus: answer.httpStatus,
        invitationId: previous.id,
        ...upstreamFields(e),
        ...subjectField(via),
      });
      return fromError(answer, 'failed');
    }
    // The old invitation is gone: no other key (the person's numeric id, the course's alias) may answer for it.
    await this.ledger.releaseInvitation(previous.id, {except: claim.key});
    return this.forward(claim, req, deadline, previous);
  }

  /** Releases the pair and answers a failure: Classroom's own, or a retryable one after the retries ran out. */
  private async giveUp(
    claim: Claim,
    e: ApiError,
    via: CallTrace,
  ): Promise<CreateAnswer> {
    return this.releaseWith(
      claim,
      isRetryable(e) ? exhausted(e) : e,
      'failed',
      e,
      via,
    );
  }

  /** Frees the pair, completing the claim's audit event with the answer and what Classroom said (`cause`). */
  private async releaseWith(
    claim: Claim,
    answer: ApiError,
    outcome: 'failed' | 'conflict',
    cause: ApiError = answer,
    via: CallTrace = {},
  ): Promise<CreateAnswer> {
    await this.ledger.release(claim, {
      outcome,
      httpStatus: answer.httpStatus,
      ...upstreamFields(cause),
      ...subjectField(via),
    });
    return fromError(answer, outcome);
  }

  /**
   * Who made an invitation Classroom already had: this gateway, if another ledger key (the person's numeric id, the
   * course's alias) records it as created here, or if this request took over a reservation whose holder died or
   * timed out mid-call (its create is what Classroom holds); else another tool or a person (`adopted` when it is
   * what was asked for, `observed` when not). Only `created` may later be deleted, replaced or withdrawn.
   */
  private async originOf(
    claim: Claim,
    existing: Invitation,
    req: InvitationRequest,
  ): Promise<LedgerOrigin> {
    // A recovered create needs no lookup: the holder this request took over is what Classroom answered for.
    if (claim.recovered && existing.role === req.role) return 'created';
    const holders = await this.ledger.findByInvitationId(existing.id);
    const createdHere = holders.some(
      ({key, snapshot}) =>
        key !== claim.key &&
        snapshot.entry.state === 'created' &&
        snapshot.entry.origin === 'created',
    );
    if (createdHere) return 'created';
    return existing.role === req.role ? 'adopted' : 'observed';
  }

  /** Classroom already holds an invitation for the pair (another tool, or an attempt that crashed). */
  private async reconcile(
    claim: Claim,
    req: InvitationRequest,
    alreadyExistsErr: ApiError,
    deadline: number,
  ): Promise<CreateAnswer> {
    const via: CallTrace = {};
    const r = await withRetries(
      o => this.classroom.findForPair(req.courseId, req.userId, {...o, via}),
      retryOptions(this.config, deadline),
    );
    if (r.error || (r.value === undefined && r.deadlineReached)) {
      return this.giveUp(claim, r.error ?? deadlineExceeded(), via);
    }
    const existing = r.value;
    if (!existing) {
      // Gone between the two calls (accepted or deleted): nothing to adopt; answer what Classroom said.
      return this.releaseWith(
        claim,
        alreadyExistsErr,
        'conflict',
        alreadyExistsErr,
        via,
      );
    }
    const origin = await this.originOf(claim, existing, req);
    if (existing.role === req.role) {
      await this.recordSafely(claim, existing, origin, {
        outcome: 'adopted',
        httpStatus: 200,
        invitationId: existing.id,
        ...subjectField(via),
      });
      return ok(existing, 'adopted');
    }
    await this.recordSafely(claim, existing, origin, {
      outcome: 'conflict',
      httpStatus: alreadyExistsErr.httpStatus,
      invitationId: existing.id,
      ...upstreamFields(alreadyExistsErr),
      ...subjectField(via),
    });
    return fromError(alreadyExistsErr, 'conflict');
  }

  /**
   * Classroom has acted; a failure to record that must not turn its success into an error. The
   * reservation keeps its lease, and its successor reconciles through ALREADY_EXISTS.
   */
  private async recordSafely(
    claim: Claim,
    invitation: Invitation,
    origin: LedgerOrigin,
    audit: AuditFields,
  ): Promise<void> {
    try {
      await this.ledger.recordCreated(claim, invitation, origin, audit);
    } catch (err) {
      logs.recordFailed(claim.requestId, err);
    }
  }
}
