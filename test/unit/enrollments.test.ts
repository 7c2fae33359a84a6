// The OneRoster event's shape: ids that are echoed in every result, audit event and log line carry no control
// characters (each would cost six bytes in stored JSON, and raw escapes in a terminal).
import { ApiError } from '../../functions/errors';
import { parseEvent } from '../../functions/webhooks/enrollments';

const enrollment = (sourcedId: string, classId = 'math-101') => ({
  sourcedId,
  status: 'active',
  role: 'student',
  user: { sourcedId: 'u1', email: 'ada@school.example' },
  class: { sourcedId: classId },
});
const event = (enrollments: unknown[]) => ({ type: 'enrollments.created', timestamp: '2026-09-01T07:00:00Z', data: { enrollments } });

it('accepts printable ids, including non-ASCII ones', () => {
  expect(parseEvent(event([enrollment('enr-1001'), enrollment('élève-7')])).data.enrollments).toHaveLength(2);
});

it.each([
  ['an enrollment id', [enrollment('\u0001'.repeat(255))], 'data.enrollments[0].sourcedId'],
  ['a class id with an escape sequence', [enrollment('e1', '\u001b[31m')], 'data.enrollments[0].class.sourcedId'],
  ['a C1 control', [enrollment('e\u009b1')], 'data.enrollments[0].sourcedId'],
])('refuses control characters in %s, naming the field', (_name, enrollments, field) => {
  let err: unknown;
  try {
    parseEvent(event(enrollments));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ApiError);
  const fields = ((err as ApiError).body.details![0] as { fieldViolations: { field: string }[] }).fieldViolations.map((v) => v.field);
  expect(fields).toContain(field);
});
