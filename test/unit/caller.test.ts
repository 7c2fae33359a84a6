import {ConfigError} from '../../functions/config';
import {CallerVerifier, claimedCaller} from '../../functions/http/caller';
import {setLogSink} from '../../functions/logs';
import {
  AUDIENCE,
  idToken,
  testCerts,
  unsignedToken,
} from '../support/id-tokens';

const bearer = (claims: object) =>
  `Bearer e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const SIS = 'sis@x.iam.gserviceaccount.com';

describe('the claimed caller (what an unverified token says)', () => {
  it('is the email of the ID token', () =>
    expect(claimedCaller(bearer({email: SIS, sub: '1'}))).toBe(SIS));
  it('falls back to the subject', () =>
    expect(claimedCaller(bearer({sub: '123'}))).toBe('123'));
  it.each([
    undefined,
    '',
    'Basic abc',
    'Bearer not-a-jwt',
    'Bearer a.%%%.c',
    bearer({email: 42}),
    bearer({email: '\u001b\u0007'}),
  ])('is absent for %p', h => expect(claimedCaller(h)).toBeUndefined());
  it('loses control characters and bidi overrides, so that it cannot act on a terminal or read backwards', () => {
    expect(
      claimedCaller(
        bearer({email: 'a\u001b[31mdmin\u009b2J@x\u202e.example\r\n'}),
      ),
    ).toBe('a[31mdmin2J@x.example');
  });
  it('is at most 256 characters, never ending in half a surrogate pair', () => {
    expect(claimedCaller(bearer({email: 'a'.repeat(100_000)}))).toHaveLength(
      256,
    );
    const emoji = claimedCaller(bearer({email: 'a'.repeat(255) + '😀😀'}))!;
    expect(emoji).toBe('a'.repeat(255));
    expect(emoji).not.toMatch(/[\ud800-\udbff]$/);
  });
});

describe('the verifier', () => {
  beforeAll(() => setLogSink(() => undefined));
  afterAll(() => setLogSink(undefined));

  it.each([
    [AUDIENCE, []],
    [undefined, [SIS]],
  ] as const)(
    'refuses to be half configured (audience %p, allowed %p)',
    (audience, allowed) => {
      expect(() => new CallerVerifier(audience, [...allowed])).toThrow(
        ConfigError,
      );
    },
  );

  it('without settings, a token is a claim: the caller is `unverified`, the claim kept apart', async () => {
    const v = new CallerVerifier(undefined, []);
    expect(
      await v.identify(`Bearer ${unsignedToken({email: 'admin@x.example'})}`),
    ).toEqual({caller: 'unverified', claimedCaller: 'admin@x.example'});
    expect(await v.identify(undefined)).toEqual({caller: 'unverified'});
  });

  it('a refused token leaves its claim as evidence, never as the caller', async () => {
    const v = new CallerVerifier(AUDIENCE, [SIS], testCerts);
    const who = await v.identify(
      `Bearer ${unsignedToken({email: SIS, email_verified: true})}`,
    );
    expect(who).toMatchObject({
      caller: 'unverified',
      claimedCaller: SIS,
      error: {httpStatus: 401},
    });
  });

  it.each([
    [
      'alg none',
      unsignedToken({email: SIS, email_verified: true}, 'test-key-1'),
    ],
    [
      'HS256 (a key confused with a secret)',
      `${Buffer.from(JSON.stringify({alg: 'HS256', kid: 'test-key-1'})).toString('base64url')}.${Buffer.from(JSON.stringify({email: SIS})).toString('base64url')}.c2ln`,
    ],
    [
      'no key id',
      `${Buffer.from(JSON.stringify({alg: 'RS256'})).toString('base64url')}.${Buffer.from(JSON.stringify({email: SIS})).toString('base64url')}.c2ln`,
    ],
  ])(
    'a token that cannot be Google-signed (%s) is a 401 even while the keys are out of reach, and fetches none',
    async (_name, token) => {
      let fetches = 0;
      const v = new CallerVerifier(AUDIENCE, [SIS], async () => {
        fetches++;
        throw new Error('unreachable');
      });
      expect(await v.identify(`Bearer ${token}`)).toMatchObject({
        caller: 'unverified',
        error: {httpStatus: 401},
      });
      expect(fetches).toBe(0);
    },
  );

  it('concurrent first requests fetch the certificates once', async () => {
    let fetches = 0;
    const v = new CallerVerifier(AUDIENCE, [SIS], async () => {
      fetches++;
      await new Promise(r => setTimeout(r, 20));
      return testCerts();
    });
    const token = `Bearer ${idToken({email: SIS, email_verified: true})}`;
    const all = await Promise.all(
      Array.from({length: 20}, () => v.identify(token)),
    );
    expect(all.every(w => !('error' in w) && w.caller === SIS)).toBe(true);
    expect(fetches).toBe(1);
  });

  it.each([
    ['an empty key set', async () => ({})],
    [
      'a key set that is not PEM by key id',
      async () => ({k: 7}) as unknown as Record<string, string>,
    ],
  ])('%s from Google is a 503, not a 401', async (_name, certs) => {
    const v = new CallerVerifier(AUDIENCE, [SIS], certs);
    const who = await v.identify(
      `Bearer ${idToken({email: SIS, email_verified: true})}`,
    );
    expect(who).toMatchObject({
      caller: 'unverified',
      error: {
        httpStatus: 503,
        headers: {'Retry-After': expect.stringMatching(/^\d+$/)},
      },
    });
  });

  it('a certificate endpoint that never answers is a 503 within seconds', async () => {
    jest.useFakeTimers();
    try {
      const v = new CallerVerifier(
        AUDIENCE,
        [SIS],
        () => new Promise(() => undefined),
      );
      const pending = v.identify(
        `Bearer ${idToken({email: SIS, email_verified: true})}`,
      );
      await jest.advanceTimersByTimeAsync(5000);
      expect(await pending).toMatchObject({
        error: {httpStatus: 503, body: {status: 'UNAVAILABLE'}},
      });
    } finally {
      jest.useRealTimers();
    }
  });
});
