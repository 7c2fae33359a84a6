// The stand-in's optional quota: token buckets per subject and for the project, 429 RESOURCE_EXHAUSTED without
// Retry-After as Google answers, and its own per-second counts. Its clock is stepped by hand where the bucket
// math must be exact; one test runs on the real clock with margins the bucket math allows.
import {classroom, classroom_v1} from '@googleapis/classroom';
import {quotaFromEnv} from '../standin/quota';
import {ClassroomStandIn} from '../standin/server';

const T0 = 1_700_000_000_000; // a whole second, in epoch ms
let clock = T0;
const standIn = new ClassroomStandIn({now: () => clock});
let api: classroom_v1.Classroom;
const opts = {fetchImplementation: fetch, retry: false};

const USER_LIMIT =
  "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'classroom.googleapis.com' for consumer 'project_number:000000000000'.";
const PROJECT_LIMIT =
  "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'classroom.googleapis.com' for consumer 'project_number:000000000000'.";
const exhausted = (message: string) => ({
  error: {code: 429, message, status: 'RESOURCE_EXHAUSTED'},
});

beforeAll(async () => {
  api = classroom({version: 'v1', rootUrl: await standIn.start()});
});
afterAll(() => standIn.stop());
beforeEach(() => {
  clock = T0;
  standIn.setQuota(undefined);
  standIn.reset();
});

interface Outcome {
  status: number;
  data: unknown;
  retryAfter: string | null;
}

/** As a subject: the access token the stand-in's token endpoint mints for it ("" = no Authorization). */
function as(subject: string) {
  return subject
    ? {
        ...opts,
        headers: {
          Authorization: `Bearer standin.${Buffer.from(subject).toString('base64url')}`,
        },
      }
    : opts;
}

/** The client's answer; a refusal's headers come as a Headers (gaxios), which is where Retry-After would be. */
async function outcomeOf(
  p: Promise<{status: number; data: unknown}>,
): Promise<Outcome> {
  try {
    const res = await p;
    return {status: res.status, data: res.data, retryAfter: null};
  } catch (e) {
    const err = e as {
      status?: number;
      response?: {data?: unknown; headers?: Headers};
    };
    return {
      status: err.status ?? 0,
      data: err.response?.data,
      retryAfter: err.response?.headers?.get('retry-after') ?? null,
    };
  }
}

let pair = 0;
/** `n` creates of new pairs at once, as `subject`. */
function burst(n: number, subject = '', client = api): Promise<Outcome[]> {
  return Promise.all(
    Array.from({length: n}, () =>
      outcomeOf(
        client.invitations.create(
          {
            requestBody: {
              courseId: 'd:quota',
              userId: `q${pair++}@school.example`,
              role: 'STUDENT',
            },
          },
          as(subject),
        ),
      ),
    ),
  );
}

const count = (outcomes: Outcome[], status: number) =>
  outcomes.filter(o => o.status === status).length;

it('the quota is off by default: a burst of 30 calls is accepted, and counted', async () => {
  const fresh = new ClassroomStandIn();
  const freshApi = classroom({version: 'v1', rootUrl: await fresh.start()});
  try {
    expect(fresh.quota).toBeUndefined();
    expect(count(await burst(30, '', freshApi), 200)).toBe(30);
    expect(fresh.rate().totals).toEqual({accepted: 30, throttled: 0});
    expect(fresh.rate().bySubject).toEqual({
      '': {accepted: 30, throttled: 0},
    });
  } finally {
    await fresh.stop();
  }
});

it('at 5 QPS a burst of 12 creates: exactly 5 accepted, 7 answered 429 RESOURCE_EXHAUSTED without Retry-After, and none of the 7 made', async () => {
  standIn.setQuota({userQps: 5});
  const outcomes = await burst(12);
  expect(count(outcomes, 200)).toBe(5);
  const refused = outcomes.filter(o => o.status !== 200);
  expect(refused).toEqual(
    Array(7).fill({
      status: 429,
      data: exhausted(USER_LIMIT),
      retryAfter: null,
    }),
  );
  expect(standIn.invitations.size).toBe(5);
  expect(standIn.calls.create).toBe(12); // they arrived; they were not performed
});

