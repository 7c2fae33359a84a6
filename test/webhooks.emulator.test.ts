// POST /webhooks/sis: Standard Webhooks signatures (made with the `standardwebhooks` library), OneRoster
// enrollments, batches, redelivery and policy, end to end on the emulator with the stand-in as Classroom.
import {randomBytes, randomUUID} from 'node:crypto';
import request from 'supertest';
import {createHash} from 'node:crypto';
import {signedWebhookHeaders} from '../tools/webhook-headers';
import {startTestGateway, TestGateway} from './support/gateway';
import {postWebhook} from './support/webhooks';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const current = newSecret();
const previous = newSecret();

let t: TestGateway;
let n = 0;

beforeAll(async () => {
  t = await startTestGateway('webhooks', {
    WEBHOOK_SECRETS: `${current} ${previous}`,
    ALLOWED_EMAIL_DOMAINS: 'school.example, staff.school.example',
    REQUEST_DEADLINE_MS: '1500',
    RETRY_INITIAL_BACKOFF_MS: '10',
    RETRY_MAX_BACKOFF_MS: '50',
  });
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

interface EnrollmentInput {
  sourcedId?: string;
  status?: string;
  role?: string;
  email?: string;
  classId?: string;
}

function enrollment(e: EnrollmentInput = {}) {
  const i = ++n;
  return {
    sourcedId: e.sourcedId ?? `enr-${i}`,
    status: e.status ?? 'active',
    role: e.role ?? 'student',
    user: {sourcedId: `usr-${i}`, email: e.email ?? `pupil${i}@school.example`},
    class: {sourcedId: e.classId ?? `class-${i}`},
    beginDate: '2026-09-01',
  };
}

const event = (enrollments: unknown[]) => ({
  type: 'enrollments.created',
  timestamp: new Date().toISOString(),
  data: {enrollments},
});

interface Delivery {
  id?: string;
  secret?: string;
  at?: Date;
  body?: string;
  headers?: Record<string, string>;
}

function deliver(payload: unknown, d: Delivery = {}) {
  return postWebhook(
    t.server,
    d.secret ?? current,
    d.body ?? JSON.stringify(payload),
    d,
  );
}

const auditOf = async (webhookId: string) =>
  (await t.auditDocs()).filter(e => e.webhookId === webhookId);

describe('signatures', () => {
  it('a valid signature is accepted and the enrollment invited', async () => {
    const res = await deliver(event([enrollment()])).expect(200);
    expect(res.body.results[0]).toMatchObject({
      outcome: 'created',
      invitation: {id: expect.any(String), role: 'STUDENT'},
    });
    expect(t.standIn.calls.create).toBe(1);
  });

  it('a delivery signed with the previous secret (rotation) is accepted', async () => {
    await deliver(event([enrollment()]), {secret: previous}).expect(200);
  });

  it.each([
    [
      'tampered body',
      (p: string) => ({body: p.replace('student', 'teacher')}),
      'BAD_SIGNATURE',
    ],
    ['unknown secret', () => ({secret: newSecret()}), 'BAD_SIGNATURE'],
    [
      'stale timestamp (6 minutes old)',
      () => ({at: new Date(Date.now() - 6 * 60_000)}),
      'STALE_TIMESTAMP',
    ],
    [
      'future timestamp (6 minutes ahead)',
      () => ({at: new Date(Date.now() + 6 * 60_000)}),
      'FUTURE_TIMESTAMP',
    ],
  ])(
    '%s: 401 UNAUTHENTICATED, audited without the body, nothing forwarded',
    async (_name, tweak, reason) => {
      const payload = event([enrollment()]);
      const raw = JSON.stringify(payload);
      const id = `msg_${randomUUID()}`;
      const at = new Date();
      const changes = tweak(raw) as Delivery;
      let res;
      if (changes.body) {
        // signed over the original, sent with another body
        res = await deliver(null, {
          body: changes.body,
          headers: signedWebhookHeaders(current, id, at, raw),
        });
      } else {
        res = await deliver(payload, {id, ...changes});
      }
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 401,
        status: 'UNAUTHENTICATED',
      });
      expect(res.body.error.details[0].reason).toBe(reason);
      expect(t.standIn.calls.create).toBe(0);
      const [audit] = await auditOf(id);
      expect(audit).toMatchObject({
        outcome: 'rejected',
        httpStatus: 401,
        source: 'webhook',
        upstreamStatus: reason,
        courseId: null,
        userId: null,
      });
    },
  );

  it('missing signature headers: 401', async () => {
    const res = await deliver(event([enrollment()]), {
      headers: {'webhook-id': 'x'},
    }).expect(401);
    expect(res.body.error.details[0].reason).toBe('MISSING_HEADERS');
  });
});

