// Three gateway processes on one Firestore emulator and one Classroom stand-in that counts what it receives: the
// pacer holds their combined rate under CLASSROOM_QPS per admin, whatever each process is asked to do.
import {ClassroomStandIn} from '../standin/server';
import {uniquePrefix} from './support/emulator';
import {
  Instance,
  postSettled,
  startInstance,
  stopInstance,
} from './support/processes';

const QPS = 10;
const standIn = new ClassroomStandIn();
let standInUrl = '';

beforeAll(async () => {
  standInUrl = await standIn.start();
  // Classroom's real limit is 20 per admin; the gateway is told 10, so the stand-in would not hide an overshoot.
  standIn.setQuota({userQps: 20, projectQps: 50});
});
afterAll(() => standIn.stop());

async function threeProcesses(subjects: string): Promise<Instance[]> {
  const env = {
    CLASSROOM_ROOT_URL: standInUrl,
    COLLECTION_PREFIX: uniquePrefix('paced'),
    CLASSROOM_QPS: String(QPS),
    CLASSROOM_SUBJECTS: subjects,
  };
  return Promise.all([
    startInstance(env),
    startInstance(env),
    startInstance(env),
  ]);
}

/** Accepted calls per whole second for one subject, as the stand-in counted them, idle seconds included. */
function perSecond(subject: string): number[] {
  const rows = standIn.rate().seconds.filter(s => s.subject === subject);
  const first = Math.min(...rows.map(r => r.second));
  const counts: number[] = [];
  for (const r of rows) counts[r.second - first] = r.accepted;
  return Array.from(counts, c => c ?? 0);
}

/**
 * The most calls in any `k` consecutive seconds. The pacer grants at most QPS positions per second; a call may
 * reach Classroom after its position (timers on a busy machine: on 2 cores at a load average of 6, a 3-second window
 * held 41 and 42 calls at 10 QPS), so k seconds may also hold calls of the two seconds before: at most
 * QPS × (k + 2) = 50 for 3 seconds, where an unpaced burst puts all 60 in the first.
 */
function busiestWindow(counts: number[], k: number): number {
  let most = 0;
  for (let i = 0; i < counts.length; i++)
    most = Math.max(
      most,
      counts.slice(i, i + k).reduce((a, b) => a + b, 0),
    );
  return most;
}

async function inviteAll(instances: Instance[], tag: string, n: number) {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({length: n}, (_, i) =>
      postSettled(instances[i % instances.length]!.url, {
        courseId: `d:${tag}-${i}`,
        userId: `${tag}${i}@school.example`,
        role: 'STUDENT',
      }),
    ),
  );
  return {answers, seconds: (Date.now() - started) / 1000};
}

it('60 new pairs sent at once over 3 processes reach Classroom at no more than CLASSROOM_QPS, each pair once', async () => {
  const instances = await threeProcesses('admin1@school.example');
  try {
    standIn.reset();
    const {answers, seconds} = await inviteAll(instances, 'paced', 60);
    expect(answers.map(a => a.status)).toEqual(Array(60).fill(200));
    expect(standIn.invitations.size).toBe(60);
    expect(standIn.rate().totals).toEqual({accepted: 60, throttled: 0});
    const counts = perSecond('admin1@school.example');
    expect(busiestWindow(counts, 3)).toBeLessThanOrEqual(5 * QPS);
    expect(busiestWindow(counts, 1)).toBeLessThanOrEqual(2 * QPS);
    // Held back, not sent at once: 60 calls at 10 per second take at least the 5 seconds after the first ten.
    expect(seconds).toBeGreaterThanOrEqual(5);
  } finally {
    await Promise.all(instances.map(stopInstance));
  }
}, 60_000);

it('with two admins the calls are shared between them, each admin under its own CLASSROOM_QPS', async () => {
  const instances = await threeProcesses(
    'admin1@school.example admin2@school.example',
  );
  try {
    standIn.reset();
    const {answers} = await inviteAll(instances, 'pool', 80);
    expect(answers.every(a => a.status === 200)).toBe(true);
    expect(standIn.invitations.size).toBe(80);
    const {bySubject, totals} = standIn.rate();
    expect(totals.throttled).toBe(0);
    for (const admin of ['admin1@school.example', 'admin2@school.example']) {
      expect(bySubject[admin]!.accepted).toBeGreaterThanOrEqual(30);
      expect(busiestWindow(perSecond(admin), 3)).toBeLessThanOrEqual(5 * QPS);
      // Each admin's 40 unpaced would land in one second.
      expect(busiestWindow(perSecond(admin), 1)).toBeLessThanOrEqual(2 * QPS);
    }
  } finally {
    await Promise.all(instances.map(stopInstance));
  }
}, 60_000);
