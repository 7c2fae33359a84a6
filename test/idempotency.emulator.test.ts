// Idempotency-Key on POST /v1/invitations (draft-ietf-httpapi-idempotency-key-header semantics).
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let n = 0;
const pair = (role = 'STUDENT') => ({
  courseId: `d:idem-${++n}`,
  userId: `k${n}@school.example`,
  role,
});
const newKey = () => `key-${Date.now()}-${++n}`;

beforeAll(async () => {
  t = await startTestGateway('idem', {INFLIGHT_WAIT_MS: '500'});
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

const post = (body: unknown, key?: string, caller?: string) => {
  let r = request(t.server).post('/v1/invitations');
  if (key !== undefined) r = r.set('Idempotency-Key', key);
  if (caller)
    r = r.set(
      'Authorization',
      `Bearer e30.${Buffer.from(JSON.stringify({email: caller})).toString('base64url')}.s`,
    );
  return r.send(body as object);
};

it('same key, same request: the stored answer is replayed', async () => {
  const key = newKey();
  const body = pair();
  const first = await post(body, key).expect(200);
  const again = await post(body, key).expect(200);
  expect(again.body).toEqual(first.body);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(t.standIn.calls.create).toBe(1);
});

it('the stored answer is replayed whatever its status, even after the state has changed', async () => {
  const key = newKey();
  const body = {...pair(), userId: `unknown-${n}@school.example`};
  const first = await post(body, key).expect(404);
  const again = await post(body, key).expect(404);
  expect(again.body).toEqual(first.body);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(t.standIn.calls.create).toBe(1);
});

it('the key matches the request, not its spelling: whitespace, field order and email case do not count', async () => {
  const key = newKey();
  const body = pair();
  await post(body, key).expect(200);
  const respelled = `{ "role": "${body.role}", "userId": "${body.userId.toUpperCase()}",  "courseId": "${body.courseId}" }`;
  const res = await request(t.server)
    .post('/v1/invitations')
    .set('Idempotency-Key', key)
    .set('Content-Type', 'application/json')
    .send(respelled)
    .expect(200);
  expect(res.headers['idempotent-replayed']).toBe('true');
});

it('same key, different request: 422', async () => {
  const key = newKey();
  await post(pair(), key).expect(200);
  const res = await post(pair(), key).expect(422);
  expect(res.body.error).toMatchObject({code: 422, status: 'INVALID_ARGUMENT'});
  expect(t.standIn.calls.create).toBe(1);
});

it('same key while the first is still in flight: 409 with Retry-After, and no second call', async () => {
  t.standIn.latencyMs = 800;
  const key = newKey();
  const body = pair();
  const first = post(body, key).then(r => r);
  while (t.standIn.calls.create < 1) await new Promise(r => setTimeout(r, 10));
  const second = await post(body, key).expect(409);
  expect(second.body.error.status).toBe('ABORTED');
  expect(second.headers['retry-after']).toBeDefined();
  expect((await first).status).toBe(200);
  expect(t.standIn.calls.create).toBe(1);
});

it('keys are scoped per caller', async () => {
  const key = newKey();
  await post(pair(), key, 'sis-a@x.iam.gserviceaccount.com').expect(200);
  await post(pair(), key, 'sis-b@x.iam.gserviceaccount.com').expect(200);
  expect(t.standIn.calls.create).toBe(2);
});

it('answers that say "retry" are not stored: the retry with the same key runs again', async () => {
  const key = newKey();
  const body = pair();
  const gw = await startTestGateway('idem-retry', {
    REQUEST_DEADLINE_MS: '600',
    RETRY_INITIAL_BACKOFF_MS: '10',
    RETRY_MAX_ATTEMPTS: '2',
  });
  try {
    gw.standIn.injectFault({
      method: 'create',
      count: 100,
      httpStatus: 503,
      status: 'UNAVAILABLE',
    });
    await request(gw.server)
      .post('/v1/invitations')
      .set('Idempotency-Key', key)
      .send(body)
      .expect(503);
    gw.standIn.reset();
    const res = await request(gw.server)
      .post('/v1/invitations')
      .set('Idempotency-Key', key)
      .send(body)
      .expect(200);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  } finally {
    await gw.close();
  }
});

it.each(['', '"unterminated', 'x'.repeat(256), 'tab\there'])(
  'an invalid key %p is a 400 naming the header',
  async key => {
    const res = await post(pair(), key).expect(400);
    expect(res.body.error.details[0].fieldViolations[0].field).toBe(
      'Idempotency-Key',
    );
    expect(t.standIn.calls.create).toBe(0);
  },
);

it('a quoted structured-header key and the bare key are the same key', async () => {
  const key = newKey();
  const body = pair();
  await post(body, `"${key}"`).expect(200);
  const res = await post(body, key).expect(200);
  expect(res.headers['idempotent-replayed']).toBe('true');
});

it('keys carry an expiry for the TTL policy', async () => {
  const key = newKey();
  await post(pair(), key).expect(200);
  const docs = (
    await t.db.collection(t.config.collectionPrefix + 'idempotency_keys').get()
  ).docs.map(d => d.data());
  const ttlHours = docs.map(
    d => (d.expireAt.toMillis() - Date.now()) / 3_600_000,
  );
  expect(Math.min(...ttlHours)).toBeGreaterThan(23);
  expect(Math.max(...ttlHours)).toBeLessThanOrEqual(24);
  const ledger = await t.ledgerDocs();
  expect(
    ledger.every(
      d =>
        (d.expireAt as {toMillis(): number}).toMillis() >
        Date.now() + 300 * 86_400_000,
    ),
  ).toBe(true);
});

it('the key covers the query options: the same key and body with ?replace=true is another request (422)', async () => {
  const key = newKey();
  const body = pair('STUDENT');
  await post(body, key).expect(200);
  await post({...body, role: 'TEACHER'}).expect(409);
  const replace = await request(t.server)
    .post('/v1/invitations?replace=true')
    .set('Idempotency-Key', key)
    .send(body)
    .expect(422);
  expect(replace.body.error.details[0].reason).toBe('IDEMPOTENCY_KEY_REUSED');
});
