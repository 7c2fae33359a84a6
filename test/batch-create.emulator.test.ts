// POST /v1/invitations:batchCreate on the Firestore and Pub/Sub emulators: the batch is answered at once with an
// operation, bad items are its first results, good ones are published (one message each) and, run by the worker,
// complete the operation; the same Idempotency-Key gets the same operation and publishes nothing again.
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';
import {ItemMessages, itemMessages} from './support/item-messages';

let t: TestGateway;
let items: ItemMessages;
const received = () => items.received;

beforeAll(async () => {
  items = await itemMessages();
  t = await startTestGateway('batch', {INVITATIONS_TOPIC: items.topic});
});
afterAll(async () => {
  await items.close();
  await t.close();
});

/** Waits for `n` more messages, then runs each through the worker as the `invitationsWorker` target would. */
async function work(n: number): Promise<void> {
  expect((await items.work(t.worker, n)).flat()).toHaveLength(n);
}

const inv = (i: number) => ({
  userId: `b${i}@school.example`,
  courseId: 'd:batch-1',
  role: 'STUDENT',
});
const post = (body: unknown, key?: string) => {
  const r = request(t.server).post('/v1/invitations:batchCreate');
  if (key) r.set('Idempotency-Key', key);
  return r.send(body as object);
};

it('answers an operation at once; bad items are results already, good ones complete through the worker', async () => {
  const res = await post({
    requests: [
      {invitation: inv(1)},
      {
        invitation: {
          userId: 'not an email',
          courseId: 'd:batch-1',
          role: 'STUDENT',
        },
      },
      {invitation: inv(2)},
      {invitation: inv(3)},
    ],
  }).expect(200);
  const name = res.body.name as string;
  expect(name).toMatch(/^operations\/[A-Za-z0-9_-]{22}$/);
  expect(res.headers.location).toBe(`/v1/${name}`);
  expect(res.body.done).toBe(false);
  expect(res.body.metadata.progress).toMatchObject({
    total: 4,
    failed: 1,
    pending: 3,
  });
  expect(t.standIn.calls.create).toBe(0); // nothing is sent to Classroom inside the request

  await work(3);
  const done = await request(t.server).get(`/v1/${name}`).expect(200);
  expect(done.body.done).toBe(true);
  const results = done.body.response.results as Array<{
    index: number;
    outcome: string;
    error?: {status: string};
  }>;
  expect(results.map(r => [r.index, r.outcome])).toEqual([
    [0, 'created'],
    [1, 'rejected'],
    [2, 'created'],
    [3, 'created'],
  ]);
  expect(results[1]!.error!.status).toBe('INVALID_ARGUMENT');
  expect(t.standIn.invitations.size).toBe(3);
});

it('the same Idempotency-Key and batch: the same operation, shown as it is now, and nothing published again', async () => {
  const body = {requests: [{invitation: inv(10)}, {invitation: inv(11)}]};
  const first = await post(body, 'batch-key-1').expect(200);
  const again = await post(body, 'batch-key-1').expect(200);
  expect(again.body.name).toBe(first.body.name);
  expect(again.headers['idempotent-replayed']).toBe('true');
  await work(2); // two items, not four
  await new Promise(r => setTimeout(r, 300));
  expect(received()).toHaveLength(0);
  // Once it is done, a replay shows it done, with its results, as a GET does (not the answer as it was taken).
  const later = await post(body, 'batch-key-1').expect(200);
  expect(later.headers['idempotent-replayed']).toBe('true');
  expect(later.headers.location).toBe(`/v1/${first.body.name}`);
  const got = await request(t.server).get(`/v1/${first.body.name}`).expect(200);
  expect(later.body).toEqual(got.body);
  expect(later.body).toMatchObject({
    done: true,
    metadata: {progress: {created: 2, pending: 0}},
  });
  // Another batch under the same key is refused, as for single creates.
  await post({requests: [{invitation: inv(12)}]}, 'batch-key-1').expect(422);
});

it('an envelope that is not a batch is refused whole, and nothing is published', async () => {
  for (const body of [
    {},
    {requests: []},
    {requests: [{invitation: inv(20)}], extra: 1},
    {requests: 'x'},
  ]) {
    const res = await post(body).expect(400);
    expect(res.body.error.status).toBe('INVALID_ARGUMENT');
  }
  const tooMany = {
    requests: Array.from({length: 10_001}, (_, i) => ({invitation: inv(i)})),
  };
  const res = await post(tooMany).expect(400);
  expect(res.body.error.message).toMatch(/at most 10000/);
  await new Promise(r => setTimeout(r, 300));
  expect(received()).toHaveLength(0);
});
