// The create flow: policy, single flight within the instance, then the ledger loop that deduplicates across
// instances (claim new, replay, replace, take over an abandoned claim, wait for one in flight).
import {auditEvent, AuditPair, RequestContext} from '../audit';
import {CreateAnswer, ErrorAnswer, fromError, ok} from '../answers';
import type {ClassroomInvitations} from '../classroom';
import type {Config} from '../config';
import {decide, decideSafely} from '../decisions';
import {retryable, toApiError} from '../errors';
import type {Ledger, LedgerEntry, LedgerSnapshot} from '../ledger';
import {pairKey} from '../ledger';
import * as logs from '../log-events';
import {policyRefusal, replaceRefusal} from '../policy';
import {alreadyExists} from '../upstream';
import type {InvitationRequest} from '../validation';
import {Forwarder} from './forward';
import {recheck} from './recheck';

/** Request options of POST /v1/invitations. */
export interface CreateOptions {
  /** ?replace=true: a pending invitation of another role is deleted and this one created. */
  replace?: boolean;
  /** ?validateOnly=true (AIP-163): check everything, change nothing, call no one. */
  validateOnly?: boolean;
  /** An earlier end than REQUEST_DEADLINE_MS from now (epoch ms): a webhook delivery's, shared by its enrollments. */
  deadline?: number;
}

// Reads while waiting for an in-flight first request: quick at first, then gentler on Firestore.
const POLL_START_MS = 25;
const POLL_MAX_MS = 250;

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/**
 * What the create flow needs of the ledger: the Firestore Ledger below, or an in-memory one that unit tests
 * run the flow's branches against (each branch is also covered on the emulator).
 */
export type CreateLedger = Pick<
  Ledger,
  | 'read'
  | 'claimNew'
  | 'takeOver'
  | 'isLeaseExpired'
  | 'recordCreated'
  | 'release'
  | 'expireLease'
  | 'findByInvitationId'
  | 'releaseInvitation'
  | 'markChecked'
  | 'appendAudit'
>;

export class CreateFlow {
  private readonly inflight = new Map<
    string,
    {answer: Promise<CreateAnswer>; requestId: string}
  >();
  private readonly forwarder: Forwarder;

  constructor(
    private readonly config: Config,
    private readonly ledger: CreateLedger,
    private readonly classroom: ClassroomInvitations,
    private readonly now: () => number = Date.now,
  ) {
    this.forwarder = new Forwarder(config, ledger, classroom);
  }

  /** The ledger and Classroom part, for a request that passed validation. Never throws. */
  async create(
    req: InvitationRequest,
    ctx: RequestContext,
    opts: CreateOptions = {},
  ): Promise<CreateAnswer> {
    const refusal = policyRefusal(this.config, req, ctx);
    if (refusal) {
      return decideSafely(
        this.ledger,
        ctx,
        {...req, pairKey: pairKey(req.courseId, req.userId)},
        fromError(refusal, 'rejected'),
        {reason: refusal.body.message},
      );
    }
    // Identical requests in flight in this instance share one pass through the ledger (single flight):
    // a burst of duplicates costs Firestore one claim per instance, not one per request.
    const key = pairKey(req.courseId, req.userId);
    const flightKey = `${key}|${req.role}|${opts.replace ? 'replace' : ''}`;
    const leader = this.inflight.get(flightKey);
    if (leader)
      return this.follow(await leader.answer, leader.requestId, req, key, ctx);
    const answer = this.dedupAndForward(req, ctx, opts).catch(err =>
      this.failed(ctx, err),
    );
    this.inflight.set(flightKey, {answer, requestId: ctx.requestId});
    try {
      return await answer;
    } finally {
      this.inflight.delete(flightKey);
    }
  }

  /** Storage or programming faults: the caller may retry; no invitation was lost (a claim keeps its lease). */
  private failed(ctx: RequestContext, err: unknown): ErrorAnswer {
    logs.createFailed(ctx.requestId, err);
    return fromError(toApiError(err), 'failed');
  }

