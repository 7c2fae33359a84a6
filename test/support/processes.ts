// Real function instances: the built entry (lib/) served by the Functions Framework CLI in child processes,
// as Cloud Run runs it, all on one Firestore emulator and one Classroom stand-in.
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { PROJECT_ID } from './emulator';

/** lib/ is built by the global set-up (test/support/global-setup.js). */
export const ROOT = resolve(__dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export interface Instance {
  port: number;
  url: string;
  child: ChildProcess;
  output: () => string;
}

export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const port = await freePort();
  const cli = join(dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
  const child = spawn(process.execPath, [cli, '--target=invitations', `--source=${join(ROOT, 'lib/functions/index.js')}`, `--port=${port}`], {
    env: {
      PATH: process.env.PATH ?? '',
      FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '',
      METADATA_SERVER_DETECTION: 'none',
      GOOGLE_CLOUD_PROJECT: PROJECT_ID,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance exited: ${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`instance did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, url, child, output: () => out };
}

export async function stopInstance(i: Instance): Promise<void> {
  if (i.child.exitCode !== null || i.child.signalCode !== null) return;
  const exited = new Promise((r) => i.child.once('exit', r));
  i.child.kill('SIGTERM');
  await exited;
}

export interface Posted {
  status: number;
  body: { id?: string; error?: { status: string } };
  headers: Headers;
  tries: number;
}

/** POSTs an invitation; after 409 ABORTED it honours Retry-After and tries again, as a good client does. */
export async function postSettled(url: string, body: unknown, maxTries = 10): Promise<Posted> {
  for (let tries = 1; ; tries++) {
    const res = await fetch(`${url}/v1/invitations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as Posted['body'];
    if (res.status === 409 && json.error?.status === 'ABORTED' && tries < maxTries) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
      continue;
    }
    return { status: res.status, body: json, headers: res.headers, tries };
  }
}
