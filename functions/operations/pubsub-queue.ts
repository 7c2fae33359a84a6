// Item messages on Pub/Sub (the emulator when PUBSUB_EMULATOR_HOST is set, which the client library reads
// itself). The client is loaded on first use: most instances never start an operation.
import type * as PubSubModule from '@google-cloud/pubsub';
import type {ItemQueue} from './intake';
import type {ItemMessage} from './worker';

export class PubSubQueue implements ItemQueue {
  private topic: PubSubModule.Topic | undefined;

  constructor(
    private readonly topicName: string,
    private readonly projectId: string | undefined,
  ) {}

  async publish(messages: ItemMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const topic = this.load();
    // The client batches these into requests of up to 500 messages (10,000 items at most make 10,000 of them); every one must be accepted before the
    // caller is told the work is taken.
    await Promise.all(
      messages.map(m =>
        topic.publishMessage({
          data: Buffer.from(JSON.stringify(m)),
          attributes: {
            operation: m.operation,
            items: String(m.items.length),
            first: String(m.items[0]?.index ?? ''),
          },
        }),
      ),
    );
  }

  private load(): PubSubModule.Topic {
    if (!this.topic) {
      const {PubSub} = require('@google-cloud/pubsub') as typeof PubSubModule;
      const client = new PubSub(
        this.projectId ? {projectId: this.projectId} : {},
      );
      this.topic = client.topic(this.topicName, {
        batching: {maxMessages: 500, maxMilliseconds: 10},
      });
    }
    return this.topic;
  }
}
