// Keyless domain-wide delegation: the assertion signed through the IAM Credentials API and exchanged at the
// token endpoint, both played here by a local server; the official client then sends the delegated token.
import {createServer, IncomingMessage, Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {classroom} from '@googleapis/classroom';
import {
  DelegationEndpoints,
  keylessDelegatedClient,
  Signer,
} from '../../functions/delegation';

interface Seen {
  path: string;
  body: string;
  authorization?: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let tokenAnswer: {status: number; body: object} = {
  status: 200,
  body: {
    access_token: 'ya29.delegated',
    expires_in: 3600,
    token_type: 'Bearer',
  },
};

const read = (req: IncomingMessage) =>
  new Promise<string>(r => {
    let b = '';
    req.on('data', c => (b += c));
    req.on('end', () => r(b));
  });

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await read(req);
    seen.push({
      path: req.url ?? '',
      body,
      authorization: req.headers.authorization,
    });
    res.setHeader('Content-Type', 'application/json');
    if (req.url?.includes(':signJwt'))
      return res.end(
        JSON.stringify({keyId: 'k', signedJwt: 'signed.jwt.value'}),
      );
    if (req.url === '/token') {
      res.statusCode = tokenAnswer.status;
      return res.end(JSON.stringify(tokenAnswer.body));
    }
    res.end(JSON.stringify({})); // the Classroom API call
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>(r => server.close(() => r())));
beforeEach(() => {
  seen.length = 0;
  tokenAnswer = {
    status: 200,
    body: {
      access_token: 'ya29.delegated',
      expires_in: 3600,
      token_type: 'Bearer',
    },
  };
});

const endpoints = (): DelegationEndpoints => ({
  signJwt: sa => `${base}/v1/projects/-/serviceAccounts/${sa}:signJwt`,
  token: `${base}/token`,
});
// Stands in for the metadata-server client: posts as the service account.
const signer: Signer = {
  async request<T>(opts: {url: string; data: unknown}) {
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: {Authorization: 'Bearer metadata-token'},
      body: JSON.stringify(opts.data),
    });
    return {data: (await res.json()) as T};
  },
};
const SA = 'gateway@district.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/classroom.rosters';

it('signs an assertion for the subject and exchanges it for a delegated access token', async () => {
  const client = keylessDelegatedClient(
    signer,
    SA,
    'admin@district.example',
    [SCOPE],
    endpoints(),
    () => 1_800_000_000_000,
  );
  const {token} = await client.getAccessToken();
  expect(token).toBe('ya29.delegated');
  const sign = seen.find(s => s.path.includes(':signJwt'))!;
  expect(sign.path).toBe(`/v1/projects/-/serviceAccounts/${SA}:signJwt`);
  expect(JSON.parse(JSON.parse(sign.body).payload)).toEqual({
    iss: SA,
    sub: 'admin@district.example',
    scope: SCOPE,
    aud: `${base}/token`,
    iat: 1_800_000_000,
    exp: 1_800_003_600,
  });
  const exchange = new URLSearchParams(
    seen.find(s => s.path === '/token')!.body,
  );
  expect(exchange.get('grant_type')).toBe(
    'urn:ietf:params:oauth:grant-type:jwt-bearer',
  );
  expect(exchange.get('assertion')).toBe('signed.jwt.value');
});

it('concurrent first requests share one minting, and the token is reused until it nears expiry', async () => {
  const client = keylessDelegatedClient(
    signer,
    SA,
    'admin@district.example',
    [SCOPE],
    endpoints(),
  );
  await Promise.all(Array.from({length: 10}, () => client.getRequestHeaders()));
  await client.getRequestHeaders();
  expect(seen.filter(s => s.path === '/token')).toHaveLength(1);
});

it('a refused exchange (scope not authorised in the Admin console) fails with the reason', async () => {
  tokenAnswer = {
    status: 401,
    body: {
      error: 'unauthorized_client',
      error_description:
        'Client is unauthorized to retrieve access tokens using this method.',
    },
  };
  const client = keylessDelegatedClient(
    signer,
    SA,
    'admin@district.example',
    [SCOPE],
    endpoints(),
  );
  await expect(client.getAccessToken()).rejects.toThrow(
    /401 unauthorized_client/,
  );
});

it('the official Classroom client sends the delegated token', async () => {
  const auth = keylessDelegatedClient(
    signer,
    SA,
    'admin@district.example',
    [SCOPE],
    endpoints(),
  );
  await classroom({version: 'v1', rootUrl: `${base}/`, auth}).invitations.list(
    {courseId: 'd:x'},
    {fetchImplementation: fetch, retry: false},
  );
  const call = seen.find(s => s.path.startsWith('/v1/invitations'))!;
  expect(call.authorization).toBe('Bearer ya29.delegated');
});
