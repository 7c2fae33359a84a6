#!/usr/bin/env node
// Runs a command with the Firestore emulator up (firebase emulators:exec), on this machine or a laptop.
// Usage: node scripts/with-emulator.mjs <command...>
import { spawn } from 'node:child_process';
import { emulatorEnv } from './emulator-env.mjs';

export const EMULATOR_PROJECT = 'demo-classroom-gateway';

const command = process.argv.slice(2).join(' ');
if (!command) {
  console.error('usage: with-emulator.mjs <command...>');
  process.exit(2);
}
const child = spawn(
  'npx',
  ['--no-install', 'firebase', 'emulators:exec', '--only', 'firestore', '--project', process.env.GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT, command],
  // Nothing here runs on Google Cloud: skip google-auth-library's metadata-server probe (a needless
  // network wait and a MetadataLookupWarning on every process that talks to the emulator).
  { stdio: 'inherit', env: { METADATA_SERVER_DETECTION: 'none', ...emulatorEnv() } },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
