// The shared pacer on the Firestore emulator: several instances (separate Pacers, as separate processes would
// have) stay under one rate together, a call that cannot get quota before its deadline is refused at once with an
// honest Retry-After, a 429 slows every instance down, and a pool of admins shares the load and loses a revoked one.
import request from 'supertest';
import {ApiError} from '../functions/errors';
import {setLogSink} from '../functions/logs';
import {Grant, Pacer, QUOTA_BACKLOG_REASON} from '../functions/pacer/pacer';
import {PACER_SLOTS_COLLECTION, PacerStore} from '../functions/pacer/store';
import {SLOT_MS} from '../functions/pacer/schedule';
import {SubjectPool} from '../functions/pacer/subjects';
import {newFirestore, uniquePrefix} from './support/emulator';
import {startTestGateway, TestGateway} from './support/gateway';

const db = newFirestore();
afterAll(() => db.terminate());

/** One gateway instance's pacer; instances built on the same prefix share their quota through Firestore. */
function instance(prefix: string, subjectQps: number, subjects = ['']) {
  const store = new PacerStore(db, prefix, {subjectQps, projectQps: 1000});
  return {store, pacer: new Pacer(store, new SubjectPool(subjects))};
}

const perSlot = (grants: Grant[]) => {
  const counts = new Map<number, number>();
  for (const g of grants) {
    const slot = Math.floor(g.at / SLOT_MS);
    counts.set(slot, (counts.get(slot) ?? 0) + 1);
  }
  return counts;
};

