#!/usr/bin/env node
// Runs a command with the Firestore and Pub/Sub emulators up (firebase emulators:exec), here or on a laptop.
// Usage: node scripts/with-emulator.mjs <command...>
import { spawn } from 'node:child_process';
import { emulatorEnv } from './emulator-env.mjs';

export const EMULATOR_PROJECT = 'demo-classroom-gateway';

const command = process.argv.slice(2).join(' ');
if (!command) {
  console.error('usage: with-emulator.mjs <command...>');
  process.exit(2);
}
const project = process.env.GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT;
// Ports come from firebase.json; the CLI hands the command FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST.
const child = spawn('npx', ['--no-install', 'firebase', 'emulators:exec', '--only', 'firestore,pubsub', '--project', project, command], {
  stdio: 'inherit',
  env: {
    // Nothing here runs on Google Cloud: skip google-auth-library's metadata-server probe (a needless
    // network wait and a MetadataLookupWarning on every process that talks to the emulator).
    METADATA_SERVER_DETECTION: 'none',
    // The project @google-cloud/pubsub takes in emulator mode when none is passed (GCLOUD_PROJECT, which
    // the Firebase CLI sets, names the same one for everything else).
    PUBSUB_PROJECT_ID: project,
    ...emulatorEnv(),
  },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
