// Running the function as Cloud Run does, in a child process under the Functions Framework's own CLI (what
// `functions-framework --target=invitations` runs). Shared by `npm start`, `npm run bench` and the tests.
import {ChildProcess, spawn, StdioOptions} from 'node:child_process';
import {connect, createServer} from 'node:net';
import {dirname, join} from 'node:path';

export const FUNCTIONS_FRAMEWORK_CLI = join(
  dirname(require.resolve('@google-cloud/functions-framework')),
  'main.js',
);

/** A port the OS says is free right now (for child processes that must be told their port). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as {port: number}).port;
      srv.close(() => res(port));
    });
  });
}

export interface FunctionProcess {
  url: string;
  child: ChildProcess;
  /** performance.now() at spawn, for cold-start timings. */
  spawnedAt: number;
}

/**
 * Spawns a target (default `invitations`; `invitationsWorker` and `invitationsDeadLetter` are CloudEvent
 * functions) on `port`. `entry` is the built module to serve (default: package.json
 * `main`); `env` is laid over the emulator settings of this process.
 */
export function spawnFunction(opts: {
  target?: 'invitations' | 'invitationsWorker' | 'invitationsDeadLetter';
  port: number;
  env: Record<string, string | undefined>;
  entry?: string;
  stdio?: StdioOptions;
}): FunctionProcess {
  const args = [
    FUNCTIONS_FRAMEWORK_CLI,
    `--target=${opts.target ?? 'invitations'}`,
    ...(opts.target && opts.target !== 'invitations'
      ? ['--signature-type=cloudevent']
      : []),
    ...(opts.entry ? [`--source=${opts.entry}`] : []),
    `--port=${opts.port}`,
  ];
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH ?? '',
      FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '',
      // Where operation items are published, and what makes the framework read the emulator's pushes.
      ...(process.env.PUBSUB_EMULATOR_HOST
        ? {PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST}
        : {}),
      METADATA_SERVER_DETECTION: 'none',
      ...opts.env,
    },
    stdio: opts.stdio ?? ['ignore', 'ignore', 'inherit'],
  });
  return {
    url: `http://127.0.0.1:${opts.port}`,
    child,
    spawnedAt: performance.now(),
  };
}

/** Does anything accept a connection at `url`'s port? */
function accepts(url: string): Promise<boolean> {
  const {hostname, port} = new URL(url);
  return new Promise(res => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      res(true);
    });
    socket.once('error', () => res(false));
  });
}

/** Resolves once GET /healthz answers 200; fails if the process exits or `timeoutMs` passes. */
export async function waitForHealth(
  fn: FunctionProcess,
  timeoutMs: number,
  describe: () => string = () => '',
  /**
   * CloudEvent targets serve no /healthz: a connection accepted means the process listens. (A GET there would
   * make the framework print a TypeError with its stack: its event middleware reads a body a GET has not got.)
   */
  anyAnswer = false,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (fn.child.exitCode !== null)
      throw new Error(
        `the function exited before serving ${describe()}`.trim(),
      );
    try {
      if (anyAnswer) {
        if (await accepts(fn.url)) return;
      } else if ((await fetch(`${fn.url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until)
      throw new Error(
        `the function did not answer ${fn.url}/healthz within ${timeoutMs} ms ${describe()}`.trim(),
      );
    await new Promise(r => setTimeout(r, 50));
  }
}

export async function stopFunction(fn: FunctionProcess): Promise<void> {
  if (fn.child.exitCode !== null || fn.child.signalCode !== null) return;
  const exited = new Promise(r => fn.child.once('exit', r));
  fn.child.kill('SIGTERM');
  await exited;
}

export interface Posted {
  status: number;
  body: {id?: string; error?: {status: string}};
  headers: Headers;
  tries: number;
}

/** POSTs an invitation; after 409 ABORTED it honours Retry-After and tries again, as a good client does. */
export async function postSettled(
  url: string,
  body: unknown,
  maxTries = 10,
): Promise<Posted> {
  for (let tries = 1; ; tries++) {
    const res = await fetch(`${url}/v1/invitations`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Posted['body'];
    if (
      res.status === 409 &&
      json.error?.status === 'ABORTED' &&
      tries < maxTries
    ) {
      await new Promise(r =>
        setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000),
      );
      continue;
    }
    return {status: res.status, body: json, headers: res.headers, tries};
  }
}
