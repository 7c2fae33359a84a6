// Attacks on the worker's side of a slice: an item that fails unexpectedly must not cut its message short (the
// message is answered only once its other items are done), and two workers running the same message at once (a
// redelivery while the first delivery still runs) record each item once and report it recorded once.
import {Operations, OperationItemResult} from '../functions/operations/store';
import {ItemMessage, OperationWorker} from '../functions/operations/worker';
import {Removals} from '../functions/removal';
import {createRuntime} from '../functions/runtime';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('oa2worker', {
    RETRY_MAX_ATTEMPTS: '1',
    CIRCUIT_FAILURE_THRESHOLD: '0',
  });
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

let n = 0;
const create = (index: number, userId = `oa2w${++n}@school.example`) => ({
  index,
  action: 'create' as const,
  invitation: {userId, courseId: `d:oa2w-${n % 3}`, role: 'STUDENT' as const},
});

/** The operation store on the emulator, whose write of one item's result fails (as a Firestore outage would). */
class FailingRecord extends Operations {
  constructor(private readonly failing: number) {
    super(t.db, t.config.collectionPrefix, t.config.operationTtlMs);
  }
  override async record(
    id: string,
    result: OperationItemResult,
  ): Promise<boolean> {
    if (result.index === this.failing)
      throw new Error('injected: the result could not be written');
    return super.record(id, result);
  }
}

it('an item that fails unexpectedly does not cut its message short: the message is answered once the other items are recorded', async () => {
  const operations = new FailingRecord(0);
  const worker = new OperationWorker(
    t.config,
    t.flow,
    new Removals(t.config, t.ledger, t.classroom),
    operations,
  );
  const op = await operations.create({
    kind: 'webhook',
    total: 3,
    caller: 'unverified',
  });
  // Item 2 changes item 1's role once item 1 is done: it runs a Classroom call after item 0 has failed.
  const first = create(1);
  const msg: ItemMessage = {
    operation: op.id,
    items: [
      create(0),
      first,
      {
        index: 2,
        action: 'create',
        invitation: {...first.invitation, role: 'TEACHER'},
        replace: true,
        after: 1,
      },
    ],
  };
  t.standIn.latencyMs = 200;
  await expect(worker.handle(msg)).rejects.toThrow('injected');
  // Answered (not acknowledged): nothing of the message is still running, every other item has its result.
  expect(
    (await t.operations.allResults(op.id)).map(r => [r.index, r.outcome]),
  ).toEqual([
    [1, 'created'],
    [2, 'replaced'],
  ]);
});

it('two workers running the same message at once record each item once and report it recorded once', async () => {
  const other = createRuntime(t.config, {db: t.db});
  const op = await t.operations.create({
    kind: 'batchCreate',
    total: 20,
    caller: 'unverified',
  });
  const msg: ItemMessage = {
    operation: op.id,
    items: Array.from({length: 20}, (_, i) => create(i)),
  };
  t.standIn.latencyMs = 100;
  const [a, b] = await Promise.all([
    t.worker.handle(msg),
    other.worker.handle(msg),
  ]);
  expect(t.standIn.calls.create).toBe(20);
  const progress = await t.operations.progress(op);
  expect(progress).toMatchObject({created: 20, replayed: 0, pending: 0});
  const recorded = [...a, ...b].filter(o => o === 'recorded').length;
  const duplicate = [...a, ...b].filter(o => o === 'duplicate').length;
  expect({recorded, duplicate}).toEqual({recorded: 20, duplicate: 20});
});
