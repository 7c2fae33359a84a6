// One instance's side of the shared pacer: every Classroom call waits here for a position leased from Firestore
// (functions/pacer/store.ts), so that all instances together stay under each subject's and the project's rate.
// Calls waiting at the same moment share one lease transaction; positions go to the earliest deadline first; a
// call whose deadline comes before the quota frees up is refused at once with 429 and an honest Retry-After.
import type {ApiError} from '../errors';
import {retryable} from '../errors';
import * as logs from '../log-events';
import type {Lease, LeaseRequest, Throttle} from './store';
import {capacity, SLOT_MS, slotOf} from './schedule';
import type {SubjectPool} from './subjects';

/** The google.rpc.ErrorInfo reasons of the pacer's own refusals (never Classroom's; never retried inside a request). */
export const QUOTA_BACKLOG_REASON = 'CLASSROOM_QUOTA_BACKLOG';
export const NO_SUBJECT_REASON = 'NO_CLASSROOM_SUBJECT';

/** A position that comes later than now is worth waiting for only if the call then has this long to run (see latestStart). */
export const CALL_RESERVE_MS = 500;
/** Positions per lease at most (about two seconds at the default rate). */
const MAX_LEASE = 40;
/**
 * A leased position is used until this long after its second ends (or after it was leased, when its lease came
 * back later than that), then dropped: sending it later would bunch calls up in a later second. (Positions earlier
 * in the current second are the burst allowance: not stale.)
 */
const STALE_AFTER_SLOT_MS = 250;

/** Permission to make one call, as `subject`, at `at`. */
export interface Grant {
  subject: string;
  at: number;
  /** When it was leased (a 429 on it cuts the rate only if no cut came after). */
  grantedAt: number;
}

export interface PacerStorage {
  lease(req: LeaseRequest): Promise<Lease>;
  throttled(subject: string, grantedAt: number): Promise<Throttle>;
}

interface Waiter {
  deadline: number;
  resolve: (g: Grant) => void;
  reject: (e: unknown) => void;
}

export class Pacer {
  private waiters: Waiter[] = [];
  private spare: Grant[] = [];
  /** Per subject, the first slot that may still have room (slots before it were full when last read). */
  private readonly hints = new Map<string, number>();
  /** Per subject, the rate of the last lease. */
  private readonly rates = new Map<string, number>();
  private leasing = false;
  /** Per subject, the latest rate cut this instance knows of (epoch ms): a 429 granted before it cuts nothing. */
  private readonly cutAt = new Map<string, number>();
  /** Per subject, the cut being recorded: the other 429s of a burst wait for it, not queue on its document. */
  private readonly cutting = new Map<string, Promise<void>>();

  constructor(
    private readonly store: PacerStorage,
    readonly pool: SubjectPool,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = ms =>
      new Promise(r => setTimeout(r, ms)),
  ) {}

  /**
   * Resolves when a call may go out, with the subject to make it as; rejects with 429 RESOURCE_EXHAUSTED when
   * the quota is taken until past `deadline`, or 503 when no subject can be impersonated.
   */
  async take(deadline: number): Promise<Grant> {
    // No position can serve it, and one leased for it would be lost (NaN would also unbound the whole lease).
    if (!(deadline > this.now())) throw backlog(0);
    const grant = await new Promise<Grant>((resolve, reject) => {
      this.waiters.push({deadline, resolve, reject});
      void this.pump();
    });
    const wait = grant.at - this.now();
    if (wait > 0) await this.sleep(wait);
    return grant;
  }

  /**
   * Classroom answered 429 to a call made on `grant`: slow its subject down everywhere. The calls in flight
   * together meet their 429s together; each recording its own transaction on the one rate document made them
   * queue for seconds, so they wait for the first and skip theirs when its cut came after they were granted.
   */
  async throttled(grant: Grant): Promise<void> {
    const s = grant.subject;
    for (let p = this.cutting.get(s); p; p = this.cutting.get(s)) await p;
    if ((this.cutAt.get(s) ?? -Infinity) >= grant.grantedAt) return;
    const p = this.recordCut(grant);
    this.cutting.set(s, p);
    try {
      await p;
    } finally {
      if (this.cutting.get(s) === p) this.cutting.delete(s);
    }
  }

  private async recordCut(grant: Grant): Promise<void> {
    try {
      const {cut, fresh} = await this.store.throttled(
        grant.subject,
        grant.grantedAt,
      );
      const known = this.cutAt.get(grant.subject) ?? -Infinity;
      this.cutAt.set(grant.subject, Math.max(known, cut.at));
      if (fresh) logs.rateCut(grant.subject, cut.qps);
    } catch (err) {
      logs.rateCutFailed(err);
    }
  }

