// The create flow's branches (functions/create/flow.ts and forward.ts) against an in-memory ledger, with the
// Classroom stand-in driven through the official client. Each branch is also covered on the Firestore emulator
// (invitations, ledger, lifecycle, ledger-truth and faults suites).
import {Timestamp} from '@google-cloud/firestore';
import {createClassroomInvitations} from '../../functions/classroom';
import {Config, parseConfig} from '../../functions/config';
import {CreateFlow} from '../../functions/create/flow';
import {pairKey} from '../../functions/ledger';
import {setLogSink} from '../../functions/logs';
import type {InvitationRequest} from '../../functions/validation';
import {ClassroomStandIn} from '../../standin/server';
import {MemoryLedger} from '../support/memory-ledger';

let standIn: ClassroomStandIn;
let config: Config;
let ledger: MemoryLedger;
let flow: CreateFlow;
let n = 0;

const configFor = (env: Record<string, string> = {}) =>
  parseConfig({
    GOOGLE_CLOUD_PROJECT: 'demo-classroom-gateway',
    CLASSROOM_ROOT_URL: standIn.url,
    INFLIGHT_WAIT_MS: '200',
    RETRY_INITIAL_BACKOFF_MS: '5',
    ...env,
  });
const ctx = () => ({
  requestId: `r-${++n}`,
  source: 'http' as const,
  caller: 'test',
});
const pair = (
  role: InvitationRequest['role'] = 'STUDENT',
): InvitationRequest => ({
  courseId: `d:flow-${++n}`,
  userId: `f${n}@school.example`,
  role,
});

beforeAll(async () => {
  setLogSink(() => undefined);
  standIn = new ClassroomStandIn();
  await standIn.start();
});
afterAll(async () => {
  setLogSink(undefined);
  await standIn.stop();
});
beforeEach(() => {
  standIn.reset();
  config = configFor();
  ledger = new MemoryLedger(config.leaseMs);
  flow = new CreateFlow(config, ledger, createClassroomInvitations(config));
});

it('a new pair is created in Classroom once and recorded as created, its audit event completed', async () => {
  const req = pair();
  const c = ctx();
  const a = await flow.create(req, c);
  expect(a).toMatchObject({
    kind: 'invitation',
    httpStatus: 200,
    outcome: 'created',
    body: {id: expect.any(String), role: 'STUDENT'},
  });
  expect(standIn.calls.create).toBe(1);
  expect(
    (await ledger.read(pairKey(req.courseId, req.userId)))?.entry,
  ).toMatchObject({state: 'created', origin: 'created'});
  expect(ledger.audit.get(c.requestId)).toMatchObject({
    outcome: 'created',
    finished: true,
  });
});

it('a repeat is answered from the ledger, marked as a replay, without calling Classroom', async () => {
  const req = pair();
  const first = await flow.create(req, ctx());
  const again = await flow.create(req, ctx());
  expect(again).toMatchObject({
    kind: 'invitation',
    outcome: 'replayed',
    headers: {'Idempotent-Replayed': 'true'},
    body: first.body,
  });
  expect(standIn.calls.create).toBe(1);
});

it('another role for a pending pair is 409 ALREADY_EXISTS without ?replace, and replaces it with ?replace', async () => {
  const req = pair();
  const first = await flow.create(req, ctx());
  const conflict = await flow.create({...req, role: 'TEACHER'}, ctx());
  expect(conflict).toMatchObject({
    kind: 'error',
    httpStatus: 409,
    outcome: 'conflict',
    body: {error: {status: 'ALREADY_EXISTS'}},
  });
  const replaced = await flow.create({...req, role: 'TEACHER'}, ctx(), {
    replace: true,
  });
  expect(replaced).toMatchObject({
    kind: 'invitation',
    outcome: 'replaced',
    body: {role: 'TEACHER'},
  });
  expect(standIn.invitations.has((first.body as {id: string}).id)).toBe(false);
  expect(standIn.calls).toMatchObject({create: 2, delete: 1});
});

