import {ApiError} from '../../functions/errors';
import {
  parseCreateRequest,
  validateInvitation,
} from '../../functions/validation';

const json = (body: unknown) => ({
  contentType: 'application/json',
  rawBody: Buffer.from(JSON.stringify(body)),
  body,
});
const catchApiError = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected an ApiError');
};
const violationsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect(err.httpStatus).toBe(400);
    expect(err.status).toBe('INVALID_ARGUMENT');
    return (
      err.body.details?.[0] as {
        fieldViolations: {field: string; description: string}[];
      }
    ).fieldViolations;
  }
  throw new Error('expected a validation error');
};

describe('userId', () => {
  it.each(['ada@school.example', 'a.b+c@sub.school.example', '1234567890'])(
    'accepts %s',
    userId => {
      expect(
        validateInvitation({userId, courseId: '1', role: 'STUDENT'}).userId,
      ).toBe(userId.toLowerCase());
    },
  );
  it('lower-cases email addresses so one person has one ledger entry', () => {
    expect(
      validateInvitation({
        userId: 'Ada@School.Example',
        courseId: '1',
        role: 'STUDENT',
      }).userId,
    ).toBe('ada@school.example');
  });
  it.each([
    'me',
    'ada',
    'ada@',
    '@school.example',
    'a b@school.example',
    '',
    '12a',
    42,
    null,
    `${'a'.repeat(250)}@x.example`,
  ])('refuses %p', userId => {
    expect(
      violationsOf(() =>
        validateInvitation({userId, courseId: '1', role: 'STUDENT'}),
      ).map(v => v.field),
    ).toEqual(['userId']);
  });
});

describe('courseId', () => {
  it.each(['123', 'd:math_101', 'p:abc123', `d:${'x'.repeat(254)}`])(
    'accepts %s',
    courseId => {
      expect(
        validateInvitation({userId: '1', courseId, role: 'TEACHER'}).courseId,
      ).toBe(courseId);
    },
  );
  it.each(['', 'x:1', 'd:', 'd:has space', 'math', `d:${'x'.repeat(255)}`, 7])(
    'refuses %p',
    courseId => {
      expect(
        violationsOf(() =>
          validateInvitation({userId: '1', courseId, role: 'TEACHER'}),
        ).map(v => v.field),
      ).toEqual(['courseId']);
    },
  );
});

describe('role and other fields', () => {
  it.each(['STUDENT', 'TEACHER', 'OWNER'])('accepts %s', role => {
    expect(validateInvitation({userId: '1', courseId: '1', role}).role).toBe(
      role,
    );
  });
  it.each(['student', 'COURSE_ROLE_UNSPECIFIED', 'ADMIN', '', 1])(
    'refuses role %p',
    role => {
      expect(
        violationsOf(() =>
          validateInvitation({userId: '1', courseId: '1', role}),
        ).map(v => v.field),
      ).toEqual(['role']);
    },
  );
  it('refuses the read-only id and unknown fields, naming each', () => {
    const v = violationsOf(() =>
      validateInvitation({
        userId: '1',
        courseId: '1',
        role: 'OWNER',
        id: 'x',
        colour: 'red',
      }),
    );
    expect(v).toEqual([
      {
        field: 'id',
        description: 'id is assigned by Classroom and is read-only',
      },
      {field: 'colour', description: 'unknown field "colour"'},
    ]);
  });
  it('reports every bad field at once', () => {
    expect(
      violationsOf(() => validateInvitation({}))
        .map(v => v.field)
        .sort(),
    ).toEqual(['courseId', 'role', 'userId']);
  });
});

