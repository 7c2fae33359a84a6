import {CIRCUIT_OPEN_REASON} from '../../functions/circuit';
import {
  ApiError,
  errorInfo,
  gatewayError,
  retryable,
} from '../../functions/errors';
import {
  AttemptOptions,
  DEFAULT_RETRY_POLICY,
  isRetryable,
  RetryEnv,
  withRetries,
} from '../../functions/retry';

/** A clock that only moves when the code under test sleeps. */
function fakeEnv(random = () => 1): RetryEnv & {sleeps: number[]} {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async ms => {
      sleeps.push(ms);
      t += ms;
    },
    random,
  };
}

const upstream = (
  httpStatus: number,
  status: string,
  message = 'x',
  headers: Record<string, string> = {},
) =>
  new ApiError({
    httpStatus,
    body: {code: httpStatus, message, status},
    upstream: true,
    headers,
  });

const failing = (errors: ApiError[], then?: string) => {
  let i = 0;
  const fn = jest.fn(async () => {
    if (i < errors.length) throw errors[i++];
    return then ?? 'ok';
  });
  return fn;
};

const run = (
  fn: (t: number) => Promise<string>,
  env: RetryEnv,
  deadline = 60_000,
) =>
  withRetries(o => fn(o.timeoutMs), {
    deadline,
    callTimeoutMs: 10_000,
    env,
    toApiError: e => e as ApiError,
  });

describe('what is retried', () => {
  it.each([
    ['RESOURCE_EXHAUSTED', 429],
    ['UNAVAILABLE', 503],
    ['INTERNAL', 500],
    ['UNKNOWN', 500],
  ])('%s is retried', (status, http) =>
    expect(isRetryable(upstream(http, status))).toBe(true),
  );
  it.each([
    'ALREADY_EXISTS',
    'FAILED_PRECONDITION',
    'PERMISSION_DENIED',
    'NOT_FOUND',
    'INVALID_ARGUMENT',
    'UNAUTHENTICATED',
  ])('%s never is', status =>
    expect(isRetryable(upstream(400, status))).toBe(false),
  );
  it('the daily invitation quota is not retried', () => {
    expect(
      isRetryable(
        upstream(
          429,
          'RESOURCE_EXHAUSTED',
          '@UserInvitationQuotaExhausted The user does not have enough quota.',
        ),
      ),
    ).toBe(false);
  });
  it('a timeout of ours is retried (a repeat create is reconciled through ALREADY_EXISTS)', () => {
    expect(isRetryable(gatewayError('DEADLINE_EXCEEDED', 'late'))).toBe(true);
  });
  it("the refusal of an open circuit breaker is not retried: known by the gateway's own ErrorInfo, never by Classroom's", () => {
    expect(
      isRetryable(
        retryable('UNAVAILABLE', 'any wording', 10, CIRCUIT_OPEN_REASON),
      ),
    ).toBe(false);
    const body = {
      code: 503,
      message: 'x',
      status: 'UNAVAILABLE',
      details: [errorInfo(CIRCUIT_OPEN_REASON)],
    };
    expect(
      isRetryable(new ApiError({httpStatus: 503, body, upstream: true})),
    ).toBe(true);
  });
});

describe('backoff', () => {
  it('503 twice then success: three calls, growing waits', async () => {
    const env = fakeEnv();
    const fn = failing([
      upstream(503, 'UNAVAILABLE'),
      upstream(503, 'UNAVAILABLE'),
    ]);
    const r = await run(fn, env);
    expect(r).toEqual({value: 'ok', attempts: 3, deadlineReached: false});
    expect(env.sleeps).toEqual([250, 500]);
  });
  it('waits are truncated at the maximum and jittered below the bound', async () => {
    const env = fakeEnv(() => 0.5);
    const fn = failing(
      Array.from({length: 4}, () => upstream(500, 'INTERNAL')),
    );
    await withRetries(fn, {
      deadline: 1e9,
      callTimeoutMs: 1000,
      env,
      policy: {...DEFAULT_RETRY_POLICY, maxAttempts: 10, maxBackoffMs: 600},
      toApiError: e => e as ApiError,
    });
    expect(env.sleeps).toEqual([125, 250, 300, 300]);
  });
  it('a Retry-After from Classroom is a floor', async () => {
    const env = fakeEnv(() => 0);
    const fn = failing([
      upstream(429, 'RESOURCE_EXHAUSTED', 'slow down', {'Retry-After': '2'}),
    ]);
    await run(fn, env);
    expect(env.sleeps).toEqual([2000]);
  });
  it('stops after the last attempt with the last error', async () => {
    const env = fakeEnv();
    const fn = failing(
      Array.from({length: 9}, () => upstream(429, 'RESOURCE_EXHAUSTED')),
    );
    const r = await run(fn, env);
    expect(fn).toHaveBeenCalledTimes(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(r.error?.status).toBe('RESOURCE_EXHAUSTED');
    expect(r.deadlineReached).toBe(false);
  });
  it('never waits past the deadline, and gives each call only the time left', async () => {
    const env = fakeEnv();
    const timeouts: number[] = [];
    const fn = jest.fn(async ({timeoutMs: t}: AttemptOptions) => {
      timeouts.push(t);
      throw upstream(503, 'UNAVAILABLE');
    });
    const r = await withRetries(fn, {
      deadline: 600,
      callTimeoutMs: 10_000,
      env,
      toApiError: e => e as ApiError,
    });
    expect(r.deadlineReached).toBe(true);
    expect(env.now()).toBeLessThanOrEqual(600);
    expect(timeouts[0]).toBe(600);
    expect(timeouts[1]).toBe(350);
  });
  it('a call refused by the open circuit ends the retries at once, without sleeping', async () => {
    const env = fakeEnv();
    const fn = failing([
      upstream(503, 'UNAVAILABLE'),
      retryable('UNAVAILABLE', 'paused', 10, CIRCUIT_OPEN_REASON),
      upstream(503, 'UNAVAILABLE'),
    ]);
    const r = await run(fn, env);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(env.sleeps).toEqual([250]);
    expect(r.error?.headers['Retry-After']).toBe('10');
  });
  it('a non-retryable error ends at once', async () => {
    const env = fakeEnv();
    const fn = failing([upstream(403, 'PERMISSION_DENIED')]);
    const r = await run(fn, env);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(env.sleeps).toEqual([]);
    expect(r.error?.status).toBe('PERMISSION_DENIED');
  });
});