describe('payload', () => {
  it('maps OneRoster roles: student → STUDENT, teacher → TEACHER; administrator, proctor, tobedeleted and unknown roles are skipped', async () => {
    const batch = [
      enrollment({role: 'student'}),
      enrollment({role: 'teacher'}),
      enrollment({role: 'administrator'}),
      enrollment({role: 'proctor'}),
      enrollment({role: 'student', status: 'tobedeleted'}),
      enrollment({role: 'ext:guardian'}),
    ];
    const res = await deliver(event(batch)).expect(200);
    expect(
      res.body.results.map(
        (r: {outcome: string; invitation?: {role: string}}) => [
          r.outcome,
          r.invitation?.role,
        ],
      ),
    ).toEqual([
      ['created', 'STUDENT'],
      ['created', 'TEACHER'],
      ['skipped', undefined],
      ['skipped', undefined],
      ['skipped', undefined],
      ['skipped', undefined],
    ]);
    expect(
      res.body.results.map((r: {sourcedId: string}) => r.sourcedId),
    ).toEqual(batch.map(b => b.sourcedId));
    expect(t.standIn.calls.create).toBe(2);
  });

  it('the course is COURSE_ALIAS_PREFIX + class.sourcedId and the user is the email', async () => {
    const e = enrollment({classId: 'math-101-s1', email: 'Ada@School.example'});
    await deliver(event([e])).expect(200);
    const [ledgerEntry] = (await t.ledgerDocs()).filter(
      d => d.courseId === 'd:math-101-s1',
    );
    expect(ledgerEntry).toMatchObject({
      courseId: 'd:math-101-s1',
      userId: 'ada@school.example',
      role: 'STUDENT',
    });
  });

  it('a mixed batch: new, repeats, skipped roles, tobedeleted, unknown users, with every item audited', async () => {
    const first = enrollment();
    const repeat = {...first, sourcedId: 'enr-repeat'};
    const unknown = enrollment({email: `unknown-${n}@school.example`});
    const skipped = enrollment({role: 'administrator'});
    const withdrawn = enrollment({status: 'tobedeleted'});
    const id = `msg_${randomUUID()}`;
    const res = await deliver(event([first, unknown, skipped, withdrawn]), {
      id,
    }).expect(200);
    const again = await deliver(event([repeat])).expect(200);
    expect(res.body.results.map((r: {outcome: string}) => r.outcome)).toEqual([
      'created',
      'failed',
      'skipped',
      'skipped',
    ]);
    expect(res.body.results[1].error).toEqual({
      code: 404,
      message: 'Requested entity was not found.',
      status: 'NOT_FOUND',
    });
    expect(again.body.results[0]).toMatchObject({
      outcome: 'replayed',
      invitation: res.body.results[0].invitation,
    });
    expect(t.standIn.calls.create).toBe(2);
    const outcomes = (await auditOf(id)).map(e => e.outcome).sort();
    expect(outcomes).toEqual(['created', 'failed', 'skipped', 'skipped']);
  });

  it.each([
    ['no enrollments', 'data.enrollments', event([])],
    ['a wrong type', 'type', {...event([enrollment()]), type: 'users.created'}],
    [
      'a bad email',
      'data.enrollments[0].user.email',
      event([{...enrollment(), user: {sourcedId: 'u', email: 'not-an-email'}}]),
    ],
    [
      'a missing class',
      'data.enrollments[0].class',
      event([{...enrollment(), class: undefined}]),
    ],
    [
      'a bad status',
      'data.enrollments[0].status',
      event([{...enrollment(), status: 'gone'}]),
    ],
    [
      'no timestamp',
      'timestamp',
      {type: 'enrollments.created', data: {enrollments: [enrollment()]}},
    ],
  ])(
    'a malformed event (%s) is a 400 naming %s, and nothing is forwarded',
    async (_name, field, payload) => {
      const res = await deliver(payload).expect(400);
      expect(res.body.error.status).toBe('INVALID_ARGUMENT');
      expect(
        res.body.error.details[0].fieldViolations.map(
          (v: {field: string}) => v.field,
        ),
      ).toContain(field);
      expect(t.standIn.calls.create).toBe(0);
    },
  );

  it('more than 1,000 enrollments: 413', async () => {
    const many = Array.from({length: 1001}, () =>
      enrollment({role: 'proctor'}),
    );
    const res = await deliver(event(many)).expect(413);
    expect(res.body.error).toMatchObject({code: 413, status: 'OUT_OF_RANGE'});
  });

  it('1,000 enrollments are accepted in one delivery', async () => {
    const many = Array.from({length: 1000}, (_, i) =>
      enrollment({role: i % 10 === 0 ? 'student' : 'proctor'}),
    );
    // More than fits in this suite's 1.5 s deadline: each answer settles a part, the redeliveries the rest.
    const id = `msg_${randomUUID()}`;
    const body = JSON.stringify(event(many));
    let res = await deliver(null, {id, body});
    for (let tries = 1; res.status !== 200 && tries < 20; tries++) {
      expect([429, 503]).toContain(res.status);
      expect(res.body.results).toHaveLength(1000);
      res = await deliver(null, {id, body, at: new Date()});
    }
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(1000);
    expect(t.standIn.calls.create).toBe(100);
    expect(t.standIn.invitations.size).toBe(100);
  });
});

