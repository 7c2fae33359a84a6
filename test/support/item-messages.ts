// Operation items on the Pub/Sub emulator, for tests: a fresh topic the gateway publishes to, a pull subscription
// that collects what it publishes, and a way to run the collected messages through the worker exactly as the
// `invitationsWorker` target receives them (the CloudEvent the Functions Framework builds from a push).
import {randomBytes} from 'node:crypto';
import {Message, PubSub, Subscription} from '@google-cloud/pubsub';
import {runItemEvent} from '../../functions/operations/worker-entry';
import type {
  ItemMessage,
  OperationWorker,
} from '../../functions/operations/worker';
import {PROJECT_ID} from './emulator';

export interface ItemMessages {
  topic: string;
  /** Messages published and not yet worked. */
  received: Message[];
  /**
   * Waits for messages carrying `n` items, then runs each message through the worker (in arrival order); returns
   * the items it ran, by message.
   */
  work(worker: OperationWorker, n: number): Promise<ItemMessage['items'][]>;
  close(): Promise<void>;
}

export async function itemMessages(): Promise<ItemMessages> {
  if (!process.env.PUBSUB_EMULATOR_HOST)
    throw new Error(
      'PUBSUB_EMULATOR_HOST is not set: run the emulator tests through `npm test`.',
    );
  const pubsub = new PubSub({projectId: PROJECT_ID});
  const topic = `items-${randomBytes(4).toString('hex')}`;
  const [t] = await pubsub.createTopic(topic);
  const [sub]: [Subscription, unknown] = await t.createSubscription(
    `${topic}-pull`,
  );
  const received: Message[] = [];
  sub.on('message', (m: Message) => {
    received.push(m);
    m.ack();
  });
  return {
    topic,
    received,
    async work(worker, n) {
      const itemsOf = (m: Message) =>
        (JSON.parse(m.data.toString('utf8')) as ItemMessage).items;
      const count = () =>
        received.reduce((sum, m) => sum + itemsOf(m).length, 0);
      const until = Date.now() + 10_000;
      while (count() < n && Date.now() < until)
        await new Promise(r => setTimeout(r, 20));
      const batch = received.splice(0, received.length);
      for (const m of batch)
        await runItemEvent(worker, {
          id: m.id,
          data: {message: {data: m.data.toString('base64'), messageId: m.id}},
        });
      return batch.map(itemsOf);
    },
    async close() {
      await sub.close();
      await pubsub.close();
    },
  };
}
