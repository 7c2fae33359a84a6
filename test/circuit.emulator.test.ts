// The circuit breaker through HTTP: a Classroom that keeps failing costs a handful of calls in all, not five per
// request; callers get 503 + Retry-After at once, and the first request after its recovery goes through.
import request from 'supertest';
import {CIRCUIT_OPEN_REASON} from '../functions/circuit';
import {setLogSink} from '../functions/logs';
import {startTestGateway, TestGateway} from './support/gateway';

const THRESHOLD = 5;
let t: TestGateway;
let n = 0;
const pair = () => ({
  courseId: `d:circuit-${++n}`,
  userId: `c${n}@school.example`,
  role: 'STUDENT',
});
const circuitLines: {severity: string; message: string}[] = [];
let created: ReturnType<typeof pair>;
let retryAfterS = 0;

beforeAll(async () => {
  t = await startTestGateway('circuit', {
    CIRCUIT_FAILURE_THRESHOLD: String(THRESHOLD),
    CIRCUIT_OPEN_SECONDS: '1',
    CIRCUIT_MAX_OPEN_SECONDS: '2',
    RETRY_INITIAL_BACKOFF_MS: '20',
    RETRY_MAX_BACKOFF_MS: '100',
  });
  setLogSink((line, severity) => {
    const {message} = JSON.parse(line) as {message: string};
    if (/circuit/i.test(message)) circuitLines.push({severity, message});
  });
  created = pair();
  await post(created).expect(200); // before the outage
  t.standIn.reset();
});
afterAll(async () => {
  setLogSink(() => undefined);
  await t.close();
});

const post = (body: unknown) =>
  request(t.server)
    .post('/v1/invitations')
    .send(body as object);
const reasonOf = (res: request.Response) =>
  (res.body.error?.details as {reason?: string}[] | undefined)?.[0]?.reason;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

// The tests run in order: an outage, a burst during it, the recovery.
it('with Classroom answering 503 to everything, 10 new pairs cost at most N calls plus probes in all, not 5 each, and nothing stays reserved', async () => {
  t.standIn.injectFault({
    method: 'create',
    count: 100_000,
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  const started = Date.now();
  const answers: request.Response[] = [];
  for (let i = 0; i < 10; i++) answers.push(await post(pair()));
  const elapsedMs = Date.now() - started;

  // One probe at most per open interval (1 s, then 2 s): never more than one per second of the run.
  expect(t.standIn.calls.create).toBeLessThanOrEqual(
    THRESHOLD + Math.ceil(elapsedMs / 1000),
  );
  expect(answers.map(r => r.status)).toEqual(Array(10).fill(503));
  // The first request ran its five attempts and opened the circuit; the last ones were refused without a call.
  expect(reasonOf(answers[0]!)).toBe('UPSTREAM_UNAVAILABLE');
  for (const res of answers.slice(-3)) {
    expect(res.body.error).toMatchObject({code: 503, status: 'UNAVAILABLE'});
    expect(reasonOf(res)).toBe(CIRCUIT_OPEN_REASON);
    expect(res.body.error.details[1]).toMatchObject({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(2);
  }
  retryAfterS = Number(answers[9]!.headers['retry-after']);

  // Every refused pair was released, and each request has its final audit event.
  expect((await t.ledgerDocs()).filter(d => d.state !== 'created')).toEqual([]);
  const failed = (await t.auditDocs()).filter(
    d => d.outcome === 'failed' && d.httpStatus === 503,
  );
  expect(failed).toHaveLength(10);

  // Meanwhile a repeat of an invitation made before the outage is still answered from the ledger.
  const calls = t.standIn.calls.create;
  const replay = await post(created).expect(200);
  expect(replay.headers['idempotent-replayed']).toBe('true');
  expect(t.standIn.calls.create).toBe(calls);
});

it('when the interval has passed, a burst of concurrent requests sends Classroom one probe, not one call each', async () => {
  await sleep(retryAfterS * 1000);
  t.standIn.latencyMs = 300; // the probe is still in flight while the others arrive
  const before = t.standIn.calls.create;
  const answers = await Promise.all(
    Array.from({length: 20}, () => post(pair())),
  );
  expect(t.standIn.calls.create - before).toBe(1);
  expect(answers.map(r => r.status)).toEqual(Array(20).fill(503));
  expect(
    answers.filter(r => reasonOf(r) === CIRCUIT_OPEN_REASON).length,
  ).toBeGreaterThanOrEqual(19);
  retryAfterS = Math.max(...answers.map(r => Number(r.headers['retry-after'])));
  expect((await t.ledgerDocs()).filter(d => d.state !== 'created')).toEqual([]);
});

it('after Classroom recovers and the interval passes, a request succeeds and the circuit is closed again', async () => {
  t.standIn.reset(); // faults and latency gone, call counts back to zero
  await sleep(retryAfterS * 1000);
  const first = await post(pair()).expect(200);
  expect(t.standIn.invitations.get(first.body.id)).toBeDefined();
  // Closed: each new pair goes to Classroom again.
  for (let i = 0; i < 5; i++) await post(pair()).expect(200);
  expect(t.standIn.calls.create).toBe(6);
  // One line when it opened, one when it closed (and one per failed probe), never one per refused call.
  expect(circuitLines[0]).toMatchObject({
    severity: 'WARNING',
    message: expect.stringMatching(/opened/),
  });
  expect(circuitLines.filter(l => /opened/.test(l.message))).toHaveLength(1);
  expect(circuitLines.filter(l => l.severity === 'INFO')).toEqual([
    {severity: 'INFO', message: expect.stringMatching(/closed/)},
  ]);
  expect(circuitLines.length).toBeLessThanOrEqual(5);
});
