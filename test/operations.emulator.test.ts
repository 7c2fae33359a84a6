// Long-running operations (AIP-151): GET /v1/operations/{id} shows progress counted from the items' results while
// the operation runs, and every result in item order once it is done; an item's result is recorded once, whoever
// finishes it; unknown, malformed and expired operations are 404; a done operation polled again is answered from
// memory.
import request from 'supertest';
import {HttpOperations} from '../functions/http/operations';
import {Operations} from '../functions/operations/store';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let ops: Operations;
let clock = Date.now();

beforeAll(async () => {
  t = await startTestGateway('operations');
  ops = new Operations(
    t.db,
    t.config.collectionPrefix,
    t.config.operationTtlMs,
    () => clock,
  );
});
afterAll(() => t.close());

const invitation = (n: number) => ({
  id: `inv${n}`,
  userId: `1000${n}`,
  courseId: '7000',
  role: 'STUDENT',
});
const get = (name: string) => request(t.server).get(`/v1/${name}`);

it('runs with progress counts, then is done with one result per item in order', async () => {
  clock = Date.now();
  const op = await ops.create({
    kind: 'batchCreate',
    total: 4,
    caller: 'unverified',
  });
  expect(op.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  await ops.record(op.id, {
    index: 2,
    outcome: 'conflict',
    error: {
      code: 409,
      message: 'Requested entity already exists',
      status: 'ALREADY_EXISTS',
    },
  });
  await ops.record(op.id, {
    index: 0,
    outcome: 'created',
    invitation: invitation(0),
  });

  const running = await get(`operations/${op.id}`).expect(200);
  expect(running.headers['cache-control']).toBe('no-store');
  expect(running.body).toEqual({
    name: `operations/${op.id}`,
    metadata: {
      '@type':
        'type.googleapis.com/classroom_gateway.v1.InvitationsOperationMetadata',
      kind: 'batchCreate',
      createTime: new Date(clock).toISOString(),
      progress: {
        total: 4,
        pending: 2,
        created: 1,
        replayed: 0,
        adopted: 0,
        conflict: 1,
        failed: 0,
        skipped: 0,
        withdrawn: 0,
      },
    },
    done: false,
  });

  await ops.record(op.id, {
    index: 3,
    outcome: 'rejected',
    error: {code: 400, message: 'bad', status: 'INVALID_ARGUMENT'},
  });
  await ops.record(op.id, {
    index: 1,
    outcome: 'replayed',
    invitation: invitation(1),
  });
  const done = await get(`operations/${op.id}`).expect(200);
  expect(done.body.done).toBe(true);
  expect(done.body.metadata.progress).toMatchObject({
    total: 4,
    pending: 0,
    created: 1,
    replayed: 1,
    conflict: 1,
    failed: 1,
  });
  expect(done.body.response['@type']).toBe(
    'type.googleapis.com/classroom_gateway.v1.InvitationsOperationResponse',
  );
  expect(
    done.body.response.results.map((r: {index: number; outcome: string}) => [
      r.index,
      r.outcome,
    ]),
  ).toEqual([
    [0, 'created'],
    [1, 'replayed'],
    [2, 'conflict'],
    [3, 'rejected'],
  ]);
  expect(done.body.response.results[0].invitation).toEqual(invitation(0));
  expect(done.body.response.results[2].error.status).toBe('ALREADY_EXISTS');
});

it("an item's result is recorded once: a duplicate (Pub/Sub delivers at least once) changes nothing", async () => {
  clock = Date.now();
  const op = await ops.create({
    kind: 'webhook',
    total: 1,
    caller: 'webhook:whsec-1',
    webhookId: 'msg_1',
  });
  expect(
    await ops.record(op.id, {
      index: 0,
      outcome: 'created',
      invitation: invitation(5),
      sourcedId: 'enr-1',
    }),
  ).toBe(true);
  expect(
    await ops.record(op.id, {
      index: 0,
      outcome: 'failed',
      error: {code: 503, message: 'x', status: 'UNAVAILABLE'},
    }),
  ).toBe(false);
  const res = await get(`operations/${op.id}`).expect(200);
  expect(res.body.metadata).toMatchObject({
    kind: 'webhook',
    webhookId: 'msg_1',
  });
  expect(res.body.metadata.progress).toMatchObject({
    total: 1,
    created: 1,
    failed: 0,
    pending: 0,
  });
  expect(res.body.response.results).toEqual([
    {
      index: 0,
      outcome: 'created',
      invitation: invitation(5),
      sourcedId: 'enr-1',
    },
  ]);
  expect(await ops.resultOf(op.id, 0)).toMatchObject({outcome: 'created'});
});

it('unknown, malformed and expired operations answer 404 in Google error JSON', async () => {
  for (const name of [
    'operations/AAAAAAAAAAAAAAAAAAAAAA',
    'operations/..%2Fx',
    'operations/short',
  ]) {
    const res = await get(name).expect(404);
    expect(res.body.error).toMatchObject({code: 404, status: 'NOT_FOUND'});
  }
  clock = Date.now() - t.config.operationTtlMs - 1000; // created just past its TTL
  const old = await ops.create({
    kind: 'batchCreate',
    total: 1,
    caller: 'unverified',
  });
  await get(`operations/${old.id}`).expect(404);
});

describe('a done operation, polled again', () => {
  /** The store as the route uses it, counting how often all of an operation's results are read. */
  class CountingOperations extends Operations {
    resultReads = 0;
    override async allResults(id: string) {
      this.resultReads++;
      return super.allResults(id);
    }
  }

  it('is answered from memory: its results are read once, however often it is polled; a running one is never kept', async () => {
    clock = Date.now();
    const counting = new CountingOperations(
      t.db,
      t.config.collectionPrefix,
      t.config.operationTtlMs,
      () => clock,
    );
    const route = new HttpOperations(counting);
    const op = await counting.create({
      kind: 'batchCreate',
      total: 2,
      caller: 'unverified',
    });
    await counting.record(op.id, {
      index: 0,
      outcome: 'created',
      invitation: invitation(10),
    });
    const running = await route.get(op.id);
    expect(running.body).toMatchObject({done: false});
    await counting.record(op.id, {
      index: 1,
      outcome: 'created',
      invitation: invitation(11),
    });
    const first = await route.get(op.id);
    expect(first.body).toMatchObject({done: true});
    for (let i = 0; i < 3; i++)
      expect((await route.get(op.id)).body).toEqual(first.body);
    expect(counting.resultReads).toBe(1);
  });

  it('is still 404 once expired, whatever the instance remembers', async () => {
    clock = Date.now();
    const route = new HttpOperations(ops);
    const op = await ops.create({
      kind: 'batchCreate',
      total: 1,
      caller: 'unverified',
    });
    await ops.record(op.id, {
      index: 0,
      outcome: 'created',
      invitation: invitation(12),
    });
    expect((await route.get(op.id)).body).toMatchObject({done: true});
    clock = Date.now() + t.config.operationTtlMs + 1000;
    expect((await route.get(op.id)).httpStatus).toBe(404);
    clock = Date.now();
  });
});