it('the bucket refills at the rate, up to one second of burst', async () => {
  standIn.setQuota({userQps: 5});
  expect(count(await burst(12), 200)).toBe(5);
  clock += 200; // one token at 5 per second
  expect(count(await burst(12), 200)).toBe(1);
  clock += 10_000; // capped at capacity
  expect(count(await burst(12), 200)).toBe(5);
  standIn.setQuota({userQps: 5, burstSeconds: 2});
  expect(count(await burst(12), 200)).toBe(10);
});

it('on the real clock, the drained bucket lets at least 4 more through 1.1 s later', async () => {
  const real = new ClassroomStandIn();
  const realApi = classroom({version: 'v1', rootUrl: await real.start()});
  try {
    real.setQuota({userQps: 5});
    // On a busy machine the burst may straddle a refill: at least the bucket went through.
    expect(count(await burst(12, '', realApi), 200)).toBeGreaterThanOrEqual(5);
    await new Promise(r => setTimeout(r, 1100));
    expect(count(await burst(12, '', realApi), 200)).toBeGreaterThanOrEqual(4);
  } finally {
    await real.stop();
  }
});

it('each subject has its own bucket, and the project bucket caps them together under its own limit', async () => {
  standIn.setQuota({userQps: 5});
  expect(count(await burst(12, 'a@school.example'), 200)).toBe(5);
  expect(count(await burst(12, 'b@school.example'), 200)).toBe(5);
  expect(count(await burst(12), 200)).toBe(5); // anonymous is a subject too

  standIn.setQuota({userQps: 5, projectQps: 8});
  const a = await burst(12, 'a@school.example');
  const b = await burst(12, 'b@school.example');
  expect(count(a, 200)).toBe(5);
  expect(count(b, 200)).toBe(3);
  expect(a.filter(o => o.status === 429).map(o => o.data)).toEqual(
    Array(7).fill(exhausted(USER_LIMIT)),
  );
  expect(b.filter(o => o.status === 429).map(o => o.data)).toEqual(
    Array(9).fill(exhausted(PROJECT_LIMIT)),
  );
});

it('a call refused by one bucket takes nothing from the other', async () => {
  standIn.setQuota({userQps: 2, projectQps: 3});
  expect(count(await burst(5, 'a@school.example'), 200)).toBe(2);
  // a's three refused calls left the project bucket its third token
  expect(count(await burst(5, 'b@school.example'), 200)).toBe(1);
});

it('a throttled call meets no injected fault and waits for no added latency', async () => {
  standIn.setQuota({userQps: 1});
  await api.invitations.list({courseId: 'd:quota'}, opts); // the one token
  standIn.injectFault({method: 'create', httpStatus: 503});
  standIn.latencyMs = 60_000; // an accepted call would outlast the test's timeout
  expect((await burst(1))[0]!.status).toBe(429);
  standIn.latencyMs = 0;
  clock += 1000;
  expect((await burst(1))[0]!.status).toBe(503); // the fault was still there
  expect(standIn.invitations.size).toBe(0);
});

