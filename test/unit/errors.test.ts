import {
  ApiError,
  canonicalForHttp,
  CANONICAL_HTTP,
  retryable,
  toApiError,
} from '../../functions/errors';
import {upstreamError} from '../../functions/classroom';

describe('canonical codes', () => {
  it('map to HTTP as google/rpc/code.proto says', () => {
    expect(CANONICAL_HTTP).toMatchObject({
      INVALID_ARGUMENT: 400,
      FAILED_PRECONDITION: 400,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      ABORTED: 409,
      RESOURCE_EXHAUSTED: 429,
      UNAVAILABLE: 503,
      DEADLINE_EXCEEDED: 504,
    });
  });
  it.each([
    [400, 'INVALID_ARGUMENT'],
    [403, 'PERMISSION_DENIED'],
    [429, 'RESOURCE_EXHAUSTED'],
    [502, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
    [500, 'INTERNAL'],
  ])('HTTP %i without a named status is %s', (http, status) =>
    expect(canonicalForHttp(http)).toBe(status),
  );
});

describe('upstream errors', () => {
  it('keep Classroom’s status, code, status name and exact message', () => {
    const body = {
      error: {
        code: 400,
        message: '@IneligibleOwner The user cannot be added as the owner.',
        status: 'FAILED_PRECONDITION',
      },
    };
    const e = upstreamError({
      message: 'x',
      response: {status: 400, data: body},
    });
    expect(e.upstream).toBe(true);
    expect(e.httpStatus).toBe(400);
    expect(e.toJSON()).toEqual(body);
  });
  it('keep extra members such as the legacy errors array', () => {
    const body = {
      error: {
        code: 403,
        message: 'm',
        status: 'PERMISSION_DENIED',
        errors: [{reason: 'forbidden'}],
      },
    };
    expect(
      upstreamError({response: {status: 403, data: body}}).toJSON(),
    ).toEqual(body);
  });
  it('a non-Google body (a proxy’s 502) gets a canonical status', () => {
    const e = upstreamError({
      message: 'Bad Gateway',
      response: {status: 502, data: '<html>'},
    });
    expect(e.toJSON()).toEqual({
      error: {code: 502, message: 'Bad Gateway', status: 'UNAVAILABLE'},
    });
  });
  it('no answer at all is 503 UNAVAILABLE with Retry-After', () => {
    const e = upstreamError({
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED',
    });
    expect(e.httpStatus).toBe(503);
    expect(e.headers['Retry-After']).toBe('1');
    expect(e.upstream).toBe(false);
  });
  it('a timeout is 504 DEADLINE_EXCEEDED', () => {
    const e = upstreamError(
      Object.assign(new Error('timed out'), {name: 'TimeoutError'}),
    );
    expect(e.httpStatus).toBe(504);
    expect(e.status).toBe('DEADLINE_EXCEEDED');
  });
});

describe('unexpected failures', () => {
  it('become 503 UNAVAILABLE without leaking internals', () => {
    const e = toApiError(new Error('secret database detail'));
    expect(e.httpStatus).toBe(503);
    expect(JSON.stringify(e.toJSON())).not.toContain('secret');
  });
  it('retryable errors carry RetryInfo and Retry-After in whole seconds', () => {
    const e = retryable('ABORTED', 'busy', 1.2, 'R');
    expect(e.headers['Retry-After']).toBe('2');
    expect(e.body.details).toContainEqual({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '2s',
    });
    expect(e).toBeInstanceOf(ApiError);
  });
});

describe('causes', () => {
  it('an upstream error keeps what the client threw as its cause, never in the JSON it answers', () => {
    const thrown = {
      message: 'x',
      response: {
        status: 403,
        data: {
          error: {code: 403, message: 'denied', status: 'PERMISSION_DENIED'},
        },
      },
    };
    const e = upstreamError(thrown);
    expect(e.cause).toBe(thrown);
    expect(JSON.stringify(e.toJSON())).not.toContain('cause');
  });

  it('a fault of the gateway becomes 503 with the fault as its cause', () => {
    const fault = new Error('firestore unavailable');
    const e = toApiError(fault);
    expect(e.httpStatus).toBe(503);
    expect(e.cause).toBe(fault);
    expect(e.toJSON().error.message).not.toContain('firestore');
  });
});
