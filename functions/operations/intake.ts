// Taking work asynchronously: an operation is stored, the items that failed validation are recorded as results at
// once, and the others are published in slices of ITEMS_PER_MESSAGE items per message, for the workers. The caller
// gets the operation back as soon as the messages are accepted by Pub/Sub; the answer (stored under its
// Idempotency-Key or webhook-id) is kept only after that, so a crash before it leaves the retry to start again,
// never an operation half published.
import type {
  OperationItemResult,
  OperationKind,
  OperationRecord,
  Operations,
} from './store';
import {MAX_ITEMS_PER_MESSAGE, type ItemMessage, type ItemSpec} from './worker';

/** Where item messages go: Pub/Sub in production and on the emulator (functions/operations/pubsub-queue.ts). */
export interface ItemQueue {
  publish(messages: ItemMessage[]): Promise<void>;
}

/** An item to run, or one already answered (refused by validation). */
export type IntakeItem =
  {run: Omit<ItemSpec, 'index'>} | {result: Omit<OperationItemResult, 'index'>};

export class Intake {
  constructor(
    private readonly operations: Operations,
    private readonly queue: ItemQueue,
    private readonly itemsPerMessage: number,
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
    const runs: ItemSpec[] = [];
    o.items.forEach((item, index) => {
      if ('result' in item) answered.push({index, ...item.result});
      else runs.push({index, ...item.run});
    });
    await Promise.all([
      this.operations.recordMany(op.id, answered),
      this.queue.publish(
        slices(runs, this.itemsPerMessage).map(items => ({
          operation: op.id,
          items,
        })),
      ),
    ]);
    return op;
  }
}

/**
 * Items in index order, `size` to a slice; an item that must come `after` another joins that one's slice while it
 * has room (up to MAX_ITEMS_PER_MESSAGE), so that the pair's order is kept inside one delivery instead of by a
 * redelivery.
 */
export function slices(items: ItemSpec[], size: number): ItemSpec[][] {
  const out: ItemSpec[][] = [];
  const sliceOf = new Map<number, ItemSpec[]>();
  let open: ItemSpec[] | undefined;
  for (const item of items) {
    const first =
      item.after === undefined ? undefined : sliceOf.get(item.after);
    let slice: ItemSpec[];
    if (first && first.length < MAX_ITEMS_PER_MESSAGE) slice = first;
    else {
      if (!open || open.length >= size) {
        open = [];
        out.push(open);
      }
      slice = open;
    }
    slice.push(item);
    sliceOf.set(item.index, slice);
  }
  return out;
}