  /** A duplicate that arrived while an identical request was in flight here gets that request's outcome. */
  private async follow(
    leader: CreateAnswer,
    leaderRequestId: string,
    req: InvitationRequest,
    key: string,
    ctx: RequestContext,
  ): Promise<CreateAnswer> {
    const pair = {...req, pairKey: key};
    const invitation = leader.kind === 'invitation' ? leader.body : undefined;
    const answer: CreateAnswer = invitation
      ? ok(invitation, 'replayed', {'Idempotent-Replayed': 'true'})
      : {...leader, headers: {...leader.headers}};
    try {
      return await decide(this.ledger, ctx, pair, answer, {
        invitationId: invitation?.id,
        sharedWith: leaderRequestId,
      });
    } catch (err) {
      logs.sharedOutcomeAuditFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }

  private async dedupAndForward(
    req: InvitationRequest,
    ctx: RequestContext,
    opts: CreateOptions,
  ): Promise<CreateAnswer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = {...req, pairKey: key};
    const started = this.now();
    const deadline = Math.min(
      started + this.config.requestDeadlineMs,
      opts.deadline ?? Infinity,
    );
    const waitUntil = Math.min(started + this.config.inflightWaitMs, deadline);
    const pending = auditEvent(ctx, pair, {outcome: 'pending', httpStatus: 0});

    // Every branch that loses a race re-reads; the deadline bounds the rounds (each costs at least one read).
    let confirmed = false; // Classroom confirmed the entry during this request: never ask twice
    for (let round = 0; this.now() < deadline; round++) {
      let snap = await this.ledger.read(key);
      if (!snap) {
        const claim = await this.ledger.claimNew(key, req, pending);
        if (claim) return this.forwarder.forward(claim, req, deadline);
        continue; // another request reserved it between our read and our commit
      }
      if (
        snap.entry.state === 'created' &&
        snap.entry.invitation &&
        !confirmed &&
        this.isStale(snap.entry)
      ) {
        const checked = await recheck(
          this.config,
          this.ledger,
          this.classroom,
          key,
          snap,
          deadline,
        );
        if (checked === 'gone') continue; // released: now a new pair
        confirmed = true;
        if (checked === 'changed') continue;
        if (checked !== 'unknown') snap = checked;
      }
      const {entry} = snap;
      if (entry.state === 'created' && entry.invitation) {
        if (entry.role === req.role) {
          return decide(
            this.ledger,
            ctx,
            pair,
            ok(entry.invitation, 'replayed', {'Idempotent-Replayed': 'true'}),
            {invitationId: entry.invitation.id},
          );
        }
        const refusal = opts.replace ? replaceRefusal(entry, ctx) : undefined;
        if (!opts.replace || refusal) {
          return decide(
            this.ledger,
            ctx,
            pair,
            fromError(alreadyExists(), 'conflict'),
            {invitationId: entry.invitation.id, reason: refusal},
          );
        }
        const claim = await this.ledger.takeOver(snap, key, req, pending);
        if (claim)
          return this.forwarder.replaceAndForward(claim, req, entry, deadline);
        continue;
      }
      if (this.ledger.isLeaseExpired(entry)) {
        const claim = await this.ledger.takeOver(snap, key, req, pending);
        if (claim)
          return this.forwarder.forward(
            {...claim, recovered: true},
            req,
            deadline,
          );
        continue;
      }
      if (this.now() >= waitUntil) return this.inFlight(ctx, pair, snap);
      await sleep(
        Math.min(
          POLL_MAX_MS,
          POLL_START_MS * 1.5 ** round,
          Math.max(0, deadline - this.now()),
        ),
      );
    }
    return this.inFlight(ctx, pair, undefined);
  }

  /** Is a created entry old enough that Classroom should confirm it before it answers for it? */
  private isStale(entry: LedgerEntry): boolean {
    const seen = (entry.checkedAt ?? entry.updatedAt)?.toMillis() ?? 0;
    return this.now() - seen >= this.config.ledgerRecheckAfterMs;
  }

  private async inFlight(
    ctx: RequestContext,
    pair: AuditPair,
    snap: LedgerSnapshot | undefined,
  ): Promise<ErrorAnswer> {
    const leaseLeftMs = snap?.entry.leaseExpiresAt
      ? snap.entry.leaseExpiresAt.toMillis() - this.now()
      : 1000;
    const retryAfterS = Math.min(5, Math.max(1, leaseLeftMs / 1000));
    const err = retryable(
      'ABORTED',
      'An identical request for this user and course is still in progress. Retry after the indicated delay.',
      retryAfterS,
      'REQUEST_IN_FLIGHT',
    );
    return decide(this.ledger, ctx, pair, fromError(err, 'in_flight'), {});
  }
}
