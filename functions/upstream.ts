// The gateway's retry policy for Classroom calls inside a request's deadline, and the errors worded as
// Classroom words them (ALREADY_EXISTS, NOT_FOUND) or as the gateway answers when Classroom did not.
import type {AuditFields} from './audit';
import type {Config} from './config';
import {ApiError, gatewayError, retryable, toApiError} from './errors';
import {retryAfterMs, RetryOptions, RetryResult} from './retry';

/** What Classroom answers to a second invitation for the same user and course. */
export const CLASSROOM_ALREADY_EXISTS_MESSAGE =
  'Requested entity already exists';

/** The gateway's retry policy for a Classroom call inside the request's deadline (withRetries' options). */
export function retryOptions(
  config: Config,
  deadline: number,
  maxAttempts?: number,
): RetryOptions {
  const policy = maxAttempts
    ? {...config.retryPolicy, maxAttempts}
    : config.retryPolicy;
  return {
    deadline,
    callTimeoutMs: config.classroomTimeoutMs,
    policy,
    toApiError,
  };
}

/** The error a call ended with, a deadline that passed before any call counting as one. */
export function failureOf(r: RetryResult<unknown>): ApiError | undefined {
  return (
    r.error ??
    (r.deadlineReached && !r.attempts ? deadlineExceeded() : undefined)
  );
}

/** Classroom's refusal as the audit keeps it (its message bounded). */
export function upstreamFields(
  err: ApiError,
): Pick<AuditFields, 'upstreamStatus' | 'upstreamMessage'> {
  return err.upstream
    ? {
        upstreamStatus: err.status,
        upstreamMessage: err.body.message.slice(0, 500),
      }
    : {};
}

/** Classroom's answer for an invitation id it does not know. */
export function notFound(): ApiError {
  return gatewayError('NOT_FOUND', 'Requested entity was not found.');
}

export function alreadyExists(): ApiError {
  return gatewayError('ALREADY_EXISTS', CLASSROOM_ALREADY_EXISTS_MESSAGE);
}

/** Our deadline passed before Classroom answered; the invitation may exist. */
export function deadlineExceeded(): ApiError {
  return gatewayError(
    'DEADLINE_EXCEEDED',
    'Classroom did not answer within the deadline. The invitation may have been created; retry to find out.',
  );
}

/** A retryable failure that outlasted the retries: 429 for quota, 503 for the rest, with Retry-After. */
export function exhausted(e: ApiError): ApiError {
  const afterS = Math.ceil((retryAfterMs(e) ?? 0) / 1000);
  if (e.status === 'RESOURCE_EXHAUSTED') {
    // Classroom's own quota error, passed through, with a delay for the caller.
    return new ApiError({
      httpStatus: 429,
      body: e.body,
      upstream: e.upstream,
      headers: {...e.headers, 'Retry-After': String(Math.max(afterS, 10))},
      cause: e,
    });
  }
  const what = e.upstream
    ? `Classroom answered ${e.httpStatus} ${e.status}`
    : 'Classroom could not be reached';
  return retryable(
    'UNAVAILABLE',
    `${what} and retries did not help. Retry the request later.`,
    Math.max(afterS, 5),
    'UPSTREAM_UNAVAILABLE',
    e,
  );
}
