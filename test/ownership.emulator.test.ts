// What the gateway may change: DELETE acts only on invitations its ledger holds for its callers, and a webhook
// never replaces or withdraws an OWNER invitation nor one another tool made.
import {randomBytes} from 'node:crypto';
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestGateway;
let n = 0;

beforeAll(async () => {
  t = await startTestGateway('ownership', {WEBHOOK_SECRETS: secret});
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

const post = (body: unknown, query = '') =>
  request(t.server)
    .post(`/v1/invitations${query}`)
    .send(body as object);
const del = (id: string) => request(t.server).delete(`/v1/invitations/${id}`);
const fresh = () => ({email: `own${++n}@school.example`, cls: `own-${n}`});
const deliver = (enrollments: unknown[]) =>
  postWebhook(
    t.server,
    secret,
    JSON.stringify({
      type: 'enrollments.created',
      timestamp: new Date().toISOString(),
      data: {enrollments},
    }),
  );
const enrollment = (
  status: string,
  role: string,
  email: string,
  cls: string,
) => ({
  sourcedId: `e-${++n}`,
  status,
  role,
  user: {sourcedId: `u-${n}`, email},
  class: {sourcedId: cls},
});
/** A fresh pair whose invitation another tool (or a person) made, in Classroom but not in the ledger. */
function foreignInvitation(role: string) {
  const {email, cls} = fresh();
  const foreign = t.standIn.seed({courseId: `d:${cls}`, userId: email, role});
  return {email, cls, foreign};
}

/** A student invitation another tool made, which a webhook enrollment then adopted into the ledger. */
async function adoptedForeignStudent() {
  const {email, cls, foreign} = foreignInvitation('STUDENT');
  await deliver([enrollment('active', 'student', email, cls)]).expect(200);
  return {email, cls, foreign};
}

const rolesHeld = () => [...t.standIn.invitations.values()].map(i => i.role);

describe('DELETE /v1/invitations/{id}', () => {
  it('an invitation another tool made is answered 404 as Classroom words it, and Classroom is never asked', async () => {
    const foreign = t.standIn.seed({
      courseId: 'd:own-foreign',
      userId: 'head@school.example',
      role: 'OWNER',
    });
    const res = await del(foreign.id).expect(404);
    expect(res.body).toEqual({
      error: {
        code: 404,
        message: 'Requested entity was not found.',
        status: 'NOT_FOUND',
      },
    });
    expect(t.standIn.calls.delete).toBe(0);
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
    const event = (await t.auditDocs()).find(
      e => e.invitationId === foreign.id,
    );
    expect(event).toMatchObject({outcome: 'rejected', httpStatus: 404});
  });

  it('an invitation the ledger only observed (another role, made elsewhere) is not deletable either', async () => {
    const {email, cls, foreign} = foreignInvitation('OWNER');
    await post({courseId: `d:${cls}`, userId: email, role: 'STUDENT'}).expect(
      409,
    );
    await del(foreign.id).expect(404);
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
  });

  it('its audit event names the course, the user and the role of the invitation it deleted', async () => {
    const {email, cls} = fresh();
    const created = await post({
      courseId: `d:${cls}`,
      userId: email,
      role: 'TEACHER',
    }).expect(200);
    const res = await del(created.body.id).expect(200);
    const event = (await t.auditDocs()).find(
      e => e._id === res.headers['x-request-id'],
    );
    expect(event).toMatchObject({
      outcome: 'deleted',
      courseId: `d:${cls}`,
      userId: email,
      role: 'TEACHER',
      invitationId: created.body.id,
    });
  });
});

describe('invitations the gateway did not make, through any door', () => {
  it('asking for a foreign invitation (which adopts it) does not make it deletable', async () => {
    const {email, cls, foreign} = foreignInvitation('OWNER');
    const adopted = await post({
      courseId: `d:${cls}`,
      userId: email,
      role: 'OWNER',
    }).expect(200);
    expect(adopted.body.id).toBe(foreign.id);
    await del(foreign.id).expect(404);
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it('?replace=true never deletes a foreign invitation, on the first request or a repeat', async () => {
    const {email, cls} = foreignInvitation('OWNER');
    for (let i = 0; i < 2; i++) {
      const res = await post(
        {courseId: `d:${cls}`, userId: email, role: 'TEACHER'},
        '?replace=true',
      ).expect(409);
      expect(res.body.error.status).toBe('ALREADY_EXISTS');
    }
    expect(rolesHeld()).toEqual(['OWNER']);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it("the same invitation under the person's numeric id stays the gateway's own: deletable, replaceable", async () => {
    const {email, cls} = fresh();
    const created = await post({
      courseId: `d:${cls}`,
      userId: email,
      role: 'STUDENT',
    }).expect(200);
    const numeric = {
      courseId: `d:${cls}`,
      userId: created.body.userId as string,
      role: 'STUDENT',
    };
    await post(numeric).expect(200); // Classroom's ALREADY_EXISTS, reconciled: the email key created it
    const entry = (await t.ledgerDocs()).find(e => e.userId === numeric.userId);
    expect(entry).toMatchObject({origin: 'created'});
  });
});

describe('webhooks and invitations they did not make', () => {
  it('an active student enrollment never replaces an OWNER invitation made through the gateway', async () => {
    const {email, cls} = fresh();
    const owner = await post({
      courseId: `d:${cls}`,
      userId: email,
      role: 'OWNER',
    }).expect(200);
    const res = await deliver([
      enrollment('active', 'student', email, cls),
    ]).expect(200);
    expect(res.body.results[0]).toMatchObject({
      outcome: 'conflict',
      error: {status: 'ALREADY_EXISTS'},
    });
    expect(t.standIn.invitations.has(owner.body.id)).toBe(true);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it('nor an OWNER invitation another tool made, on the first delivery or any redelivery', async () => {
    const {email, cls, foreign} = foreignInvitation('OWNER');
    for (let i = 0; i < 2; i++) {
      const res = await deliver([
        enrollment('active', 'student', email, cls),
      ]).expect(200);
      expect(res.body.results[0]).toMatchObject({
        outcome: 'conflict',
        error: {status: 'ALREADY_EXISTS'},
      });
    }
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
    expect(rolesHeld()).toEqual(['OWNER']);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it('a role change never replaces a student invitation another tool made', async () => {
    const {email, cls, foreign} = await adoptedForeignStudent();
    const res = await deliver([
      enrollment('active', 'teacher', email, cls),
    ]).expect(200);
    expect(res.body.results[0]).toMatchObject({outcome: 'conflict'});
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
  });

  it('tobedeleted never withdraws an invitation another tool made', async () => {
    const {email, cls, foreign} = await adoptedForeignStudent();
    const res = await deliver([
      enrollment('tobedeleted', 'student', email, cls),
    ]).expect(200);
    expect(res.body.results[0]).toMatchObject({
      outcome: 'skipped',
      reason: 'the pending invitation was not created by this gateway',
    });
    expect(t.standIn.invitations.has(foreign.id)).toBe(true);
    expect(t.standIn.calls.delete).toBe(0);
  });

  it('over HTTP, ?replace=true replaces an invitation the gateway created, OWNER included (the caller asked by name)', async () => {
    const {email, cls} = fresh();
    await post({courseId: `d:${cls}`, userId: email, role: 'OWNER'}).expect(
      200,
    );
    await post(
      {courseId: `d:${cls}`, userId: email, role: 'TEACHER'},
      '?replace=true',
    ).expect(200);
    expect(rolesHeld()).toEqual(['TEACHER']);
  });
});
