// End to end through the Functions Framework: the gateway on the Firestore emulator, Classroom played by
// the stand-in over HTTP. One block per numbered behaviour of the gateway issue.
import request from 'supertest';
import {CreateFlow} from '../functions/create/flow';
import {setLogSink} from '../functions/logs';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let n = 0;
/** A fresh (course, user) pair per test: suites share nothing. */
const pair = (role = 'STUDENT') => ({
  courseId: `d:course-${++n}`,
  userId: `pupil${n}@school.example`,
  role,
});

beforeAll(async () => {
  t = await startTestGateway('http', {INFLIGHT_WAIT_MS: '1500'});
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => t.standIn.reset());

/** Resolves once Classroom has received `count` create calls: the first request is then surely in flight. */
async function createCallsReach(count: number): Promise<void> {
  while (t.standIn.calls.create < count)
    await new Promise(r => setTimeout(r, 10));
}

const post = (body: unknown) =>
  request(t.server)
    .post('/v1/invitations')
    .send(body as object);
const auditFor = async (userId: string) =>
  (await t.auditDocs()).filter(e => e.userId === userId);

describe('1. validation', () => {
  it('a valid invitation is forwarded and answered with Classroom’s invitation and its id', async () => {
    const body = pair();
    const res = await post(body).expect(200);
    expect(res.body).toEqual({
      id: expect.any(String),
      userId: expect.stringMatching(/^\d+$/),
      courseId: expect.stringMatching(/^\d+$/),
      role: 'STUDENT',
    });
    expect(t.standIn.calls.create).toBe(1);
  });

  it('names every bad field in google.rpc.BadRequest and never calls Classroom', async () => {
    const res = await post({
      userId: 'not an email',
      courseId: 'x:1',
      role: 'ADMIN',
      id: 'abc',
      extra: 1,
    }).expect(400);
    expect(res.body.error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
    });
    const fields = res.body.error.details[0].fieldViolations
      .map((v: {field: string}) => v.field)
      .sort();
    expect(fields).toEqual(['courseId', 'extra', 'id', 'role', 'userId']);
    expect(res.body.error.details[0]['@type']).toBe(
      'type.googleapis.com/google.rpc.BadRequest',
    );
    expect(t.standIn.calls.create).toBe(0);
  });

  it('missing fields are reported as required', async () => {
    const res = await post({}).expect(400);
    const v = res.body.error.details[0].fieldViolations;
    expect(v).toEqual(
      expect.arrayContaining([
        {field: 'userId', description: 'userId is required'},
        {field: 'courseId', description: 'courseId is required'},
        {field: 'role', description: 'role is required'},
      ]),
    );
  });

  it.each([
    [
      'text/plain',
      'hello',
      400,
      'INVALID_ARGUMENT',
      'UNSUPPORTED_CONTENT_TYPE',
    ],
    [
      'application/json',
      '{"userId": ',
      400,
      'INVALID_ARGUMENT',
      'ENTITY_PARSE_FAILED',
    ],
    [
      'application/json',
      '[1,2]',
      400,
      'INVALID_ARGUMENT',
      'BODY_NOT_A_JSON_OBJECT',
    ],
    [
      'application/json',
      JSON.stringify({...pair(), userId: `${'a'.repeat(17000)}@x.example`}),
      413,
      'OUT_OF_RANGE',
      'BODY_TOO_LARGE',
    ],
    [
      'application/json; charset=iso-8859-1',
      JSON.stringify(pair()),
      415,
      'INVALID_ARGUMENT',
      'CHARSET_UNSUPPORTED',
    ],
  ])(
    'a %s body is refused with Google error JSON (case %#)',
    async (type, raw, httpStatus, status, reason) => {
      const res = await request(t.server)
        .post('/v1/invitations')
        .set('Content-Type', type)
        .send(raw)
        .expect(httpStatus);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.error).toMatchObject({code: httpStatus, status});
      expect(res.body.error.details[0].reason).toBe(reason);
      expect(t.standIn.calls.create).toBe(0);
    },
  );

  it('accepts numeric ids and p: aliases, and treats email case as one user', async () => {
    await post({
      courseId: '123456',
      userId: '987654321',
      role: 'TEACHER',
    }).expect(200);
    const base = pair();
    await post({...base, courseId: base.courseId.replace('d:', 'p:')}).expect(
      200,
    );
    const upper = await post({...base, userId: base.userId.toUpperCase()});
    const lower = await post(base);
    expect(lower.status).toBe(200);
    expect(upper.status).toBe(200);
    expect(lower.headers['idempotent-replayed']).toBe('true');
    expect(lower.body.id).toBe(upper.body.id);
  });
});

