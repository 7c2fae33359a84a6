// The Pub/Sub emulator that `npm test` starts beside Firestore's, driven through the official client: the
// behaviour asynchronous intake will rely on (push envelopes, redelivery of a refused push, dead-lettering) and
// the Functions Framework turning the emulator's push into the CloudEvent an Eventarc trigger delivers.
import type {Server} from 'node:http';
import {readFileSync} from 'node:fs';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {cloudEvent, CloudEvent} from '@google-cloud/functions-framework';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {PROJECT_ID} from './support/emulator';
import {
  base64,
  PubSubScratch,
  PushEndpoint,
  receive,
  startPushEndpoint,
} from './support/pubsub';

const scratch = new PubSubScratch();
const endpoints: PushEndpoint[] = [];

async function endpoint(
  answer?: Parameters<typeof startPushEndpoint>[0],
): Promise<PushEndpoint> {
  const e = await startPushEndpoint(answer);
  endpoints.push(e);
  return e;
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

afterAll(async () => {
  await scratch.cleanUp(); // subscriptions first, so nothing pushes to a closed endpoint
  await Promise.all(endpoints.map(e => e.close()));
});

/** The port firebase.json gives the Pub/Sub emulator (what `npm test` starts it on). */
const PUBSUB_PORT = (
  JSON.parse(readFileSync(join(__dirname, '../firebase.json'), 'utf8')) as {
    emulators: {pubsub: {port: number}};
  }
).emulators.pubsub.port;

it('runs on the emulator project named by PUBSUB_PROJECT_ID, at PUBSUB_EMULATOR_HOST', async () => {
  expect(process.env.PUBSUB_EMULATOR_HOST).toBe(`127.0.0.1:${PUBSUB_PORT}`);
  expect(process.env.PUBSUB_PROJECT_ID).toBe(PROJECT_ID);
  expect(await scratch.client.getClientConfig()).toMatchObject({
    servicePath: '127.0.0.1',
    port: PUBSUB_PORT,
  });
  expect(scratch.client.isEmulator).toBe(true);
});

it('a message published with attributes reaches a push endpoint as {message: {data, attributes, messageId}, subscription}', async () => {
  const push = await endpoint();
  const topic = await scratch.topic('envelope');
  const subscription = await scratch.subscription(topic, 'envelope-push', {
    pushEndpoint: `${push.url}/push?from=emulator`,
  });
  const data = JSON.stringify({userId: 'a@school.example', courseId: '42'});
  const messageId = await topic.publishMessage({
    data: Buffer.from(data),
    attributes: {operation: 'operations/op-1', item: '7'},
  });

  const [delivery] = await push.waitFor(1, 10_000);
  expect(delivery?.path).toBe('/push?from=emulator');
  expect(delivery?.headers['content-type']).toMatch(/^application\/json/);
  expect(delivery?.envelope).toMatchObject({
    subscription: subscription.name,
    message: {
      data: base64(data),
      attributes: {operation: 'operations/op-1', item: '7'},
      messageId,
    },
  });
  expect(push.malformed).toEqual([]);
});

it('a non-2xx answer is redelivered (same message id and data) until a 200 or a 204 acknowledges it', async () => {
  // One topic, two push subscriptions: each gets its own copy and its own redeliveries.
  const topic = await scratch.topic('redeliver');
  const until204 = await endpoint((_, attempt) => (attempt < 3 ? 500 : 204));
  const until200 = await endpoint((_, attempt) => (attempt < 2 ? 503 : 200));
  await scratch.subscription(topic, 'redeliver-204', {
    pushEndpoint: until204.url,
  });
  await scratch.subscription(topic, 'redeliver-200', {
    pushEndpoint: until200.url,
  });
  const messageId = await topic.publishMessage({data: Buffer.from('again')});

  const [first204, , third204] = await until204.waitFor(3, 15_000);
  const [first200, second200] = await until200.waitFor(2, 15_000);
  for (const d of [first204, third204, first200, second200]) {
    expect(d?.envelope.message).toMatchObject({
      messageId,
      data: base64('again'),
    });
  }
  // The emulator redelivers about a second after a refusal; wait past that: nothing more comes.
  await sleep(2_500);
  expect(until204.deliveries).toHaveLength(3);
  expect(until200.deliveries).toHaveLength(2);
});

it('after maxDeliveryAttempts refused pushes the message moves to the dead-letter topic, and pushes stop', async () => {
  const topic = await scratch.topic('work');
  const deadLetters = await scratch.topic('work-dead');
  const deadLetterPull = await scratch.subscription(deadLetters, 'dead-pull');
  const refusing = await endpoint(() => 503);
  await scratch.subscription(topic, 'work-push', {
    pushEndpoint: refusing.url,
    deadLetter: {topic: deadLetters, maxDeliveryAttempts: 5},
  });
  await topic.publishMessage({
    data: Buffer.from('doomed'),
    attributes: {item: '3'},
  });

  const [dead] = await receive(deadLetterPull, 1, 25_000);
  expect(dead?.data.toString()).toBe('doomed');
  expect(dead?.attributes).toMatchObject({
    item: '3',
    CloudPubSubDeadLetterSourceDeliveryCount: '5',
    CloudPubSubDeadLetterSourceSubscriptionProject: PROJECT_ID,
  });
  expect(dead?.attributes.CloudPubSubDeadLetterSourceSubscription).toMatch(
    /^t-work-push-/,
  );
  expect(refusing.deliveries).toHaveLength(5);
  await sleep(2_000);
  expect(refusing.deliveries).toHaveLength(5);
});

describe('a CloudEvent function under the Functions Framework, as the emulator pushes to it', () => {
  interface Published {
    message: {
      data: string;
      attributes: Record<string, string>;
      messageId: string;
    };
  }
  const events: CloudEvent<Published>[] = [];
  let server: Server;

  beforeAll(async () => {
    // Refuses an item's first delivery by throwing, as a worker without quota will.
    cloudEvent<Published>(
      'pubsubEmulatorProbe',
      (event: CloudEvent<Published>) => {
        events.push(event);
        const tries = events.filter(e => e.id === event.id).length;
        if (event.data?.message.attributes.refuseOnce === 'yes' && tries === 1)
          throw new Error('no quota yet');
      },
    );
    server = getTestServer('pubsubEmulatorProbe');
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  });
  afterAll(
    () =>
      new Promise<void>(r => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );

  it('receives a messagePublished CloudEvent whose source is the topic in the push path; a throw is a 500, redelivered', async () => {
    const topic = await scratch.topic('worker');
    const {port} = server.address() as AddressInfo;
    // The framework takes the event's source from the path: /projects/<project>/topics/<topic>.
    await scratch.subscription(topic, 'worker-push', {
      pushEndpoint: `http://127.0.0.1:${port}/${topic.name}`,
    });
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const messageId = await topic.publishMessage({
        data: Buffer.from('{"item":1}'),
        attributes: {refuseOnce: 'yes'},
      });
      const deadline = Date.now() + 15_000;
      while (events.length < 2 && Date.now() < deadline) await sleep(50);

      expect(events).toHaveLength(2);
      for (const event of events) {
        expect(event).toMatchObject({
          id: messageId,
          type: 'google.cloud.pubsub.topic.v1.messagePublished',
          source: `//pubsub.googleapis.com/${topic.name}`,
          data: {
            message: {
              data: base64('{"item":1}'),
              attributes: {refuseOnce: 'yes'},
              messageId,
            },
          },
        });
      }
      expect(String(error.mock.calls[0]?.[0])).toContain('no quota yet');
    } finally {
      error.mockRestore();
    }
  });
});