it('rate() counts accepted and throttled calls per whole second and per subject; GET /__standin/rate answers the same', async () => {
  standIn.setQuota({userQps: 2});
  clock = T0 + 200;
  await burst(3, 'a@school.example');
  await burst(2, 'b@school.example');
  clock = T0 + 1500;
  await burst(1, 'a@school.example');
  const s = T0 / 1000;
  const expected = {
    seconds: [
      {second: s, subject: 'a@school.example', accepted: 2, throttled: 1},
      {second: s, subject: 'b@school.example', accepted: 2, throttled: 0},
      {second: s + 1, subject: 'a@school.example', accepted: 1, throttled: 0},
    ],
    totals: {accepted: 5, throttled: 1},
    bySubject: {
      'a@school.example': {accepted: 3, throttled: 1},
      'b@school.example': {accepted: 2, throttled: 0},
    },
  };
  expect(standIn.rate()).toEqual(expected);
  const res = await fetch(new URL('/__standin/rate', standIn.url));
  expect(await res.json()).toEqual(expected);
  expect(standIn.peakPerSecond()).toBe(4);
  expect(standIn.peakPerSecond('a@school.example')).toBe(2);
  expect(standIn.peakPerSecond('nobody@school.example')).toBe(0);
});

it('reset keeps the quota, refills its buckets and clears the counts', async () => {
  standIn.setQuota({userQps: 3, projectQps: 4});
  expect(count(await burst(5), 200)).toBe(3);
  standIn.reset();
  expect(standIn.quota).toEqual({userQps: 3, projectQps: 4});
  expect(standIn.rate()).toEqual({
    seconds: [],
    totals: {accepted: 0, throttled: 0},
    bySubject: {},
  });
  expect(count(await burst(5), 200)).toBe(3);
});

const control = (body: string) =>
  fetch(new URL('/__standin/quota', standIn.url), {method: 'POST', body});

it.each([
  ['{"userQps":5}', {userQps: 5}],
  [
    '{"userQps":5,"projectQps":8,"burstSeconds":2}',
    {userQps: 5, projectQps: 8, burstSeconds: 2},
  ],
  ['{}', null],
  ['null', null],
  ['', null],
])('POST /__standin/quota %s sets the quota to %j', async (body, quota) => {
  standIn.setQuota({userQps: 1});
  const res = await control(body);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({quota});
  expect(standIn.quota ?? null).toEqual(quota);
  const get = await fetch(new URL('/__standin/quota', standIn.url));
  expect(await get.json()).toEqual({quota});
});

it.each([
  '{"userQps":0}',
  '{"userQps":-1}',
  '{"userQps":"5"}',
  '{"userQps":1e999}',
  '{"userQPS":5}',
  '{"projectQps":5}',
  '{"userQps":5,"burstSeconds":0}',
  '[5]',
  '{"userQps":',
])(
  'POST /__standin/quota %s is 400 INVALID_ARGUMENT and changes nothing',
  async body => {
    standIn.setQuota({userQps: 7});
    const res = await control(body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: {code: 400, status: 'INVALID_ARGUMENT'},
    });
    expect(standIn.quota).toEqual({userQps: 7});
  },
);

it.each([
  [{}, undefined],
  [{STANDIN_USER_QPS: '20'}, {userQps: 20}],
  [
    {STANDIN_USER_QPS: '20', STANDIN_PROJECT_QPS: '50'},
    {userQps: 20, projectQps: 50},
  ],
  [{STANDIN_USER_QPS: ' 2.5 '}, {userQps: 2.5}],
  [{STANDIN_USER_QPS: ''}, undefined],
])('STANDIN_* %j: quota %j', (env, quota) => {
  expect(quotaFromEnv(env)).toEqual(quota);
});

it.each([
  [{STANDIN_USER_QPS: '0'}, /STANDIN_USER_QPS must be a positive number/],
  [{STANDIN_USER_QPS: 'twenty'}, /STANDIN_USER_QPS must be a positive number/],
  [
    {STANDIN_USER_QPS: 'Infinity'},
    /STANDIN_USER_QPS must be a positive number/,
  ],
  [
    {STANDIN_USER_QPS: '5', STANDIN_PROJECT_QPS: '-1'},
    /STANDIN_PROJECT_QPS must be/,
  ],
  [{STANDIN_PROJECT_QPS: '50'}, /STANDIN_PROJECT_QPS needs STANDIN_USER_QPS/],
])('STANDIN_* %j is refused', (env, message) => {
  expect(() => quotaFromEnv(env)).toThrow(message);
});
