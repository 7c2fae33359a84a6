// The dedup ledger under concurrency, on the Firestore emulator, with the stand-in as Classroom.
import {auditEvent} from '../functions/audit';
import {pairKey} from '../functions/ledger';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('ledger', {INFLIGHT_WAIT_MS: '10000'});
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

const ctx = (i: number) => ({
  requestId: `req-${Date.now()}-${i}-${Math.random().toString(36).slice(2)}`,
  source: 'http' as const,
  caller: 'test',
});

it('50 concurrent identical requests make exactly one Classroom create and one audit event each', async () => {
  t.standIn.latencyMs = 50;
  const req = {
    courseId: 'd:burst-1',
    userId: 'burst@school.example',
    role: 'STUDENT' as const,
  };
  const answers = await Promise.all(
    Array.from({length: 50}, (_, i) => t.flow.create(req, ctx(i))),
  );
  expect(t.standIn.calls.create).toBe(1);
  expect(answers.every(a => a.httpStatus === 200)).toBe(true);
  const ids = new Set(answers.map(a => (a.body as {id: string}).id));
  expect(ids.size).toBe(1);
  const outcomes = answers.map(a => a.outcome).sort();
  expect(outcomes.filter(o => o === 'created')).toHaveLength(1);
  expect(outcomes.filter(o => o === 'replayed')).toHaveLength(49);

  const events = (await t.auditDocs()).filter(e => e.userId === req.userId);
  expect(events).toHaveLength(50);
  expect(new Set(events.map(e => e.requestId)).size).toBe(50);
  const ledger = (await t.ledgerDocs()).filter(d => d.userId === req.userId);
  expect(ledger).toHaveLength(1);
  expect(ledger[0]).toMatchObject({
    _id: pairKey(req.courseId, req.userId),
    state: 'created',
    origin: 'created',
  });
});

it('a claim is create-if-absent: a second claim on the same pair gets nothing', async () => {
  const req = {
    courseId: 'd:claim-1',
    userId: 'claim@school.example',
    role: 'TEACHER' as const,
  };
  const key = pairKey(req.courseId, req.userId);
  const pair = {...req, pairKey: key};
  const a = await t.ledger.claimNew(
    key,
    req,
    auditEvent(ctx(1), pair, {outcome: 'pending', httpStatus: 0}),
  );
  const b = await t.ledger.claimNew(
    key,
    req,
    auditEvent(ctx(2), pair, {outcome: 'pending', httpStatus: 0}),
  );
  expect(a).toBeDefined();
  expect(b).toBeUndefined();
  // the losing claim's audit event was not written either: one atomic commit
  const events = (await t.auditDocs()).filter(e => e.pairKey === key);
  expect(events).toHaveLength(1);
});

it('a holder that lost its lease cannot overwrite its successor', async () => {
  const req = {
    courseId: 'd:lease-1',
    userId: 'lease@school.example',
    role: 'STUDENT' as const,
  };
  const key = pairKey(req.courseId, req.userId);
  const pair = {...req, pairKey: key};
  const first = await t.ledger.claimNew(
    key,
    req,
    auditEvent(ctx(1), pair, {outcome: 'pending', httpStatus: 0}),
  );
  await t.ledger.expireLease(first!, {outcome: 'failed', httpStatus: 504});
  const snap = await t.ledger.read(key);
  expect(t.ledger.isLeaseExpired(snap!.entry)).toBe(true);
  const second = await t.ledger.takeOver(
    snap!,
    key,
    req,
    auditEvent(ctx(2), pair, {outcome: 'pending', httpStatus: 0}),
  );
  expect(second).toBeDefined();
  // the first holder now tries to release: the ledger entry stays the successor's
  await t.ledger.release(first!, {outcome: 'failed', httpStatus: 503});
  const after = await t.ledger.read(key);
  expect(after?.entry.requestId).toBe(second!.requestId);
  expect(after?.entry.state).toBe('pending');
});
