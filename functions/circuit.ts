// A circuit breaker in front of Classroom, one per instance: after repeated signs that Classroom is down, calls
// fail fast with 503 UNAVAILABLE + Retry-After instead of reaching it, until a single probe call succeeds.
import {performance} from 'node:perf_hooks';
import type {CallOptions, ClassroomInvitations, Invitation} from './classroom';
import {ApiError, ERROR_DOMAIN, retryable} from './errors';
import * as logs from './log-events';
import type {InvitationRequest} from './validation';

/** The google.rpc.ErrorInfo reason of a call refused by the open circuit. */
export const CIRCUIT_OPEN_REASON = 'UPSTREAM_CIRCUIT_OPEN';

export interface CircuitSettings {
  /** Consecutive failed Classroom calls that open the circuit; 0 turns the breaker off. */
  failureThreshold: number;
  /** How long the circuit stays open before the first probe, in ms. */
  openMs: number;
  /** Each failed probe doubles the open interval, up to this. */
  maxOpenMs: number;
}

/**
 * What a call's result says about Classroom's health. A failure means Classroom gave no usable answer (5xx,
 * unreachable, our own timeout). Any answer that is not a 5xx proves it is up, 4xx and 429 included: quota is a
 * matter of pacing, not of health. Anything else thrown (credentials that could not be set up, a fault of ours)
 * says nothing about Classroom.
 */
export type CallOutcome = 'success' | 'failure' | 'neutral';

export function outcomeOf(err: unknown): CallOutcome {
  if (!(err instanceof ApiError)) return 'neutral';
  if (err.upstream) return err.httpStatus >= 500 ? 'failure' : 'success';
  // The pacer's refusals (no quota before the deadline, no subject, no credentials) never reached Classroom.
  if (isLocalRefusal(err)) return 'neutral';
  // classroom.ts makes these two of its own: a timeout of ours, and a network error.
  return err.status === 'DEADLINE_EXCEEDED' || err.status === 'UNAVAILABLE'
    ? 'failure'
    : 'neutral';
}

/**
 * The gateway's own refusals in front of Classroom (the breaker's and the pacer's): no call was made. Our own
 * ErrorInfo domain: Classroom's errors can never pass for them.
 */
export const LOCAL_REFUSAL_REASONS = new Set([
  CIRCUIT_OPEN_REASON,
  'CLASSROOM_QUOTA_BACKLOG',
  'NO_CLASSROOM_SUBJECT',
  'CLASSROOM_CREDENTIALS_UNAVAILABLE',
]);

export function isLocalRefusal(
  err: Pick<ApiError, 'upstream' | 'body'>,
): boolean {
  return [...LOCAL_REFUSAL_REASONS].some(r => hasOwnReason(err, r));
}

