// The stand-in plays keyless domain-wide delegation: signJwt and the JWT-bearer token exchange mint a token
// per impersonated subject, Classroom calls carry that subject, and a revoked subject's exchange is refused.
import {classroom, classroom_v1} from '@googleapis/classroom';
import {
  DelegationEndpoints,
  keylessDelegatedClient,
  Signer,
} from '../functions/delegation';
import {ClassroomStandIn} from '../standin/server';

const standIn = new ClassroomStandIn();
let root: string;
let anonymous: classroom_v1.Classroom;
const opts = {fetchImplementation: fetch, retry: false};
const SA = 'gateway@demo-project.iam.gserviceaccount.com';
const ROSTERS = 'https://www.googleapis.com/auth/classroom.rosters';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const UNAUTHORIZED_CLIENT = {
  error: 'unauthorized_client',
  error_description:
    'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
};
const UNAUTHENTICATED = {
  error: {
    code: 401,
    message:
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    status: 'UNAUTHENTICATED',
  },
};

beforeAll(async () => {
  root = await standIn.start();
  anonymous = classroom({version: 'v1', rootUrl: root});
});
afterAll(() => standIn.stop());
beforeEach(() => standIn.reset());

const b64url = (s: string) => Buffer.from(s).toString('base64url');
const url = (path: string) => new URL(path, root);
const post = (path: string, body: string, contentType = 'application/json') =>
  fetch(url(path), {
    method: 'POST',
    headers: {'Content-Type': contentType},
    body,
  });

/** The production delegation client, its IAM and OAuth endpoints pointed at the stand-in. */
function delegatedApi(subject: string): classroom_v1.Classroom {
  const endpoints: DelegationEndpoints = {
    signJwt: sa =>
      `${root}v1/projects/-/serviceAccounts/${encodeURIComponent(sa)}:signJwt`,
    token: `${root}token`,
  };
  const signer: Signer = {
    request: async <T>(o: {url: string; data: unknown}) => {
      const res = await post(o.url, JSON.stringify(o.data));
      return {data: (await res.json()) as T};
    },
  };
  const auth = keylessDelegatedClient(
    signer,
    SA,
    subject,
    [ROSTERS],
    endpoints,
  );
  return classroom({version: 'v1', rootUrl: root, auth});
}

/** A token exchange as the delegation client makes it, for an assertion naming `sub`. */
async function exchange(sub: string): Promise<Response> {
  const signed = await post(
    `v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}:signJwt`,
    JSON.stringify({payload: JSON.stringify({iss: SA, sub, scope: ROSTERS})}),
  );
  const {signedJwt} = (await signed.json()) as {signedJwt: string};
  return post(
    'token',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: signedJwt,
    }).toString(),
    'application/x-www-form-urlencoded',
  );
}

const newPair = (n: string) => ({
  requestBody: {
    courseId: 'd:subj',
    userId: `${n}@school.example`,
    role: 'STUDENT',
  },
});

async function statusOf(
  p: Promise<unknown>,
): Promise<{status?: number; data?: unknown}> {
  try {
    await p;
    return {status: 200};
  } catch (e) {
    const err = e as {status?: number; response?: {data?: unknown}};
    return {status: err.status, data: err.response?.data};
  }
}

it('the keyless delegation client mints its subject token at the stand-in, and its Classroom calls carry that subject', async () => {
  const api = delegatedApi('admin1@school.example');
  expect((await api.invitations.create(newPair('d1'), opts)).status).toBe(200);
  await api.invitations.list({courseId: 'd:subj'}, opts);
  await anonymous.invitations.list({courseId: 'd:subj'}, opts); // no Authorization: the anonymous subject ""
  expect(standIn.rate().bySubject).toEqual({
    'admin1@school.example': {accepted: 2, throttled: 0},
    '': {accepted: 1, throttled: 0},
  });
  // one token for both calls
  expect(standIn.tokenExchanges()).toEqual({
    'admin1@school.example': {exchanges: 1, refused: 0},
  });
});