describe('redelivery', () => {
  it('the same webhook-id redelivered gets the same results and makes no Classroom call', async () => {
    const id = `msg_${randomUUID()}`;
    const payload = event([enrollment(), enrollment({role: 'teacher'})]);
    const body = JSON.stringify(payload);
    const first = await deliver(null, {id, body}).expect(200);
    const again = await deliver(null, {
      id,
      body,
      at: new Date(Date.now() + 5000),
    }).expect(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(t.standIn.calls.create).toBe(2);
  });

  it('a throttled batch answers 429 with Retry-After; its redelivery replays what was done and sends only the rest', async () => {
    const id = `msg_${randomUUID()}`;
    const body = JSON.stringify(
      event([enrollment(), enrollment(), enrollment()]),
    );
    // Classroom throttles one create for longer than the request deadline.
    t.standIn.injectFault({method: 'create', count: 1, httpStatus: 0});
    t.standIn.injectFault({
      method: 'create',
      count: 100,
      httpStatus: 429,
      status: 'RESOURCE_EXHAUSTED',
      message: 'Quota exceeded for quota metric.',
    });
    const throttled = await deliver(null, {id, body});
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.status).toBe('RESOURCE_EXHAUSTED');
    expect(throttled.headers['retry-after']).toMatch(/^\d+$/);
    const done = throttled.body.results.filter(
      (r: {outcome: string}) => r.outcome === 'created',
    );
    expect(done.length).toBeGreaterThanOrEqual(1);
    const createsBefore = t.standIn.calls.create;
    t.standIn.reset();
    t.standIn.invitations.clear();
    const redelivered = await deliver(null, {id, body, at: new Date()}).expect(
      200,
    );
    const outcomes = redelivered.body.results.map(
      (r: {outcome: string}) => r.outcome,
    );
    expect(outcomes.filter((o: string) => o === 'replayed')).toHaveLength(
      done.length,
    );
    expect(outcomes.filter((o: string) => o === 'created')).toHaveLength(
      3 - done.length,
    );
    expect(t.standIn.calls.create).toBe(3 - done.length);
    expect(createsBefore).toBeGreaterThan(1);
  });
});

