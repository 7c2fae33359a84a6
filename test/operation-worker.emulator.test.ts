// The worker's side of an operation, one Pub/Sub message at a time (here called directly; the Pub/Sub wiring has
// its own tests): a final answer becomes the item's result, a passing failure is left for redelivery (with only
// the items still without a result run again), a redelivered message makes no Classroom call, a dead-lettered one
// reports its unfinished items failed, and NOT_FOUND waits out RETRY_NOT_FOUND_FOR.
import {Operations} from '../functions/operations/store';
import {
  ItemMessage,
  ItemsNotDone,
  RetryLater,
} from '../functions/operations/worker';
import {runItemEvent} from '../functions/operations/worker-entry';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('worker', {
    RETRY_MAX_ATTEMPTS: '1',
    CIRCUIT_FAILURE_THRESHOLD: '0',
  });
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

let n = 0;
async function operationOf(
  total: number,
  kind: 'batchCreate' | 'webhook' = 'batchCreate',
) {
  return t.operations.create({kind, total, caller: 'unverified'});
}
const item = (
  operation: string,
  index: number,
  userId = `w${++n}@school.example`,
): ItemMessage => ({
  operation,
  items: [
    {
      index,
      action: 'create',
      invitation: {userId, courseId: `d:worker-${n}`, role: 'STUDENT'},
    },
  ],
});

it('a created invitation is the item result, audited with the operation id; the same message again makes no call', async () => {
  const op = await operationOf(1);
  const msg = item(op.id, 0);
  expect(await t.worker.handle(msg)).toEqual(['recorded']);
  expect(t.standIn.calls.create).toBe(1);
  const [result] = await t.operations.allResults(op.id);
  expect(result).toMatchObject({
    index: 0,
    outcome: 'created',
    invitation: {role: 'STUDENT'},
  });
  const audit = (await t.auditDocs()).filter(d => d.operationId === op.id);
  expect(audit).toHaveLength(1);
  expect(audit[0]).toMatchObject({
    outcome: 'created',
    source: 'http',
    caller: 'unverified',
  });

  expect(await t.worker.handle(msg)).toEqual(['duplicate']);
  expect(t.standIn.calls.create).toBe(1);
});

