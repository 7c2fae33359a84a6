// Classroom faults: throttling, outages and hangs never yield a second invitation, a lost one or a stuck pair.
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let n = 0;
const pair = (role = 'STUDENT') => ({
  courseId: `d:fault-${++n}`,
  userId: `f${n}@school.example`,
  role,
});

beforeAll(async () => {
  t = await startTestGateway('faults', {
    REQUEST_DEADLINE_MS: '1500',
    CLASSROOM_TIMEOUT_MS: '1500', // one hung call uses the whole deadline
    RETRY_INITIAL_BACKOFF_MS: '20',
    RETRY_MAX_BACKOFF_MS: '100',
    INFLIGHT_WAIT_MS: '1000',
    // Each test here is about one request's retries; the breaker, which spans requests and would stay open
    // from one test into the next, has its own suite (circuit.emulator.test.ts).
    CIRCUIT_FAILURE_THRESHOLD: '0',
  });
});
afterAll(() => t.close());
beforeEach(async () => {
  t.standIn.reset();
  await t.resetPacer();
});

const post = (body: unknown) =>
  request(t.server)
    .post('/v1/invitations')
    .send(body as object);
const ledgerOf = async (userId: string) =>
  (await t.ledgerDocs()).filter(d => d.userId === userId);

it('503 twice then success: retried, one invitation, 200', async () => {
  t.standIn.injectFault({
    method: 'create',
    count: 2,
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  const body = pair();
  const res = await post(body).expect(200);
  expect(t.standIn.calls.create).toBe(3);
  expect(t.standIn.invitations.size).toBe(1);
  expect(res.body.id).toBe([...t.standIn.invitations.values()][0]!.id);
});

it('persistent 429: 429 RESOURCE_EXHAUSTED with Retry-After, and the pair is released for a later request', async () => {
  t.standIn.injectFault({
    method: 'create',
    count: 100,
    httpStatus: 429,
    status: 'RESOURCE_EXHAUSTED',
    message: 'Quota exceeded.',
  });
  const body = pair();
  const res = await post(body).expect(429);
  // Classroom's own refusal, or the pacer's once the cuts it made push the next call past the deadline.
  expect(res.body.error).toMatchObject({
    code: 429,
    status: 'RESOURCE_EXHAUSTED',
  });
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(t.standIn.calls.create).toBeGreaterThan(1);
  // The 429s slowed the pacer down for every instance (the cut is stored in Firestore).
  const [cut] = await t.rateDocs();
  const ceiling = t.config.pacer.subjectQps;
  expect(cut).toMatchObject({_id: 'adc', ceilingQps: ceiling});
  expect(cut!.qps).toBeLessThanOrEqual(ceiling / 2);
  expect(await ledgerOf(body.userId)).toHaveLength(0);
  t.standIn.reset();
  await post(body).expect(200);
});

it('persistent 500: 503 UNAVAILABLE with Retry-After; an answer lost after the create is adopted next time', async () => {
  // Classroom creates the invitation, then every answer fails: the caller cannot know it exists.
  t.standIn.injectFault({
    method: 'create',
    count: 1,
    httpStatus: 500,
    status: 'INTERNAL',
    message: 'Internal error encountered.',
    thenSucceed: true,
  });
  t.standIn.injectFault({
    method: 'create',
    count: 100,
    httpStatus: 500,
    status: 'INTERNAL',
    message: 'Internal error encountered.',
  });
  const body = pair();
  const res = await post(body).expect(503);
  expect(res.body.error.status).toBe('UNAVAILABLE');
  expect(res.headers['retry-after']).toBeDefined();
  t.standIn.reset();
  const existing = t.standIn.seed(body); // what the lost create left behind (reset cleared the store)
  const next = await post(body).expect(200);
  expect(next.body.id).toBe(existing.id);
  expect(t.standIn.invitations.size).toBe(1);
});

it('errors that retrying cannot fix are not retried', async () => {
  t.standIn.injectFault({
    method: 'create',
    count: 5,
    httpStatus: 403,
    status: 'PERMISSION_DENIED',
    message: 'The caller does not have permission',
  });
  await post(pair()).expect(403);
  expect(t.standIn.calls.create).toBe(1);
});

it('a hanging Classroom gets a 504 within the deadline; the next request reconciles what the create did', async () => {
  // The create completes upstream after 3 s, long after our 1.5 s deadline: success the caller never saw.
  t.standIn.injectFault({
    method: 'create',
    count: 1,
    latencyMs: 3000,
    httpStatus: 0,
  });
  t.standIn.latencyMs = 0;
  const body = pair('TEACHER');
  const started = Date.now();
  const res = await post(body).expect(504);
  const took = Date.now() - started;
  expect(res.body.error.status).toBe('DEADLINE_EXCEEDED');
  expect(took).toBeLessThan(2500);
  const [entry] = await ledgerOf(body.userId);
  expect(entry).toMatchObject({state: 'pending'});
  // wait until the slow create has landed upstream
  while (t.standIn.invitations.size === 0)
    await new Promise(r => setTimeout(r, 50));
  const next = await post(body).expect(200);
  expect(next.body.id).toBe([...t.standIn.invitations.values()][0]!.id);
  expect(t.standIn.invitations.size).toBe(1);
  // Adopted (the audit's outcome), but recorded as the gateway's own: it is the create whose answer was lost.
  expect((await ledgerOf(body.userId))[0]).toMatchObject({
    state: 'created',
    origin: 'created',
  });
});

it('a Classroom that never answers at all still gets the caller an answer within the deadline', async () => {
  t.standIn.injectFault({method: 'create', count: 10, hang: true});
  const started = Date.now();
  await post(pair()).expect(504);
  expect(Date.now() - started).toBeLessThan(2500);
});
