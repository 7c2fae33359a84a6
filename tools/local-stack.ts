// `npm start`: the local stack. Runs inside `firebase emulators:exec` (Firestore emulator up), starts the
// Classroom stand-in and the built function under the Functions Framework, then prints a curl to paste.
import {quotaFromEnv} from '../standin/quota';
import {ClassroomStandIn} from '../standin/server';
import {spawnFunction, waitForHealth} from './instance';
import {ItemWiring, wireItemTopics} from './pubsub-setup';
import {LOCAL_WEBHOOK_SECRET} from './local-secrets';
import {noMetadataServerWithEmulators} from './metadata-server';

const PROJECT =
  process.env.GOOGLE_CLOUD_PROJECT ||
  process.env.GCLOUD_PROJECT ||
  'demo-classroom-gateway';
const port = Number(process.env.PORT || 8080);
const standInPort = Number(process.env.STANDIN_PORT || 8090);
/** The worker targets listen on this port and the next. */
const workerPort = Number(process.env.WORKER_PORT || 8091);
const topic = process.env.INVITATIONS_TOPIC || 'invitation-items';
/** Classroom's documented quota: 20 queries per second per user, 50 per project. */
const GOOGLE_QUOTA = {userQps: 20, projectQps: 50};

async function main(): Promise<void> {
  if (!process.env.FIRESTORE_EMULATOR_HOST)
    throw new Error(
      'run through `npm start` (it starts the Firestore emulator)',
    );
  noMetadataServerWithEmulators();
  const standIn = new ClassroomStandIn();
  // Classroom's own limits unless told otherwise (STANDIN_USER_QPS, STANDIN_PROJECT_QPS): what the pacer meets.
  standIn.setQuota(quotaFromEnv(process.env) ?? GOOGLE_QUOTA);
  const standInUrl = await standIn.start(standInPort);
  const env = {
    ...process.env,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    CLASSROOM_ROOT_URL: process.env.CLASSROOM_ROOT_URL || standInUrl,
    WEBHOOK_SECRETS: process.env.WEBHOOK_SECRETS || LOCAL_WEBHOOK_SECRET,
    INVITATIONS_TOPIC: topic,
  };
  // Serves package.json `main`, the built entry, as `npm run serve` and Cloud Run do: the HTTP function, and
  // the two CloudEvent targets the Pub/Sub emulator pushes operation items to.
  const fns = [
    spawnFunction({port, stdio: 'inherit', env: {...env, PORT: String(port)}}),
    spawnFunction({
      target: 'invitationsWorker',
      port: workerPort,
      stdio: 'inherit',
      env,
    }),
    spawnFunction({
      target: 'invitationsDeadLetter',
      port: workerPort + 1,
      stdio: 'inherit',
      env,
    }),
  ];
  const wired: {wiring?: ItemWiring} = {};
  const stop = async (code: number) => {
    for (const f of fns) f.child.kill('SIGTERM');
    await wired.wiring?.close();
    await standIn.stop();
    process.exit(code);
  };
  for (const f of fns) f.child.on('exit', code => void stop(code ?? 1));
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => void stop(0));

  await waitForHealth(fns[0]!, 30_000);
  await Promise.all(
    fns.slice(1).map(f => waitForHealth(f, 30_000, () => '', true)),
  );
  wired.wiring = await wireItemTopics({
    projectId: PROJECT,
    topic,
    workerUrl: `${fns[1]!.url}/projects/${PROJECT}/topics/${topic}`,
    deadLetterUrl: `${fns[2]!.url}/projects/${PROJECT}/topics/${topic}-dead-letter`,
  });
  const body = JSON.stringify({
    courseId: 'd:math-101',
    userId: 'ada@school.example',
    role: 'STUDENT',
  });
  console.log(`
Local stack ready:
  function            http://localhost:${port}  (target "invitations")
  workers             http://localhost:${workerPort}  ("invitationsWorker"), :${workerPort + 1} ("invitationsDeadLetter")
  Firestore emulator  ${process.env.FIRESTORE_EMULATOR_HOST}  (project ${PROJECT})
  Pub/Sub emulator    ${process.env.PUBSUB_EMULATOR_HOST}  (topic ${topic}, pushed to the worker)
  Classroom stand-in  ${standInUrl}  (quota ${JSON.stringify(standIn.quota ?? 'off')})

Try it:
  curl -s -X POST http://localhost:${port}/v1/invitations -H 'Content-Type: application/json' -d '${body}'

Send a signed SIS webhook (another terminal):
  npm run send-sample-webhook

Press Ctrl-C to stop.
`);
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
