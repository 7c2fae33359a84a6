import {
  CallOptions,
  ClassroomInvitations,
  Invitation,
  upstreamError,
} from '../../functions/classroom';
import {
  CIRCUIT_OPEN_REASON,
  CircuitSettings,
  ClassroomCircuit,
  withCircuitBreaker,
} from '../../functions/circuit';
import {ApiError} from '../../functions/errors';
import {setLogSink, Severity} from '../../functions/logs';
import {isRetryable} from '../../functions/retry';

const invitation: Invitation = {
  id: 'inv1',
  userId: '1',
  courseId: '2',
  role: 'STUDENT',
};
const opts: CallOptions = {timeoutMs: 1000};
const request = {
  courseId: 'd:c',
  userId: 'u@school.example',
  role: 'STUDENT' as const,
};

/** Classroom's errors as the real client's mapping (upstreamError) makes them. */
const answered = (status: number, canonical: string) =>
  upstreamError({
    message: 'x',
    response: {
      status,
      data: {error: {code: status, message: 'x', status: canonical}},
      headers: {},
    },
  });
const http503 = () => answered(503, 'UNAVAILABLE');
const unreachable = () =>
  upstreamError(
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    }),
  );
const ourTimeout = () =>
  upstreamError(
    Object.assign(new Error('The operation was aborted due to timeout'), {
      name: 'TimeoutError',
    }),
  );

/** An inner client whose every call does what `next` says; it counts the calls that reached it. */
class ScriptedClassroom implements ClassroomInvitations {
  calls = 0;
  next: () => Promise<Invitation> = async () => invitation;
  private run<T>(value: (i: Invitation) => T): Promise<T> {
    this.calls++;
    return this.next().then(value);
  }
  create = () => this.run(i => i);
  findForPair = () => this.run((i): Invitation | undefined => i);
  get = () => this.run(i => i);
  delete = () => this.run(() => undefined);
  failWith(err: () => unknown): void {
    this.next = async () => {
      throw err();
    };
  }
  succeed(): void {
    this.next = async () => invitation;
  }
}

function deferred(): {
  promise: Promise<Invitation>;
  resolve: () => void;
  reject: (e: unknown) => void;
} {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Invitation>((res, rej) => {
    resolve = () => res(invitation);
    reject = rej;
  });
  return {promise, resolve, reject};
}

const SETTINGS: CircuitSettings = {
  failureThreshold: 3,
  openMs: 10_000,
  maxOpenMs: 60_000,
};

let clock = 0;
let inner: ScriptedClassroom;
let circuit: ClassroomCircuit;
let lines: {severity: Severity; message: string}[];

beforeEach(() => {
  clock = 1_000_000;
  inner = new ScriptedClassroom();
  circuit = new ClassroomCircuit(inner, SETTINGS, () => clock);
  lines = [];
  setLogSink((line, severity) =>
    lines.push({
      severity,
      message: (JSON.parse(line) as {message: string}).message,
    }),
  );
});
afterAll(() => setLogSink(undefined));

/** The call's error, or undefined when it succeeded. */
async function outcome(p: Promise<unknown>): Promise<ApiError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e as ApiError;
  }
}

async function failTimes(
  n: number,
  err: () => unknown = http503,
): Promise<void> {
  inner.failWith(err);
  for (let i = 0; i < n; i++) await outcome(circuit.create(request, opts));
}

const reasonOf = (e: ApiError | undefined) =>
  (e?.body.details?.[0] as {reason?: string} | undefined)?.reason;