  private async pump(): Promise<void> {
    if (this.leasing) return;
    this.leasing = true;
    try {
      // Calls that arrive in the same turn of the event loop share the first lease.
      await new Promise<void>(r => setImmediate(r));
      while (this.waiters.length > 0) {
        this.hand();
        if (this.waiters.length === 0) break;
        const subjects = this.pool.available();
        if (subjects.length === 0) {
          this.refuseAll(noSubject(this.pool.nextReturn() - this.now()));
          break;
        }
        const now = this.now();
        const latest = Math.max(
          now,
          ...this.waiters.map(w => latestStart(w.deadline, now)),
        );
        const first = Math.max(
          slotOf(now),
          Math.min(...subjects.map(s => this.hints.get(s) ?? 0)),
        );
        const lease = await this.store.lease({
          subjects,
          poolSize: this.pool.subjects.length,
          wanted: Math.min(MAX_LEASE, this.waiters.length),
          latest,
          first,
        });
        const grantedAt = this.now();
        this.remember(lease);
        this.spare.push(...lease.grants.map(g => ({...g, grantedAt})));
        this.spare.sort((a, b) => a.at - b.at);
        // Nothing granted and the window was not full: the quota is taken until after every deadline.
        const backlogEnd = Math.min(...lease.frontier.values());
        this.hand(lease.grants.length === 0 ? backlogEnd : undefined);
      }
    } catch (err) {
      this.refuseAll(err);
    } finally {
      this.leasing = false;
    }
  }

  /**
   * Where each subject's next lease starts reading. More positions per slot than last time (the cut is
   * recovering, or was lifted) give earlier slots room again: the hint is dropped rather than trusted. A rate that
   * climbed without adding a position changes nothing: dropping the hint then would re-read the same full slots
   * in a loop for as long as a recovery lasts.
   */
  private remember(lease: Lease): void {
    for (const [s, f] of lease.frontier) {
      const rate = lease.rates.get(s) ?? 0;
      const faster = capacity(rate) > capacity(this.rates.get(s) ?? Infinity);
      this.rates.set(s, rate);
      if (faster) this.hints.delete(s);
      else this.hints.set(s, slotOf(f));
    }
  }

  /**
   * Gives spare positions to waiters, earliest deadline first. A waiter the earliest spare position comes too
   * late for cannot be served by any later one: it is refused, as is any waiter whose deadline comes before
   * `backlogEnd` (where the quota frees up, when the last lease found nothing).
   */
  private hand(backlogEnd?: number): void {
    const now = this.now();
    this.spare = this.spare.filter(
      g =>
        now <
        Math.max((slotOf(g.at) + 1) * SLOT_MS, g.grantedAt) +
          STALE_AFTER_SLOT_MS,
    );
    this.waiters.sort((a, b) => a.deadline - b.deadline);
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      const g = this.spare[0];
      if (g && usable(g, w.deadline, now)) {
        this.spare.shift();
        w.resolve(g);
      } else if (g) {
        w.reject(backlog(g.at - now));
      } else if (now >= w.deadline) {
        w.reject(backlog(0)); // whatever the next lease brings comes too late
      } else if (
        backlogEnd !== undefined &&
        backlogEnd > latestStart(w.deadline, now)
      ) {
        w.reject(backlog(backlogEnd - now));
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  private refuseAll(err: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }
}

/**
 * The latest a call may start and still have time to run: half a second before the deadline, or halfway there
 * when less than a second is left (a short wait for the next position is still worth it).
 */
export function latestStart(deadline: number, now: number): number {
  return deadline - Math.min(CALL_RESERVE_MS, Math.max(0, deadline - now) / 2);
}

function usable(g: Grant, deadline: number, now: number): boolean {
  return g.at <= now ? now < deadline : g.at <= latestStart(deadline, now);
}

/**
 * 429 RESOURCE_EXHAUSTED, as Classroom words a quota refusal, with the time until the quota frees up in whole
 * seconds rounded down: a retry that comes a little early waits for its position inside its own deadline, while
 * one that comes late leaves the quota idle.
 */
export function backlog(waitMs: number): ApiError {
  const seconds = Math.max(0, Math.floor(waitMs / 1000));
  return retryable(
    'RESOURCE_EXHAUSTED',
    `Classroom's quota for this gateway is taken for the next ${Math.max(1, Math.ceil(waitMs / 1000))} s, beyond this request's deadline. Retry after the indicated delay.`,
    seconds,
    QUOTA_BACKLOG_REASON,
  );
}

function noSubject(waitMs: number): ApiError {
  return retryable(
    'UNAVAILABLE',
    'No Classroom admin can be impersonated right now (their delegated tokens were refused). Retry after the indicated delay.',
    Math.max(1, waitMs / 1000),
    NO_SUBJECT_REASON,
  );
}
