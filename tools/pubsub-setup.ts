// The Pub/Sub wiring of operations, on the emulator (`npm start`, the tests, the bench): the items topic, its
// dead-letter topic, a push subscription to the `invitationsWorker` target (redelivery with exponential backoff,
// at most MAX_DELIVERY_ATTEMPTS deliveries) and one from the dead-letter topic to `invitationsDeadLetter`. In
// production `npm run deploy` makes the same with gcloud (tools/deploy-plan.ts), with the same delivery policy
// (tools/item-delivery.ts).
import {PubSub} from '@google-cloud/pubsub';
import {
  ACK_DEADLINE_SECONDS,
  deadLetterTopicOf,
  MAX_DELIVERY_ATTEMPTS,
  MAX_RETRY_DELAY_SECONDS,
  MIN_RETRY_DELAY_SECONDS,
} from './item-delivery';

export interface ItemWiring {
  topic: string;
  deadLetterTopic: string;
  close(): Promise<void>;
}

export async function wireItemTopics(opts: {
  projectId: string;
  topic: string;
  workerUrl: string;
  deadLetterUrl: string;
  minBackoffSeconds?: number;
  maxBackoffSeconds?: number;
  ackDeadlineSeconds?: number;
}): Promise<ItemWiring> {
  const pubsub = new PubSub({projectId: opts.projectId});
  const deadLetterTopic = deadLetterTopicOf(opts.topic);
  const [topic] = await pubsub.topic(opts.topic).get({autoCreate: true});
  const [dead] = await pubsub.topic(deadLetterTopic).get({autoCreate: true});
  await topic.createSubscription(`${opts.topic}-worker`, {
    pushConfig: {pushEndpoint: opts.workerUrl},
    ackDeadlineSeconds: opts.ackDeadlineSeconds ?? ACK_DEADLINE_SECONDS,
    retryPolicy: {
      minimumBackoff: {
        seconds: opts.minBackoffSeconds ?? MIN_RETRY_DELAY_SECONDS,
      },
      maximumBackoff: {
        seconds: opts.maxBackoffSeconds ?? MAX_RETRY_DELAY_SECONDS,
      },
    },
    deadLetterPolicy: {
      deadLetterTopic: dead.name,
      maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS,
    },
  });
  await dead.createSubscription(`${deadLetterTopic}-worker`, {
    pushConfig: {pushEndpoint: opts.deadLetterUrl},
    ackDeadlineSeconds: ACK_DEADLINE_SECONDS,
  });
  return {
    topic: opts.topic,
    deadLetterTopic,
    close: () => pubsub.close(),
  };
}

/**
 * A topic nobody reads (for measuring intake without spending quota: what is published to it is dropped). Deleted
 * by `close`.
 */
export async function sinkTopic(
  projectId: string,
  topic: string,
): Promise<{topic: string; close(): Promise<void>}> {
  const pubsub = new PubSub({projectId});
  await pubsub.createTopic(topic);
  return {
    topic,
    async close() {
      await pubsub.topic(topic).delete();
      await pubsub.close();
    },
  };
}
