// `npm run audit`: the audit trail as a tool, against the emulator, for a scripted history.
import {execFile} from 'node:child_process';
import {join} from 'node:path';
import {promisify} from 'node:util';
import request from 'supertest';
import {parseArgs} from '../tools/audit';
import {PROJECT_ID} from './support/emulator';
import {startTestGateway, TestGateway} from './support/gateway';
import {ROOT} from './support/processes';

const run = promisify(execFile);
let t: TestGateway;
const course = 'd:audit-history';
const user = 'ada.audit@school.example';
// What an unauthenticated request can put into the trail (an invalid request is audited as sent).
const hostileCourse = 'd:audit-hostile';
const formula = '=HYPERLINK("http://evil","x")';
const escapes = '\x1b[31mred\x1b]0;owned\x07\u009b2J\u202eevil';

async function audit(...args: string[]): Promise<string> {
  const {stdout} = await run(
    process.execPath,
    [
      join(ROOT, 'lib/tools/audit.js'),
      '--prefix',
      t.config.collectionPrefix,
      ...args,
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '',
        GOOGLE_CLOUD_PROJECT: PROJECT_ID,
        METADATA_SERVER_DETECTION: 'none',
      },
    },
  );
  return stdout;
}

beforeAll(async () => {
  t = await startTestGateway('auditcli');
  const post = (body: object) =>
    request(t.server).post('/v1/invitations').send(body);
  await post({courseId: course, userId: user, role: 'STUDENT'}).expect(200); // created
  await post({
    courseId: course,
    userId: 'ADA.AUDIT@school.example',
    role: 'STUDENT',
  }).expect(200); // replayed
  await post({courseId: course, userId: user, role: 'TEACHER'}).expect(409); // conflict
  await post({courseId: course, userId: user, role: 'PRINCIPAL'}).expect(400); // rejected
  await post({
    courseId: course,
    userId: 'unknown-other@school.example',
    role: 'STUDENT',
  }).expect(404); // another user
  await post({
    courseId: hostileCourse,
    userId: formula,
    role: 'STUDENT',
  }).expect(400);
  await post({
    courseId: hostileCourse,
    userId: escapes,
    role: 'STUDENT',
  }).expect(400);
});
afterAll(() => t.close());

it('lists one pair’s history newest first, as a table', async () => {
  const out = await audit(
    '--course',
    course,
    '--user',
    'Ada.Audit@school.example',
  );
  const lines = out.trim().split('\n');
  expect(lines[0]).toMatch(/^at\s+outcome\s+httpStatus/);
  const outcomes = lines.slice(2).map(l => l.split(/\s+/)[1]);
  expect(outcomes).toEqual(['rejected', 'conflict', 'replayed', 'created']);
  expect(out).toContain('invalid: role');
});

it('--json gives the events as data, newest first', async () => {
  const rows = JSON.parse(await audit('--user', user, '--json')) as {
    outcome: string;
    at: string;
    httpStatus: number;
  }[];
  expect(rows.map(r => r.outcome)).toEqual([
    'rejected',
    'conflict',
    'replayed',
    'created',
  ]);
  const times = rows.map(r => Date.parse(r.at));
  expect([...times].sort((a, b) => b - a)).toEqual(times);
});

it('--outcome filters, --csv writes a header and one line per event', async () => {
  const csv = await audit(
    '--course',
    course,
    '--outcome',
    'conflict,rejected',
    '--csv',
  );
  const lines = csv.trim().split('\n');
  expect(lines[0]!.startsWith('at,outcome,httpStatus,')).toBe(true);
  expect(
    lines
      .slice(1)
      .map(l => l.split(',')[1])
      .sort(),
  ).toEqual(['conflict', 'rejected']);
});

it('--course alone shows every user of the course; --since in the future shows nothing', async () => {
  const rows = JSON.parse(await audit('--course', course, '--json')) as {
    userId: string;
  }[];
  expect(new Set(rows.map(r => r.userId))).toEqual(
    new Set([user, 'unknown-other@school.example']),
  );
  expect(
    await audit('--course', course, '--since', '2999-01-01T00:00:00Z'),
  ).toContain('No audit events match.');
});

it('parses its arguments strictly', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  expect(parseArgs(['--since', '7d', '--limit', '5'], {}, now)).toMatchObject({
    since: new Date('2026-11-19T12:00:00Z'),
    limit: 5,
  });
  expect(() => parseArgs(['--bogus'], {})).toThrow(/unknown argument/);
  expect(() => parseArgs(['--since', 'yesterday'], {})).toThrow(/--since/);
});

describe('what an attacker put into the trail cannot act on the reader', () => {
  it('--csv defuses formulas with a leading quote, carries no control character, and leaves real numbers plain', async () => {
    const csv = await audit('--course', hostileCourse, '--csv');
    expect(csv).toContain('"\'=HYPERLINK(""http://evil"",""x"")"');
    expect(csv).not.toMatch(/(^|,)"?=/m);
    expect(csv).toMatch(/,400,/);
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    expect(csv).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });

  it('the table shows control characters as text, so that no escape sequence reaches the terminal', async () => {
    const out = await audit('--course', hostileCourse);
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(out).toContain('\\x1b[31mred');
  });

  it('--json stays exact: the same strings come back, with no raw control character on the way', async () => {
    const out = await audit('--course', hostileCourse, '--json');
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    const rows = JSON.parse(out) as {userId: string}[];
    expect(new Set(rows.map(r => r.userId))).toEqual(
      new Set([formula, escapes]),
    );
  });
});
