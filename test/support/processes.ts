// Real function instances: the built entry (lib/) served by the Functions Framework CLI in child processes,
// as Cloud Run runs it, all on one Firestore emulator and one Classroom stand-in.
import {join, resolve} from 'node:path';
import {
  freePort,
  FunctionProcess,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from '../../tools/instance';
import {PROJECT_ID} from './emulator';

export {freePort, postSettled} from '../../tools/instance';
export type {Posted} from '../../tools/instance';

/** lib/ is built by the global set-up (test/support/global-setup.js). */
export const ROOT = resolve(__dirname, '../..');

export interface Instance extends FunctionProcess {
  port: number;
  output: () => string;
}

export async function startInstance(
  env: Record<string, string>,
  target:
    | 'invitations'
    | 'invitationsWorker'
    | 'invitationsDeadLetter' = 'invitations',
  port?: number,
): Promise<Instance> {
  port ??= await freePort();
  const fn = spawnFunction({
    target,
    port,
    entry: join(ROOT, 'lib/functions/index.js'),
    env: {GOOGLE_CLOUD_PROJECT: PROJECT_ID, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  fn.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  fn.child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitForHealth(fn, 20_000, () => out, target !== 'invitations');
  return {...fn, port, output: () => out};
}

export const stopInstance = stopFunction;
