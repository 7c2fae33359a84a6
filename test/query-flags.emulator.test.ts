// Boolean query parameters of POST /v1/invitations (?validateOnly, ?replace) are strict, as in Google APIs:
// absent, `true` or `false`, once. Anything else is refused before anything is done.
import request from 'supertest';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let n = 0;
const pair = () => ({
  courseId: `d:flags-${++n}`,
  userId: `flags${n}@school.example`,
  role: 'STUDENT',
});

beforeAll(async () => {
  t = await startTestGateway('flags');
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

it.each([
  ['?validateOnly=TRUE', 'validateOnly'],
  ['?validateOnly=1', 'validateOnly'],
  ['?validateOnly', 'validateOnly'],
  ['?replace=yes', 'replace'],
  ['?validateOnly=true&validateOnly=false', 'validateOnly'],
  ['?replace=false&replace=false', 'replace'],
])('%s is a 400 naming %s, and creates nothing', async (query, field) => {
  const body = pair();
  const res = await request(t.server)
    .post(`/v1/invitations${query}`)
    .send(body)
    .expect(400);
  expect(res.body.error).toMatchObject({code: 400, status: 'INVALID_ARGUMENT'});
  expect(res.body.error.details).toEqual([
    {
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{field, description: expect.any(String)}],
    },
  ]);
  expect(t.standIn.calls.create).toBe(0);
  expect(t.standIn.invitations.size).toBe(0);
  expect((await t.ledgerDocs()).filter(e => e.userId === body.userId)).toEqual(
    [],
  );
  // refused like any invalid request: audited as rejected under the answer's request id
  const requestId = res.headers['x-request-id'];
  expect((await t.auditDocs()).filter(e => e.requestId === requestId)).toEqual([
    expect.objectContaining({outcome: 'rejected', httpStatus: 400}),
  ]);
});

it('both flags are named when both are wrong', async () => {
  const res = await request(t.server)
    .post('/v1/invitations?validateOnly=True&replace=1')
    .send(pair())
    .expect(400);
  expect(
    res.body.error.details[0].fieldViolations.map(
      (v: {field: string}) => v.field,
    ),
  ).toEqual(['replace', 'validateOnly']);
  expect(t.standIn.calls.create).toBe(0);
});
