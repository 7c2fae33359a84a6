// Audit events of refused requests, kept affordable under a flood: a per-instance token bucket lets a few
// refusals a second be written one by one; beyond it they are counted, and one summary event with the counts
// is written when the bucket has room again. Refusal events carry `expireAt` for the audit's TTL policy.
import {randomUUID} from 'node:crypto';
import type {AuditEvent, Source} from './audit';
import * as logs from './log-events';

export interface RefusalAuditSettings {
  /** Refusal events written per second, sustained. */
  perSecond: number;
  /** Refusal events written at once after a quiet spell. */
  burst: number;
  /** Refusal events (and summaries) carry `expireAt` = now + this. */
  ttlMs: number;
}

/** Writes final audit events (Ledger.appendAuditMany in production). */
export type AuditWriter = (events: AuditEvent[]) => Promise<void>;

/** Distinct kinds kept in one summary; the rest are counted under `other` (the kinds come from our code). */
const MAX_KINDS = 20;
const WARNING_EVERY_MS = 1000;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    // A clock stepped back refills nothing rather than taking tokens away.
    this.tokens = Math.min(
      this.capacity,
      this.tokens + (Math.max(0, t - this.last) / 1000) * this.perSecond,
    );
    this.last = t;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1
      ? 0
      : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}

/** What a refusal became: its own event, part of a summary written now, or a count for a later summary. */
export type RefusalRecord = 'written' | 'summarized' | 'counted';

/**
 * One per source per instance. `record` never throws: a refusal stands whatever the audit store says, and
 * the log keeps what could not be written.
 */
export class RefusalAudit {
  private readonly bucket: TokenBucket;
  private suppressed = 0;
  private byKind = new Map<string, number>();
  private from = 0;
  private until = 0;
  private sinceWarning = 0;
  private lastWarningAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly source: Source,
    private readonly settings: RefusalAuditSettings,
    private readonly write: AuditWriter,
    private readonly now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(settings.perSecond, settings.burst, now);
  }

  async record(event: AuditEvent): Promise<RefusalRecord> {
    if (!this.bucket.take()) {
      this.count(event);
      this.scheduleSummary();
      return 'counted';
    }
    if (this.suppressed === 0) {
      await this.writeSafely(this.expiring(event));
      return 'written';
    }
    // The first refusal to find room after a flood writes the summary, itself counted in it: one document.
    this.count(event);
    await this.writeSafely(this.takeSummary(event.requestId));
    return 'summarized';
  }

  /** Writes what is still counted, whatever the bucket says (shutdown, tests). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed > 0)
      this.track(this.writeSafely(this.takeSummary(randomUUID())));
    await Promise.all([...this.writing]);
  }

  private expiring(event: AuditEvent): AuditEvent {
    return {...event, expireAt: new Date(this.now() + this.settings.ttlMs)};
  }

  private count(event: AuditEvent): void {
    const t = this.now();
    if (this.suppressed === 0) this.from = t;
    this.until = t;
    this.suppressed++;
    this.sinceWarning++;
    let kind = event.upstreamStatus
      ? `${event.httpStatus} ${event.upstreamStatus}`
      : String(event.httpStatus);
    if (!this.byKind.has(kind) && this.byKind.size >= MAX_KINDS) kind = 'other';
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (t - this.lastWarningAt >= WARNING_EVERY_MS) {
      logs.refusalsCounted({
        source: this.source,
        countedSinceLastLine: this.sinceWarning,
        countedNotYetWritten: this.suppressed,
        perSecond: this.settings.perSecond,
        burst: this.settings.burst,
      });
      this.lastWarningAt = t;
      this.sinceWarning = 0;
    }
  }

  private takeSummary(requestId: string): AuditEvent {
    const kinds = Object.fromEntries(
      [...this.byKind].sort((a, b) => b[1] - a[1]),
    );
    const list = Object.entries(kinds)
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    const summary = this.expiring({
      requestId,
      source: this.source,
      caller: 'refusal-summary',
      courseId: null,
      userId: null,
      role: null,
      pairKey: null,
      outcome: 'rejected',
      httpStatus: 0,
      reason: `${this.suppressed} refused requests were counted, not audited one by one (${list})`,
      suppressedCount: this.suppressed,
      suppressedByKind: kinds,
      suppressedFrom: new Date(this.from),
      suppressedUntil: new Date(this.until),
    });
    this.suppressed = 0;
    this.byKind = new Map();
    return summary;
  }

  /** The counts are written when the bucket has room, even if no other refusal comes to carry them. */
  private scheduleSummary(): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.suppressed === 0) return;
        if (!this.bucket.take()) {
          this.scheduleSummary();
          return;
        }
        this.track(this.writeSafely(this.takeSummary(randomUUID())));
      },
      Math.max(this.bucket.msUntilToken(), 1),
    );
    // An idle instance may exit without it; the WARNING lines keep the counts.
    this.timer.unref();
  }

  private track(p: Promise<void>): void {
    this.writing.add(p);
    void p.finally(() => this.writing.delete(p));
  }

  private async writeSafely(event: AuditEvent): Promise<void> {
    try {
      await this.write([event]);
    } catch (err) {
      logs.refusalAuditWriteFailed(
        event.requestId,
        this.source,
        event.suppressedCount,
        err,
      );
    }
  }
}
