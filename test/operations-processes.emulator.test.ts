// Operations end to end, as production runs them: the `invitations` target, the `invitationsWorker` and
// `invitationsDeadLetter` targets in their own processes under the Functions Framework, and the Pub/Sub emulator
// pushing items to them (the framework turns each push into the CloudEvent production gets from Eventarc). A
// worker killed in the middle loses nothing and invites nobody twice.
import {randomBytes} from 'node:crypto';
import {ClassroomStandIn} from '../standin/server';
import {wireItemTopics, ItemWiring} from '../tools/pubsub-setup';
import {PROJECT_ID, uniquePrefix} from './support/emulator';
import {Instance, startInstance, stopInstance} from './support/processes';

const standIn = new ClassroomStandIn();
const topicOf = (e: Record<string, string>) => e.INVITATIONS_TOPIC!;
let gateway: Instance;
let worker: Instance;
let deadLetter: Instance;
let wiring: ItemWiring;
let env: Record<string, string>;

beforeAll(async () => {
  const standInUrl = await standIn.start();
  env = {
    CLASSROOM_ROOT_URL: standInUrl,
    COLLECTION_PREFIX: uniquePrefix('ops'),
    INVITATIONS_TOPIC: `items-${randomBytes(4).toString('hex')}`,
    // A pair the killed worker had reserved is taken over once its lease ends: that must come before Pub/Sub's
    // redeliveries run out (here seconds apart; minutes in production, against a 60 s lease).
    LEASE_SECONDS: '3',
  };
  [gateway, worker, deadLetter] = await Promise.all([
    startInstance(env),
    startInstance(env, 'invitationsWorker'),
    startInstance(env, 'invitationsDeadLetter'),
  ]);
  wiring = await wireItemTopics({
    projectId: PROJECT_ID,
    topic: env.INVITATIONS_TOPIC!,
    workerUrl: `${worker.url}/projects/${PROJECT_ID}/topics/${topicOf(env)}`,
    deadLetterUrl: `${deadLetter.url}/projects/${PROJECT_ID}/topics/${topicOf(env)}-dead-letter`,
    minBackoffSeconds: 1,
    maxBackoffSeconds: 2,
    // A push cut off by the kill is redelivered once its ack deadline passes: short here, 60 s in production.
    ackDeadlineSeconds: 10,
  });
}, 60_000);

afterAll(async () => {
  await wiring?.close();
  await Promise.all(
    [gateway, worker, deadLetter].map(i => i && stopInstance(i)),
  );
  await standIn.stop();
});

const batch = (tag: string, count: number) => ({
  requests: Array.from({length: count}, (_, i) => ({
    invitation: {
      userId: `${tag}${i}@school.example`,
      courseId: `d:${tag}`,
      role: 'STUDENT',
    },
  })),
});

async function startBatch(body: unknown): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/invitations:batchCreate`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as {name: string}).name;
}

interface Op {
  done: boolean;
  metadata: {progress: Record<string, number>};
  response?: {results: Array<{outcome: string}>};
}

async function untilDone(name: string, timeoutMs = 40_000): Promise<Op> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const op = (await (await fetch(`${gateway.url}/v1/${name}`)).json()) as Op;
    if (op.done || Date.now() > until) return op;
    await new Promise(r => setTimeout(r, 200));
  }
}

it('a batch published by one process is pushed to the worker process and completes there', async () => {
  standIn.reset();
  const name = await startBatch(batch('push', 20));
  const op = await untilDone(name);
  expect(op.done).toBe(true);
  expect(op.metadata.progress).toMatchObject({
    total: 20,
    created: 20,
    pending: 0,
  });
  expect(standIn.invitations.size).toBe(20);
  expect(standIn.calls.create).toBe(20);
}, 60_000);

it('kill -9 of the worker in the middle: a new one finishes, nothing lost, nobody invited twice', async () => {
  standIn.reset();
  standIn.latencyMs = 50; // keep the worker busy long enough to be killed mid-way
  const name = await startBatch(batch('crash', 40));
  const until = Date.now() + 20_000;
  while (standIn.invitations.size < 5 && Date.now() < until)
    await new Promise(r => setTimeout(r, 10));
  worker.child.kill('SIGKILL');
  await new Promise(r => worker.child.once('exit', r));
  const createdBeforeCrash = standIn.invitations.size;
  expect(createdBeforeCrash).toBeLessThan(40);
  worker = await startInstance(env, 'invitationsWorker', worker.port);
  const op = await untilDone(name, 60_000);
  standIn.latencyMs = 0;
  expect(op.done).toBe(true);
  expect(op.metadata.progress.pending).toBe(0);
  expect(op.metadata.progress.failed).toBe(0);
  // Every pair exactly once in Classroom, whatever the crash interrupted.
  expect(standIn.invitations.size).toBe(40);
  const pairs = new Set(
    [...standIn.invitations.values()].map(i => `${i.courseId}/${i.userId}`),
  );
  expect(pairs.size).toBe(40);
}, 120_000);
