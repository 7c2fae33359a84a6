import {ConfigError, parseConfig} from '../../functions/config';

describe('configuration', () => {
  it('defaults to the real Classroom API with credentials', () => {
    const c = parseConfig({});
    expect(c.classroomRootUrl).toBe('https://classroom.googleapis.com/');
    expect(c.classroomIsLocal).toBe(false);
    expect(c.collectionPrefix).toBe('');
    expect(c.leaseMs).toBe(60_000);
    expect(c.inflightWaitMs).toBe(3000);
  });
  it.each([
    'http://127.0.0.1:8090',
    'http://localhost:8090/',
    'http://[::1]:1/',
  ])('sends no credentials to a loopback stand-in at %s', url => {
    expect(parseConfig({CLASSROOM_ROOT_URL: url}).classroomIsLocal).toBe(true);
  });
  it('one bad configuration names every bad setting at once, the rules across settings included', () => {
    let refused: unknown;
    try {
      parseConfig({
        LEASE_SECONDS: '0',
        CLASSROOM_ROOT_URL: 'http://classroom.example.com/',
        CALLER_AUDIENCE: 'https://invitations.example',
        CLASSROOM_SUBJECT: 'a@district.example',
        CLASSROOM_SUBJECTS: 'b@district.example',
      });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    const err = refused as ConfigError;
    expect(err.variables).toEqual([
      'CLASSROOM_ROOT_URL',
      'LEASE_SECONDS',
      'CALLER_AUDIENCE',
      'ALLOWED_CALLERS',
      'CLASSROOM_SUBJECT',
      'CLASSROOM_SUBJECTS',
    ]);
    for (const v of err.variables) expect(err.message).toContain(v);
    // Each message names its variable once.
    expect(err.message).not.toMatch(/LEASE_SECONDS: LEASE_SECONDS/);
  });
  it('a rule across settings whose own setting is bad is left to that setting’s message', () => {
    expect(() => parseConfig({ALLOWED_CALLERS: '*@district.example'})).toThrow(
      /^ALLOWED_CALLERS: "\*@district.example" is neither/,
    );
  });
  it('refuses plain http anywhere but loopback', () => {
    expect(() =>
      parseConfig({CLASSROOM_ROOT_URL: 'http://classroom.example.com/'}),
    ).toThrow(ConfigError);
  });
  it('keeps only the origin of the root URL, as the client library does', () => {
    expect(
      parseConfig({CLASSROOM_ROOT_URL: 'https://proxy.example.com/some/path'})
        .classroomRootUrl,
    ).toBe('https://proxy.example.com/');
  });
  it.each([
    ['LEASE_SECONDS', '0'],
    ['INFLIGHT_WAIT_MS', 'soon'],
    ['COLLECTION_PREFIX', 'a/b'],
    ['CLASSROOM_ROOT_URL', 'not a url'],
    ['CIRCUIT_FAILURE_THRESHOLD', '-1'],
    ['CIRCUIT_FAILURE_THRESHOLD', '2.5'],
    ['CIRCUIT_OPEN_SECONDS', '0'],
    ['CIRCUIT_MAX_OPEN_SECONDS', '3601'],
  ])('refuses %s=%s with a clear message', (name, value) => {
    expect(() => parseConfig({[name]: value})).toThrow(new RegExp(name));
  });
  it('the circuit breaker opens after 5 consecutive failures, for 10 s doubling up to 60 s, unless told otherwise', () => {
    expect(parseConfig({}).circuit).toEqual({
      failureThreshold: 5,
      openMs: 10_000,
      maxOpenMs: 60_000,
    });
    expect(
      parseConfig({CIRCUIT_FAILURE_THRESHOLD: '0'}).circuit.failureThreshold,
    ).toBe(0);
    // The cap never undercuts the first interval.
    expect(parseConfig({CIRCUIT_OPEN_SECONDS: '120'}).circuit).toMatchObject({
      openMs: 120_000,
      maxOpenMs: 120_000,
    });
  });
  it('reads the subject for domain-wide delegation', () => {
    expect(
      parseConfig({CLASSROOM_SUBJECT: ' admin@district.example '})
        .classroomSubjects,
    ).toEqual(['admin@district.example']);
  });
  it('reads a pool of subjects, lower case, and refuses ambiguity', () => {
    expect(
      parseConfig({
        CLASSROOM_SUBJECTS: 'Admin1@district.example  admin2@district.example',
      }).classroomSubjects,
    ).toEqual(['admin1@district.example', 'admin2@district.example']);
    expect(parseConfig({}).classroomSubjects).toEqual([]);
    expect(() =>
      parseConfig({
        CLASSROOM_SUBJECT: 'a@district.example',
        CLASSROOM_SUBJECTS: 'b@district.example',
      }),
    ).toThrow(/CLASSROOM_SUBJECT and CLASSROOM_SUBJECTS are both set/);
    expect(() =>
      parseConfig({
        CLASSROOM_SUBJECTS: 'a@district.example A@district.example',
      }),
    ).toThrow(/lists a@district.example twice/);
    expect(() => parseConfig({CLASSROOM_SUBJECTS: 'not-an-email'})).toThrow(
      /CLASSROOM_SUBJECTS: "not-an-email" is not an email address/,
    );
    expect(() => parseConfig({CLASSROOM_SUBJECT: 'admin'})).toThrow(
      /CLASSROOM_SUBJECT: "admin" is not an email address/,
    );
    // Each admin also names Firestore documents of the pacer: nothing odd gets through, and the message names the
    // variable once.
    for (const odd of [
      'a/b@district.example',
      'a~b@district.example',
      'josé@district.example',
      `${'a'.repeat(250)}@d.example`,
    ])
      expect(() => parseConfig({CLASSROOM_SUBJECTS: odd})).toThrow(
        /^CLASSROOM_SUBJECTS: "[^"]*" is not an email address$/,
      );
  });
  it('paces at a margin under the quota unless told otherwise', () => {
    expect(parseConfig({}).pacer).toEqual({subjectQps: 19, projectQps: 47});
    expect(
      parseConfig({CLASSROOM_QPS: '10', CLASSROOM_PROJECT_QPS: '30'}).pacer,
    ).toEqual({subjectQps: 10, projectQps: 30});
    expect(() => parseConfig({CLASSROOM_QPS: '0'})).toThrow(/CLASSROOM_QPS/);
  });
});