describe('2. dedup ledger', () => {
  it('an identical repeat is answered from the ledger without calling Classroom', async () => {
    const body = pair();
    const first = await post(body).expect(200);
    const again = await post(body).expect(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(t.standIn.calls.create).toBe(1);
  });

  it('the same pair with another role is a 409 ALREADY_EXISTS without calling Classroom', async () => {
    const body = pair('STUDENT');
    await post(body).expect(200);
    const res = await post({...body, role: 'TEACHER'}).expect(409);
    expect(res.body).toEqual({
      error: {
        code: 409,
        message: 'Requested entity already exists',
        status: 'ALREADY_EXISTS',
      },
    });
    expect(t.standIn.calls.create).toBe(1);
  });

  it('a repeat while the first is in flight waits for its outcome instead of calling again', async () => {
    t.standIn.latencyMs = 400;
    const body = pair();
    const [a, b] = await Promise.all([
      post(body),
      createCallsReach(1).then(() => post(body)),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(t.standIn.calls.create).toBe(1);
  });

  it('a repeat in another instance that outwaits its patience gets 409 ABORTED with Retry-After, and no second call', async () => {
    t.standIn.latencyMs = 2500; // longer than INFLIGHT_WAIT_MS (1.5 s)
    const body = pair();
    const first = post(body).then(r => r); // supertest sends on then()
    await createCallsReach(1);
    // A second instance: same Firestore and Classroom, its own memory (identical requests within one
    // instance share the first one's outcome instead).
    const other = new CreateFlow(t.config, t.ledger, t.classroom);
    const second = await other.create(
      {...body, role: 'STUDENT'},
      {requestId: `other-${n}`, source: 'http', caller: 'test'},
    );
    expect(second.httpStatus).toBe(409);
    expect((second.body as {error: {status: string}}).error.status).toBe(
      'ABORTED',
    );
    expect(Number(second.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect((await first).status).toBe(200);
    expect(t.standIn.calls.create).toBe(1);
  });

  it('identical requests in flight in one instance share the first one’s outcome, each with its own audit event', async () => {
    t.standIn.latencyMs = 300;
    const body = pair();
    const answers = await Promise.all([post(body), post(body), post(body)]);
    expect(answers.map(a => a.status)).toEqual([200, 200, 200]);
    expect(t.standIn.calls.create).toBe(1);
    const events = await auditFor(body.userId);
    expect(events).toHaveLength(3);
    const leader = events.find(e => e.outcome === 'created')!;
    expect(events.filter(e => e.sharedWith === leader.requestId)).toHaveLength(
      2,
    );
  });
});

describe('3. Classroom errors pass through', () => {
  it.each([
    [
      'unknown-user@school.example',
      'STUDENT',
      404,
      'NOT_FOUND',
      'Requested entity was not found.',
    ],
    [
      'untrusted@other.example',
      'STUDENT',
      403,
      'PERMISSION_DENIED',
      '@CannotInviteUserInUntrustedDomain ',
    ],
    [
      'disabled@school.example',
      'STUDENT',
      400,
      'FAILED_PRECONDITION',
      'Precondition check failed.',
    ],
    [
      'member@school.example',
      'TEACHER',
      400,
      'FAILED_PRECONDITION',
      'The user already has this role',
    ],
    [
      'ineligible@school.example',
      'OWNER',
      400,
      'FAILED_PRECONDITION',
      '@IneligibleOwner ',
    ],
  ])(
    '%s as %s: %i %s with Classroom’s exact message',
    async (userId, role, code, status, messageStart) => {
      const res = await post({courseId: `d:errs-${++n}`, userId, role});
      expect(res.status).toBe(code);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.status).toBe(status);
      expect(res.body.error.message.startsWith(messageStart)).toBe(true);
    },
  );

  it('a failed attempt does not block the pair: the next request goes to Classroom again', async () => {
    const body = pair();
    t.standIn.injectFault({
      method: 'create',
      httpStatus: 403,
      status: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    });
    const failed = await post(body).expect(403);
    expect(failed.body.error).toEqual({
      code: 403,
      message: 'The caller does not have permission',
      status: 'PERMISSION_DENIED',
    });
    await post(body).expect(200);
    expect(t.standIn.calls.create).toBe(2);
  });
});

describe('4. Classroom already has the invitation', () => {
  it('with the same role: adopted and answered 200 with the existing invitation', async () => {
    const body = pair('TEACHER');
    const existing = t.standIn.seed(body);
    const res = await post(body).expect(200);
    expect(res.body.id).toBe(existing.id);
    expect(t.standIn.calls.list).toBe(1);
    const repeat = await post(body).expect(200);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(t.standIn.calls.create).toBe(1);
  });

  it('with another role: 409 ALREADY_EXISTS as Classroom answered, and later requests need no call', async () => {
    const body = pair('STUDENT');
    t.standIn.seed({...body, role: 'TEACHER'});
    const res = await post(body).expect(409);
    expect(res.body.error).toEqual({
      code: 409,
      message: 'Requested entity already exists',
      status: 'ALREADY_EXISTS',
    });
    const asTeacher = await post({...body, role: 'TEACHER'}).expect(200);
    expect(asTeacher.headers['idempotent-replayed']).toBe('true');
    expect(t.standIn.calls.create).toBe(1);
  });
});

describe('5. audit', () => {
  it('writes one event per decision with the documented fields, rejected requests included', async () => {
    const body = pair();
    await post(body).expect(200);
    await post(body).expect(200);
    await post({...body, role: 'TEACHER'}).expect(409);
    await post({...body, role: 'NOPE'}).expect(400);
    const events = await auditFor(body.userId);
    const outcomes = events.map(e => e.outcome).sort();
    expect(outcomes).toEqual(['conflict', 'created', 'rejected', 'replayed']);
    const created = events.find(e => e.outcome === 'created')!;
    expect(created).toMatchObject({
      source: 'http',
      caller: 'unverified',
      courseId: body.courseId,
      userId: body.userId,
      role: 'STUDENT',
      httpStatus: 200,
      invitationId: expect.any(String),
      requestId: expect.any(String),
    });
    expect(created.at).toBeDefined();
    const rejected = events.find(e => e.outcome === 'rejected')!;
    expect(rejected).toMatchObject({httpStatus: 400, violations: ['role']});
  });

  it('records the upstream status of a failure, and an unverified token as no more than a claim', async () => {
    const token = [
      'e30',
      Buffer.from(
        JSON.stringify({email: 'sis@district.iam.gserviceaccount.com'}),
      ).toString('base64url'),
      'sig',
    ].join('.');
    const body = {
      courseId: `d:audit-${++n}`,
      userId: 'unknown-9@school.example',
      role: 'STUDENT',
    };
    const res = await request(t.server)
      .post('/v1/invitations')
      .set('Authorization', `Bearer ${token}`)
      .send(body)
      .expect(404);
    const [event] = await auditFor(body.userId);
    expect(event).toMatchObject({
      outcome: 'failed',
      httpStatus: 404,
      upstreamStatus: 'NOT_FOUND',
      caller: 'unverified',
      requestId: res.headers['x-request-id'],
    });
  });
});

describe('logs', () => {
  it('one structured line per request, with the trace and the upstream status', async () => {
    const lines: string[] = [];
    setLogSink(l => lines.push(l));
    try {
      await post({
        courseId: `d:log-${++n}`,
        userId: 'unknown-log@school.example',
        role: 'STUDENT',
      })
        .set('X-Cloud-Trace-Context', '105445aa7843bc8bf206b12000100000/1;o=1')
        .set('Authorization', 'Bearer secret.token.value')
        .expect(404);
    } finally {
      setLogSink(() => undefined);
    }
    const requestLines = lines
      .map(l => JSON.parse(l))
      .filter(l => l.httpRequest);
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({
      severity: 'WARNING',
      outcome: 'failed',
      upstreamStatus: 'NOT_FOUND',
      httpRequest: {requestMethod: 'POST', status: 404},
      'logging.googleapis.com/trace':
        'projects/demo-classroom-gateway/traces/105445aa7843bc8bf206b12000100000',
    });
    expect(lines.join('\n')).not.toContain('secret.token.value');
  });
});

describe('routing', () => {
  it('GET /healthz answers 200', async () => {
    await request(t.server).get('/healthz').expect(200, {status: 'ok'});
  });

  it('unknown paths answer 404 in Google error JSON', async () => {
    const res = await request(t.server).get('/v1/courses').expect(404);
    expect(res.body.error.status).toBe('NOT_FOUND');
  });
});
