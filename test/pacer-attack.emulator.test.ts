// The shared pacer attacked on the Firestore emulator: instances that disagree about which admins are in their
// rotation, an admin email Firestore cannot use as an id, a backlog met while a rate cut recovers, a burst of
// Classroom 429s, and deadlines that cannot be met. Each would have overshot the quota, broken every call, or paid
// Firestore for nothing.
import {Timestamp} from '@google-cloud/firestore';
import {ApiError} from '../functions/errors';
import {setLogSink} from '../functions/logs';
import {Grant, Pacer, PacerStorage} from '../functions/pacer/pacer';
import {SLOT_MS} from '../functions/pacer/schedule';
import {
  LeaseRequest,
  PACER_RATES_COLLECTION,
  PACER_SLOTS_COLLECTION,
  PacerRates,
  PacerStore,
  scopeId,
} from '../functions/pacer/store';
import {SubjectPool} from '../functions/pacer/subjects';
import {newFirestore, uniquePrefix} from './support/emulator';

const db = newFirestore();
// An admin taken out of the rotation logs an ERROR line: expected here, not worth the test report.
beforeAll(() => setLogSink(() => undefined));
afterAll(async () => {
  setLogSink(() => undefined);
  await db.terminate();
});

/** The real store, with a count of what the pacer asked of it. */
class CountedStore implements PacerStorage {
  leases = 0;
  throttles = 0;
  constructor(readonly store: PacerStore) {}
  lease(req: LeaseRequest) {
    this.leases++;
    return this.store.lease(req);
  }
  throttled(subject: string, grantedAt: number) {
    this.throttles++;
    return this.store.throttled(subject, grantedAt);
  }
}

function counted(prefix: string, rates: PacerRates, subjects: string[]) {
  const store = new CountedStore(new PacerStore(db, prefix, rates));
  return {store, pacer: new Pacer(store, new SubjectPool(subjects))};
}

const fulfilled = (outcomes: PromiseSettledResult<Grant>[]) =>
  outcomes
    .filter((o): o is PromiseFulfilledResult<Grant> => o.status === 'fulfilled')
    .map(o => o.value);

const perSlot = (grants: Grant[]) => {
  const counts = new Map<number, number>();
  for (const g of grants) {
    const slot = Math.floor(g.at / SLOT_MS);
    counts.set(slot, (counts.get(slot) ?? 0) + 1);
  }
  return counts;
};

const positionsTaken = async (prefix: string) =>
  (await db.collection(prefix + PACER_SLOTS_COLLECTION).get()).docs.reduce(
    (n, d) => n + (d.get('taken') as number),
    0,
  );

it("two instances whose rotations differ (one has an admin out) still hold the project's limit together", async () => {
  const prefix = uniquePrefix('attack');
  // Three admins at 10 could pass the project's 25; two at 10 could not.
  const rates = {subjectQps: 10, projectQps: 25};
  const admins = ['a@school.example', 'b@school.example', 'c@school.example'];
  const a = counted(prefix, rates, admins);
  const b = counted(prefix, rates, admins);
  // B's token exchange for c failed once (a passing refusal, or c revoked and A still holds a valid token).
  b.pacer.pool.failed('c@school.example', new Error('refused'));
  const deadline = Date.now() + 8000;
  const grants = fulfilled(
    await Promise.allSettled([
      ...Array.from({length: 80}, () => a.pacer.take(deadline)),
      ...Array.from({length: 80}, () => b.pacer.take(deadline)),
    ]),
  );
  expect(grants.length).toBeGreaterThan(100);
  expect(Math.max(...perSlot(grants).values())).toBeLessThanOrEqual(25);
});

it('an admin email with a slash (which Firestore ids cannot hold) leaves the rest of the pool working, each admin on its own slots', async () => {
  const prefix = uniquePrefix('attack');
  const odd = 'a/b@school.example';
  const {pacer} = counted(prefix, {subjectQps: 2, projectQps: 1000}, [
    odd,
    'c@school.example',
  ]);
  const grants = await Promise.all(
    Array.from({length: 8}, () => pacer.take(Date.now() + 10_000)),
  );
  const bySubject = (s: string) => grants.filter(g => g.subject === s);
  expect(bySubject(odd).length).toBeGreaterThan(0);
  expect(bySubject('c@school.example').length).toBeGreaterThan(0);
  for (const s of [odd, 'c@school.example'])
    expect(Math.max(...perSlot(bySubject(s)).values())).toBeLessThanOrEqual(2);
  // Its id escapes the slash, and cannot meet an admin whose address spells the escape out.
  expect(scopeId(odd)).not.toContain('/');
  expect(scopeId('a%2Fb@school.example')).not.toBe(scopeId(odd));
});

