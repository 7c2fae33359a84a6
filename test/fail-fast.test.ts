// Fail fast: the real Functions Framework CLI loads the entry before it listens, and an invalid configuration
// stops the process right there (exit 1, one CRITICAL line naming every bad setting), so that a new revision
// never becomes ready and Cloud Run keeps the previous one serving. A good configuration still serves.
import {join} from 'node:path';
import {
  FunctionProcess,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from '../tools/instance';
import {PROJECT_ID} from './support/emulator';
import {freePort, ROOT} from './support/processes';

const ENTRY = join(ROOT, 'lib/functions/index.js');
const LISTENS = 'report-listen: a server listens';
type Target = 'invitations' | 'invitationsWorker' | 'invitationsDeadLetter';

interface Watched {
  fn: FunctionProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function spawnWatched(
  target: Target,
  env: Record<string, string>,
): Promise<Watched> {
  const fn = spawnFunction({
    target,
    port: await freePort(),
    entry: ENTRY,
    env: {
      GOOGLE_CLOUD_PROJECT: PROJECT_ID,
      NODE_OPTIONS: `--require=${join(ROOT, 'test/support/report-listen.js')}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  fn.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  fn.child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>(r =>
    fn.child.once('close', code => r(code)),
  );
  return {fn, output: () => out, exited};
}

const running: FunctionProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(stopFunction));
});

/** Exits within `ms`, or is stopped and reported as still running. */
async function exitWithin(w: Watched, ms: number): Promise<number | null> {
  running.push(w.fn);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'running'>(r => {
    timer = setTimeout(() => r('running'), ms);
  });
  const code = await Promise.race([w.exited, timeout]);
  clearTimeout(timer);
  if (code === 'running')
    throw new Error(`still running after ${ms} ms:\n${w.output()}`);
  return code;
}

it.each<Target>(['invitations', 'invitationsWorker', 'invitationsDeadLetter'])(
  'target %s: an invalid configuration exits 1 before listening, with one CRITICAL line naming each bad setting',
  async target => {
    const w = await spawnWatched(target, {
      LEASE_SECONDS: '0',
      CLASSROOM_ROOT_URL: 'http://classroom.example.com/',
      CALLER_AUDIENCE: 'https://invitations.example',
    });
    expect(await exitWithin(w, 15_000)).toBe(1);
    const lines = w
      .output()
      .split('\n')
      .filter(l => l.trim() !== '');
    // One line in all: no "Serving function...", no stack trace, and no server ever listened.
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      severity: 'CRITICAL',
      settings: [
        'CLASSROOM_ROOT_URL',
        'LEASE_SECONDS',
        'CALLER_AUDIENCE',
        'ALLOWED_CALLERS',
      ],
    });
    expect(line.message).toContain(
      'CLASSROOM_ROOT_URL, LEASE_SECONDS, CALLER_AUDIENCE, ALLOWED_CALLERS',
    );
  },
);

it('a valid configuration starts and serves (and the listen probe sees it listen)', async () => {
  const w = await spawnWatched('invitations', {LEASE_SECONDS: '30'});
  running.push(w.fn);
  await waitForHealth(w.fn, 20_000, w.output);
  expect(w.output()).toContain(LISTENS);
  expect(w.fn.child.exitCode).toBeNull();
});
