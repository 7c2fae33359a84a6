import {
  errorFields,
  log,
  logRequest,
  redact,
  setLogSink,
  setRedactEmails,
  traceFields,
  withLogContext,
} from '../../functions/logs';

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  setLogSink(l => lines.push(l));
});
afterEach(() => {
  setLogSink(undefined);
  setRedactEmails(false);
});

const sample = {
  requestId: 'r-1',
  method: 'POST',
  url: '/v1/invitations',
  status: 404,
  latencyMs: 12.345,
  outcome: 'failed',
  userAgent: 'sis/1.0',
  requestSize: 80,
  details: {userId: 'ada@school.example', upstreamStatus: 'NOT_FOUND'},
};

it('writes one JSON line with the fields Cloud Logging reads', () => {
  logRequest({
    ...sample,
    trace: traceFields('0123456789abcdef0123456789ABCDEF/123;o=1', 'demo-p'),
  });
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toEqual({
    severity: 'WARNING',
    message: 'POST /v1/invitations 404 failed',
    requestId: 'r-1',
    outcome: 'failed',
    latencyMs: 12.3,
    httpRequest: {
      requestMethod: 'POST',
      requestUrl: '/v1/invitations',
      status: 404,
      latency: '0.012s',
      userAgent: 'sis/1.0',
      requestSize: '80',
    },
    'logging.googleapis.com/trace':
      'projects/demo-p/traces/0123456789abcdef0123456789abcdef',
    'logging.googleapis.com/spanId': '000000000000007b',
    userId: 'ada@school.example',
    upstreamStatus: 'NOT_FOUND',
  });
});

it.each([
  [200, 'INFO'],
  [409, 'WARNING'],
  [503, 'ERROR'],
])('status %i logs at %s', (status, severity) => {
  logRequest({...sample, status});
  expect(JSON.parse(lines[0]!).severity).toBe(severity);
});

it('masks email addresses everywhere in the line when asked', () => {
  setRedactEmails(true);
  logRequest({
    ...sample,
    details: {
      userId: 'ada@school.example',
      note: 'from grace.h@staff.school.example',
    },
  });
  expect(lines[0]).not.toMatch(/ada@|grace\.h@/);
  expect(JSON.parse(lines[0]!)).toMatchObject({
    userId: '***@school.example',
    note: 'from ***@staff.school.example',
  });
});

it('leaves addresses alone by default', () => {
  logRequest(sample);
  expect(JSON.parse(lines[0]!).userId).toBe('ada@school.example');
});

it('has no trace without a header or a project', () => {
  expect(traceFields(undefined, 'p')).toEqual({});
  expect(traceFields('0123456789abcdef0123456789abcdef', undefined)).toEqual(
    {},
  );
  expect(traceFields('garbage', 'p')).toEqual({});
});

it('redact keeps the domain', () => {
  expect(redact('a.b+c@sub.school.example and x@y.example')).toBe(
    '***@sub.school.example and ***@y.example',
  );
});

it("a span id that is not an unsigned 64-bit number is not logged (the header is the caller's text)", () => {
  const trace = '0123456789abcdef0123456789abcdef';
  expect(traceFields(`${trace}/${'9'.repeat(16_000)};o=1`, 'p')).toEqual({
    'logging.googleapis.com/trace': `projects/p/traces/${trace}`,
  });
  expect(
    traceFields(`${trace}/18446744073709551616`, 'p')[
      'logging.googleapis.com/spanId'
    ],
  ).toBeUndefined();
  expect(
    traceFields(`${trace}/18446744073709551615`, 'p')[
      'logging.googleapis.com/spanId'
    ],
  ).toBe('ffffffffffffffff');
});

describe('request context', () => {
  it('a line written inside a request carries its requestId and trace; the line’s own fields win', async () => {
    await withLogContext(
      {requestId: 'r-9', 'logging.googleapis.com/trace': 'projects/p/traces/t'},
      async () => {
        await Promise.resolve();
        log('ERROR', 'deep inside');
        log('INFO', 'an item', {requestId: 'r-9.0'});
      },
    );
    log('INFO', 'outside');
    expect(lines.map(l => JSON.parse(l))).toEqual([
      {
        severity: 'ERROR',
        message: 'deep inside',
        requestId: 'r-9',
        'logging.googleapis.com/trace': 'projects/p/traces/t',
      },
      {
        severity: 'INFO',
        message: 'an item',
        requestId: 'r-9.0',
        'logging.googleapis.com/trace': 'projects/p/traces/t',
      },
      {severity: 'INFO', message: 'outside'},
    ]);
  });
});

describe('errorFields', () => {
  it('keeps the stack and the chain of causes, a few levels deep', () => {
    const root = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
    });
    const err = new Error('request to Classroom failed', {cause: root});
    const fields = errorFields(err) as {
      error: {
        name: string;
        message: string;
        stack: string;
        cause: {message: string; code: string; stack: string};
      };
    };
    expect(fields.error).toMatchObject({
      name: 'Error',
      message: 'request to Classroom failed',
      cause: {name: 'Error', message: 'socket hang up', code: 'ECONNRESET'},
    });
    expect(fields.error.stack).toContain('request to Classroom failed');
    expect(fields.error.cause.stack).toContain('socket hang up');
    // A cycle of causes cannot make a line endless.
    (root as {cause?: unknown}).cause = err;
    expect(JSON.stringify(errorFields(err)).length).toBeLessThan(20_000);
  });
});
