// Caller identity on /v1/invitations. With CALLER_AUDIENCE + ALLOWED_CALLERS the function verifies the ID token
// itself and lets only allowed identities through; with neither it verifies nothing and says so in the audit.
import request from 'supertest';
import {
  AUDIENCE,
  idToken,
  KID,
  strangerKey,
  testCerts,
  unsignedToken,
} from './support/id-tokens';
import {startTestGateway, TestGateway} from './support/gateway';

const SIS = 'sis-sync@district.iam.gserviceaccount.com';
const verifyingEnv = {CALLER_AUDIENCE: AUDIENCE, ALLOWED_CALLERS: SIS};

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('callers', verifyingEnv, testCerts);
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

let n = 0;
const post = (gw: TestGateway, token?: string) => {
  const r = request(gw.server).post('/v1/invitations');
  const body = {
    courseId: `d:callers-${++n}`,
    userId: `c${n}@school.example`,
    role: 'STUDENT',
  };
  return (token ? r.set('Authorization', `Bearer ${token}`) : r).send(body);
};
const eventOf = async (gw: TestGateway, res: request.Response) =>
  (await gw.auditDocs()).find(e => e.requestId === res.headers['x-request-id']);

describe('with CALLER_AUDIENCE and ALLOWED_CALLERS the function verifies callers itself', () => {
  it('an allowed caller with a valid token gets through, and the audit names it', async () => {
    const res = await post(
      t,
      idToken({email: SIS, email_verified: true, sub: '1'}),
    ).expect(200);
    expect(await eventOf(t, res)).toMatchObject({
      caller: SIS,
      outcome: 'created',
    });
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ['no token', () => undefined, 401, 'ID_TOKEN_MISSING'],
    [
      'a token for another audience',
      () =>
        idToken({email: SIS, email_verified: true, aud: 'https://elsewhere'}),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'an expired token',
      () =>
        idToken({
          email: SIS,
          email_verified: true,
          exp: now() - 3600,
          iat: now() - 7200,
        }),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'a token from another issuer',
      () =>
        idToken({
          email: SIS,
          email_verified: true,
          iss: 'https://evil.example',
        }),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'a token signed by another key under the known key id',
      () => idToken({email: SIS, email_verified: true}, strangerKey()),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'a token signed by a key not in the certificate set',
      () =>
        idToken(
          {email: SIS, email_verified: true},
          strangerKey(),
          'not-a-google-key',
        ),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'an alg:none token naming an allowed email',
      () => unsignedToken({email: SIS, email_verified: true}),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'an alg:none token naming an allowed email under the known key id',
      () => unsignedToken({email: SIS, email_verified: true}, KID),
      401,
      'ID_TOKEN_INVALID',
    ],
    [
      'a valid token of a caller not allowed',
      () => idToken({email: 'intern@district.example', email_verified: true}),
      403,
      'CALLER_NOT_ALLOWED',
    ],
    // Without email_verified the address is not the caller's to claim; the subject is what remains, not allowed.
    [
      'a valid token with an allowed but unverified email',
      () => idToken({email: SIS, sub: '1077'}),
      403,
      'CALLER_NOT_ALLOWED',
    ],
  ])(
    '%s is refused, audited, and nothing is forwarded',
    async (_name, token, status, reason) => {
      const res = await post(t, token()).expect(status);
      expect(res.body.error).toMatchObject({
        code: status,
        details: [expect.objectContaining({reason})],
      });
      expect(t.standIn.calls.create).toBe(0);
      const event = await eventOf(t, res);
      expect(event).toMatchObject({outcome: 'rejected', httpStatus: status});
      // Only a verified identity may stand as the caller.
      if (status === 401) expect(event).toMatchObject({caller: 'unverified'});
    },
  );

  it('a forged token cannot delete an invitation, and the audit does not name whom it claimed to be', async () => {
    const created = await post(
      t,
      idToken({email: SIS, email_verified: true}),
    ).expect(200);
    const id = created.body.id as string;
    const res = await request(t.server)
      .delete(`/v1/invitations/${id}`)
      .set(
        'Authorization',
        `Bearer ${unsignedToken({email: SIS, email_verified: true})}`,
      )
      .expect(401);
    expect(res.body.error.details[0].reason).toBe('ID_TOKEN_INVALID');
    expect(t.standIn.calls.delete).toBe(0);
    expect(await eventOf(t, res)).toMatchObject({
      outcome: 'rejected',
      caller: 'unverified',
    });
  });

  it("Google's certificates out of reach: 503 with Retry-After, never 401, and nothing created", async () => {
    const gw = await startTestGateway(
      'callers-nocerts',
      verifyingEnv,
      async () => {
        throw new Error('connect ECONNREFUSED www.googleapis.com');
      },
    );
    try {
      const res = await post(
        gw,
        idToken({email: SIS, email_verified: true}),
      ).expect(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(res.body.error).toMatchObject({
        code: 503,
        status: 'UNAVAILABLE',
        details: expect.arrayContaining([
          expect.objectContaining({reason: 'ID_TOKEN_CERTS_UNAVAILABLE'}),
          {
            '@type': 'type.googleapis.com/google.rpc.RetryInfo',
            retryDelay: `${res.headers['retry-after']}s`,
          },
        ]),
      });
      expect(gw.standIn.calls.create).toBe(0);
      expect(await eventOf(gw, res)).toMatchObject({
        httpStatus: 503,
        caller: 'unverified',
      });
    } finally {
      await gw.close();
    }
  });
});

describe('with neither setting the function verifies nothing (Cloud Run IAM in front)', () => {
  it('a forged token naming admin@x is audited as unverified, never as admin@x', async () => {
    const gw = await startTestGateway('callers-iam');
    try {
      const res = await post(
        gw,
        unsignedToken({email: 'admin@x.example', email_verified: true}),
      ).expect(200);
      const event = await eventOf(gw, res);
      expect(event).toMatchObject({caller: 'unverified', outcome: 'created'});
      expect(event?.caller).not.toContain('admin');
    } finally {
      await gw.close();
    }
  });
});
