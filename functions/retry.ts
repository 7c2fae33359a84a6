// Retries of Classroom calls: truncated exponential backoff with full jitter, inside a per-request deadline.
// Retried: 429 RESOURCE_EXHAUSTED, 5xx (INTERNAL, UNKNOWN, UNAVAILABLE, DEADLINE_EXCEEDED) and network
// errors, as Classroom's troubleshooting guide advises. Never retried: ALREADY_EXISTS, FAILED_PRECONDITION,
// PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED (AIP-194), nor the daily invitation quota,
// nor the refusal of an open circuit breaker.
import type {ApiError} from './errors';
import {shouldRetry} from './retry-decision';

export interface RetryPolicy {
  /** Upper bound of the first backoff, in ms. */
  initialBackoffMs: number;
  /** Each further backoff bound is multiplied by this. */
  multiplier: number;
  /** Backoff bounds never exceed this ("truncated"). */
  maxBackoffMs: number;
  /** Calls in all, the first included. */
  maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialBackoffMs: 250,
  multiplier: 2,
  maxBackoffMs: 4000,
  maxAttempts: 5,
};

/** Should the gateway call Classroom again at once? (retry-decision.ts decides.) */
export function isRetryable(err: ApiError): boolean {
  return shouldRetry('gateway', {
    httpStatus: err.httpStatus,
    error: err.body,
    upstream: err.upstream,
  });
}

/** Seconds a Retry-After header asks for, if it holds a number of seconds. */
export function retryAfterMs(err: ApiError): number | undefined {
  const v = err.headers['Retry-After'];
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v) * 1000;
}

export interface RetryEnv {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const realRetryEnv: RetryEnv = {
  now: Date.now,
  sleep: ms => new Promise(r => setTimeout(r, ms)),
  random: Math.random,
};

export interface RetryResult<T> {
  value?: T;
  /** The last error when the call did not succeed. */
  error?: ApiError;
  attempts: number;
  /** True when the deadline, not the error, ended the attempts. */
  deadlineReached: boolean;
}

export interface RetryOptions {
  deadline: number;
  callTimeoutMs: number;
  policy?: RetryPolicy;
  env?: RetryEnv;
  toApiError: (e: unknown) => ApiError;
}

/** What one attempt is given: the time it may take, and the request's deadline (for the pacer's wait). */
export interface AttemptOptions {
  timeoutMs: number;
  deadline: number;
}

/**
 * Runs `call` until it succeeds, fails for good, runs out of attempts, or the deadline comes.
 * `call` receives the time it may take (the smaller of its own cap and what is left of the deadline).
 */
export async function withRetries<T>(
  call: (o: AttemptOptions) => Promise<T>,
  opts: RetryOptions,
): Promise<RetryResult<T>> {
  const policy = opts.policy ?? DEFAULT_RETRY_POLICY;
  const env = opts.env ?? realRetryEnv;
  let bound = policy.initialBackoffMs;
  for (let attempt = 1; ; attempt++) {
    const left = opts.deadline - env.now();
    if (left <= 0) return {attempts: attempt - 1, deadlineReached: true};
    try {
      return {
        value: await call({
          timeoutMs: Math.min(opts.callTimeoutMs, left),
          deadline: opts.deadline,
        }),
        attempts: attempt,
        deadlineReached: false,
      };
    } catch (e) {
      const error = opts.toApiError(e);
      if (!isRetryable(error) || attempt >= policy.maxAttempts)
        return {error, attempts: attempt, deadlineReached: false};
      // Full jitter (a random wait up to the bound) spreads the retries of many instances apart;
      // a Retry-After from Classroom is a floor.
      const wait = Math.max(env.random() * bound, retryAfterMs(error) ?? 0);
      bound = Math.min(policy.maxBackoffMs, bound * policy.multiplier);
      if (env.now() + wait >= opts.deadline)
        return {error, attempts: attempt, deadlineReached: true};
      await env.sleep(wait);
    }
  }
}