describe('caller verification settings', () => {
  const audience = 'https://invitations-abc-uc.a.run.app';
  it.each([
    [
      'ALLOWED_CALLERS without CALLER_AUDIENCE (an allow-list over identities nobody verified)',
      {ALLOWED_CALLERS: 'sis@x.iam.gserviceaccount.com'},
    ],
    [
      'CALLER_AUDIENCE without ALLOWED_CALLERS (any Google account would pass)',
      {CALLER_AUDIENCE: audience},
    ],
    [
      'ALLOWED_CALLERS with a blank CALLER_AUDIENCE',
      {ALLOWED_CALLERS: 'sis@x.iam.gserviceaccount.com', CALLER_AUDIENCE: '  '},
    ],
    [
      'CALLER_AUDIENCE with an ALLOWED_CALLERS of separators only',
      {CALLER_AUDIENCE: audience, ALLOWED_CALLERS: ' , '},
    ],
  ])('%s is a configuration error naming both variables', (_name, env) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(/CALLER_AUDIENCE.*ALLOWED_CALLERS/);
  });
  it.each(['*@district.example', 'district.example', 'sis'])(
    'an allowed caller %p that no verified identity could ever be is refused',
    entry => {
      expect(() =>
        parseConfig({CALLER_AUDIENCE: audience, ALLOWED_CALLERS: entry}),
      ).toThrow(/ALLOWED_CALLERS/);
    },
  );
});