describe('instances sharing the quota', () => {
  it('three instances asking for 60 calls at once get them at 20 per second between them, never more in any second', async () => {
    const prefix = uniquePrefix('pacer');
    const instances = [1, 2, 3].map(() => instance(prefix, 20));
    const deadline = Date.now() + 15_000;
    const started = Date.now();
    const grants = await Promise.all(
      instances.flatMap(({pacer}) =>
        Array.from({length: 20}, () => pacer.take(deadline)),
      ),
    );
    const elapsed = Date.now() - started;
    expect(grants).toHaveLength(60);
    expect(Math.max(...perSlot(grants).values())).toBeLessThanOrEqual(20);
    // 60 calls at 20 per second need at least the two seconds after the first one's.
    expect(elapsed).toBeGreaterThanOrEqual(2 * SLOT_MS - 50);
    // Every grant was handed out once: Firestore counts exactly 60 positions taken.
    const slots = await db.collection(prefix + PACER_SLOTS_COLLECTION).get();
    const taken = slots.docs.reduce(
      (n, d) => n + (d.get('taken') as number),
      0,
    );
    expect(taken).toBe(60);
  });

  it('a call whose deadline comes before the quota frees up is refused at once: 429 with Retry-After from the backlog, and takes no position', async () => {
    const prefix = uniquePrefix('pacer');
    const {pacer} = instance(prefix, 2);
    const deadline = Date.now() + 2000;
    const outcomes = await Promise.allSettled(
      Array.from({length: 10}, () => pacer.take(deadline)),
    );
    const granted = outcomes.filter(o => o.status === 'fulfilled');
    const refused = outcomes
      .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      .map(o => o.reason as ApiError);
    expect(granted.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    for (const e of refused) {
      expect(e).toBeInstanceOf(ApiError);
      expect(e.httpStatus).toBe(429);
      expect(e.body.status).toBe('RESOURCE_EXHAUSTED');
      expect(e.body.details).toContainEqual(
        expect.objectContaining({reason: QUOTA_BACKLOG_REASON}),
      );
      // Two calls per second are already taken up to the deadline: the quota frees up within two seconds (whole
      // seconds, rounded down: a retry that comes early waits inside its own deadline).
      const after = e.headers['Retry-After'];
      expect(after).toMatch(/^[0-2]$/);
    }
    const slots = await db.collection(prefix + PACER_SLOTS_COLLECTION).get();
    const taken = slots.docs.reduce(
      (n, d) => n + (d.get('taken') as number),
      0,
    );
    expect(taken).toBe(granted.length);
  });

  it('a 429 halves the rate for every instance, once for calls already in flight, again for a call granted after the cut', async () => {
    const prefix = uniquePrefix('pacer');
    const a = instance(prefix, 20);
    const b = instance(prefix, 20);
    const inFlight = await Promise.all([
      a.pacer.take(Date.now() + 5000),
      a.pacer.take(Date.now() + 5000),
    ]);
    for (const g of inFlight) await a.pacer.throttled(g);
    expect(await b.store.currentRate('')).toBeCloseTo(10, 0);
    // B leases at the halved rate: no slot it fills holds more than 10.
    const later = await Promise.all(
      Array.from({length: 25}, () => b.pacer.take(Date.now() + 10_000)),
    );
    const bySlot = perSlot(later);
    const lastSlot = Math.max(...bySlot.keys());
    for (const [slot, n] of bySlot)
      if (slot !== Math.floor(inFlight[0]!.at / SLOT_MS) && slot < lastSlot)
        expect(n).toBeLessThanOrEqual(11); // the rate climbs back by 1 per second
    await b.pacer.throttled(later[later.length - 1]!);
    expect(await a.store.currentRate('')).toBeLessThan(10);
  });
});

describe('a pool of admins', () => {
  let t: TestGateway;
  const lines: Array<Record<string, unknown>> = [];
  let n = 0;
  const pair = () => ({
    courseId: `d:pool-${++n}`,
    userId: `p${n}@school.example`,
    role: 'STUDENT',
  });
  const post = (body: object) =>
    request(t.server).post('/v1/invitations').send(body);
  const subjectsAudited = async () =>
    (await t.auditDocs())
      .filter(d => d.outcome === 'created')
      .map(d => d.classroomSubject);

  beforeEach(async () => {
    t = await startTestGateway('pool', {
      CLASSROOM_SUBJECTS: 'admin1@school.example admin2@school.example',
    });
    lines.length = 0;
    setLogSink(line => lines.push(JSON.parse(line) as Record<string, unknown>));
  });
  afterEach(async () => {
    setLogSink(() => undefined);
    await t.close();
  });

  it('calls go out as each admin in turn, with their own tokens, and the audit records which', async () => {
    for (let i = 0; i < 10; i++) await post(pair()).expect(200);
    const bySubject = t.standIn.rate().bySubject;
    expect(bySubject['admin1@school.example']?.accepted).toBeGreaterThanOrEqual(
      3,
    );
    expect(bySubject['admin2@school.example']?.accepted).toBeGreaterThanOrEqual(
      3,
    );
    expect(bySubject['']).toBeUndefined();
    const audited = await subjectsAudited();
    expect(audited).toHaveLength(10);
    expect(new Set(audited)).toEqual(
      new Set(['admin1@school.example', 'admin2@school.example']),
    );
  });

  it('an admin whose delegation was revoked leaves the rotation with an ERROR log; every call goes to the other', async () => {
    t.standIn.revokeSubject('admin1@school.example');
    for (let i = 0; i < 10; i++) await post(pair()).expect(200);
    expect(t.standIn.rate().bySubject['admin1@school.example']).toBeUndefined();
    expect(t.standIn.rate().bySubject['admin2@school.example']?.accepted).toBe(
      10,
    );
    // One refused exchange took it out; it is not asked again before its pause ends.
    expect(t.standIn.tokenExchanges()['admin1@school.example']?.refused).toBe(
      1,
    );
    expect(new Set(await subjectsAudited())).toEqual(
      new Set(['admin2@school.example']),
    );
    const left = lines.filter(l =>
      String(l.message).includes('left the rotation'),
    );
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({
      severity: 'ERROR',
      subject: 'admin1@school.example',
      retryInSeconds: 60,
    });
  });

  it('with every admin revoked: 503 UNAVAILABLE with Retry-After, no invitation, and the pair free for later', async () => {
    t.standIn.revokeSubject('admin1@school.example');
    t.standIn.revokeSubject('admin2@school.example');
    const body = pair();
    const res = await post(body).expect(503);
    expect(res.body.error).toMatchObject({code: 503, status: 'UNAVAILABLE'});
    expect(res.body.error.details).toContainEqual(
      expect.objectContaining({reason: 'NO_CLASSROOM_SUBJECT'}),
    );
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(50);
    expect(t.standIn.calls.create).toBe(0);
    expect(
      (await t.ledgerDocs()).filter(d => d.userId === body.userId),
    ).toHaveLength(0);
  });
});

describe("Classroom's own 429", () => {
  let t: TestGateway;
  afterEach(() => t.close());

  it('when the quota is smaller than the pacer thinks (shared with another tool), 429s cut the rate and every pair is still invited once', async () => {
    t = await startTestGateway('throttled', {CLASSROOM_QPS: '12'});
    t.standIn.setQuota({userQps: 4});
    const pairs = Array.from({length: 24}, (_, i) => ({
      courseId: `d:quota-${i}`,
      userId: `q${i}@school.example`,
      role: 'STUDENT',
    }));
    // A well-behaved client: after a 429 it waits as told, then tries again.
    await Promise.all(
      pairs.map(async body => {
        for (let tries = 0; tries < 20; tries++) {
          const res = await request(t.server)
            .post('/v1/invitations')
            .send(body);
          if (res.status === 200) return;
          expect(res.status).toBe(429);
          await new Promise(r =>
            setTimeout(r, Number(res.headers['retry-after']) * 1000),
          );
        }
        throw new Error(`${body.userId} never got its invitation`);
      }),
    );
    expect(t.standIn.invitations.size).toBe(24);
    const [cut] = await t.rateDocs();
    expect(cut!.qps).toBeLessThan(12);
    const {accepted, throttled} = t.standIn.rate().totals;
    expect(accepted).toBe(24);
    // Without the cuts every retry would hit the same wall: at 12 per second against 4, two calls in three.
    expect(throttled).toBeLessThan(accepted);
  }, 60_000);
});
