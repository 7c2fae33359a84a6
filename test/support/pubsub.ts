// Shared set-up for tests on the Pub/Sub emulator, which `npm test` starts beside Firestore's: the official
// client on the emulator project, uniquely named topics and subscriptions (removed again), a local push endpoint.
import {randomBytes} from 'node:crypto';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {
  Message,
  PubSub,
  CreateSubscriptionOptions,
  Subscription,
  Topic,
} from '@google-cloud/pubsub';
import {z} from 'zod';
import {PROJECT_ID} from './emulator';

export function pubsubEmulatorHost(): string {
  const host = process.env.PUBSUB_EMULATOR_HOST;
  if (!host)
    throw new Error(
      'PUBSUB_EMULATOR_HOST is not set: run the emulator tests through `npm test`.',
    );
  return host;
}

/** The client reads PUBSUB_EMULATOR_HOST itself (plain-text gRPC, no credentials). */
export function newPubSub(): PubSub {
  pubsubEmulatorHost();
  return new PubSub({projectId: PROJECT_ID});
}

/**
 * Suites share one emulator, so every name is new. The emulator refuses ids of 3 characters or fewer
 * ("Invalid [topics] name"); these are always longer.
 */
export function uniqueName(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

export interface SubscriptionSettings {
  /** Absent: a pull subscription. */
  pushEndpoint?: string;
  /** After this many failed deliveries (5 to 100) the message goes to `topic`. */
  deadLetter?: {topic: Topic; maxDeliveryAttempts: number};
  /** Backoff between redeliveries; without one the emulator redelivers about once a second. */
  retry?: {minimumBackoffSeconds: number; maximumBackoffSeconds: number};
  ackDeadlineSeconds?: number;
}

/** Topics and subscriptions of one suite, all deleted by `cleanUp()` (subscriptions first). */
export class PubSubScratch {
  readonly client = newPubSub();
  private readonly topics: Topic[] = [];
  private readonly subscriptions: Subscription[] = [];

  async topic(label: string): Promise<Topic> {
    const [topic] = await this.client.createTopic(uniqueName(label));
    this.topics.push(topic);
    return topic;
  }

  async subscription(
    topic: Topic,
    label: string,
    settings: SubscriptionSettings = {},
  ): Promise<Subscription> {
    const options: CreateSubscriptionOptions = {};
    if (settings.pushEndpoint)
      options.pushConfig = {pushEndpoint: settings.pushEndpoint};
    if (settings.deadLetter)
      options.deadLetterPolicy = {
        deadLetterTopic: settings.deadLetter.topic.name,
        maxDeliveryAttempts: settings.deadLetter.maxDeliveryAttempts,
      };
    if (settings.retry)
      options.retryPolicy = {
        minimumBackoff: {seconds: settings.retry.minimumBackoffSeconds},
        maximumBackoff: {seconds: settings.retry.maximumBackoffSeconds},
      };
    if (settings.ackDeadlineSeconds !== undefined)
      options.ackDeadlineSeconds = settings.ackDeadlineSeconds;
    const [subscription] = await topic.createSubscription(
      uniqueName(label),
      options,
    );
    this.subscriptions.push(subscription);
    return subscription;
  }

  async cleanUp(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) {
      await s.close();
      await s.delete();
    }
    for (const t of this.topics.splice(0)) await t.delete();
    await this.client.close();
  }
}

/**
 * Receives `count` messages on a pull subscription (acknowledging each), or fails after `timeoutMs`.
 * The listener is closed either way, so the subscription can be deleted.
 */
export async function receive(
  subscription: Subscription,
  count: number,
  timeoutMs: number,
): Promise<Message[]> {
  const got: Message[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${got.length} of ${count} messages on ${subscription.name} within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      subscription.on('error', reject);
      subscription.on('message', (m: Message) => {
        m.ack();
        got.push(m);
        if (got.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    subscription.removeAllListeners();
    await subscription.close();
  }
  return got;
}

/**
 * What a push subscription POSTs: the emulator's raw envelope. (The real service sends the same shape, plus
 * `deliveryAttempt` when the subscription has a dead-letter policy, which the emulator leaves out.)
 */
export const PushEnvelope = z.object({
  subscription: z.string(),
  message: z.object({
    data: z.string(), // base64; "" for a message without data
    attributes: z.record(z.string(), z.string()).default({}),
    messageId: z.string(),
    publishTime: z.string().optional(),
  }),
  deliveryAttempt: z.number().int().optional(),
});
export type PushEnvelope = z.infer<typeof PushEnvelope>;

function parseEnvelope(text: string): PushEnvelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = PushEnvelope.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export interface PushDelivery {
  envelope: PushEnvelope;
  /** The request path and query, as configured in the push endpoint. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Milliseconds since the endpoint started. */
  at: number;
}

export interface PushEndpoint {
  /** http://127.0.0.1:<port>, to which a path may be appended. */
  url: string;
  deliveries: PushDelivery[];
  /** Bodies that were not a push envelope (answered 400). */
  malformed: string[];
  /** Resolves with the deliveries once there are at least `count`; fails after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<PushDelivery[]>;
  close(): Promise<void>;
}

/**
 * A local HTTP endpoint for push subscriptions. `answer` decides each reply's status from the delivery and
 * its number (1 = first) among the deliveries of the same message id: a 2xx the emulator accepts
 * acknowledges, anything else is redelivered.
 */
export async function startPushEndpoint(
  answer: (delivery: PushDelivery, attempt: number) => number = () => 204,
): Promise<PushEndpoint> {
  const started = Date.now();
  const deliveries: PushDelivery[] = [];
  const malformed: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const envelope = parseEnvelope(text);
      if (!envelope) {
        malformed.push(text);
        res.writeHead(400).end();
        return;
      }
      const delivery: PushDelivery = {
        envelope,
        path: req.url ?? '',
        headers: req.headers,
        at: Date.now() - started,
      };
      deliveries.push(delivery);
      const attempt = deliveries.filter(
        d => d.envelope.message.messageId === envelope.message.messageId,
      ).length;
      res.writeHead(answer(delivery, attempt)).end();
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    malformed,
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (deliveries.length < count) {
        if (Date.now() > deadline)
          throw new Error(
            `${deliveries.length} of ${count} push deliveries within ${timeoutMs} ms` +
              (malformed.length ? `; malformed: ${malformed.join(' | ')}` : ''),
          );
        await new Promise(r => setTimeout(r, 50));
      }
      return deliveries.slice();
    },
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Base64 of a UTF-8 string, as data travels in a push envelope. */
export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