describe('redelivery with another body', () => {
  const short = (body: string) =>
    'sha256:' + createHash('sha256').update(body).digest('hex').slice(0, 16);

  it('the same webhook-id with a changed role and an added enrollment runs the new body: 200, audited as a reuse; that body again replays', async () => {
    const id = `msg_${randomUUID()}`;
    const first = enrollment();
    const bodyA = JSON.stringify(event([first]));
    const a = await deliver(null, {id, body: bodyA}).expect(200);
    expect(a.body.results[0]).toMatchObject({
      outcome: 'created',
      invitation: {role: 'STUDENT'},
    });

    const added = enrollment({role: 'teacher'});
    const bodyB = JSON.stringify(event([{...first, role: 'teacher'}, added]));
    const b = await deliver(null, {
      id,
      body: bodyB,
      at: new Date(Date.now() + 1000),
    });
    expect(b.status).toBe(200);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(
      b.body.results.map(
        (r: {outcome: string; invitation?: {role: string}}) => [
          r.outcome,
          r.invitation?.role,
        ],
      ),
    ).toEqual([
      ['replaced', 'TEACHER'],
      ['created', 'TEACHER'],
    ]);
    // The stand-in holds what the second body says: the first pair as TEACHER (the STUDENT one deleted), and the new pair.
    expect(
      t.standIn.invitations.get(a.body.results[0].invitation.id),
    ).toBeUndefined();
    expect(
      t.standIn.invitations.get(b.body.results[0].invitation.id)?.role,
    ).toBe('TEACHER');
    expect(
      t.standIn.invitations.get(b.body.results[1].invitation.id)?.role,
    ).toBe('TEACHER');
    expect(t.standIn.invitations.size).toBe(2);

    const reuse = {previousBody: short(bodyA), body: short(bodyB)};
    const rerun = (await auditOf(id)).filter(e => e.webhookIdReuse);
    expect(rerun.map(e => e.outcome).sort()).toEqual(['created', 'replaced']);
    for (const e of rerun) expect(e.webhookIdReuse).toEqual(reuse);

    const c = await deliver(null, {
      id,
      body: bodyB,
      at: new Date(Date.now() + 2000),
    }).expect(200);
    expect(c.headers['idempotent-replayed']).toBe('true');
    expect(c.body).toEqual(b.body);
    expect(t.standIn.calls.create).toBe(3);
  });

  it('the first body sent again after the second runs again too: the sender decides which body is current', async () => {
    const id = `msg_${randomUUID()}`;
    const e = enrollment();
    const bodyA = JSON.stringify(event([e]));
    const bodyB = JSON.stringify(event([{...e, status: 'tobedeleted'}]));
    await deliver(null, {id, body: bodyA}).expect(200);
    const withdrawn = await deliver(null, {id, body: bodyB}).expect(200);
    expect(withdrawn.body.results[0].outcome).toBe('withdrawn');
    const again = await deliver(null, {id, body: bodyA}).expect(200);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.results[0]).toMatchObject({
      outcome: 'created',
      invitation: {role: 'STUDENT'},
    });
    expect(t.standIn.invitations.size).toBe(1);
  });

  it('another body while the first delivery is still running: 409 ABORTED with Retry-After, nothing sent; it runs once the first is done', async () => {
    const id = `msg_${randomUUID()}`;
    t.standIn.latencyMs = 600;
    const first = deliver(null, {
      id,
      body: JSON.stringify(event([enrollment()])),
    }).then(r => r);
    while (t.standIn.calls.create < 1)
      await new Promise(r => setTimeout(r, 10));
    const bodyB = JSON.stringify(event([enrollment()]));
    const busy = await deliver(null, {id, body: bodyB});
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({
      code: 409,
      status: 'ABORTED',
      message: 'A delivery with this webhook-id is still in progress.',
    });
    expect(busy.body.error.details[0]).toMatchObject({
      reason: 'DELIVERY_IN_FLIGHT',
    });
    expect(busy.headers['retry-after']).toBeDefined();
    expect(t.standIn.calls.create).toBe(1);
    expect((await first).status).toBe(200);
    t.standIn.latencyMs = 0;
    const later = await deliver(null, {id, body: bodyB}).expect(200);
    expect(later.body.results[0].outcome).toBe('created');
  });

  it('two redeliveries of another body at once: one runs, the other waits its turn (409) or replays; never two runs', async () => {
    const id = `msg_${randomUUID()}`;
    await deliver(null, {
      id,
      body: JSON.stringify(event([enrollment()])),
    }).expect(200);
    t.standIn.latencyMs = 200;
    const bodyB = JSON.stringify(event([enrollment()]));
    const answers = await Promise.all(
      Array.from({length: 6}, () => deliver(null, {id, body: bodyB})),
    );
    expect(answers.map(r => r.status).sort()).toEqual(
      expect.arrayContaining([200]),
    );
    for (const r of answers) expect([200, 409]).toContain(r.status);
    expect(
      answers.filter(
        r => r.status === 200 && r.headers['idempotent-replayed'] === undefined,
      ),
    ).toHaveLength(1);
    expect(t.standIn.calls.create).toBe(2);
  });
});

