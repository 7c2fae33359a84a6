// `npm run audit`: the audit trail as a tool, against the emulator, for a scripted history.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { parseArgs } from '../tools/audit';
import { PROJECT_ID } from './support/emulator';
import { startTestGateway, TestGateway } from './support/gateway';
import { ROOT } from './support/processes';

const run = promisify(execFile);
let t: TestGateway;
const course = 'd:audit-history';
const user = 'ada.audit@school.example';

async function audit(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'lib/tools/audit.js'), '--prefix', t.config.collectionPrefix, ...args], {
    env: { PATH: process.env.PATH ?? '', FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '', GOOGLE_CLOUD_PROJECT: PROJECT_ID, METADATA_SERVER_DETECTION: 'none' },
  });
  return stdout;
}

beforeAll(async () => {
  t = await startTestGateway('auditcli');
  const post = (body: object) => request(t.server).post('/v1/invitations').send(body);
  await post({ courseId: course, userId: user, role: 'STUDENT' }).expect(200); // created
  await post({ courseId: course, userId: 'ADA.AUDIT@school.example', role: 'STUDENT' }).expect(200); // replayed
  await post({ courseId: course, userId: user, role: 'TEACHER' }).expect(409); // conflict
  await post({ courseId: course, userId: user, role: 'PRINCIPAL' }).expect(400); // rejected
  await post({ courseId: course, userId: 'unknown-other@school.example', role: 'STUDENT' }).expect(404); // another user
});
afterAll(() => t.close());

it('lists one pair’s history newest first, as a table', async () => {
  const out = await audit('--course', course, '--user', 'Ada.Audit@school.example');
  const lines = out.trim().split('\n');
  expect(lines[0]).toMatch(/^at\s+outcome\s+httpStatus/);
  const outcomes = lines.slice(2).map((l) => l.split(/\s+/)[1]);
  expect(outcomes).toEqual(['rejected', 'conflict', 'replayed', 'created']);
  expect(out).toContain('invalid: role');
});

it('--json gives the events as data, newest first', async () => {
  const rows = JSON.parse(await audit('--user', user, '--json')) as { outcome: string; at: string; httpStatus: number }[];
  expect(rows.map((r) => r.outcome)).toEqual(['rejected', 'conflict', 'replayed', 'created']);
  const times = rows.map((r) => Date.parse(r.at));
  expect([...times].sort((a, b) => b - a)).toEqual(times);
});

it('--outcome filters, --csv writes a header and one line per event', async () => {
  const csv = await audit('--course', course, '--outcome', 'conflict,rejected', '--csv');
  const lines = csv.trim().split('\n');
  expect(lines[0]!.startsWith('at,outcome,httpStatus,')).toBe(true);
  expect(lines.slice(1).map((l) => l.split(',')[1]).sort()).toEqual(['conflict', 'rejected']);
});

it('--course alone shows every user of the course; --since in the future shows nothing', async () => {
  const rows = JSON.parse(await audit('--course', course, '--json')) as { userId: string }[];
  expect(new Set(rows.map((r) => r.userId))).toEqual(new Set([user, 'unknown-other@school.example']));
  expect(await audit('--course', course, '--since', '2999-01-01T00:00:00Z')).toContain('No audit events match.');
});

it('parses its arguments strictly', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  expect(parseArgs(['--since', '7d', '--limit', '5'], {}, now)).toMatchObject({ since: new Date('2026-11-19T12:00:00Z'), limit: 5 });
  expect(() => parseArgs(['--bogus'], {})).toThrow(/unknown argument/);
  expect(() => parseArgs(['--since', 'yesterday'], {})).toThrow(/--since/);
});
