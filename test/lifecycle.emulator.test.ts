// Changing and withdrawing invitations: DELETE, rechecks of stale ledger entries, ?replace=true,
// ?validateOnly=true, and tobedeleted enrollments from the SIS webhook.
import {randomBytes} from 'node:crypto';
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestGateway;
let n = 0;
const pair = (role = 'STUDENT') => ({
  courseId: `d:life-${++n}`,
  userId: `l${n}@school.example`,
  role,
});

beforeAll(async () => {
  // LEDGER_RECHECK_AFTER stays at its default here (24 h); the recheck block builds its own gateway.
  t = await startTestGateway('lifecycle', {WEBHOOK_SECRETS: secret});
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

const post = (body: unknown, query = '') =>
  request(t.server)
    .post(`/v1/invitations${query}`)
    .send(body as object);
const ledgerOf = async (userId: string) =>
  (await t.ledgerDocs()).filter(d => d.userId === userId);
const auditOf = async (userId: string) =>
  (await t.auditDocs()).filter(d => d.userId === userId);

describe('1. DELETE /v1/invitations/{id}', () => {
  it('deletes in Classroom, answers {} as Classroom does, releases the pair, and a later create goes to Classroom again', async () => {
    const body = pair();
    const created = await post(body).expect(200);
    const del = await request(t.server)
      .delete(`/v1/invitations/${created.body.id}`)
      .expect(200);
    expect(del.body).toEqual({});
    expect(t.standIn.invitations.size).toBe(0);
    expect(await ledgerOf(body.userId)).toHaveLength(0);
    const again = await post(body).expect(200);
    expect(again.body.id).not.toBe(created.body.id);
    expect(t.standIn.calls.create).toBe(2);
    const events = await auditOf(body.userId);
    expect(events.map(e => e.outcome).sort()).toEqual([
      'created',
      'created',
      'deleted',
    ]);
  });

  it('an unknown id gets Classroom’s 404, unchanged', async () => {
    const res = await request(t.server)
      .delete('/v1/invitations/doesNotExist1')
      .expect(404);
    expect(res.body).toEqual({
      error: {
        code: 404,
        message: 'Requested entity was not found.',
        status: 'NOT_FOUND',
      },
    });
  });

  it('an invitation deleted elsewhere first: 404 from Classroom, and the stale ledger entry is released all the same', async () => {
    const body = pair();
    const created = await post(body).expect(200);
    t.standIn.invitations.delete(created.body.id); // deleted by another tool
    await request(t.server)
      .delete(`/v1/invitations/${created.body.id}`)
      .expect(404);
    expect(await ledgerOf(body.userId)).toHaveLength(0);
  });

  it('a malformed id is a 400 and reaches nobody', async () => {
    const res = await request(t.server)
      .delete('/v1/invitations/bad%20id')
      .expect(400);
    expect(res.body.error.status).toBe('INVALID_ARGUMENT');
    expect(t.standIn.calls.delete).toBe(0);
  });
});

describe('2. stale ledger entries are rechecked', () => {
  let fresh: TestGateway;
  beforeAll(async () => {
    fresh = await startTestGateway('recheck', {LEDGER_RECHECK_AFTER: '0s'});
  });
  afterAll(() => fresh.close());
  beforeEach(() => fresh.standIn.reset());

  it('an invitation gone upstream (accepted or deleted elsewhere) no longer blocks the pair', async () => {
    const body = pair();
    const first = await request(fresh.server)
      .post('/v1/invitations')
      .send(body)
      .expect(200);
    fresh.standIn.invitations.delete(first.body.id); // the student accepted it: Classroom deletes the invitation
    const next = await request(fresh.server)
      .post('/v1/invitations')
      .send(body)
      .expect(200);
    expect(next.body.id).not.toBe(first.body.id);
    expect(next.headers['idempotent-replayed']).toBeUndefined();
    expect(fresh.standIn.calls.get).toBe(1);
    expect(fresh.standIn.calls.create).toBe(2);
  });

  it('an invitation still there is replayed after one get', async () => {
    const body = pair();
    const first = await request(fresh.server)
      .post('/v1/invitations')
      .send(body)
      .expect(200);
    const again = await request(fresh.server)
      .post('/v1/invitations')
      .send(body)
      .expect(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(fresh.standIn.calls.get).toBe(1);
    expect(fresh.standIn.calls.create).toBe(1);
  });

  it('with the default window a recent entry is replayed without asking Classroom', async () => {
    const body = pair();
    await post(body).expect(200);
    await post(body).expect(200);
    expect(t.standIn.calls.get).toBe(0);
  });
});

describe('3. role change', () => {
  it('stays 409 ALREADY_EXISTS by default', async () => {
    const body = pair('STUDENT');
    await post(body).expect(200);
    await post({...body, role: 'TEACHER'}).expect(409);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it('with ?replace=true deletes the old invitation and creates the new one, audited as one decision', async () => {
    const body = pair('STUDENT');
    const old = await post(body).expect(200);
    const res = await post({...body, role: 'TEACHER'}, '?replace=true').expect(
      200,
    );
    expect(res.body).toMatchObject({role: 'TEACHER'});
    expect(res.body.id).not.toBe(old.body.id);
    expect([...t.standIn.invitations.values()].map(i => i.role)).toEqual([
      'TEACHER',
    ]);
    const replaced = (await auditOf(body.userId)).filter(
      e => e.outcome === 'replaced',
    );
    expect(replaced).toEqual([
      expect.objectContaining({
        replacedInvitationId: old.body.id,
        invitationId: res.body.id,
        role: 'TEACHER',
      }),
    ]);
    const teacherAgain = await post({...body, role: 'TEACHER'}).expect(200);
    expect(teacherAgain.headers['idempotent-replayed']).toBe('true');
  });

  it('if Classroom refuses the delete, the old invitation stays and the ledger still knows it', async () => {
    const body = pair('STUDENT');
    const old = await post(body).expect(200);
    t.standIn.injectFault({
      method: 'delete',
      httpStatus: 403,
      status: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    });
    await post({...body, role: 'TEACHER'}, '?replace=true').expect(403);
    const replay = await post(body).expect(200);
    expect(replay.body.id).toBe(old.body.id);
    expect(t.standIn.calls.create).toBe(1);
  });
});

describe('5. ?validateOnly=true', () => {
  it('answers what the call would most likely answer, writes only an audit event, and calls no one', async () => {
    const body = pair();
    const res = await post(body, '?validateOnly=true').expect(200);
    expect(res.body).toEqual({
      courseId: body.courseId,
      userId: body.userId,
      role: body.role,
    });
    const bad = await post(
      {...body, role: 'NOPE'},
      '?validateOnly=true',
    ).expect(400);
    expect(bad.body.error.status).toBe('INVALID_ARGUMENT');
    expect(t.standIn.calls).toEqual({create: 0, list: 0, get: 0, delete: 0});
    expect(await ledgerOf(body.userId)).toHaveLength(0);
    expect((await auditOf(body.userId)).map(e => e.outcome).sort()).toEqual([
      'rejected',
      'validated',
    ]);
  });

  it('a created pair validates to its invitation, another role to 409', async () => {
    const body = pair();
    const created = await post(body).expect(200);
    const same = await post(body, '?validateOnly=true').expect(200);
    expect(same.body).toEqual(created.body);
    await post({...body, role: 'TEACHER'}, '?validateOnly=true').expect(409);
    await post(
      {...body, role: 'TEACHER'},
      '?validateOnly=true&replace=true',
    ).expect(200);
    expect(t.standIn.calls.create).toBe(1);
  });
});

describe('3–4. from the SIS webhook', () => {
  const deliver = (enrollments: unknown[]) => {
    const body = JSON.stringify({
      type: 'enrollments.created',
      timestamp: new Date().toISOString(),
      data: {enrollments},
    });
    return postWebhook(t.server, secret, body);
  };
  const enrollment = (
    status: string,
    role: string,
    email: string,
    classId: string,
  ) => ({
    sourcedId: `e-${++n}`,
    status,
    role,
    user: {sourcedId: `u-${n}`, email},
    class: {sourcedId: classId},
  });

  it('tobedeleted withdraws the pending invitation of its role; nothing happens when none is pending', async () => {
    const email = `w${++n}@school.example`;
    const cls = `cls-w-${n}`;
    await deliver([enrollment('active', 'student', email, cls)]).expect(200);
    expect(t.standIn.invitations.size).toBe(1);
    const res = await deliver([
      enrollment('tobedeleted', 'student', email, cls),
      enrollment('tobedeleted', 'student', `none${n}@school.example`, cls),
    ]).expect(200);
    expect(res.body.results.map((r: {outcome: string}) => r.outcome)).toEqual([
      'withdrawn',
      'skipped',
    ]);
    expect(t.standIn.invitations.size).toBe(0);
    expect(await ledgerOf(email)).toHaveLength(0);
    expect(t.standIn.calls.delete).toBe(1);
  });

  it('an enrollment whose role changed replaces the pending invitation', async () => {
    const email = `w${++n}@school.example`;
    const cls = `cls-r-${n}`;
    await deliver([enrollment('active', 'student', email, cls)]).expect(200);
    const res = await deliver([
      enrollment('active', 'teacher', email, cls),
    ]).expect(200);
    expect(res.body.results[0]).toMatchObject({
      outcome: 'replaced',
      invitation: {role: 'TEACHER'},
    });
    expect([...t.standIn.invitations.values()].map(i => i.role)).toEqual([
      'TEACHER',
    ]);
  });
});
