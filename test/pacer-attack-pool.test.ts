// The admin pool attacked with a clock of its own: a call already on its way when an admin's token was refused,
// and token endpoints that answer "slow down" rather than "no".
import {isRefusal} from '../functions/classroom-auth';
import {DelegationRefused} from '../functions/delegation';
import {setLogSink} from '../functions/logs';
import {SUBJECT_RETRY_MS, SubjectPool} from '../functions/pacer/subjects';

const lines: Array<Record<string, unknown>> = [];
beforeEach(() => {
  lines.length = 0;
  setLogSink(l => lines.push(JSON.parse(l) as Record<string, unknown>));
});
afterAll(() => setLogSink(() => undefined));

it('a call granted before an admin left the rotation, succeeding after, does not bring the admin back; one granted after its pause does', () => {
  let now = 1_000_000;
  const pool = new SubjectPool(
    ['a@school.example', 'b@school.example'],
    () => now,
  );
  const before = now - 50; // leased, then its token (minted before the revocation) carried it to Classroom
  now += 10;
  pool.failed('a@school.example', new Error('unauthorized_client'));
  now += 100;
  pool.worked('a@school.example', before);
  expect(pool.available()).toEqual(['b@school.example']);
  expect(lines.filter(l => String(l.message).includes('back'))).toHaveLength(0);
  // Its pause over, the admin is tried again and works: back, with one INFO line.
  now += SUBJECT_RETRY_MS;
  expect(pool.available()).toContain('a@school.example');
  pool.worked('a@school.example', now);
  expect(pool.available()).toContain('a@school.example');
  const back = lines.filter(l => String(l.message).includes('back'));
  expect(back).toHaveLength(1);
  expect(back[0]).toMatchObject({
    severity: 'INFO',
    subject: 'a@school.example',
  });
  // Only one ERROR line: the stale success did not reset the pause into a second departure.
  expect(lines.filter(l => l.severity === 'ERROR')).toHaveLength(1);
});

it('a token endpoint that answers 429 or 408 is busy, not refusing: the admin stays in the rotation', () => {
  expect(isRefusal(new DelegationRefused(429, 'rate limited'))).toBe(false);
  expect(isRefusal(new DelegationRefused(408, 'request timeout'))).toBe(false);
  expect(isRefusal({response: {status: 429}})).toBe(false);
  // What revocation looks like stays a refusal.
  expect(isRefusal(new DelegationRefused(401, 'unauthorized_client'))).toBe(
    true,
  );
  expect(isRefusal({response: {status: 403}})).toBe(true);
});