describe('opening', () => {
  it.each([
    ['HTTP 503 from Classroom', http503],
    ['HTTP 500 from Classroom', () => answered(500, 'INTERNAL')],
    [
      'HTTP 502 from a proxy in front of Classroom',
      () => answered(502, 'UNAVAILABLE'),
    ],
    ['a network error', unreachable],
    ['our own call timeout', ourTimeout],
  ])('opens after N consecutive failures: %s', async (_name, err) => {
    await failTimes(2, err);
    expect(circuit.currentState).toBe('closed');
    await failTimes(1, err);
    expect(circuit.currentState).toBe('open');
    expect(inner.calls).toBe(3);
  });

  it('while open, every method fails fast with 503 UNAVAILABLE, Retry-After, ErrorInfo and RetryInfo, without calling Classroom', async () => {
    await failTimes(3);
    clock += 4500;
    const errors = await Promise.all([
      outcome(circuit.create(request, opts)),
      outcome(circuit.findForPair('c', 'u', opts)),
      outcome(circuit.get('id', opts)),
      outcome(circuit.delete('id', opts)),
    ]);
    expect(inner.calls).toBe(3);
    for (const e of errors) {
      expect(e).toBeInstanceOf(ApiError);
      expect(e!.httpStatus).toBe(503);
      expect(e!.upstream).toBe(false);
      expect(e!.headers['Retry-After']).toBe('6'); // 5.5 s left, in whole seconds rounded up
      expect(e!.body).toMatchObject({
        code: 503,
        status: 'UNAVAILABLE',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: CIRCUIT_OPEN_REASON,
            domain: 'classroom-gateway.invitations',
          },
          {
            '@type': 'type.googleapis.com/google.rpc.RetryInfo',
            retryDelay: '6s',
          },
        ],
      });
      expect(isRetryable(e!)).toBe(false);
    }
  });

  it('Retry-After is never below one second, even in the last milliseconds of the interval', async () => {
    await failTimes(3);
    clock += 9_999;
    expect(
      (await outcome(circuit.get('id', opts)))?.headers['Retry-After'],
    ).toBe('1');
  });

  it.each([
    [
      '429 RESOURCE_EXHAUSTED (quota, not health)',
      () => answered(429, 'RESOURCE_EXHAUSTED'),
    ],
    ['403 PERMISSION_DENIED', () => answered(403, 'PERMISSION_DENIED')],
    ['404 NOT_FOUND', () => answered(404, 'NOT_FOUND')],
    ['409 ALREADY_EXISTS', () => answered(409, 'ALREADY_EXISTS')],
    ['400 FAILED_PRECONDITION', () => answered(400, 'FAILED_PRECONDITION')],
  ])('%s never opens it, however often', async (_name, err) => {
    await failTimes(20, err);
    expect(circuit.currentState).toBe('closed');
    expect(inner.calls).toBe(20);
  });

  it('a 4xx or 429 between failures resets the count, as a success does', async () => {
    await failTimes(2);
    await failTimes(1, () => answered(429, 'RESOURCE_EXHAUSTED'));
    await failTimes(2);
    inner.succeed();
    await circuit.create(request, opts);
    await failTimes(2);
    expect(circuit.currentState).toBe('closed');
    await failTimes(1);
    expect(circuit.currentState).toBe('open');
  });

  it('something thrown that is not about Classroom (credentials that could not be set up) neither counts nor resets', async () => {
    await failTimes(2);
    await failTimes(
      5,
      () => new Error('Could not load the default credentials'),
    );
    expect(circuit.currentState).toBe('closed');
    await failTimes(1);
    expect(circuit.currentState).toBe('open');
  });

  it('calls already in flight when it opens count neither while it is open nor after it has closed again', async () => {
    const late = Array.from({length: 5}, () => deferred());
    let i = 0;
    inner.next = () => late[i++]!.promise;
    const inFlight = late.map(() => outcome(circuit.create(request, opts)));
    await failTimes(3);
    expect(circuit.currentState).toBe('open');
    late[0]!.reject(http503());
    late[1]!.resolve(); // a late success does not close it
    await Promise.all(inFlight.slice(0, 2));
    expect(circuit.currentState).toBe('open');
    clock += 10_000;
    inner.succeed();
    await circuit.get('id', opts); // the probe closes it
    for (const d of late.slice(2)) d.reject(http503()); // three stale failures: the threshold, were they counted
    await Promise.all(inFlight);
    expect(circuit.currentState).toBe('closed');
    await failTimes(2);
    expect(circuit.currentState).toBe('closed');
  });

  it('a threshold of 0 turns the breaker off', () => {
    expect(withCircuitBreaker(inner, {...SETTINGS, failureThreshold: 0})).toBe(
      inner,
    );
    expect(withCircuitBreaker(inner, SETTINGS)).toBeInstanceOf(
      ClassroomCircuit,
    );
  });
});

