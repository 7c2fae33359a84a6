// Classroom as the gateway calls it: every call waits for the shared pacer, goes out as the subject the pacer
// chose, and tells the pacer what it learnt (a 429 slows everybody down; a refused token takes the subject out
// of the rotation, and the call moves to another subject).
import type {CallOptions, ClassroomInvitations, Invitation} from '../classroom';
import {SubjectCredentialsError} from '../classroom-auth';
import {ApiError, retryable} from '../errors';
import * as logs from '../log-events';
import type {InvitationRequest} from '../validation';
import type {Pacer} from './pacer';

export const CREDENTIALS_UNAVAILABLE_REASON =
  'CLASSROOM_CREDENTIALS_UNAVAILABLE';

/** Classroom's quota refused the call (per user or per project); a named `@…` 429 is a product limit of the invitee. */
export function isRateQuotaRefusal(err: unknown): boolean {
  return (
    err instanceof ApiError &&
    err.upstream &&
    err.httpStatus === 429 &&
    !err.body.message.startsWith('@')
  );
}

export class PacedClassroom implements ClassroomInvitations {
  constructor(
    private readonly inner: ClassroomInvitations,
    private readonly pacer: Pacer,
    private readonly now: () => number = Date.now,
  ) {}

  create(
    invitation: InvitationRequest,
    opts: CallOptions,
  ): Promise<Invitation> {
    return this.paced(opts, o => this.inner.create(invitation, o));
  }

  findForPair(
    courseId: string,
    userId: string,
    opts: CallOptions,
  ): Promise<Invitation | undefined> {
    return this.paced(opts, o => this.inner.findForPair(courseId, userId, o));
  }

  get(id: string, opts: CallOptions): Promise<Invitation> {
    return this.paced(opts, o => this.inner.get(id, o));
  }

  delete(id: string, opts: CallOptions): Promise<void> {
    return this.paced(opts, o => this.inner.delete(id, o));
  }

  private async paced<T>(
    opts: CallOptions,
    call: (o: CallOptions) => Promise<T>,
  ): Promise<T> {
    const deadline = opts.deadline ?? this.now() + opts.timeoutMs;
    for (;;) {
      const grant = await this.pacer.take(deadline);
      if (opts.via) opts.via.subject = grant.subject || undefined;
      const timeoutMs = Math.max(
        1,
        Math.min(opts.timeoutMs, deadline - this.now()),
      );
      try {
        const value = await call({
          ...opts,
          subject: grant.subject || undefined,
          timeoutMs,
        });
        this.pacer.pool.worked(grant.subject, grant.grantedAt);
        return value;
      } catch (err) {
        if (err instanceof SubjectCredentialsError) {
          if (err.refused && grant.subject) {
            this.pacer.pool.failed(grant.subject, err.cause);
            continue; // another subject, if one is left (else the pacer answers 503)
          }
          logs.classroomCredentialsFailed(err.cause);
          throw retryable(
            'UNAVAILABLE',
            'Credentials for Classroom could not be obtained. Retry the request later.',
            5,
            CREDENTIALS_UNAVAILABLE_REASON,
            err,
          );
        }
        if (err instanceof ApiError && err.upstream)
          this.pacer.pool.worked(grant.subject, grant.grantedAt);
        if (isRateQuotaRefusal(err)) await this.pacer.throttled(grant);
        throw err;
      }
    }
  }
}