describe('several enrollments for one pair in a delivery', () => {
  const pairOf = () => ({
    email: `same${++n}@school.example`,
    classId: `class-same-${n}`,
  });
  type Case = [
    string,
    (p: {email: string; classId: string}) => EnrollmentInput[],
    string,
  ];
  const cases: Case[] = [
    [
      'active teacher, then active student',
      p => [
        {...p, role: 'teacher'},
        {...p, role: 'student'},
      ],
      'STUDENT',
    ],
    [
      'active student, then active teacher',
      p => [
        {...p, role: 'student'},
        {...p, role: 'teacher'},
      ],
      'TEACHER',
    ],
    [
      'tobedeleted student, then active student',
      p => [{...p, status: 'tobedeleted'}, {...p}],
      'STUDENT',
    ],
    [
      'tobedeleted teacher, then active student',
      p => [{...p, role: 'teacher', status: 'tobedeleted'}, {...p}],
      'STUDENT',
    ],
  ];

  it.each(cases)(
    '%s: the last one decides, the first is reported and audited as superseded, every time',
    async (_name, make, role) => {
      for (let run = 0; run < 6; run++) {
        t.standIn.reset();
        const [e1, e2] = make(pairOf()).map(e => enrollment(e));
        const id = `msg_${randomUUID()}`;
        const res = await deliver(event([e1, e2]), {id}).expect(200);
        const reason = `superseded by enrollment ${e2!.sourcedId} later in this delivery`;
        expect(res.body.results[0]).toEqual({
          sourcedId: e1!.sourcedId,
          outcome: 'skipped',
          reason,
        });
        expect(res.body.results[1]).toMatchObject({
          sourcedId: e2!.sourcedId,
          outcome: 'created',
          invitation: {role},
        });
        expect([...t.standIn.invitations.values()].map(i => i.role)).toEqual([
          role,
        ]);
        // One invitation email, not one sent and then withdrawn.
        expect(t.standIn.calls.create).toBe(1);
        expect(t.standIn.calls.delete).toBe(0);
        const audit = await t.db
          .collection(`${t.config.collectionPrefix}audit`)
          .doc(`${res.headers['x-request-id']}.0`)
          .get();
        expect(audit.data()).toMatchObject({
          outcome: 'skipped',
          reason,
          webhookId: id,
          pairKey: expect.any(String),
        });
      }
    },
  );

  it('active then tobedeleted of the same role: the invitation is not sent at all', async () => {
    const p = pairOf();
    const res = await deliver(
      event([enrollment(p), enrollment({...p, status: 'tobedeleted'})]),
    ).expect(200);
    expect(res.body.results.map((r: {outcome: string}) => r.outcome)).toEqual([
      'skipped',
      'skipped',
    ]);
    expect(res.body.results[1].reason).toBe(
      'no pending invitation to withdraw',
    );
    expect(t.standIn.calls.create).toBe(0);
  });

  it('a role change sent as "active student" and "tobedeleted teacher", in either order, ends as a STUDENT invitation', async () => {
    for (const studentFirst of [true, false, true, false]) {
      t.standIn.reset();
      const p = pairOf();
      // A pending TEACHER invitation from an earlier delivery.
      const before = await deliver(
        event([enrollment({...p, role: 'teacher'})]),
      ).expect(200);
      expect(before.body.results[0].outcome).toBe('created');
      const student = enrollment(p);
      const teacherGone = enrollment({
        ...p,
        role: 'teacher',
        status: 'tobedeleted',
      });
      const res = await deliver(
        event(studentFirst ? [student, teacherGone] : [teacherGone, student]),
      ).expect(200);
      const byId = Object.fromEntries(
        res.body.results.map((r: {sourcedId: string}) => [r.sourcedId, r]),
      );
      expect(byId[student.sourcedId]).toMatchObject({
        outcome: 'replaced',
        invitation: {role: 'STUDENT'},
      });
      expect(byId[teacherGone.sourcedId].outcome).toBe('skipped');
      expect([...t.standIn.invitations.values()].map(i => i.role)).toEqual([
        'STUDENT',
      ]);
    }
  });

  it('the pairs of a delivery still run concurrently, each pair in order', async () => {
    const pairs = Array.from({length: 8}, pairOf);
    const batch = pairs.flatMap(p => [
      enrollment({...p, role: 'teacher'}),
      enrollment(p),
    ]);
    t.standIn.latencyMs = 300;
    const started = Date.now();
    const res = await deliver(event(batch)).expect(200);
    // One pair at a time would take 8 × 300 ms.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(res.body.results.map((r: {outcome: string}) => r.outcome)).toEqual(
      pairs.flatMap(() => ['skipped', 'created']),
    );
    expect(t.standIn.calls.create).toBe(8);
  });
});

