// Refused webhook deliveries in the audit: bounded in size, expiring (REFUSAL_AUDIT_TTL_DAYS), and bounded in
// number under a flood of unauthenticated requests (REFUSAL_AUDIT_PER_SECOND, REFUSAL_AUDIT_BURST).
import {randomBytes, randomUUID} from 'node:crypto';
import type {AddressInfo} from 'node:net';
import request from 'supertest';
import {setLogSink, Severity} from '../functions/logs';
import {startTestGateway, TestGateway} from './support/gateway';
import {postWebhook} from './support/webhooks';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const DAY = 86_400_000;
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway('refusals', {
    WEBHOOK_SECRETS: secret,
    REFUSAL_AUDIT_TTL_DAYS: '7',
  });
});
afterAll(() => t.close());

type Doc = Record<string, unknown> & {expireAt?: {toMillis(): number}};
const audit = async () => (await t.auditDocs()) as Doc[];
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
/** The audit documents written since `before`, once they account for `expected` refusals (or 15 s passed: a loaded machine writes late). */
async function settledRefusals(
  before: Set<unknown>,
  expected: number,
): Promise<{docs: Doc[]; counted: number}> {
  let docs: Doc[] = [];
  let counted = 0;
  for (let wait = 0; wait < 150 && counted < expected; wait++) {
    await sleep(100);
    docs = (await audit()).filter(d => !before.has(d._id));
    counted = docs.reduce(
      (sum, d) => sum + ((d.suppressedCount as number | undefined) ?? 1),
      0,
    );
  }
  return {docs, counted};
}
const event = {
  type: 'enrollments.created',
  timestamp: new Date().toISOString(),
  data: {
    enrollments: [
      {
        sourcedId: 'e1',
        status: 'active',
        role: 'student',
        user: {sourcedId: 'u1', email: 'ttl@school.example'},
        class: {sourcedId: 'ttl-1'},
      },
    ],
  },
};

it('refusals carry expireAt = now + REFUSAL_AUDIT_TTL_DAYS; decisions carry none and stay', async () => {
  const unsigned = await request(t.server)
    .post('/webhooks/sis')
    .set('webhook-id', 'msg_ttl_unsigned')
    .send(event)
    .expect(401);
  const malformed = await postWebhook(
    t.server,
    secret,
    JSON.stringify({...event, type: 'users.created'}),
    {id: 'msg_ttl_malformed'},
  ).expect(400);
  const created = await postWebhook(t.server, secret, JSON.stringify(event), {
    id: 'msg_ttl_created',
  }).expect(200);
  const docs = await audit();
  const of = (requestId: string | undefined) =>
    docs.find(d => d._id === requestId);
  for (const r of [unsigned, malformed]) {
    const d = of(r.headers['x-request-id'])!;
    expect(d.outcome).toBe('rejected');
    expect(d.expireAt!.toMillis() - Date.now()).toBeGreaterThan(
      7 * DAY - 60_000,
    );
    expect(d.expireAt!.toMillis() - Date.now()).toBeLessThanOrEqual(7 * DAY);
  }
  expect(of(malformed.headers['x-request-id'])).toMatchObject({
    webhookId: 'msg_ttl_malformed',
    violations: ['type'],
  });
  const decision = of(`${created.headers['x-request-id']}.0`)!;
  expect(decision.outcome).toBe('created');
  expect(decision.expireAt).toBeUndefined();
});

it('2,000 unsigned deliveries with 250-character webhook-ids write a few dozen small audit documents, and every one is counted', async () => {
  const before = new Set((await audit()).map(d => d._id));
  const warnings: string[] = [];
  setLogSink((line: string, severity: Severity) => {
    if (severity === 'WARNING' && line.includes('refusal audit rate limit'))
      warnings.push(line);
  });
  // Kept-alive connections to a listening server, so that the flood is as dense as an attacker's.
  await new Promise<void>(resolve => t.server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/webhooks/sis`;
  const body = JSON.stringify(event);
  const started = Date.now();
  const statuses: number[] = [];
  let next = 0;
  const send = async () => {
    while (next < 2000) {
      const i = next++;
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'webhook-id': `msg_${'x'.repeat(200)}_${randomUUID()}`.slice(0, 250),
      };
      // Half send no signature at all, half a forged one.
      if (i % 2)
        Object.assign(headers, {
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': `v1,${randomBytes(32).toString('base64')}`,
        });
      const res = await fetch(url, {method: 'POST', headers, body});
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  };
  await Promise.all(Array.from({length: 50}, send));
  const seconds = (Date.now() - started) / 1000;
  setLogSink(() => undefined);
  expect(statuses.filter(s => s === 401)).toHaveLength(2000);

  // The last counts are written by themselves once the bucket has room (at most 200 ms at 5/s).
  const {docs, counted} = await settledRefusals(before, 2000);
  expect(counted).toBe(2000);
  // Burst 20, then 5 a second, plus the last summary.
  expect(docs.length).toBeLessThanOrEqual(20 + Math.ceil(seconds * 5) + 1);
  expect(docs.length).toBeLessThan(100);
  for (const d of docs) {
    expect(d.outcome).toBe('rejected');
    expect(d.expireAt).toBeDefined();
    if (d.webhookId !== undefined)
      expect(d.webhookId).toMatch(/^sha256:[0-9a-f]{16}$/);
  }
  const summaries = docs.filter(d => d.suppressedCount);
  expect(summaries.length).toBeGreaterThanOrEqual(1);
  const kinds = Object.keys(
    Object.assign({}, ...summaries.map(s => s.suppressedByKind)) as object,
  ).sort();
  expect(kinds).toEqual(['401 BAD_SIGNATURE', '401 MISSING_HEADERS']);
  expect(warnings.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);

  console.log(
    `flood: 2000 refusals in ${seconds.toFixed(2)} s → ${docs.length} audit documents (${summaries.length} summaries), ${warnings.length} WARNING lines`,
  );
});

it('invalid or unauthenticated calls of /v1/invitations go through the same limiter: 600 of them write a few dozen documents', async () => {
  await sleep(1000); // let the bucket refill after the webhook flood
  const before = new Set((await audit()).map(d => d._id));
  if (!t.server.listening)
    await new Promise<void>(resolve =>
      t.server.listen(0, '127.0.0.1', resolve),
    );
  const base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
  let next = 0;
  const started = Date.now();
  const send = async () => {
    while (next < 600) {
      const i = next++;
      const res =
        i % 2
          ? await fetch(`${base}/v1/invitations`, {
              method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({courseId: 'x', userId: 'y', role: 'NOPE'}),
            })
          : await fetch(`${base}/v1/invitations/bad%20id`, {method: 'DELETE'});
      await res.arrayBuffer();
      expect(res.status).toBe(400);
    }
  };
  await Promise.all(Array.from({length: 20}, send));
  const seconds = (Date.now() - started) / 1000;
  const {docs, counted} = await settledRefusals(before, 600);
  expect(counted).toBe(600);
  expect(docs.length).toBeLessThanOrEqual(20 + Math.ceil(seconds * 5) + 1);
  for (const d of docs) {
    expect(d.source).toBe('http');
    expect(d.expireAt).toBeDefined();
  }
});
