// functions/webhooks/enrollments.ts. The OneRoster event's shape: ids that are echoed in every result, audit event
// and log line carry no control characters (each would cost six bytes in stored JSON, and raw escapes in a terminal).
// The delivery plan: which enrollments of one delivery run, and in which groups: one group per (course, user) pair,
// and an enrollment superseded by a later active one, or by a later one of the same role.
import {ApiError} from '../../functions/errors';
import {
  Enrollment,
  mapEnrollment,
  parseEvent,
  planDelivery,
} from '../../functions/webhooks/enrollments';

const enrollment = (sourcedId: string, classId = 'math-101') => ({
  sourcedId,
  status: 'active',
  role: 'student',
  user: {sourcedId: 'u1', email: 'ada@school.example'},
  class: {sourcedId: classId},
});
const event = (enrollments: unknown[]) => ({
  type: 'enrollments.created',
  timestamp: '2026-09-01T07:00:00Z',
  data: {enrollments},
});

it('accepts printable ids, including non-ASCII ones', () => {
  expect(
    parseEvent(event([enrollment('enr-1001'), enrollment('élève-7')])).data
      .enrollments,
  ).toHaveLength(2);
});

it.each([
  [
    'an enrollment id',
    [enrollment('\u0001'.repeat(255))],
    'data.enrollments[0].sourcedId',
  ],
  [
    'a class id with an escape sequence',
    [enrollment('e1', '\u001b[31m')],
    'data.enrollments[0].class.sourcedId',
  ],
  ['a C1 control', [enrollment('e\u009b1')], 'data.enrollments[0].sourcedId'],
])(
  'refuses control characters in %s, naming the field',
  (_name, enrollments, field) => {
    let err: unknown;
    try {
      parseEvent(event(enrollments));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    const fields = (
      (err as ApiError).body.details![0] as {fieldViolations: {field: string}[]}
    ).fieldViolations.map(v => v.field);
    expect(fields).toContain(field);
  },
);

let n = 0;
function e(
  status: string,
  role: string,
  who = 'ada@school.example',
  cls = 'math-1',
): Enrollment {
  return {
    sourcedId: `enr-${++n}`,
    status: status as Enrollment['status'],
    role,
    user: {sourcedId: 'u', email: who},
    class: {sourcedId: cls},
  };
}

const plan = (...enrollments: Enrollment[]) => {
  const p = planDelivery(enrollments.map(x => mapEnrollment(x, 'd:')));
  return {groups: p.groups, superseded: Object.fromEntries(p.supersededBy)};
};

it.each([
  [
    'two active: the later decides',
    [e('active', 'teacher'), e('active', 'student')],
    {0: 1},
  ],
  [
    'tobedeleted then active of another role: the active one decides',
    [e('tobedeleted', 'teacher'), e('active', 'student')],
    {0: 1},
  ],
  [
    'active then tobedeleted of the same role: the withdrawal restates it',
    [e('active', 'student'), e('tobedeleted', 'student')],
    {0: 1},
  ],
  [
    'active then tobedeleted of another role: both stand, in order',
    [e('active', 'student'), e('tobedeleted', 'teacher')],
    {},
  ],
  [
    'two withdrawals of different roles: both stand',
    [e('tobedeleted', 'student'), e('tobedeleted', 'teacher')],
    {},
  ],
  [
    'three active: each superseded by the next',
    [e('active', 'student'), e('active', 'teacher'), e('active', 'student')],
    {0: 1, 1: 2},
  ],
  [
    'a skipped role never supersedes',
    [e('active', 'student'), e('active', 'administrator')],
    {},
  ],
])('%s', (_name, enrollments, superseded) => {
  const p = plan(...enrollments);
  expect(p.superseded).toEqual(superseded);
});

it('groups by course after alias mapping and by email in any case; other pairs and skipped roles are groups of their own', () => {
  const p = plan(
    e('active', 'teacher', 'Ada@School.example'),
    e('active', 'student', 'bob@school.example'),
    e('active', 'administrator'),
    e('active', 'student', 'ada@school.EXAMPLE'),
    e('active', 'student', 'ada@school.example', 'math-2'),
  );
  expect(p.groups).toEqual([[0, 3], [1], [2], [4]]);
  expect(p.superseded).toEqual({0: 3});
});