describe('policy', () => {
  it('invitations outside ALLOWED_EMAIL_DOMAINS are refused per item, before Classroom', async () => {
    const res = await deliver(
      event([
        enrollment({email: 'someone@gmail.example'}),
        enrollment({email: `t${n}@staff.school.example`, role: 'teacher'}),
      ]),
    ).expect(200);
    expect(res.body.results[0]).toMatchObject({
      outcome: 'rejected',
      error: {code: 403, status: 'PERMISSION_DENIED'},
    });
    expect(res.body.results[1].outcome).toBe('created');
    expect(t.standIn.calls.create).toBe(1);
  });

  it('the same policy holds on /v1/invitations', async () => {
    const res = await request(t.server)
      .post('/v1/invitations')
      .send({courseId: 'd:p', userId: 'x@elsewhere.example', role: 'STUDENT'})
      .expect(403);
    expect(res.body.error.details[0].reason).toBe('EMAIL_DOMAIN_NOT_ALLOWED');
    const numeric = await request(t.server)
      .post('/v1/invitations')
      .send({courseId: 'd:p', userId: '1234', role: 'STUDENT'})
      .expect(403);
    expect(numeric.body.error.details[0].reason).toBe('USER_ID_NOT_CHECKABLE');
    expect(t.standIn.calls.create).toBe(0);
  });
});
