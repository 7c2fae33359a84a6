// Attacks on long-running operations: forged item messages must not make an operation look done, the audit of a
// batch's refused items names each item's own position, and two items of one pair in one batch, run by parallel
// workers, make one Classroom call and end as created + replayed.
import request from 'supertest';
import {ItemMessage, RetryLater} from '../functions/operations/worker';
import {startTestGateway, TestGateway} from './support/gateway';
import {ItemMessages, itemMessages} from './support/item-messages';

let t: TestGateway;
let items: ItemMessages;
beforeAll(async () => {
  items = await itemMessages();
  t = await startTestGateway('opsattack', {INVITATIONS_TOPIC: items.topic});
});
afterAll(async () => {
  await items.close();
  await t.close();
});
beforeEach(() => t.standIn.reset());

const msg = (
  operation: string,
  index: number,
  userId: string,
): ItemMessage => ({
  operation,
  items: [
    {
      index,
      action: 'create',
      invitation: {userId, courseId: 'd:attack-1', role: 'STUDENT'},
    },
  ],
});

it('an item message with an index beyond the operation total is acknowledged without a result or a Classroom call', async () => {
  const op = await t.operations.create({
    kind: 'batchCreate',
    total: 2,
    caller: 'unverified',
  });
  // Two forged messages (indexes 2 and 3 of a two-item operation) would otherwise fill its two missing counts.
  for (const index of [2, 3])
    expect(
      await t.worker.handle(msg(op.id, index, `forged${index}@school.example`)),
    ).toEqual(['unknown_operation']);
  expect(t.standIn.calls.create).toBe(0);
  expect(await t.operations.allResults(op.id)).toEqual([]);
  const got = await request(t.server)
    .get(`/v1/operations/${op.id}`)
    .expect(200);
  expect(got.body.done).toBe(false);
  expect(got.body.metadata.progress.pending).toBe(2);
});

it('a dead-lettered message of an unknown operation or beyond its total records nothing', async () => {
  const op = await t.operations.create({
    kind: 'batchCreate',
    total: 1,
    caller: 'unverified',
  });
  expect(
    await t.worker.deadLettered(msg(op.id, 5, 'dl@school.example')),
  ).toEqual(['unknown_operation']);
  expect(
    await t.worker.deadLettered(msg('A'.repeat(22), 0, 'dl@school.example')),
  ).toEqual(['unknown_operation']);
  expect(await t.operations.allResults(op.id)).toEqual([]);
  expect(await t.operations.allResults('A'.repeat(22))).toEqual([]);
});

it("the audit of a batch's refused item names that item's position in the batch", async () => {
  const bad = {userId: 'not an email', courseId: 'd:attack-1', role: 'STUDENT'};
  const res = await request(t.server)
    .post('/v1/invitations:batchCreate')
    .send({
      requests: [
        {
          invitation: {
            userId: 'ok1@school.example',
            courseId: 'd:attack-1',
            role: 'STUDENT',
          },
        },
        {invitation: bad},
        {
          invitation: {
            userId: 'ok2@school.example',
            courseId: 'd:attack-1',
            role: 'STUDENT',
          },
        },
        {invitation: bad},
      ],
    })
    .expect(200);
  const id = (res.body.name as string).slice('operations/'.length);
  await items.work(t.worker, 2);
  const refused = (await t.auditDocs())
    .filter(d => d.operationId === id && d.outcome === 'rejected')
    .map(d => d.reason)
    .sort();
  // The refusal limiter may fold the second into a summary; each one written names its own item.
  expect(refused[0]).toBe('item 1 of the batch');
  for (const r of refused)
    expect(['item 1 of the batch', 'item 3 of the batch']).toContain(r);
});

it('two items of one pair in one batch, run at once by two workers, make one Classroom call: created and replayed', async () => {
  const op = await t.operations.create({
    kind: 'batchCreate',
    total: 2,
    caller: 'unverified',
  });
  const run = async (m: ItemMessage) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        return await t.worker.handle(m);
      } catch (err) {
        if (!(err instanceof RetryLater)) throw err;
        await new Promise(r => setTimeout(r, 50));
      }
    }
    throw new Error('never done');
  };
  await Promise.all([
    run(msg(op.id, 0, 'twin@school.example')),
    run(msg(op.id, 1, 'twin@school.example')),
  ]);
  expect(t.standIn.calls.create).toBe(1);
  const outcomes = (await t.operations.allResults(op.id))
    .map(r => r.outcome)
    .sort();
  expect(outcomes).toEqual(['created', 'replayed']);
});

it('a batch whose every item is refused is answered done, with the same results a GET shows', async () => {
  const res = await request(t.server)
    .post('/v1/invitations:batchCreate')
    .send({requests: [{invitation: null}, 5, {invitation: {userId: 'x'}}]})
    .expect(200);
  expect(res.body.metadata.progress).toMatchObject({failed: 3, pending: 0});
  const got = await request(t.server).get(`/v1/${res.body.name}`).expect(200);
  expect(got.body.done).toBe(true);
  expect(res.body.done).toBe(true);
  expect(res.body.response).toEqual(got.body.response);
});
