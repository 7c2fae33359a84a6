// firestore.rules: no end-user client may read or write anything; only the gateway's server credentials
// (which bypass rules) touch the ledger and the audit trail.
import {readFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {
  assertFails,
  initializeTestEnvironment,
  RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import {
  doc,
  getDoc,
  setDoc,
  collection,
  getDocs,
  deleteDoc,
} from 'firebase/firestore';
import {emulatorHost, PROJECT_ID} from './support/emulator';

let env: RulesTestEnvironment;

beforeAll(async () => {
  const [host, port] = emulatorHost().split(':');
  env = await initializeTestEnvironment({
    projectId: PROJECT_ID,
    firestore: {
      host: host!,
      port: Number(port),
      rules: readFileSync(resolve(__dirname, '../firestore.rules'), 'utf8'),
    },
  });
  await env.withSecurityRulesDisabled(async ctx => {
    await setDoc(doc(ctx.firestore(), 'invitations/k1'), {state: 'created'});
    await setDoc(doc(ctx.firestore(), 'audit/r1'), {outcome: 'created'});
  });
});
afterAll(() => env.cleanup());

describe.each([
  ['an unauthenticated client', () => env.unauthenticatedContext()],
  [
    'a signed-in user',
    () =>
      env.authenticatedContext('teacher-1', {email: 'teacher@school.example'}),
  ],
  [
    'a signed-in admin-looking user',
    () => env.authenticatedContext('admin', {admin: true}),
  ],
])('%s', (_name, context) => {
  it.each(['invitations', 'audit'])(
    'cannot read, list, write or delete %s',
    async col => {
      const db = context().firestore();
      const id = col === 'invitations' ? 'k1' : 'r1';
      await assertFails(getDoc(doc(db, col, id)));
      await assertFails(getDocs(collection(db, col)));
      await assertFails(setDoc(doc(db, col, 'new'), {any: 'thing'}));
      await assertFails(deleteDoc(doc(db, col, id)));
    },
  );

  it('cannot touch any other collection either', async () => {
    const db = context().firestore();
    await assertFails(setDoc(doc(db, 'anything/else'), {a: 1}));
    await assertFails(getDoc(doc(db, 'anything/else')));
  });
});