it('a call behind a backlog while a rate cut recovers is leased a few times, not hundreds', async () => {
  const prefix = uniquePrefix('attack');
  const rates = {subjectQps: 10, projectQps: 1000};
  // A cut that is climbing back: every lease sees a slightly faster rate than the last.
  await db
    .collection(prefix + PACER_RATES_COLLECTION)
    .doc(scopeId(''))
    .set({qps: 5, cutAt: Timestamp.fromMillis(Date.now()), ceilingQps: 10});
  // Another instance has leased the next several seconds.
  const other = counted(prefix, rates, ['']);
  const backlog = Array.from({length: 50}, () =>
    other.pacer.take(Date.now() + 20_000),
  );
  await new Promise(r => setTimeout(r, 300));
  const mine = counted(prefix, rates, ['']);
  const grant = await mine.pacer.take(Date.now() + 15_000);
  expect(grant.at).toBeGreaterThan(Date.now() - SLOT_MS);
  // The recovery lifts the capacity of a slot by one about twice a second here: each such step may re-read.
  expect(mine.store.leases).toBeLessThanOrEqual(20);
  await Promise.all(backlog);
}, 30_000);

it('a burst of 429s on calls granted before any cut costs one rate transaction, and cuts once', async () => {
  const prefix = uniquePrefix('attack');
  const {store, pacer} = counted(prefix, {subjectQps: 20, projectQps: 1000}, [
    '',
  ]);
  const inFlight = await Promise.all(
    Array.from({length: 20}, () => pacer.take(Date.now() + 5000)),
  );
  await Promise.all(inFlight.map(g => pacer.throttled(g)));
  expect(store.throttles).toBe(1);
  expect(await store.store.currentRate('')).toBeCloseTo(10, 0);
  // A call granted after the cut that meets a 429 cuts again.
  const later = await pacer.take(Date.now() + 5000);
  await pacer.throttled(later);
  expect(store.throttles).toBe(2);
  expect(await store.store.currentRate('')).toBeLessThan(6);
});

it('a call whose deadline has passed (or is not a number) is refused without taking a position', async () => {
  const prefix = uniquePrefix('attack');
  const {store, pacer} = counted(prefix, {subjectQps: 10, projectQps: 1000}, [
    '',
  ]);
  const outcomes = await Promise.allSettled([
    pacer.take(Date.now() - 1000),
    pacer.take(NaN),
  ]);
  for (const o of outcomes) {
    expect(o.status).toBe('rejected');
    const e = (o as PromiseRejectedResult).reason as ApiError;
    expect(e.httpStatus).toBe(429);
    expect(e.headers['Retry-After']).toMatch(/^\d+$/);
  }
  expect(store.leases).toBe(0);
  expect(await positionsTaken(prefix)).toBe(0);
  // Beside a call that can wait, they do not make the lease take positions nobody can use.
  await Promise.allSettled([
    pacer.take(NaN),
    pacer.take(Date.now() - 1000),
    pacer.take(Date.now() + 5000),
  ]);
  expect(await positionsTaken(prefix)).toBe(1);
});

it('a pool with no admin at all answers 503 with a Retry-After that is a number of seconds', async () => {
  const prefix = uniquePrefix('attack');
  const {pacer} = counted(prefix, {subjectQps: 10, projectQps: 1000}, []);
  const e = (await pacer.take(Date.now() + 5000).catch(err => err)) as ApiError;
  expect(e.httpStatus).toBe(503);
  expect(e.headers['Retry-After']).toMatch(/^\d+$/);
});

it("a position of this second's burst, whose lease came back more than a second after the position's time, is used, not dropped", async () => {
  const prefix = uniquePrefix('attack');
  // The pacer's clock moves on by 1.5 s while each lease is out: a contended lease, or one begun at the end of a
  // second (then 20 ms are enough), returns after the first positions of the second it read.
  let shift = 0;
  let over = false;
  const store = new CountedStore(
    new PacerStore(db, prefix, {subjectQps: 10, projectQps: 1000}),
  );
  const slow: PacerStorage = {
    lease: async req => {
      if (over) throw new Error('the test is over');
      const lease = await store.lease(req);
      shift += 1500;
      return lease;
    },
    throttled: (s, g) => store.throttled(s, g),
  };
  const pacer = new Pacer(
    slow,
    new SubjectPool(['']),
    () => Date.now() + shift,
  );
  const outcome = await Promise.race([
    pacer.take(Date.now() + 5000),
    new Promise(r => setTimeout(() => r('still waiting'), 8000)),
  ]);
  over = true;
  expect(outcome).toMatchObject({subject: ''});
  expect(store.leases).toBe(1);
  expect(await positionsTaken(prefix)).toBe(1);
});
