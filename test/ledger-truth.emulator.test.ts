// The ledger stays true to Classroom: replaces and deletes release every entry holding an invitation, racing
// requests leave the two in agreement, and no loop outlives the request's deadline.
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let n = 0;
const pair = (role = 'STUDENT') => ({
  courseId: `d:truth-${++n}`,
  userId: `truth${n}@school.example`,
  role,
});

let everyTime: TestGateway;

beforeAll(async () => {
  t = await startTestGateway('truth');
  // Every replay asks Classroom first: the recheck path runs on every request, the hardest case for loops.
  everyTime = await startTestGateway('truth_recheck', {
    LEDGER_RECHECK_AFTER: '0s',
  });
});
afterAll(async () => {
  await t.close();
  await everyTime.close();
});
beforeEach(() => {
  t.standIn.reset();
  everyTime.standIn.reset();
});

const post = (body: unknown, query = '') =>
  request(t.server)
    .post(`/v1/invitations${query}`)
    .send(body as object);
const del = (id: string) => request(t.server).delete(`/v1/invitations/${id}`);

/**
 * The ledger and Classroom agree for these courses: every created entry names an invitation Classroom holds, and
 * every invitation Classroom holds (the stand-in is reset per test) is named by an entry.
 */
async function expectAgreement(courseIds: string[]): Promise<void> {
  const entries = (await t.ledgerDocs()).filter(
    e => e.state === 'created' && courseIds.includes(e.courseId as string),
  );
  const ids = entries.map(e => (e.invitation as {id: string}).id);
  expect(ids.filter(id => !t.standIn.invitations.has(id))).toEqual([]);
  expect(
    [...t.standIn.invitations.keys()].filter(id => !ids.includes(id)),
  ).toEqual([]);
}

it('a replace under a numeric user id releases the email key too: it no longer answers for the deleted invitation', async () => {
  const body = pair('STUDENT');
  const first = await post(body).expect(200);
  const numeric = {...body, userId: first.body.userId as string}; // the same person by numeric id
  const adopted = await post(numeric).expect(200);
  expect(adopted.body.id).toBe(first.body.id);
  const replaced = await post(
    {...numeric, role: 'TEACHER'},
    '?replace=true',
  ).expect(200);
  expect(t.standIn.invitations.has(first.body.id)).toBe(false);
  await expectAgreement([body.courseId]);
  const byEmail = await post(body);
  expect(byEmail.body.id).not.toBe(first.body.id);
  expect(byEmail.status).toBe(409); // Classroom holds the TEACHER invitation
  expect(t.standIn.invitations.has(replaced.body.id)).toBe(true);
});

it('with rechecks on every request, ?replace=true finishes in one pass with one get, not a thousand', async () => {
  const body = pair('STUDENT');
  await request(everyTime.server)
    .post('/v1/invitations')
    .send(body)
    .expect(200);
  const started = Date.now();
  const res = await request(everyTime.server)
    .post('/v1/invitations?replace=true')
    .send({...body, role: 'TEACHER'})
    .expect(200);
  expect(res.body.role).toBe('TEACHER');
  expect(everyTime.standIn.calls.get).toBe(1);
  expect(Date.now() - started).toBeLessThan(5_000);
});

it('a DELETE racing a ?replace=true leaves the ledger and Classroom in agreement, every time', async () => {
  // Slow deletes: the replace takes the entry over while the DELETE's call is still out, so the DELETE looks the
  // invitation up after the takeover and releases after it, the window where the ledger used to lose the new one.
  t.standIn.injectFault({method: 'delete', latencyMs: 80, count: 100});
  const trials = await Promise.all(
    Array.from({length: 12}, async () => {
      const body = pair('STUDENT');
      const old = await post(body).expect(200);
      const [d, r] = await Promise.all([
        del(old.body.id),
        post({...body, role: 'TEACHER'}, '?replace=true'),
      ]);
      console.log(d.status, r.status, JSON.stringify(r.body).slice(0, 80));
      return {body, statuses: [d.status, r.status]};
    }),
  );
  for (const {statuses} of trials)
    for (const s of statuses) expect(s).toBeLessThan(500);
  await expectAgreement(trials.map(({body}) => body.courseId));
});

it('a DELETE racing replays that touch the entry never leaves the deleted invitation in the ledger', async () => {
  everyTime.standIn.latencyMs = 5;
  const trials = await Promise.all(
    Array.from({length: 20}, async () => {
      const body = pair('STUDENT');
      const created = await request(everyTime.server)
        .post('/v1/invitations')
        .send(body)
        .expect(200);
      // Each replay rechecks and marks the entry checked, changing it under the DELETE's feet.
      const replay = () =>
        request(everyTime.server).post('/v1/invitations').send(body);
      const [d] = await Promise.all([
        request(everyTime.server).delete(`/v1/invitations/${created.body.id}`),
        replay(),
        replay(),
        replay(),
      ]);
      return {body, status: d.status};
    }),
  );
  for (const {status} of trials) expect([200, 404]).toContain(status);
  const courseIds = trials.map(({body}) => body.courseId);
  const entries = (await everyTime.ledgerDocs()).filter(
    e => e.state === 'created' && courseIds.includes(e.courseId as string),
  );
  const ids = entries.map(e => (e.invitation as {id: string}).id);
  expect(ids.filter(id => !everyTime.standIn.invitations.has(id))).toEqual([]);
});

it('an entry changed after a DELETE looked it up is re-read and released if it still holds the invitation', async () => {
  const body = pair('STUDENT');
  const created = await post(body).expect(200);
  const found = await t.ledger.findByInvitationId(created.body.id);
  expect(found).toHaveLength(1);
  await t.ledger.markChecked(found[0]!.key, found[0]!.snapshot); // a replay touched it meanwhile
  const released = await t.ledger.releaseInvitation(created.body.id, {found});
  expect(released.map(r => r.key)).toEqual([found[0]!.key]);
  expect(await t.ledger.read(found[0]!.key)).toBeUndefined();
});
