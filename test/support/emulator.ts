// Shared set-up for tests that run against the Firestore emulator (files named *.emulator.test.ts).
import {randomBytes} from 'node:crypto';
import {Firestore} from '@google-cloud/firestore';

export const PROJECT_ID = 'demo-classroom-gateway';

export function emulatorHost(): string {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host)
    throw new Error(
      'FIRESTORE_EMULATOR_HOST is not set: run the emulator tests through `npm test`.',
    );
  return host;
}

export function newFirestore(): Firestore {
  emulatorHost();
  return new Firestore({
    projectId: PROJECT_ID,
    ignoreUndefinedProperties: true,
  });
}

/** Suites share one emulator; each isolates its data under its own collection prefix. */
export function uniquePrefix(name: string): string {
  return `t_${name}_${randomBytes(4).toString('hex')}_`;
}
