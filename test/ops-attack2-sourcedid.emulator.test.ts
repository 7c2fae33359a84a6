// An SIS delivery whose enrollment sourcedId holds a lone surrogate (JSON's `\ud800` escape makes one): Firestore
// refuses such a string, so the item's result could never be written, by the worker or by the dead-letter target,
// and the operation stayed pending. The delivery is now refused at the door (400); behind it, a result is stored
// with U+FFFD in its place (a message forged or published by an older version).
import {randomBytes, randomUUID} from 'node:crypto';
import {startTestGateway, TestGateway} from './support/gateway';
import {ItemMessages, itemMessages} from './support/item-messages';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestGateway;
let items: ItemMessages;
beforeAll(async () => {
  items = await itemMessages();
  t = await startTestGateway('oa2sourced', {
    WEBHOOK_SECRETS: secret,
    WEBHOOK_INLINE_MAX: '1',
    INVITATIONS_TOPIC: items.topic,
  });
});
afterAll(async () => {
  await items.close();
  await t.close();
});

const enrollment = (i: number, sourcedId: string) => ({
  sourcedId,
  status: 'active',
  role: 'student',
  user: {sourcedId: `usr-${i}`, email: `lone${i}@school.example`},
  class: {sourcedId: 'lone-class'},
});

it('a delivery whose sourcedId holds a lone surrogate is refused 400, naming it; nothing is taken', async () => {
  const payload = JSON.stringify({
    type: 'enrollments.created',
    timestamp: new Date().toISOString(),
    data: {
      enrollments: [enrollment(1, 'enr-1'), enrollment(2, 'enr-\ud800-2')],
    },
  });
  // JSON.stringify writes the lone surrogate as the escape `\ud800`, as a sender's JSON would carry it.
  expect(payload).toContain('enr-\\ud800-2');
  const res = await postWebhook(t.server, secret, payload, {
    id: `msg_${randomUUID()}`,
  }).expect(400);
  expect(res.body.error.status).toBe('INVALID_ARGUMENT');
  expect(JSON.stringify(res.body)).toContain('well-formed Unicode');
  await new Promise(r => setTimeout(r, 300));
  expect(items.received).toHaveLength(0);
});

it('the dead-letter target records such an item failed, once', async () => {
  const op = await t.operations.create({
    kind: 'webhook',
    total: 1,
    caller: 'unverified',
  });
  const msg = {
    operation: op.id,
    items: [
      {
        index: 0,
        action: 'create' as const,
        invitation: {
          userId: 'lone3@school.example',
          courseId: 'd:lone-class',
          role: 'STUDENT' as const,
        },
        sourcedId: '\udc00enr-3',
      },
    ],
  };
  expect(await t.worker.deadLettered(msg)).toEqual(['recorded']);
  expect(await t.worker.deadLettered(msg)).toEqual(['duplicate']);
  expect(await t.operations.resultOf(op.id, 0)).toMatchObject({
    outcome: 'failed',
    sourcedId: '\ufffdenr-3',
  });
});

it('the worker records such an item (a message from before the check, or forged) with U+FFFD: the operation completes', async () => {
  const op = await t.operations.create({
    kind: 'webhook',
    total: 1,
    caller: 'unverified',
  });
  const msg = {
    operation: op.id,
    items: [
      {
        index: 0,
        action: 'create' as const,
        invitation: {
          userId: 'lone4@school.example',
          courseId: 'd:lone-class',
          role: 'STUDENT' as const,
        },
        sourcedId: 'enr-\ud800-4',
      },
    ],
  };
  expect(await t.worker.handle(msg)).toEqual(['recorded']);
  expect(await t.operations.resultOf(op.id, 0)).toMatchObject({
    outcome: 'created',
    sourcedId: 'enr-\ufffd-4',
  });
});
