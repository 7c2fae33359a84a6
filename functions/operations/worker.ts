// Items of a long-running operation, as Pub/Sub delivers them (at least once) to the `invitationsWorker` target, a
// slice of up to ITEMS_PER_MESSAGE items per message: the same create flow, withdrawal, pacer and audit as a
// request, with the operation's id in the audit. A final answer is recorded as the item's result; an answer that
// asks to come back (no quota before the deadline, Classroom unavailable, the pair in flight elsewhere) leaves the
// message unacknowledged, so Pub/Sub redelivers it with backoff, and only the items still without a result run again.
import {randomBytes} from 'node:crypto';
import {z} from 'zod';
import type {RequestContext} from '../audit';
import {itemResultOf} from '../answers';
import type {Config} from '../config';
import type {CreateFlow} from '../create/flow';
import type {Removals} from '../removal';
import {shouldRetry} from '../retry-decision';
import {InvitationRequestSchema} from '../validation';
import type {OperationItemResult, OperationRecord, Operations} from './store';

/** Items one message may carry: the upper bound of ITEMS_PER_MESSAGE (a message stays far under Pub/Sub's limits). */
export const MAX_ITEMS_PER_MESSAGE = 100;

/** One item: enough to run it without reading the operation's request. */
export const ItemSpec = z
  .object({
    index: z.number().int().min(0).max(9_999),
    action: z.enum(['create', 'withdraw']),
    invitation: InvitationRequestSchema,
    /** ?replace=true semantics (a webhook's role change). */
    replace: z.boolean().optional(),
    sourcedId: z.string().max(256).optional(),
    /** An earlier item of the same pair in the same delivery, which must be done first (its order decides). */
    after: z.number().int().min(0).max(9_999).optional(),
  })
  // An `after` that is not an earlier item would wait until the message is dead-lettered.
  .refine(m => m.after === undefined || m.after < m.index, {
    message: 'after must name an earlier item',
    path: ['after'],
  });
export type ItemSpec = z.infer<typeof ItemSpec>;

/** What a message carries: items of one operation, each index at most once. */
export const ItemMessage = z
  .object({
    operation: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
    items: z.array(ItemSpec).min(1).max(MAX_ITEMS_PER_MESSAGE),
  })
  .refine(m => new Set(m.items.map(i => i.index)).size === m.items.length, {
    message: 'an item appears twice',
    path: ['items'],
  });
export type ItemMessage = z.infer<typeof ItemMessage>;

/** Not acknowledged: Pub/Sub redelivers the message after its backoff. */
export class RetryLater extends Error {
  constructor(
    readonly retryAfterS: number | undefined,
    readonly why: string,
  ) {
    super(`item not done yet: ${why}`);
    this.name = 'RetryLater';
  }
}

export type WorkerOutcome = 'recorded' | 'duplicate' | 'unknown_operation';

/** What became of each item of a message, in the message's order; thrown as a whole when some must come back. */
export class ItemsNotDone extends RetryLater {
  constructor(
    readonly outcomes: (WorkerOutcome | RetryLater)[],
    retryAfterS: number | undefined,
  ) {
    const later = outcomes.filter(o => o instanceof RetryLater);
    super(
      retryAfterS,
      `${later.length} of ${outcomes.length} items: ${[...new Set(later.map(o => o.why))].join('; ')}`,
    );
    this.name = 'ItemsNotDone';
  }
}

