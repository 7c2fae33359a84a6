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

/** Accepted calls per whole second, per subject, as the stand-in counted them (first and last seconds included). */
function perSecond(subject: string): number[] {
  return standIn
    .rate()
    .seconds.filter(s => s.subject === subject)
    .map(s => s.accepted);
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
    // Positions are spread over each second; a call sent in the last milliseconds of one second can land in the
    // next, so a second may count one more than its share.
    const counts = perSecond('admin1@school.example');
    expect(Math.max(...counts)).toBeLessThanOrEqual(QPS + 1);
    // Held back, not sent at once: 60 calls at 10 per second take at least the 5 seconds after the first ten.
    expect(seconds).toBeGreaterThanOrEqual(5);
  } finally {
    await Promise.all(instances.map(stopInstance));
  }
}, 60_000);

it('with two admins the same processes go twice as fast, each admin under its own CLASSROOM_QPS', async () => {
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
      expect(Math.max(...perSecond(admin))).toBeLessThanOrEqual(QPS + 1);
    }
  } finally {
    await Promise.all(instances.map(stopInstance));
  }
}, 60_000);
