// "Should this failure be tried again?", answered in one place for the three who ask it: the gateway about its
// own Classroom call (retried at once, inside the request's deadline), an HTTP caller and a webhook sender about
// the answer they got (retried later; such answers are never stored for replay).
import type {GoogleErrorObject} from './errors';
import {isLocalRefusal} from './circuit';

/**
 * `gateway`: retry the Classroom call now (AIP-194: 429 and 5xx, never ALREADY_EXISTS, FAILED_PRECONDITION,
 * PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED).
 * `caller`: the HTTP answer tells the caller to come back (429, 503, 504, 409 ABORTED), judged on the HTTP status.
 * `sender`: an enrollment's result asks the webhook sender to redeliver, judged on the canonical status.
 * For the gateway's own errors (code = canonical HTTP status) `caller` and `sender` agree; they can differ only
 * for a Classroom error passed through whose HTTP status does not match its canonical status.
 */
export type RetryAsker = 'gateway' | 'caller' | 'sender';

export interface RetryFacts {
  httpStatus: number;
  /** Google's error object, when the answer is an error. */
  error?: GoogleErrorObject;
  /** True when the error object is Classroom's own. */
  upstream?: boolean;
}

const GATEWAY_RETRIES = new Set([
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
  'UNKNOWN',
  'DEADLINE_EXCEEDED',
]);
const CALLER_RETRIES_HTTP = new Set([429, 503, 504]);
const SENDER_RETRIES = new Set([
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
]);
// A per-user daily quota: retrying within seconds cannot succeed.
const DAILY_QUOTA = '@UserInvitationQuotaExhausted ';

export function shouldRetry(asker: RetryAsker, f: RetryFacts): boolean {
  const status = f.error?.status;
  switch (asker) {
    case 'gateway': {
      if (!f.error || f.error.message.startsWith(DAILY_QUOTA)) return false;
      // The breaker already knows Classroom is down, or the pacer that the quota is taken past the deadline: a
      // retry would only be refused again.
      if (isLocalRefusal({upstream: f.upstream ?? false, body: f.error}))
        return false;
      return GATEWAY_RETRIES.has(f.error.status);
    }
    case 'caller':
      return (
        CALLER_RETRIES_HTTP.has(f.httpStatus) ||
        (f.httpStatus === 409 && status === 'ABORTED')
      );
    case 'sender':
      return status !== undefined && SENDER_RETRIES.has(status);
  }
}