describe('the envelope', () => {
  it('needs a JSON content type', () => {
    expect(() =>
      parseCreateRequest({...json({}), contentType: 'text/plain'}),
    ).toThrow(/Content-Type: application\/json/);
    expect(() =>
      parseCreateRequest({...json({}), contentType: undefined}),
    ).toThrow(ApiError);
  });
  it('accepts a charset parameter', () => {
    const body = {userId: '1', courseId: '1', role: 'STUDENT'};
    expect(
      parseCreateRequest({
        ...json(body),
        contentType: 'application/json; charset=utf-8',
      }),
    ).toEqual(body);
  });
  it('refuses bodies over 16 KiB with 413 OUT_OF_RANGE', () => {
    const body = {userId: '1', courseId: '1', role: 'STUDENT'};
    const padded = (size: number) =>
      Buffer.from(JSON.stringify(body).padEnd(size, ' '));
    const refusal = catchApiError(() =>
      parseCreateRequest({...json(body), rawBody: padded(16 * 1024 + 1)}),
    );
    expect([refusal.httpStatus, refusal.body.code, refusal.status]).toEqual([
      413,
      413,
      'OUT_OF_RANGE',
    ]);
    expect(refusal.body.details).toEqual([
      expect.objectContaining({
        reason: 'BODY_TOO_LARGE',
        metadata: {limitBytes: '16384'},
      }),
    ]);
    expect(
      parseCreateRequest({...json(body), rawBody: padded(16 * 1024)}),
    ).toEqual(body);
  });
  it('parses the bytes, not a body parsed by someone else', () => {
    const body = {userId: '1', courseId: '1', role: 'STUDENT'};
    expect(
      parseCreateRequest({
        contentType: 'application/json',
        rawBody: Buffer.from(JSON.stringify(body)),
        body: {userId: 'other'},
      }),
    ).toEqual(body);
  });
  it.each([
    ['a truncated object', '{"userId": '],
    ['a trailing comma', '{"userId": "1",}'],
    [
      'bytes that are not UTF-8',
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    ],
    ['only whitespace', '   '],
  ])('refuses %s with 400 ENTITY_PARSE_FAILED', (_name, bytes) => {
    const e = catchApiError(() =>
      parseCreateRequest({
        contentType: 'application/json',
        rawBody: Buffer.from(bytes),
        body: undefined,
      }),
    );
    expect([e.httpStatus, e.body.code, e.status]).toEqual([
      400,
      400,
      'INVALID_ARGUMENT',
    ]);
    expect(e.body.details).toEqual([
      expect.objectContaining({reason: 'ENTITY_PARSE_FAILED'}),
    ]);
  });
  it('reads an empty body as {} (every field is then required) and ignores a UTF-8 byte order mark', () => {
    const required = violationsOf(() =>
      parseCreateRequest({
        contentType: 'application/json',
        rawBody: Buffer.alloc(0),
        body: undefined,
      }),
    );
    expect(required.map(v => v.field).sort()).toEqual([
      'courseId',
      'role',
      'userId',
    ]);
    const body = {userId: '1', courseId: '1', role: 'STUDENT'};
    expect(
      parseCreateRequest({
        ...json(body),
        rawBody: Buffer.concat([
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from(JSON.stringify(body)),
        ]),
      }),
    ).toEqual(body);
  });
  it('takes JSON only in UTF-8: another charset is 415 (code 415), any spelling of UTF-8 is fine', () => {
    for (const charset of ['utf-16', 'iso-8859-1', 'latin1']) {
      const e = catchApiError(() =>
        parseCreateRequest({
          ...json({}),
          contentType: `application/json; charset=${charset}`,
        }),
      );
      expect([e.httpStatus, e.body.code, e.status]).toEqual([
        415,
        415,
        'INVALID_ARGUMENT',
      ]);
      expect(e.body.details).toEqual([
        expect.objectContaining({reason: 'CHARSET_UNSUPPORTED'}),
      ]);
    }
    const body = {userId: '1', courseId: '1', role: 'STUDENT'};
    for (const contentType of [
      'application/json; charset=UTF-8',
      'application/json;charset="utf-8"',
      'Application/JSON; charset=utf8',
    ]) {
      expect(parseCreateRequest({...json(body), contentType})).toEqual(body);
    }
  });
  it.each([[[1]], ['str'], [null], [3]])(
    'refuses a body that is not an object: %p',
    body => {
      expect(() => parseCreateRequest(json(body))).toThrow(
        /must be a JSON object/,
      );
    },
  );
});

describe('unknown field names chosen by a sender', () => {
  it('are echoed escaped and cut at 64 characters, and at most 50 are listed', () => {
    const hostile = `\u001b[31m${'k'.repeat(15_000)}`;
    const many = Object.fromEntries(
      Array.from({length: 200}, (_, i) => [`f${i}`, 1]),
    );
    let err: unknown;
    try {
      validateInvitation({
        [hostile]: 1,
        ...many,
        userId: 'a@b.example',
        courseId: '1',
        role: 'STUDENT',
      });
    } catch (e) {
      err = e;
    }
    const violations = (err as ApiError).body.details![0] as {
      fieldViolations: {field: string}[];
    };
    expect(violations.fieldViolations).toHaveLength(50);
    const first = violations.fieldViolations[0]!.field;
    expect(first.startsWith('\\u001b[31m')).toBe(true);
    expect(first.length).toBeLessThanOrEqual(64);
    expect(
      // eslint-disable-next-line no-control-regex -- control characters are what this matches
      violations.fieldViolations.every(v => !/[\u0000-\u001f]/.test(v.field)),
    ).toBe(true);
  });
});
