// The pool of admins the gateway impersonates (CLASSROOM_SUBJECTS). Each has its own Classroom quota; one whose
// delegated token cannot be obtained (delegation revoked, account suspended) leaves the rotation of this instance
// with an ERROR log and is tried again later, backing off, so a broken admin costs one failed exchange per period.
import * as logs from '../log-events';

/** First pause of a subject whose token exchange failed; each further failure doubles it, up to the maximum. */
export const SUBJECT_RETRY_MS = 60_000;
export const SUBJECT_MAX_RETRY_MS = 15 * 60_000;

interface Out {
  since: number;
  until: number;
  pauseMs: number;
}

export class SubjectPool {
  private readonly out = new Map<string, Out>();

  /** `subjects`: the admins, or [''] for the service account's own identity. */
  constructor(
    readonly subjects: readonly string[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Subjects that may be called now: those in the rotation, and those whose pause is over (to be tried again). */
  available(): string[] {
    const now = this.now();
    return this.subjects.filter(s => (this.out.get(s)?.until ?? 0) <= now);
  }

  /** When the first paused subject may be tried again (epoch ms), when none is available (an empty pool: a pause). */
  nextReturn(): number {
    const until = [...this.out.values()].map(o => o.until);
    return until.length ? Math.min(...until) : this.now() + SUBJECT_RETRY_MS;
  }

  /** Its token could not be obtained: out of the rotation, for longer each time in a row. */
  failed(subject: string, err: unknown): void {
    const now = this.now();
    const previous = this.out.get(subject);
    // Calls granted before the pause began fail too: one failure per pause counts.
    if (previous && previous.until > now) return;
    const pauseMs = previous
      ? Math.min(SUBJECT_MAX_RETRY_MS, previous.pauseMs * 2)
      : SUBJECT_RETRY_MS;
    this.out.set(subject, {
      since: previous?.since ?? now,
      until: now + pauseMs,
      pauseMs,
    });
    logs.subjectLeftRotation(subject, pauseMs / 1000, err);
  }

  /**
   * A call granted at `grantedAt` went out as this subject: its token works. Unless the call was granted before
   * the subject's pause began: a token minted before a revocation keeps working, so a call already on its way
   * succeeds after the refusal that took the subject out, and says nothing about its delegation now.
   */
  worked(subject: string, grantedAt: number): void {
    const o = this.out.get(subject);
    if (!o || grantedAt < o.until - o.pauseMs) return;
    this.out.delete(subject);
    logs.subjectBack(subject, this.now() - o.since);
  }
}