describe('probing', () => {
  it('after the interval exactly one of many racing calls goes to Classroom; the others fail fast', async () => {
    await failTimes(3);
    clock += 10_000;
    const probe = deferred();
    inner.next = () => probe.promise;
    const racing = Array.from({length: 20}, (_, k) =>
      outcome(k % 2 ? circuit.create(request, opts) : circuit.get('id', opts)),
    );
    await new Promise(r => setImmediate(r));
    expect(inner.calls).toBe(4);
    probe.resolve();
    const errors = await Promise.all(racing);
    expect(errors.filter(e => e === undefined)).toHaveLength(1);
    const refused = errors.filter(e => e !== undefined);
    expect(refused).toHaveLength(19);
    expect(
      refused.every(
        e =>
          reasonOf(e) === CIRCUIT_OPEN_REASON &&
          e!.headers['Retry-After'] === '1',
      ),
    ).toBe(true);
  });

  it("a probe's success closes it: calls reach Classroom again and failures are counted from zero", async () => {
    await failTimes(3);
    clock += 10_000;
    inner.succeed();
    await circuit.create(request, opts);
    expect(circuit.currentState).toBe('closed');
    for (let k = 0; k < 5; k++) await circuit.get('id', opts);
    expect(inner.calls).toBe(9);
    await failTimes(2);
    expect(circuit.currentState).toBe('closed');
  });

  it("a probe's 4xx answer closes it too: Classroom answered", async () => {
    await failTimes(3);
    clock += 10_000;
    await failTimes(1, () => answered(404, 'NOT_FOUND'));
    expect(circuit.currentState).toBe('closed');
  });

  it("a probe's failure reopens it with the interval doubled, up to the cap", async () => {
    await failTimes(3);
    const intervals: string[] = [];
    for (const wait of [10_000, 20_000, 40_000, 60_000]) {
      clock += wait - 1;
      expect(circuit.currentState).toBe('open');
      clock += 1;
      await failTimes(1); // the probe
      intervals.push(
        (await outcome(circuit.get('id', opts)))!.headers['Retry-After']!,
      );
    }
    expect(intervals).toEqual(['20', '40', '60', '60']);
    expect(inner.calls).toBe(3 + 4);
  });

  it('a probe that ends without a verdict about Classroom lets the next call probe', async () => {
    await failTimes(3);
    clock += 10_000;
    await failTimes(
      1,
      () => new Error('Could not load the default credentials'),
    );
    expect(circuit.currentState).toBe('half-open');
    inner.succeed();
    await circuit.get('id', opts);
    expect(circuit.currentState).toBe('closed');
  });

  it('a probe that never settles does not hold the circuit half-open for ever', async () => {
    await failTimes(3);
    clock += 10_000;
    inner.next = () => new Promise<Invitation>(() => undefined);
    void circuit.get('id', opts);
    expect(reasonOf(await outcome(circuit.get('id', opts)))).toBe(
      CIRCUIT_OPEN_REASON,
    );
    clock += opts.timeoutMs + 5000;
    inner.succeed();
    await circuit.get('id', opts);
    expect(circuit.currentState).toBe('closed');
  });
});

it('logs one WARNING when it opens and one INFO when it closes, never one per refused call', async () => {
  await failTimes(3);
  for (let k = 0; k < 50; k++) await outcome(circuit.get('id', opts));
  clock += 10_000;
  inner.succeed();
  await circuit.get('id', opts);
  expect(lines.map(l => l.severity)).toEqual(['WARNING', 'INFO']);
  expect(lines[0]!.message).toMatch(/opened/);
  expect(lines[1]!.message).toMatch(/closed/);
});
