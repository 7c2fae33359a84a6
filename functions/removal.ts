// Removing pending invitations: DELETE /v1/invitations/{id} and a webhook's tobedeleted enrollment. Only what
// this gateway holds is removed; the ledger entries holding the invitation are released with it.
import {CallTrace, RequestContext, subjectField} from './audit';
import {
  Answer,
  empty,
  ErrorAnswer,
  fromError,
  skipped,
  SkippedAnswer,
  EmptyAnswer,
} from './answers';
import type {ClassroomInvitations} from './classroom';
import type {Config} from './config';
import {decide, refuseCompactly} from './decisions';
import {badRequest, retryable, toApiError} from './errors';
import type {Ledger} from './ledger';
import {pairKey} from './ledger';
import * as logs from './log-events';
import {withdrawRefusal} from './policy';
import type {RefusalAudit} from './refusal-audit';
import {isRetryable, withRetries} from './retry';
import {
  retryOptions,
  exhausted,
  failureOf,
  notFound,
  upstreamFields,
} from './upstream';
import type {InvitationRequest} from './validation';

export type RemovalAnswer = EmptyAnswer | SkippedAnswer | ErrorAnswer;

const NO_PAIR = {courseId: null, userId: null, role: null, pairKey: null};

export class Removals {
  constructor(
    private readonly config: Config,
    private readonly ledger: Ledger,
    private readonly classroom: ClassroomInvitations,
    private readonly refusals: RefusalAudit | undefined = undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * DELETE /v1/invitations/{id}: only for an invitation the ledger holds as made (or adopted) for a caller of this
   * gateway; any other id is answered 404 as Classroom words it, without a call, so the gateway cannot be used to
   * delete invitations other tools made. Then Classroom's delete, and every ledger entry holding the id released.
   */
  async deleteInvitation(id: string, ctx: RequestContext): Promise<Answer> {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(id)) {
      const e = badRequest('Invalid invitation id.', [
        {field: 'id', description: 'an invitation id as Classroom assigns it'},
      ]);
      return refuseCompactly(
        this.ledger,
        this.refusals,
        ctx,
        NO_PAIR,
        fromError(e, 'rejected'),
        {invitationId: id.slice(0, 256)},
      );
    }
    try {
      const holding = await this.ledger.findByInvitationId(id);
      const held = holding.filter(
        ({snapshot: {entry}}) =>
          entry.state === 'created' && entry.origin === 'created',
      );
      const first = held[0];
      if (!first) {
        return await decide(
          this.ledger,
          ctx,
          NO_PAIR,
          fromError(notFound(), 'rejected'),
          {
            invitationId: id,
            reason: 'the invitation is not held by this gateway',
          },
        );
      }
      const pair = {
        courseId: first.snapshot.entry.courseId,
        userId: first.snapshot.entry.userId,
        role: first.snapshot.entry.role,
        pairKey: first.key,
      };
      const deadline = this.now() + this.config.requestDeadlineMs;
      const via: CallTrace = {};
      const r = await withRetries(
        o => this.classroom.delete(id, {...o, via}),
        retryOptions(this.config, deadline),
      );
      const e = failureOf(r);
      // The entries found before the call are re-read if they changed meanwhile (a replay marked one checked,
      // a replace took one over): each is released only if it still holds this invitation.
      if (!e || (e.upstream && e.status === 'NOT_FOUND'))
        await this.ledger.releaseInvitation(id, {found: holding});
      const answer = e
        ? fromError(isRetryable(e) ? exhausted(e) : e, 'failed')
        : empty('deleted');
      return await decide(this.ledger, ctx, pair, answer, {
        invitationId: id,
        ...(e ? upstreamFields(e) : {}),
        ...subjectField(via),
      });
    } catch (err) {
      logs.deleteFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }

  /**
   * A tobedeleted enrollment: withdraws the pending invitation of that role for the pair, if this gateway created
   * it. Nothing pending, a pending invitation of another role, or one made elsewhere is reported as skipped. `until`:
   * the delivery's deadline, when it comes before REQUEST_DEADLINE_MS.
   */
  async withdraw(
    req: InvitationRequest,
    ctx: RequestContext,
    until = Infinity,
  ): Promise<RemovalAnswer> {
    const key = pairKey(req.courseId, req.userId);
    const pair = {...req, pairKey: key};
    try {
      const snap = await this.ledger.read(key);
      const entry = snap?.entry;
      if (!snap || !entry)
        return decide(
          this.ledger,
          ctx,
          pair,
          skipped('no pending invitation to withdraw'),
          {reason: 'no pending invitation to withdraw'},
        );
      if (entry.state !== 'created' || !entry.invitation) {
        const e = retryable(
          'ABORTED',
          'An invitation for this pair is being created; withdraw it later.',
          1,
          'REQUEST_IN_FLIGHT',
        );
        return decide(this.ledger, ctx, pair, fromError(e, 'in_flight'), {});
      }
      const why = withdrawRefusal(entry, req);
      if (why)
        return decide(this.ledger, ctx, pair, skipped(why), {
          reason: why,
          invitationId: entry.invitation.id,
        });
      const id = entry.invitation.id;
      const deadline = Math.min(
        this.now() + this.config.requestDeadlineMs,
        until,
      );
      const via: CallTrace = {};
      const r = await withRetries(
        o => this.classroom.delete(id, {...o, via}),
        retryOptions(this.config, deadline),
      );
      const e = failureOf(r);
      if (e && !(e.upstream && e.status === 'NOT_FOUND')) {
        return decide(
          this.ledger,
          ctx,
          pair,
          fromError(isRetryable(e) ? exhausted(e) : e, 'failed'),
          {invitationId: id, ...upstreamFields(e), ...subjectField(via)},
        );
      }
      await this.ledger.releaseInvitation(id);
      return decide(this.ledger, ctx, pair, empty('withdrawn'), {
        replacedInvitationId: id,
        ...subjectField(via),
      });
    } catch (err) {
      logs.withdrawalFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }
}
