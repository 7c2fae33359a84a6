// Taking work asynchronously: an operation is stored, the items that failed validation are recorded as results at
// once, and the others are published, one message per item, for the workers. The caller gets the operation back
// as soon as the messages are accepted by Pub/Sub; the answer (stored under its Idempotency-Key or webhook-id) is
// kept only after that, so a crash before it leaves the retry to start again, never an operation half published.
import type {
  OperationItemResult,
  OperationKind,
  OperationRecord,
  Operations,
} from './store';
import type {ItemMessage} from './worker';

/** Where item messages go: Pub/Sub in production and on the emulator (functions/operations/pubsub-queue.ts). */
export interface ItemQueue {
  publish(messages: ItemMessage[]): Promise<void>;
}

/** An item to run, or one already answered (refused by validation). */
export type IntakeItem =
  | {run: Omit<ItemMessage, 'operation' | 'index'>}
  | {result: Omit<OperationItemResult, 'index'>};

export class Intake {
  constructor(
    private readonly operations: Operations,
    private readonly queue: ItemQueue,
  ) {}

  async start(o: {
    kind: OperationKind;
    caller: string;
    webhookId?: string;
    items: IntakeItem[];
  }): Promise<OperationRecord> {
    const op = await this.operations.create({
      kind: o.kind,
      total: o.items.length,
      caller: o.caller,
      ...(o.webhookId === undefined ? {} : {webhookId: o.webhookId}),
    });
    const answered: OperationItemResult[] = [];
    const messages: ItemMessage[] = [];
    o.items.forEach((item, index) => {
      if ('result' in item) answered.push({index, ...item.result});
      else messages.push({operation: op.id, index, ...item.run});
    });
    await Promise.all([
      this.operations.recordMany(op.id, answered),
      this.queue.publish(messages),
    ]);
    return op;
  }
}