it('signJwt answers the claims unsigned under the stand-in header; the exchange answers standin.<b64url(sub)>', async () => {
  const payload = JSON.stringify({
    iss: SA,
    sub: 'Admin2@school.example',
    aud: 'x',
  });
  const signed = await post(
    `v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}:signJwt`,
    JSON.stringify({payload}),
  );
  expect(signed.status).toBe(200);
  const {keyId, signedJwt} = (await signed.json()) as {
    keyId: string;
    signedJwt: string;
  };
  expect(keyId).toBe('standin');
  const [header, claims, signature] = signedJwt.split('.');
  expect(
    JSON.parse(Buffer.from(header!, 'base64url').toString()),
  ).toMatchObject({alg: 'RS256', typ: 'JWT'});
  expect(claims).toBe(b64url(payload));
  expect(signature).toBe('c3RhbmRpbg');

  const token = await post(
    'token',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: signedJwt,
    }).toString(),
    'application/x-www-form-urlencoded',
  );
  expect(token.status).toBe(200);
  expect(await token.json()).toEqual({
    access_token: `standin.${b64url('Admin2@school.example')}`,
    token_type: 'Bearer',
    expires_in: 3600,
  });
});

it('a revoked subject is refused its token with unauthorized_client, a token minted before keeps working, and restore lets it back', async () => {
  const subject = 'admin3@school.example';
  const before = (await (await exchange(subject)).json()) as {
    access_token: string;
  };
  const revoke = await post(
    '__standin/subjects/revoke',
    JSON.stringify({subject}),
  );
  expect(await revoke.json()).toEqual({revoked: [subject]});

  const refused = await exchange(subject);
  expect(refused.status).toBe(401);
  expect(await refused.json()).toEqual(UNAUTHORIZED_CLIENT);
  // what the gateway's client makes of it
  await expect(
    delegatedApi(subject).invitations.create(newPair('r1'), opts),
  ).rejects.toThrow('delegated token refused: 401 unauthorized_client');
  expect(standIn.invitations.size).toBe(0);

  // Google's tokens stay valid until they expire; so do the stand-in's
  const earlier = await statusOf(
    anonymous.invitations.create(newPair('r2'), {
      ...opts,
      headers: {Authorization: `Bearer ${before.access_token}`},
    }),
  );
  expect(earlier.status).toBe(200);
  expect(standIn.rate().bySubject[subject]).toEqual({
    accepted: 1,
    throttled: 0,
  });
  expect(standIn.tokenExchanges()[subject]).toEqual({exchanges: 3, refused: 2});
  expect(await (await fetch(url('__standin/subjects'))).json()).toEqual({
    revoked: [subject],
    exchanges: {[subject]: {exchanges: 3, refused: 2}},
  });

  await post('__standin/subjects/restore', JSON.stringify({subject}));
  expect((await exchange(subject)).status).toBe(200);
  expect(
    (await delegatedApi(subject).invitations.create(newPair('r3'), opts))
      .status,
  ).toBe(200);
});

it('revocation is per subject, in process as over HTTP, and reset clears it', async () => {
  standIn.revokeSubject('a@school.example');
  expect((await exchange('a@school.example')).status).toBe(401);
  expect((await exchange('A@school.example')).status).toBe(200); // compared exactly as written
  expect((await exchange('b@school.example')).status).toBe(200);
  standIn.reset();
  expect(standIn.revokedSubjects()).toEqual([]);
  expect(standIn.tokenExchanges()).toEqual({});
  expect((await exchange('a@school.example')).status).toBe(200);
});

it.each([
  ['a token from Google', 'Bearer ya29.a0AfH6SMB'],
  ['a stand-in token without a subject', 'Bearer standin.'],
  ['a subject that is not base64url', 'Bearer standin.a+b/c='],
  [
    'a non-canonical base64url subject',
    `Bearer standin.${b64url('a@b.c').slice(0, -1)}x`,
  ],
  [
    'invalid UTF-8',
    `Bearer standin.${Buffer.from([0xff, 0xfe]).toString('base64url')}`,
  ],
  ['another scheme', `Basic standin.${b64url('a@b.c')}`],
  ['no scheme', `standin.${b64url('a@b.c')}`],
  ['an empty header', ''],
])(
  '%s is 401 UNAUTHENTICATED, counted nowhere, and makes nothing',
  async (_name, authorization) => {
    const res = await statusOf(
      anonymous.invitations.create(newPair('bad'), {
        ...opts,
        headers: {Authorization: authorization},
      }),
    );
    expect(res).toEqual({status: 401, data: UNAUTHENTICATED});
    expect(standIn.invitations.size).toBe(0);
    expect(standIn.rate().totals).toEqual({accepted: 0, throttled: 0});
  },
);

