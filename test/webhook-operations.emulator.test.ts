// A delivery larger than WEBHOOK_INLINE_MAX is taken as an operation: answered 202 at once with the operation
// and its Location, every enrollment an item (skips answered at once, the rest published), a redelivery of the
// same webhook-id gets the same operation and publishes nothing; the workers complete it, one pair in delivery
// order. Smaller deliveries are still answered inline.
import {randomBytes, randomUUID} from 'node:crypto';
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';
import {ItemMessages, itemMessages} from './support/item-messages';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestGateway;
let items: ItemMessages;

beforeAll(async () => {
  items = await itemMessages();
  t = await startTestGateway('webhook-ops', {
    WEBHOOK_SECRETS: secret,
    WEBHOOK_INLINE_MAX: '2',
    INVITATIONS_TOPIC: items.topic,
  });
});
afterAll(async () => {
  await items.close();
  await t.close();
});

let n = 0;
const enrollment = (
  o: {role?: string; email?: string; classId?: string; status?: string} = {},
) => {
  const i = ++n;
  return {
    sourcedId: `enr-${i}`,
    status: o.status ?? 'active',
    role: o.role ?? 'student',
    user: {sourcedId: `usr-${i}`, email: o.email ?? `op${i}@school.example`},
    class: {sourcedId: o.classId ?? `op-class-${i}`},
  };
};
const body = (enrollments: unknown[]) =>
  JSON.stringify({
    type: 'enrollments.created',
    timestamp: new Date().toISOString(),
    data: {enrollments},
  });

it('a large delivery: 202 with the operation at once, the same operation for its redelivery, completed by the workers', async () => {
  const sameClass = 'op-class-shared';
  const enrollments = [
    enrollment(),
    enrollment({role: 'proctor'}), // skipped: answered at once
    enrollment(),
    enrollment({
      email: 'twice@school.example',
      classId: sameClass,
      role: 'teacher',
    }),
    enrollment({
      email: 'twice@school.example',
      classId: sameClass,
      role: 'student',
    }), // same pair, later: wins
    enrollment(),
  ];
  const id = `msg_${randomUUID()}`;
  const payload = body(enrollments);
  const first = await postWebhook(t.server, secret, payload, {id}).expect(202);
  const name = first.body.name as string;
  expect(name).toMatch(/^operations\//);
  expect(first.headers.location).toBe(`/v1/${name}`);
  expect(first.body).toMatchObject({
    done: false,
    metadata: {
      kind: 'webhook',
      webhookId: id,
      progress: {total: 6, skipped: 2, pending: 4},
    },
  });
  expect(t.standIn.calls.create).toBe(0);

  const again = await postWebhook(t.server, secret, payload, {
    id,
    at: new Date(),
  }).expect(202);
  expect(again.body.name).toBe(name);
  expect(again.headers['idempotent-replayed']).toBe('true');

  const worked = await items.work(t.worker, 4); // 4 items, not 8
  expect(worked.flat()).toHaveLength(4);
  await new Promise(r => setTimeout(r, 300));
  expect(items.received).toHaveLength(0);

  const done = await request(t.server).get(`/v1/${name}`).expect(200);
  expect(done.body.done).toBe(true);
  const results = done.body.response.results as Array<{
    index: number;
    outcome: string;
    sourcedId: string;
    invitation?: {role: string};
  }>;
  expect(results.map(r => [r.sourcedId, r.outcome])).toEqual([
    [enrollments[0]!.sourcedId, 'created'],
    [enrollments[1]!.sourcedId, 'skipped'],
    [enrollments[2]!.sourcedId, 'created'],
    [enrollments[3]!.sourcedId, 'skipped'], // superseded by the later enrollment of the same pair
    [enrollments[4]!.sourcedId, 'created'],
    [enrollments[5]!.sourcedId, 'created'],
  ]);
  expect(results[4]!.invitation!.role).toBe('STUDENT');
  expect(t.standIn.invitations.size).toBe(4);
  // A redelivery once it is done: the operation as it is now (done, with its results), still 202 and replayed.
  const late = await postWebhook(t.server, secret, payload, {
    id,
    at: new Date(),
  }).expect(202);
  expect(late.headers['idempotent-replayed']).toBe('true');
  expect(late.body).toEqual(done.body);
  expect(t.standIn.invitations.size).toBe(4);
  // Each item's audit event names the operation.
  const audited = (await t.auditDocs()).filter(
    e => e.operationId === name.slice('operations/'.length),
  );
  expect(audited.filter(e => e.outcome === 'created')).toHaveLength(4);
});

it('a delivery within WEBHOOK_INLINE_MAX is still answered inline with its results', async () => {
  const res = await postWebhook(
    t.server,
    secret,
    body([enrollment(), enrollment()]),
  ).expect(200);
  expect(res.body.results.map((r: {outcome: string}) => r.outcome)).toEqual([
    'created',
    'created',
  ]);
  await new Promise(r => setTimeout(r, 300));
  expect(items.received).toHaveLength(0);
});