it('a reservation whose lease ran out is taken over, and the invitation Classroom already holds is recorded as this gateway’s (its create was the dead holder’s)', async () => {
  const req = pair();
  const existing = standIn.seed(req); // an earlier attempt created it, then its instance died
  ledger.seed(pairKey(req.courseId, req.userId), {
    ...req,
    state: 'pending',
    requestId: 'dead',
    leaseExpiresAt: Timestamp.fromMillis(0),
  });
  const a = await flow.create(req, ctx());
  expect(a).toMatchObject({
    kind: 'invitation',
    outcome: 'adopted',
    body: {id: existing.id},
  });
  expect(standIn.calls).toMatchObject({create: 1, list: 1});
  const entry = (await ledger.read(pairKey(req.courseId, req.userId)))?.entry;
  expect(entry).toMatchObject({state: 'created', origin: 'created'});
});

it('an invitation another tool made is adopted for a new pair, recorded as adopted (never deletable through the gateway)', async () => {
  const req = pair();
  const existing = standIn.seed(req);
  const a = await flow.create(req, ctx());
  expect(a).toMatchObject({
    kind: 'invitation',
    outcome: 'adopted',
    body: {id: existing.id},
  });
  const entry = (await ledger.read(pairKey(req.courseId, req.userId)))?.entry;
  expect(entry).toMatchObject({state: 'created', origin: 'adopted'});
});

it('a reservation still in flight elsewhere is answered 409 ABORTED with Retry-After once the wait runs out, without a call', async () => {
  const req = pair();
  ledger.seed(pairKey(req.courseId, req.userId), {
    ...req,
    state: 'pending',
    requestId: 'alive',
    leaseExpiresAt: Timestamp.fromMillis(Date.now() + 60_000),
  });
  const a = await flow.create(req, ctx());
  expect(a).toMatchObject({
    kind: 'error',
    httpStatus: 409,
    outcome: 'in_flight',
    body: {error: {status: 'ABORTED'}},
  });
  expect(Number(a.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  expect(standIn.calls.create).toBe(0);
});

it('a create that times out answers 504 and keeps the pair reserved with its lease ended, so that the next one reconciles', async () => {
  config = configFor({
    CLASSROOM_TIMEOUT_MS: '150',
    REQUEST_DEADLINE_MS: '600',
    RETRY_MAX_ATTEMPTS: '1',
  });
  flow = new CreateFlow(config, ledger, createClassroomInvitations(config));
  standIn.injectFault({method: 'create', count: 1, hang: true});
  const req = pair();
  const a = await flow.create(req, ctx());
  expect(a).toMatchObject({kind: 'error', httpStatus: 504, outcome: 'failed'});
  const snap = await ledger.read(pairKey(req.courseId, req.userId));
  expect(snap && ledger.isLeaseExpired(snap.entry)).toBe(true);
});

it('the district policy refuses a domain it does not allow with 403, before the ledger and Classroom', async () => {
  config = configFor({ALLOWED_EMAIL_DOMAINS: 'school.example'});
  flow = new CreateFlow(config, ledger, createClassroomInvitations(config));
  const a = await flow.create(
    {courseId: 'd:flow-policy', userId: 'x@elsewhere.example', role: 'STUDENT'},
    ctx(),
  );
  expect(a).toMatchObject({
    kind: 'error',
    httpStatus: 403,
    outcome: 'rejected',
  });
  expect(ledger.entries.size).toBe(0);
  expect(standIn.calls.create).toBe(0);
});

it('identical requests in flight in one instance share one pass: one call, the others replayed with sharedWith', async () => {
  standIn.latencyMs = 100;
  const req = pair();
  const [a, b, c] = await Promise.all([
    flow.create(req, ctx()),
    flow.create(req, ctx()),
    flow.create(req, ctx()),
  ]);
  expect([a.outcome, b.outcome, c.outcome]).toEqual([
    'created',
    'replayed',
    'replayed',
  ]);
  expect(standIn.calls.create).toBe(1);
  expect(
    [...ledger.audit.values()].filter(e => e.sharedWith !== undefined),
  ).toHaveLength(2);
});

it('an old entry whose invitation is gone from Classroom is released and the pair invited anew', async () => {
  config = configFor({LEDGER_RECHECK_AFTER: '0s'});
  flow = new CreateFlow(config, ledger, createClassroomInvitations(config));
  const req = pair();
  const first = await flow.create(req, ctx());
  standIn.invitations.delete((first.body as {id: string}).id); // accepted or deleted elsewhere
  const again = await flow.create(req, ctx());
  expect(again).toMatchObject({kind: 'invitation', outcome: 'created'});
  expect(again.body).not.toEqual(first.body);
  expect(standIn.calls).toMatchObject({create: 2, get: 1});
});