it('the bearer scheme is case-insensitive, the token is not', async () => {
  const ok = await statusOf(
    anonymous.invitations.list(
      {courseId: 'd:subj'},
      {
        ...opts,
        headers: {
          Authorization: `bEaReR standin.${b64url('c@school.example')}`,
        },
      },
    ),
  );
  expect(ok.status).toBe(200);
  const bad = await statusOf(
    anonymous.invitations.list(
      {courseId: 'd:subj'},
      {
        ...opts,
        headers: {
          Authorization: `Bearer STANDIN.${b64url('c@school.example')}`,
        },
      },
    ),
  );
  expect(bad.status).toBe(401);
});

const assertionOf = (claims: string) =>
  `${b64url('{"alg":"RS256"}')}.${b64url(claims)}.c3RhbmRpbg`;

it.each([
  [
    'no grant_type',
    new URLSearchParams({assertion: assertionOf('{"sub":"a@b.c"}')}),
  ],
  [
    'another grant_type',
    new URLSearchParams({
      grant_type: 'client_credentials',
      assertion: assertionOf('{"sub":"a@b.c"}'),
    }),
  ],
  ['no assertion', new URLSearchParams({grant_type: JWT_BEARER})],
  [
    'an assertion of two parts',
    new URLSearchParams({grant_type: JWT_BEARER, assertion: 'a.b'}),
  ],
  [
    'claims that are not base64url',
    new URLSearchParams({grant_type: JWT_BEARER, assertion: 'a.!!.c'}),
  ],
  [
    'claims that are not JSON',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: assertionOf('sub'),
    }),
  ],
  [
    'claims without sub',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: assertionOf('{"iss":"x"}'),
    }),
  ],
  [
    'a sub that is not a string',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: assertionOf('{"sub":["a@b.c"]}'),
    }),
  ],
  [
    'an empty sub',
    new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: assertionOf('{"sub":""}'),
    }),
  ],
])('a token exchange with %s is 400 invalid_grant', async (_name, form) => {
  const res = await post(
    'token',
    form.toString(),
    'application/x-www-form-urlencoded',
  );
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({
    error: 'invalid_grant',
    error_description: expect.any(String),
  });
  expect(standIn.tokenExchanges()).toEqual({});
});

it.each([
  ['a body that is not JSON', '{"payload":'],
  ['no payload', '{}'],
  ['a payload that is not a string', '{"payload":{"sub":"a@b.c"}}'],
  ['a payload that is not a JSON object', '{"payload":"[1]"}'],
  ['a payload that is not JSON', '{"payload":"sub"}'],
])('signJwt with %s is 400 INVALID_ARGUMENT', async (_name, body) => {
  const res = await post(
    `v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}:signJwt`,
    body,
  );
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({
    error: {code: 400, message: expect.any(String), status: 'INVALID_ARGUMENT'},
  });
});

it.each([['{"subject":""}'], ['{"subject":5}'], ['{}'], ['{"subject":']])(
  'POST /__standin/subjects/revoke %s is 400 and revokes nothing',
  async body => {
    const res = await post('__standin/subjects/revoke', body);
    expect(res.status).toBe(400);
    expect(standIn.revokedSubjects()).toEqual([]);
  },
);

it('a subject named __proto__ is a plain key in the counts', async () => {
  const res = await exchange('__proto__');
  const {access_token} = (await res.json()) as {access_token: string};
  await anonymous.invitations.list(
    {courseId: 'd:subj'},
    {
      ...opts,
      headers: {Authorization: `Bearer ${access_token}`},
    },
  );
  expect(Object.keys(standIn.rate().bySubject)).toEqual(['__proto__']);
  expect(Object.keys(standIn.tokenExchanges())).toEqual(['__proto__']);
  expect(Object.getPrototypeOf(standIn.rate().bySubject)).toBe(
    Object.prototype,
  );
});
