// Optional in-function verification of direct callers (CALLER_AUDIENCE, ALLOWED_CALLERS), on top of Cloud
// Run IAM. Tokens are signed here with a test key standing in for Google's published signing keys.
import { createSign, generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import { startTestGateway, TestGateway } from './support/gateway';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KID = 'test-key-1';
const AUDIENCE = 'https://invitations-abc-uc.a.run.app';

function idToken(claims: Record<string, unknown>, key = privateKey, kid = KID): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${enc({ alg: 'RS256', typ: 'JWT', kid })}.${enc({ iss: 'https://accounts.google.com', aud: AUDIENCE, iat: now, exp: now + 600, ...claims })}`;
  const signature = createSign('RSA-SHA256').update(signed).sign(key).toString('base64url');
  return `${signed}.${signature}`;
}

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway('callers', { CALLER_AUDIENCE: AUDIENCE, ALLOWED_CALLERS: 'sis-sync@district.iam.gserviceaccount.com' }, async () => ({
    [KID]: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }));
});
afterAll(() => t.close());
beforeEach(() => t.standIn.reset());

let n = 0;
const post = (token?: string) => {
  const r = request(t.server).post('/v1/invitations');
  const body = { courseId: `d:callers-${++n}`, userId: `c${n}@school.example`, role: 'STUDENT' };
  return (token ? r.set('Authorization', `Bearer ${token}`) : r).send(body);
};

it('an allowed caller with a valid token gets through, and the audit names it', async () => {
  const res = await post(idToken({ email: 'sis-sync@district.iam.gserviceaccount.com', email_verified: true, sub: '1' })).expect(200);
  const [event] = (await t.auditDocs()).filter((e) => e.requestId === res.headers['x-request-id']);
  expect(event).toMatchObject({ caller: 'sis-sync@district.iam.gserviceaccount.com', outcome: 'created' });
});

it.each([
  ['no token', undefined, 401, 'ID_TOKEN_MISSING'],
  ['a token for another audience', idToken({ email: 'sis-sync@district.iam.gserviceaccount.com', aud: 'https://elsewhere' }), 401, 'ID_TOKEN_INVALID'],
  ['an expired token', idToken({ email: 'sis-sync@district.iam.gserviceaccount.com', exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }), 401, 'ID_TOKEN_INVALID'],
  ['a token signed by another key', idToken({ email: 'sis-sync@district.iam.gserviceaccount.com' }, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 401, 'ID_TOKEN_INVALID'],
  ['a forged unsigned token', 'eyJhbGciOiJub25lIn0.' + Buffer.from(JSON.stringify({ email: 'sis-sync@district.iam.gserviceaccount.com', aud: AUDIENCE })).toString('base64url') + '.', 401, 'ID_TOKEN_INVALID'],
  ['a valid token of a caller not allowed', idToken({ email: 'intern@district.example', email_verified: true }), 403, 'CALLER_NOT_ALLOWED'],
])('%s is refused, audited, and nothing is forwarded', async (_name, token, status, reason) => {
  const res = await post(token).expect(status);
  expect(res.body.error.details[0].reason).toBe(reason);
  expect(t.standIn.calls.create).toBe(0);
  const [event] = (await t.auditDocs()).filter((e) => e.requestId === res.headers['x-request-id']);
  expect(event).toMatchObject({ outcome: 'rejected', httpStatus: status });
});
