// The stand-in's optional quota (token buckets per subject and for the project) and its own count of what each
// second saw. Google checks its quota on a 60-second moving average; a bucket holding one second's burst is
// stricter, which is what tests of a pacer want: any burst over the rate shows at once.
import {z} from 'zod';
import type {ReservedError} from './reserved';

export interface Quota {
  /** Calls per second per subject (Classroom: 1,200 per minute per user, 20 QPS). */
  userQps: number;
  /** Calls per second over all subjects (Classroom: 3,000 per minute per project, 50 QPS); absent: no limit. */
  projectQps?: number;
  /** Bucket capacity in seconds of the rate; default 1. */
  burstSeconds?: number;
}

const rate = z.number().positive().finite();
const quotaSchema = z.strictObject({
  userQps: rate,
  projectQps: rate.optional(),
  burstSeconds: rate.optional(),
});

/** A quota as a control body states it: `{}` or `null` turn it off; unknown fields are refused (typos). */
export function parseQuota(value: unknown): Quota | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'object' && Object.keys(value).length === 0)
    return undefined;
  return quotaSchema.parse(value);
}

/** STANDIN_USER_QPS and STANDIN_PROJECT_QPS (calls per second); unset: no quota. Throws on a bad value. */
export function quotaFromEnv(env: NodeJS.ProcessEnv): Quota | undefined {
  const read = (name: string) => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!(Number.isFinite(n) && n > 0))
      throw new Error(`${name} must be a positive number of calls per second`);
    return n;
  };
  const userQps = read('STANDIN_USER_QPS');
  const projectQps = read('STANDIN_PROJECT_QPS');
  if (userQps === undefined) {
    if (projectQps !== undefined)
      throw new Error('STANDIN_PROJECT_QPS needs STANDIN_USER_QPS');
    return undefined;
  }
  return projectQps === undefined ? {userQps} : {userQps, projectQps};
}

export type QuotaLimit = 'user' | 'project';

/** The 429 Classroom answers over its quota; like Google's, it carries no Retry-After. */
export function quotaExceeded(limit: QuotaLimit): ReservedError {
  const name =
    limit === 'user' ? 'Queries per minute per user' : 'Queries per minute';
  return {
    httpStatus: 429,
    status: 'RESOURCE_EXHAUSTED',
    message: `Quota exceeded for quota metric 'Queries' and limit '${name}' of service 'classroom.googleapis.com' for consumer 'project_number:000000000000'.`,
  };
}

/** Refills continuously at `perSecond` up to `capacity`; starts full. Times in ms; a clock stepping back refills nothing. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly perSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** Whether a token is there at `now` (refilling first). */
  has(now: number): boolean {
    const elapsed = Math.max(0, now - this.at);
    this.tokens = Math.min(
      this.capacity,
      this.tokens + (elapsed / 1000) * this.perSecond,
    );
    this.at = Math.max(this.at, now);
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }
}

/** One bucket per subject and one for the project; a call needs a token from both. */
export class QuotaBuckets {
  private readonly users = new Map<string, TokenBucket>();
  private readonly project: TokenBucket | undefined;

  constructor(
    readonly quota: Quota,
    private readonly now: () => number = Date.now,
  ) {
    this.project =
      quota.projectQps === undefined
        ? undefined
        : this.bucket(quota.projectQps);
  }

  /** Takes a token from the subject's bucket and the project's, or none at all: answers the limit that refused. */
  take(subject: string): QuotaLimit | undefined {
    const now = this.now();
    let user = this.users.get(subject);
    if (!user) {
      user = this.bucket(this.quota.userQps);
      this.users.set(subject, user);
    }
    if (!user.has(now)) return 'user';
    if (this.project && !this.project.has(now)) return 'project';
    user.take();
    this.project?.take();
    return undefined;
  }

  private bucket(qps: number): TokenBucket {
    // At least one call fits, or a rate under 1/burstSeconds would refuse everything for ever.
    const capacity = Math.max(1, qps * (this.quota.burstSeconds ?? 1));
    return new TokenBucket(qps, capacity, this.now());
  }
}

export interface Counts {
  accepted: number;
  throttled: number;
}

export interface SecondCounts extends Counts {
  /** Math.floor(Date.now() / 1000) when the calls arrived. */
  second: number;
  subject: string;
}

export interface Rate {
  seconds: SecondCounts[];
  totals: Counts;
  bySubject: Record<string, Counts>;
}

/** What the stand-in accepted and throttled, per whole second and per subject. */
export class RateCounter {
  private readonly rows = new Map<string, SecondCounts>();

  record(subject: string, accepted: boolean, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const key = `${second} ${subject}`;
    let row = this.rows.get(key);
    if (!row) {
      row = {second, subject, accepted: 0, throttled: 0};
      this.rows.set(key, row);
    }
    if (accepted) row.accepted++;
    else row.throttled++;
  }

  rate(): Rate {
    const seconds = [...this.rows.values()]
      .map(r => ({...r}))
      .sort((a, b) =>
        a.second !== b.second
          ? a.second - b.second
          : a.subject < b.subject
            ? -1
            : a.subject > b.subject
              ? 1
              : 0,
      );
    const totals = {accepted: 0, throttled: 0};
    const bySubject = new Map<string, Counts>();
    for (const r of seconds) {
      totals.accepted += r.accepted;
      totals.throttled += r.throttled;
      const s = bySubject.get(r.subject) ?? {accepted: 0, throttled: 0};
      s.accepted += r.accepted;
      s.throttled += r.throttled;
      bySubject.set(r.subject, s);
    }
    // fromEntries defines own properties, so a subject named "__proto__" stays a plain key.
    return {seconds, totals, bySubject: Object.fromEntries(bySubject)};
  }

  /** The most calls accepted in one second, for `subject` or over all subjects. */
  peakPerSecond(subject?: string): number {
    const perSecond = new Map<number, number>();
    for (const r of this.rows.values()) {
      if (subject !== undefined && r.subject !== subject) continue;
      perSecond.set(r.second, (perSecond.get(r.second) ?? 0) + r.accepted);
    }
    let peak = 0;
    for (const n of perSecond.values()) peak = Math.max(peak, n);
    return peak;
  }

  clear(): void {
    this.rows.clear();
  }
}
