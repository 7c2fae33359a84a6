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
  { stdio: 'inherit', env: emulatorEnv() },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
