import { ApiError } from '../../functions/errors';
import { parseCreateRequest, validateInvitation } from '../../functions/validation';

const json = (body: unknown) => ({ contentType: 'application/json', rawBody: Buffer.from(JSON.stringify(body)), body });
const violationsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const err = e as ApiError;
    expect(err.httpStatus).toBe(400);
    expect(err.status).toBe('INVALID_ARGUMENT');
    return (err.body.details?.[0] as { fieldViolations: { field: string; description: string }[] }).fieldViolations;
  }
  throw new Error('expected a validation error');
};

describe('userId', () => {
  it.each(['ada@school.example', 'a.b+c@sub.school.example', '1234567890'])('accepts %s', (userId) => {
    expect(validateInvitation({ userId, courseId: '1', role: 'STUDENT' }).userId).toBe(userId.toLowerCase());
  });
  it('lower-cases email addresses so one person has one ledger entry', () => {
    expect(validateInvitation({ userId: 'Ada@School.Example', courseId: '1', role: 'STUDENT' }).userId).toBe('ada@school.example');
  });
  it.each(['me', 'ada', 'ada@', '@school.example', 'a b@school.example', '', '12a', 42, null, `${'a'.repeat(250)}@x.example`])('refuses %p', (userId) => {
    expect(violationsOf(() => validateInvitation({ userId, courseId: '1', role: 'STUDENT' })).map((v) => v.field)).toEqual(['userId']);
  });
});

describe('courseId', () => {
  it.each(['123', 'd:math_101', 'p:abc123', `d:${'x'.repeat(254)}`])('accepts %s', (courseId) => {
    expect(validateInvitation({ userId: '1', courseId, role: 'TEACHER' }).courseId).toBe(courseId);
  });
  it.each(['', 'x:1', 'd:', 'd:has space', 'math', `d:${'x'.repeat(255)}`, 7])('refuses %p', (courseId) => {
    expect(violationsOf(() => validateInvitation({ userId: '1', courseId, role: 'TEACHER' })).map((v) => v.field)).toEqual(['courseId']);
  });
});

describe('role and other fields', () => {
  it.each(['STUDENT', 'TEACHER', 'OWNER'])('accepts %s', (role) => {
    expect(validateInvitation({ userId: '1', courseId: '1', role }).role).toBe(role);
  });
  it.each(['student', 'COURSE_ROLE_UNSPECIFIED', 'ADMIN', '', 1])('refuses role %p', (role) => {
    expect(violationsOf(() => validateInvitation({ userId: '1', courseId: '1', role })).map((v) => v.field)).toEqual(['role']);
  });
  it('refuses the read-only id and unknown fields, naming each', () => {
    const v = violationsOf(() => validateInvitation({ userId: '1', courseId: '1', role: 'OWNER', id: 'x', colour: 'red' }));
    expect(v).toEqual([
      { field: 'id', description: 'id is assigned by Classroom and is read-only' },
      { field: 'colour', description: 'unknown field "colour"' },
    ]);
  });
  it('reports every bad field at once', () => {
    expect(violationsOf(() => validateInvitation({})).map((v) => v.field).sort()).toEqual(['courseId', 'role', 'userId']);
  });
});

describe('the envelope', () => {
  it('needs a JSON content type', () => {
    expect(() => parseCreateRequest({ ...json({}), contentType: 'text/plain' })).toThrow(/Content-Type: application\/json/);
    expect(() => parseCreateRequest({ ...json({}), contentType: undefined })).toThrow(ApiError);
  });
  it('accepts a charset parameter', () => {
    const body = { userId: '1', courseId: '1', role: 'STUDENT' };
    expect(parseCreateRequest({ ...json(body), contentType: 'application/json; charset=utf-8' })).toEqual(body);
  });
  it('refuses bodies over 16 KiB', () => {
    const body = { userId: '1', courseId: '1', role: 'STUDENT' };
    expect(() => parseCreateRequest({ ...json(body), rawBody: Buffer.alloc(16 * 1024 + 1) })).toThrow(/at most 16384/);
    expect(parseCreateRequest({ ...json(body), rawBody: Buffer.alloc(16 * 1024) })).toEqual(body);
  });
  it.each([[[1]], ['str'], [null], [3]])('refuses a body that is not an object: %p', (body) => {
    expect(() => parseCreateRequest(json(body))).toThrow(/must be a JSON object/);
  });
});