function hasOwnReason(
  err: Pick<ApiError, 'upstream' | 'body'>,
  reason: string,
): boolean {
  if (err.upstream) return false;
  return (err.body.details ?? []).some(d => {
    const info = d as {
      '@type'?: unknown;
      reason?: unknown;
      domain?: unknown;
    } | null;
    return (
      info?.['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo' &&
      info.reason === reason &&
      info.domain === ERROR_DOMAIN
    );
  });
}

// A monotonic clock: a wall-clock step (NTP) must not stretch or skip an open interval.
const monotonicNow = () => performance.now();

// A probe whose call never settles (a hang beyond its own timeout, credentials stuck) must not keep the
// circuit half-open for ever: after its timeout and this margin, another call may probe.
const PROBE_GRACE_MS = 5000;

type State =
  | {kind: 'closed'; failures: number}
  | {
      kind: 'open';
      openedAt: number;
      until: number;
      intervalMs: number;
      probe?: {id: number; expiresAt: number};
    };

/** Which state a call was admitted in: results of calls admitted under an earlier state are ignored. */
interface Ticket {
  generation: number;
  probeId?: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export class ClassroomCircuit implements ClassroomInvitations {
  private state: State = {kind: 'closed', failures: 0};
  private generation = 0;
  private probes = 0;

  constructor(
    private readonly inner: ClassroomInvitations,
    private readonly settings: CircuitSettings,
    private readonly now: () => number = monotonicNow,
  ) {}

  create(
    invitation: InvitationRequest,
    opts: CallOptions,
  ): Promise<Invitation> {
    return this.guard(opts, () => this.inner.create(invitation, opts));
  }

  findForPair(
    courseId: string,
    userId: string,
    opts: CallOptions,
  ): Promise<Invitation | undefined> {
    return this.guard(opts, () =>
      this.inner.findForPair(courseId, userId, opts),
    );
  }

  get(id: string, opts: CallOptions): Promise<Invitation> {
    return this.guard(opts, () => this.inner.get(id, opts));
  }

  delete(id: string, opts: CallOptions): Promise<void> {
    return this.guard(opts, () => this.inner.delete(id, opts));
  }

  /** Closed; open (every call refused); half-open (the interval has passed: the next call probes, one at a time). */
  get currentState(): CircuitState {
    if (this.state.kind === 'closed') return 'closed';
    return this.now() < this.state.until ? 'open' : 'half-open';
  }

  private async guard<T>(
    opts: CallOptions,
    call: () => Promise<T>,
  ): Promise<T> {
    const ticket = this.admit(opts);
    let value: T;
    try {
      value = await call();
    } catch (err) {
      this.settle(ticket, outcomeOf(err), err);
      throw err;
    }
    this.settle(ticket, 'success', undefined);
    return value;
  }

  /** Lets the call through, or throws the fail-fast refusal without touching the network. */
  private admit(opts: CallOptions): Ticket {
    const s = this.state;
    if (s.kind === 'closed') return {generation: this.generation};
    const now = this.now();
    if (now < s.until) throw refusal(s.until - now);
    // A probe in flight: the others wait for its verdict; about a second is a fair guess at when it comes.
    if (s.probe && now < s.probe.expiresAt) throw refusal(1000);
    s.probe = {
      id: ++this.probes,
      expiresAt: now + opts.timeoutMs + PROBE_GRACE_MS,
    };
    return {generation: this.generation, probeId: s.probe.id};
  }

  private settle(ticket: Ticket, outcome: CallOutcome, err: unknown): void {
    if (ticket.generation !== this.generation) return;
    const s = this.state;
    if (s.kind === 'closed') {
      if (outcome === 'success') s.failures = 0;
      else if (
        outcome === 'failure' &&
        ++s.failures >= this.settings.failureThreshold
      ) {
        this.open(this.settings.openMs);
        logs.circuitOpened({
          consecutiveFailures: s.failures,
          openSeconds: this.settings.openMs / 1000,
          ...lastError(err),
        });
      }
      return;
    }
    // While open only the current probe's verdict counts; stragglers admitted before it opened say nothing new.
    if (ticket.probeId === undefined || s.probe?.id !== ticket.probeId) return;
    if (outcome === 'success') {
      this.state = {kind: 'closed', failures: 0};
      this.generation++;
      logs.circuitClosed(this.now() - s.openedAt);
    } else if (outcome === 'failure') {
      const intervalMs = Math.min(this.settings.maxOpenMs, s.intervalMs * 2);
      this.open(intervalMs, s.openedAt);
      logs.circuitStaysOpen({
        openSeconds: intervalMs / 1000,
        ...lastError(err),
      });
    } else {
      s.probe = undefined; // no verdict: the next call probes
    }
  }

  private open(intervalMs: number, openedAt = this.now()): void {
    this.state = {
      kind: 'open',
      openedAt,
      until: this.now() + intervalMs,
      intervalMs,
    };
    this.generation++;
  }
}

/** The breaker around a client, or the client itself when the breaker is turned off. */
export function withCircuitBreaker(
  inner: ClassroomInvitations,
  settings: CircuitSettings,
  now: () => number = monotonicNow,
): ClassroomInvitations {
  return settings.failureThreshold > 0
    ? new ClassroomCircuit(inner, settings, now)
    : inner;
}

function refusal(waitMs: number): ApiError {
  return retryable(
    'UNAVAILABLE',
    'Classroom is failing; this gateway instance has paused its calls to it. Retry after the indicated delay.',
    waitMs / 1000,
    CIRCUIT_OPEN_REASON,
  );
}

/** Status only: Classroom's message may name a user. */
function lastError(err: unknown): Record<string, unknown> {
  return err instanceof ApiError
    ? {
        lastError: {
          httpStatus: err.httpStatus,
          status: err.status,
          upstream: err.upstream,
        },
      }
    : {};
}
