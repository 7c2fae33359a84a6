// Bad input at volume (fast-check): whatever a caller sends, never a 5xx, never a Classroom call for an
// invalid body, and the instance keeps serving.
import {randomBytes} from 'node:crypto';
import fc from 'fast-check';
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('fuzz', {WEBHOOK_SECRETS: secret});
});
afterAll(() => t.close());

const valid = fc.record({
  courseId: fc.oneof(
    fc.stringMatching(/^[0-9]{1,12}$/),
    fc.stringMatching(/^[dp]:[a-z0-9_-]{1,20}$/),
  ),
  userId: fc.oneof(
    fc.stringMatching(/^[0-9]{1,15}$/),
    fc.stringMatching(/^[a-z]{1,10}@[a-z]{1,8}\.example$/),
  ),
  role: fc.constantFrom('STUDENT', 'TEACHER', 'OWNER'),
});

/** A valid invitation with one thing broken: a field removed, retyped, misspelled, or one added. */
const broken = fc
  .tuple(
    valid,
    fc.constantFrom('courseId', 'userId', 'role'),
    fc.nat(4),
    fc.jsonValue(),
  )
  .map(([v, field, how, junk]) => {
    const b: Record<string, unknown> = {...v};
    if (how === 0) delete b[field];
    else if (how === 1)
      b[field] = typeof junk === 'string' ? 42 : (junk ?? null);
    else if (how === 2) b[field] = `${String(b[field])} `;
    else if (how === 3) b.id = 'read-only';
    else b[`${field}X`] = junk;
    return b;
  });

const headerValue = fc.string({
  unit: fc.integer({min: 0x20, max: 0x7e}).map(c => String.fromCharCode(c)),
  maxLength: 300,
});
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'application/json; charset=latin1',
  'multipart/form-data; boundary=x',
  'application/cloudevents+json',
);

async function send(
  body: string,
  type: string | undefined,
  headers: Record<string, string> = {},
) {
  const before = t.standIn.calls.create;
  let r = request(t.server).post('/v1/invitations');
  if (type) r = r.set('Content-Type', type);
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  const res = await r.send(body);
  return {res, creates: t.standIn.calls.create - before};
}

it('broken invitations are always 400 INVALID_ARGUMENT and never reach Classroom', async () => {
  await fc.assert(
    fc.asyncProperty(broken, async b => {
      const {res, creates} = await send(JSON.stringify(b), 'application/json');
      expect(res.status).toBe(400);
      expect(res.body.error.status).toBe('INVALID_ARGUMENT');
      expect(creates).toBe(0);
    }),
    {numRuns: 120},
  );
});

it('any JSON value, any bytes, any content type: never a 5xx, and nothing forwarded unless valid', async () => {
  const payload = fc.oneof(
    fc.jsonValue().map(v => JSON.stringify(v)),
    fc.string({maxLength: 200}),
    fc.base64String({maxLength: 200}),
  );
  await fc.assert(
    fc.asyncProperty(payload, contentType, async (raw, type) => {
      const {res, creates} = await send(raw, type);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body.error ?? res.body.id).toBeDefined();
      if (res.status === 400) expect(creates).toBe(0);
    }),
    {numRuns: 150},
  );
});

it('any Idempotency-Key and Authorization header: never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(valid, headerValue, headerValue, async (b, key, auth) => {
      const {res} = await send(JSON.stringify(b), 'application/json', {
        'Idempotency-Key': key,
        Authorization: auth,
      });
      expect(res.status).toBeLessThan(500);
    }),
    {numRuns: 100},
  );
});

it('signed webhook deliveries of any shape: never a 5xx, and nothing forwarded unless the event is valid', async () => {
  const enrollment = fc.record(
    {
      sourcedId: fc.oneof(fc.string({maxLength: 10}), fc.integer()),
      status: fc.constantFrom('active', 'tobedeleted', 'inactive', 'gone', 7),
      role: fc.oneof(
        fc.constantFrom(
          'student',
          'teacher',
          'administrator',
          'proctor',
          'ext:guardian',
        ),
        fc.jsonValue(),
      ),
      user: fc.record(
        {
          sourcedId: fc.string({maxLength: 5}),
          email: fc.oneof(
            fc.stringMatching(/^[a-z]{1,6}@school\.example$/),
            fc.string({maxLength: 10}),
          ),
        },
        {requiredKeys: []},
      ),
      class: fc.record(
        {
          sourcedId: fc.oneof(
            fc.stringMatching(/^[a-z0-9-]{1,8}$/),
            fc.string({maxLength: 8}),
          ),
        },
        {requiredKeys: []},
      ),
    },
    {requiredKeys: []},
  );
  const payload = fc.oneof(
    fc
      .record({
        type: fc.constantFrom('enrollments.created', 'x'),
        timestamp: fc.constantFrom('2026-09-01T07:00:00Z', 'soon'),
        data: fc.record({enrollments: fc.array(enrollment, {maxLength: 4})}),
      })
      .map(v => JSON.stringify(v)),
    fc.jsonValue().map(v => JSON.stringify(v)),
    fc.string({maxLength: 100}),
  );
  await fc.assert(
    fc.asyncProperty(payload, async body => {
      const before = t.standIn.calls.create;
      const res = await postWebhook(t.server, secret, body);
      expect(res.status).toBeLessThan(500);
      if (res.status === 400) expect(t.standIn.calls.create).toBe(before);
    }),
    {numRuns: 120},
  );
});

it('keeps serving afterwards', async () => {
  await request(t.server).get('/healthz').expect(200);
  const res = await request(t.server).post('/v1/invitations').send({
    courseId: 'd:after-fuzz',
    userId: 'after@school.example',
    role: 'STUDENT',
  });
  expect(res.status).toBe(200);
});
