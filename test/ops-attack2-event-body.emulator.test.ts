// The `invitationsWorker` target over HTTP, sent what Eventarc sends in production: a Pub/Sub message in a CloudEvent,
// binary mode (ce-* headers, the MessagePublishedData as the JSON body) or structured mode. A slice of up to 100 items
// must get through the request guard's body cap (the largest is about 325 KB of base64), and the cap stays bounded.
import {randomBytes} from 'node:crypto';
import type {Firestore} from '@google-cloud/firestore';
import {Operations} from '../functions/operations/store';
import type {ItemMessage, ItemSpec} from '../functions/operations/worker';
import {ClassroomStandIn} from '../standin/server';
import {newFirestore, PROJECT_ID, uniquePrefix} from './support/emulator';
import {Instance, startInstance, stopInstance} from './support/processes';

const standIn = new ClassroomStandIn();
const prefix = uniquePrefix('oa2body');
let db: Firestore;
let operations: Operations;
let worker: Instance;

beforeAll(async () => {
  const standInUrl = await standIn.start();
  db = newFirestore();
  operations = new Operations(db, prefix, 24 * 3600_000);
  worker = await startInstance(
    {
      CLASSROOM_ROOT_URL: standInUrl,
      COLLECTION_PREFIX: prefix,
      INVITATIONS_TOPIC: `items-${randomBytes(4).toString('hex')}`,
      CLASSROOM_QPS: '1000',
    },
    'invitationsWorker',
  );
}, 60_000);
afterAll(async () => {
  if (worker) await stopInstance(worker);
  await standIn.stop();
  await db.terminate();
});

const topic = `projects/${PROJECT_ID}/topics/invitation-items`;
/** What Pub/Sub puts in a push (and Eventarc in the CloudEvent's data): both spellings of the id and time. */
function published(message: ItemMessage) {
  const messageId = String(Date.now()) + randomBytes(2).toString('hex');
  const publishTime = new Date().toISOString();
  return {
    messageId,
    body: {
      message: {
        data: Buffer.from(JSON.stringify(message)).toString('base64'),
        attributes: {operation: message.operation},
        messageId,
        message_id: messageId,
        publishTime,
        publish_time: publishTime,
      },
      subscription: `projects/${PROJECT_ID}/subscriptions/eventarc-us-central1-items-sub-123`,
    },
  };
}

/** Binary mode: the event's attributes in ce-* headers, its data (the Pub/Sub push body) as the body. */
function binary(message: ItemMessage) {
  const {messageId, body} = published(message);
  return fetch(`${worker.url}/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'ce-id': messageId,
      'ce-source': `//pubsub.googleapis.com/${topic}`,
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-time': new Date().toISOString(),
    },
    body: JSON.stringify(body),
  });
}

/** Structured mode: the whole event as one JSON document. */
function structured(message: ItemMessage) {
  const {messageId, body} = published(message);
  return fetch(`${worker.url}/`, {
    method: 'POST',
    headers: {'Content-Type': 'application/cloudevents+json'},
    body: JSON.stringify({
      specversion: '1.0',
      id: messageId,
      source: `//pubsub.googleapis.com/${topic}`,
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: body,
    }),
  });
}

let n = 0;
const ordinary = (index: number): ItemSpec => ({
  index,
  action: 'create',
  invitation: {
    userId: `student${++n}@school.example.org`,
    courseId: `d:oa2-math-${n % 7}`,
    role: 'STUDENT',
  },
  replace: true,
  sourcedId: `enr-${n}-3f2504e0-4f89-11d3-9a0c-0305e82c3301`,
});

// The longest fields an item may carry: a 254-character address, a 256-character alias of characters JSON escapes,
// a 256-character sourcedId of control characters (six bytes each in JSON).
const longest = (index: number): ItemSpec => ({
  index,
  action: 'create',
  invitation: {
    userId: `${'a'.repeat(64 - String(index).length)}${index}@${['b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.')}`,
    courseId: `d:${'"'.repeat(254)}`,
    role: 'TEACHER',
  },
  replace: true,
  sourcedId: '\u0001'.repeat(256),
});

async function resultsWhen(id: string, count: number, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const results = await operations.allResults(id);
    if (results.length >= count || Date.now() > until) return results;
    await new Promise(r => setTimeout(r, 200));
  }
}

it('an Eventarc push in binary mode of a 100-item slice is run and acknowledged: every item recorded once', async () => {
  standIn.reset();
  const op = await operations.create({
    kind: 'batchCreate',
    total: 100,
    caller: 'unverified',
  });
  const message: ItemMessage = {
    operation: op.id,
    items: Array.from({length: 100}, (_, i) => ordinary(i)),
  };
  const res = await binary(message);
  expect(res.status).toBe(204);
  const results = await resultsWhen(op.id, 100);
  expect(results.map(r => r.index)).toEqual(
    Array.from({length: 100}, (_, i) => i),
  );
  expect(results.every(r => r.outcome === 'created')).toBe(true);
  expect(standIn.calls.create).toBe(100);
}, 60_000);

it('the largest slice a message may carry (100 items of the longest fields) is taken in structured mode; a larger body is refused 413', async () => {
  const op = await operations.create({
    kind: 'webhook',
    total: 100,
    caller: 'unverified',
  });
  const message: ItemMessage = {
    operation: op.id,
    items: Array.from({length: 100}, (_, i) => longest(i)),
  };
  const base64 = published(message).body.message.data.length;
  expect(base64).toBeGreaterThan(300_000);
  const res = await structured(message);
  expect(res.status).toBe(204);
  // Each item was read and answered (the stand-in has no such course): one result per item.
  expect(await resultsWhen(op.id, 100)).toHaveLength(100);

  // Bounded: a body past the cap is refused from its Content-Length, before it is read.
  const huge = await fetch(`${worker.url}/`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({message: {data: 'A'.repeat(1024 * 1024)}}),
  });
  expect(huge.status).toBe(413);
  expect(((await huge.json()) as {error: {code: number}}).error.code).toBe(413);
}, 60_000);