export class OperationWorker {
  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly removals: Removals,
    private readonly operations: Operations,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs the message's items side by side (the pacer leases quota for all of them at once), an item named by
   * another's `after` first; records each final result. Returns the outcome of each item, or throws ItemsNotDone
   * (a RetryLater) when some item must come back, once every other item is done.
   */
  async handle(msg: ItemMessage): Promise<WorkerOutcome[]> {
    const op = await this.operations.read(msg.operation);
    // Expired or never stored: acknowledged, so that it is not redelivered for ever.
    if (!op) return msg.items.map(() => 'unknown_operation');
    // Every item shares the push's time: none may outlive the message's acknowledgement deadline.
    const deadline = this.now() + this.config.requestDeadlineMs;
    // Which items (and items they come after) are done already, in one read; items add themselves as they finish.
    const done = await this.operations.doneIndexes(
      op.id,
      [
        ...new Set(
          msg.items.flatMap(i =>
            i.after === undefined ? [i.index] : [i.index, i.after],
          ),
        ),
      ].filter(i => i < op.total),
    );
    const running = new Map<number, Promise<WorkerOutcome | RetryLater>>();
    for (const item of msg.items) {
      const first =
        item.after === undefined ? undefined : running.get(item.after);
      running.set(
        item.index,
        (first ?? Promise.resolve()).then(() =>
          this.runItem(op, item, deadline, done).catch((err: unknown) => {
            if (err instanceof RetryLater) return err;
            throw err;
          }),
        ),
      );
    }
    // Every item settles before the message is answered: an answer while some still ran would leave them running
    // after it (on Cloud Run without CPU, their pairs reserved) while Pub/Sub redelivers or dead-letters them.
    const settled = await Promise.allSettled(
      msg.items.map(i => running.get(i.index)!),
    );
    const outcomes: (WorkerOutcome | RetryLater)[] = [];
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      outcomes.push(s.value);
    }
    const later = outcomes.filter(o => o instanceof RetryLater);
    if (later.length === 0) return outcomes as WorkerOutcome[];
    const waits = later.flatMap(l =>
      l.retryAfterS === undefined ? [] : [l.retryAfterS],
    );
    throw new ItemsNotDone(
      outcomes,
      waits.length ? Math.max(...waits) : undefined,
    );
  }

  private async runItem(
    op: OperationRecord,
    item: ItemSpec,
    deadline: number,
    done: Set<number>,
  ): Promise<WorkerOutcome> {
    // An index the operation does not have (a forged message would otherwise fill a missing item's count and make
    // the operation look done): acknowledged.
    if (item.index >= op.total) return 'unknown_operation';
    // An item already done (a redelivery, or a message whose other items came back): no Classroom call.
    if (done.has(item.index)) return 'duplicate';
    // The item it comes after was done before this message, or by this message before it (it runs after it).
    if (item.after !== undefined && !done.has(item.after))
      throw new RetryLater(
        undefined,
        `item ${item.after} of the same pair first`,
      );
    if (this.now() >= deadline)
      throw new RetryLater(undefined, 'no time left in this delivery');
    const ctx: RequestContext = {
      // One id per attempt: a redelivery of the same message (its holder killed mid-way) is another decision,
      // with its own audit event.
      requestId: `${op.id}.${item.index}.${randomBytes(6).toString('base64url')}`,
      source: op.kind === 'webhook' ? 'webhook' : 'http',
      caller: op.caller,
      operationId: op.id,
      ...(op.webhookId === undefined ? {} : {webhookId: op.webhookId}),
    };
    const answer =
      item.action === 'withdraw'
        ? await this.removals.withdraw(item.invitation, ctx, deadline)
        : await this.flow.create(item.invitation, ctx, {
            replace: item.replace,
            deadline,
          });
    const {result, retryAfterS} = itemResultOf(answer, item.sourcedId ?? '');
    const error = result.error;
    if (error && shouldRetry('sender', {httpStatus: error.code, error}))
      throw new RetryLater(retryAfterS, `${error.code} ${error.status}`);
    if (
      error?.status === 'NOT_FOUND' &&
      this.now() < op.createdAt.getTime() + this.config.retryNotFoundForMs
    )
      // The person or the course may not exist in Google yet (an SIS runs ahead of provisioning).
      throw new RetryLater(undefined, 'NOT_FOUND within RETRY_NOT_FOUND_FOR');
    // Another delivery of the same message may have recorded it meanwhile: that one reports it recorded.
    const recorded = await this.operations.record(op.id, {
      index: item.index,
      ...strip(result),
    });
    done.add(item.index);
    return recorded ? 'recorded' : 'duplicate';
  }

  /** A message Pub/Sub gave up on (moved to the dead-letter topic): its items still without a result are failed. */
  async deadLettered(msg: ItemMessage): Promise<WorkerOutcome[]> {
    const op = await this.operations.read(msg.operation);
    if (!op) return msg.items.map(() => 'unknown_operation');
    return Promise.all(
      msg.items.map(async (item): Promise<WorkerOutcome> => {
        if (item.index >= op.total) return 'unknown_operation';
        const recorded = await this.operations.record(op.id, {
          index: item.index,
          outcome: 'failed',
          ...(item.sourcedId === undefined ? {} : {sourcedId: item.sourcedId}),
          error: {
            code: 503,
            status: 'UNAVAILABLE',
            message:
              'Gave up after the maximum number of delivery attempts (dead-lettered). Send the item again.',
          },
        });
        return recorded ? 'recorded' : 'duplicate';
      }),
    );
  }
}

/** An ItemResult without the empty sourcedId of a batch item. */
function strip(
  r: ReturnType<typeof itemResultOf>['result'],
): Omit<OperationItemResult, 'index'> {
  const {sourcedId, ...rest} = r;
  return sourcedId ? {...rest, sourcedId} : rest;
}
