// One table answers "should this be tried again?" for the gateway (its own Classroom call), an HTTP caller and a
// webhook sender (the answer they got).
import {CIRCUIT_OPEN_REASON} from '../../functions/circuit';
import {
  CANONICAL_HTTP,
  CanonicalStatus,
  errorInfo,
  gatewayError,
  retryable,
} from '../../functions/errors';
import {shouldRetry} from '../../functions/retry-decision';

const facts = (e: ReturnType<typeof gatewayError>) => ({
  httpStatus: e.httpStatus,
  error: e.body,
  upstream: e.upstream,
});

it.each([
  ['RESOURCE_EXHAUSTED', true],
  ['UNAVAILABLE', true],
  ['INTERNAL', true],
  ['UNKNOWN', true],
  ['DEADLINE_EXCEEDED', true],
  ['ABORTED', false],
  ['ALREADY_EXISTS', false],
  ['FAILED_PRECONDITION', false],
  ['PERMISSION_DENIED', false],
  ['NOT_FOUND', false],
  ['INVALID_ARGUMENT', false],
  ['UNAUTHENTICATED', false],
] as const)(
  'the gateway retries its Classroom call on %s: %s',
  (status, expected) => {
    expect(shouldRetry('gateway', facts(gatewayError(status, 'x')))).toBe(
      expected,
    );
  },
);

it('the gateway never retries the daily invitation quota nor the refusal of its open circuit', () => {
  expect(
    shouldRetry(
      'gateway',
      facts(
        gatewayError(
          'RESOURCE_EXHAUSTED',
          '@UserInvitationQuotaExhausted The user has reached the daily limit.',
        ),
      ),
    ),
  ).toBe(false);
  expect(
    shouldRetry(
      'gateway',
      facts(retryable('UNAVAILABLE', 'paused', 1, CIRCUIT_OPEN_REASON)),
    ),
  ).toBe(false);
});

it.each([
  [429, 'RESOURCE_EXHAUSTED', true],
  [503, 'UNAVAILABLE', true],
  [504, 'DEADLINE_EXCEEDED', true],
  [409, 'ABORTED', true],
  [409, 'ALREADY_EXISTS', false],
  [500, 'INTERNAL', false],
  [200, undefined, false],
] as const)(
  'an HTTP caller is told to retry %i %s: %s (such answers are not stored for replay)',
  (httpStatus, status, expected) => {
    const error = status ? {code: httpStatus, message: 'x', status} : undefined;
    expect(shouldRetry('caller', {httpStatus, error})).toBe(expected);
  },
);

it('for every error of the gateway’s own making, a caller and a webhook sender get the same advice', () => {
  for (const status of Object.keys(CANONICAL_HTTP) as CanonicalStatus[]) {
    const e = gatewayError(status, 'x', {details: [errorInfo('R')]});
    expect({status, sender: shouldRetry('sender', facts(e))}).toEqual({
      status,
      sender: shouldRetry('caller', facts(e)),
    });
  }
});