it('Classroom unavailable: not acknowledged (Pub/Sub redelivers), nothing recorded; the redelivery completes it', async () => {
  const op = await operationOf(1);
  const msg = item(op.id, 0);
  t.standIn.injectFault({
    method: 'create',
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  await expect(t.worker.handle(msg)).rejects.toBeInstanceOf(RetryLater);
  expect(await t.operations.resultOf(op.id, 0)).toBeUndefined();
  expect(await t.worker.handle(msg)).toEqual(['recorded']);
  expect((await t.operations.resultOf(op.id, 0))?.outcome).toBe('created');
  expect(t.standIn.invitations.size).toBe(1);
});

const slice = (operation: string, ...specs: ItemMessage['items']) => ({
  operation,
  items: specs,
});
const create = (index: number, userId: string, courseId = 'd:slice') => ({
  index,
  action: 'create' as const,
  invitation: {userId, courseId, role: 'STUDENT' as const},
});

it('a message left for redelivery is thrown as one structured INFO line (what the framework logs), not a stack trace', async () => {
  const op = await operationOf(1);
  t.standIn.injectFault({
    method: 'create',
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  const data = Buffer.from(JSON.stringify(item(op.id, 0))).toString('base64');
  const err: unknown = await runItemEvent(t.worker, {
    id: '1',
    data: {message: {data, messageId: '1'}},
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  const stack = (err as Error).stack ?? '';
  expect(stack).not.toContain('\n');
  expect(JSON.parse(stack)).toMatchObject({
    severity: 'INFO',
    message: 'operation items were left for redelivery',
    operation: op.id,
    why: expect.stringContaining('503 UNAVAILABLE'),
  });
});

it('a message of several items: one left for redelivery, the others recorded; the redelivery calls Classroom for that one only', async () => {
  const op = await operationOf(3);
  const msg = slice(
    op.id,
    create(0, 's0@school.example'),
    create(1, 's1@school.example'),
    create(2, 's2@school.example'),
  );
  t.standIn.injectFault({
    method: 'create',
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  const err: unknown = await t.worker.handle(msg).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ItemsNotDone);
  const outcomes = (err as ItemsNotDone).outcomes;
  expect(outcomes.filter(o => o === 'recorded')).toHaveLength(2);
  expect(outcomes.filter(o => o instanceof RetryLater)).toHaveLength(1);
  expect(await t.operations.allResults(op.id)).toHaveLength(2);
  const calls = t.standIn.calls.create;

  expect((await t.worker.handle(msg)).sort()).toEqual([
    'duplicate',
    'duplicate',
    'recorded',
  ]);
  expect(t.standIn.calls.create).toBe(calls + 1);
  expect((await t.operations.allResults(op.id)).map(r => r.outcome)).toEqual([
    'created',
    'created',
    'created',
  ]);
});

it('an item that must come after another of the same message runs after it: created, then withdrawn', async () => {
  const op = await operationOf(2, 'webhook');
  const msg = slice(op.id, create(0, 'order@school.example', 'd:order'), {
    index: 1,
    action: 'withdraw',
    invitation: {
      userId: 'order@school.example',
      courseId: 'd:order',
      role: 'STUDENT',
    },
    after: 0,
  });
  expect(await t.worker.handle(msg)).toEqual(['recorded', 'recorded']);
  expect((await t.operations.allResults(op.id)).map(r => r.outcome)).toEqual([
    'created',
    'withdrawn',
  ]);
  expect(t.standIn.invitations.size).toBe(0);
});

it('a dead-lettered message of several items fails only those still without a result', async () => {
  const op = await operationOf(3);
  const msg = slice(
    op.id,
    create(0, 'dl0@school.example'),
    create(1, 'dl1@school.example'),
    create(2, 'dl2@school.example'),
  );
  await t.worker.handle(slice(op.id, msg.items[0]!));
  expect(await t.worker.deadLettered(msg)).toEqual([
    'duplicate',
    'recorded',
    'recorded',
  ]);
  expect((await t.operations.allResults(op.id)).map(r => r.outcome)).toEqual([
    'created',
    'failed',
    'failed',
  ]);
});

it('a permanent answer is final: NOT_FOUND is the item result at once while RETRY_NOT_FOUND_FOR is off', async () => {
  const op = await operationOf(1);
  expect(
    await t.worker.handle(item(op.id, 0, 'unknown-w@school.example')),
  ).toEqual(['recorded']);
  expect(await t.operations.resultOf(op.id, 0)).toMatchObject({
    outcome: 'failed',
    error: {code: 404, status: 'NOT_FOUND'},
  });
});

it('a dead-lettered message reports its item failed, once', async () => {
  const op = await operationOf(2);
  expect(await t.worker.deadLettered(item(op.id, 1))).toEqual(['recorded']);
  expect(await t.worker.deadLettered(item(op.id, 1))).toEqual(['duplicate']);
  expect(await t.operations.resultOf(op.id, 1)).toMatchObject({
    outcome: 'failed',
    error: {code: 503, status: 'UNAVAILABLE'},
  });
  const progress = await t.operations.progress(
    (await t.operations.read(op.id))!,
  );
  expect(progress).toMatchObject({total: 2, failed: 1, pending: 1});
});

it('an operation that no longer exists: acknowledged without a call', async () => {
  expect(await t.worker.handle(item('AAAAAAAAAAAAAAAAAAAAAA', 0))).toEqual([
    'unknown_operation',
  ]);
  expect(t.standIn.calls.create).toBe(0);
});

describe('RETRY_NOT_FOUND_FOR', () => {
  let w: TestGateway;
  beforeAll(async () => {
    w = await startTestGateway('worker-nf', {RETRY_NOT_FOUND_FOR: '10m'});
  });
  afterAll(() => w.close());

  it('NOT_FOUND within the window is left for redelivery (the account may not be provisioned yet)', async () => {
    const op = await w.operations.create({
      kind: 'webhook',
      total: 1,
      caller: 'webhook:x',
    });
    const msg: ItemMessage = {
      operation: op.id,
      items: [
        {
          index: 0,
          action: 'create',
          invitation: {
            userId: 'unknown-later@school.example',
            courseId: 'd:nf',
            role: 'STUDENT',
          },
          sourcedId: 'enr-nf',
        },
      ],
    };
    await expect(w.worker.handle(msg)).rejects.toThrow(/RETRY_NOT_FOUND_FOR/);
    expect(await w.operations.resultOf(op.id, 0)).toBeUndefined();
    // Once the window has passed since the operation started, NOT_FOUND is the item's final result.
    const older = new Operations(
      w.db,
      w.config.collectionPrefix,
      w.config.operationTtlMs,
      () => Date.now() - 11 * 60_000,
    );
    const late = await older.create({
      kind: 'webhook',
      total: 1,
      caller: 'webhook:x',
    });
    expect(await w.worker.handle({...msg, operation: late.id})).toEqual([
      'recorded',
    ]);
    expect(await w.operations.resultOf(late.id, 0)).toMatchObject({
      outcome: 'failed',
      error: {status: 'NOT_FOUND'},
      sourcedId: 'enr-nf',
    });
  });
});
