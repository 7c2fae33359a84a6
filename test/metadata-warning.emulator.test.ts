// The tools on a machine without a metadata server (a laptop, CI): run outside scripts/with-emulator.mjs, with no
// METADATA_SERVER_DETECTION in their environment, they probe for none and write no MetadataLookupWarning.
import {ChildProcess, execFile, spawn} from 'node:child_process';
import {createServer} from 'node:net';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {PROJECT_ID, uniquePrefix} from './support/emulator';
import {freePort, ROOT} from './support/processes';
import {newPubSub, uniqueName} from './support/pubsub';

const run = promisify(execFile);

/** The environment of a shell on such a machine, pointed at the emulators, and nothing that hides the probe. */
function machineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '',
    PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST ?? '',
    GOOGLE_CLOUD_PROJECT: PROJECT_ID,
    ...extra,
  };
}

it('`npm run audit` against the emulator writes no MetadataLookupWarning', async () => {
  const {stdout, stderr} = await run(
    process.execPath,
    [
      join(ROOT, 'lib/tools/audit.js'),
      '--prefix',
      uniquePrefix('metadata'),
      '--user',
      'nobody@school.example',
    ],
    {env: machineEnv()},
  );
  expect(stdout).toContain('No audit events match.');
  expect(stderr).not.toContain('MetadataLookupWarning');
});

function isFree(port: number): Promise<boolean> {
  return new Promise(res => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/** Two consecutive free ports (the worker targets listen on WORKER_PORT and the next). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (await isFree(port + 1)) return port;
  }
}

describe('the local stack (`npm start` without its emulator wrapper)', () => {
  const topic = uniqueName('metadata');
  let stack: ChildProcess | undefined;

  afterAll(async () => {
    if (stack && stack.exitCode === null && stack.signalCode === null) {
      const exited = new Promise(r => stack!.once('exit', r));
      stack.kill('SIGTERM');
      await exited;
    }
    const pubsub = newPubSub();
    for (const s of [`${topic}-worker`, `${topic}-dead-letter-worker`])
      await pubsub
        .subscription(s)
        .delete()
        .catch(() => undefined);
    for (const t of [topic, `${topic}-dead-letter`])
      await pubsub
        .topic(t)
        .delete()
        .catch(() => undefined);
    await pubsub.close();
  });

  it('its gateway instances, workers and wiring write no MetadataLookupWarning, nor any stack trace', async () => {
    const env = machineEnv({
      PORT: String(await freePort()),
      STANDIN_PORT: String(await freePort()),
      WORKER_PORT: String(await freePortPair()),
      INVITATIONS_TOPIC: topic,
    });
    stack = spawn(process.execPath, [join(ROOT, 'lib/tools/local-stack.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    stack.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    stack.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const child = stack;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the local stack never got ready:\n${out}`)),
        45_000,
      );
      const check = () => {
        if (out.includes('Local stack ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', code => {
        clearTimeout(timer);
        reject(new Error(`the local stack exited (${code}):\n${out}`));
      });
    });
    const exited = new Promise(r => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    expect(out).not.toContain('MetadataLookupWarning');
    // Nor a stack trace: waiting for the worker targets used to GET them, which the framework answers with a TypeError.
    expect(out).not.toMatch(/TypeError|^\s+at /m);
  }, 60_000);
});
