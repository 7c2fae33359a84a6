// Runs the Classroom stand-in on its own: node lib/standin/main.js [port]
import {ClassroomStandIn} from './server';

const port = Number(process.argv[2] ?? process.env.STANDIN_PORT ?? 8090);
const standIn = new ClassroomStandIn();
standIn.start(port).then(
  url => console.log(`Classroom stand-in listening on ${url}`),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => void standIn.stop().then(() => process.exit(0)));
