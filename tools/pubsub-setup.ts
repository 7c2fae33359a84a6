// The Pub/Sub wiring of operations, on the emulator (`npm start`, the tests, the bench): the items topic, its
// dead-letter topic, a push subscription to the `invitationsWorker` target (redelivery with exponential backoff,
// at most MAX_DELIVERY_ATTEMPTS deliveries) and one from the dead-letter topic to `invitationsDeadLetter`. In
// production the same is made with gcloud (README: Production wiring).
import {PubSub} from '@google-cloud/pubsub';

/** Deliveries of one item before Pub/Sub gives up and moves it to the dead-letter topic (Pub/Sub allows 5–100). */
export const MAX_DELIVERY_ATTEMPTS = 100;
/** Longer than REQUEST_DEADLINE_MS: an item waiting for quota must not be redelivered while it waits. */
export const ACK_DEADLINE_SECONDS = 60;

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
  const deadLetterTopic = `${opts.topic}-dead-letter`;
  const [topic] = await pubsub.topic(opts.topic).get({autoCreate: true});
  const [dead] = await pubsub.topic(deadLetterTopic).get({autoCreate: true});
  await topic.createSubscription(`${opts.topic}-worker`, {
    pushConfig: {pushEndpoint: opts.workerUrl},
    ackDeadlineSeconds: opts.ackDeadlineSeconds ?? ACK_DEADLINE_SECONDS,
    retryPolicy: {
      minimumBackoff: {seconds: opts.minBackoffSeconds ?? 10},
      maximumBackoff: {seconds: opts.maxBackoffSeconds ?? 600},
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
