// Runs the Classroom stand-in on its own: node lib/standin/main.js [port]
// STANDIN_USER_QPS / STANDIN_PROJECT_QPS (calls per second) turn its quota on; unset, there is none.
import {quotaFromEnv} from './quota';
import {ClassroomStandIn} from './server';

const port = Number(process.argv[2] ?? process.env.STANDIN_PORT ?? 8090);
const standIn = new ClassroomStandIn();
try {
  standIn.setQuota(quotaFromEnv(process.env));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
standIn.start(port).then(
  url =>
    console.log(
      `Classroom stand-in listening on ${url}` +
        (standIn.quota ? ` (quota ${JSON.stringify(standIn.quota)})` : ''),
    ),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => void standIn.stop().then(() => process.exit(0)));
