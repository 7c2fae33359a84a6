// One item of a long-running operation, as Pub/Sub delivers it (at least once) to the `invitationsWorker` target:
// the same create flow, withdrawal, pacer and audit as a request, with the operation's id in the audit. A final
// answer is recorded as the item's result; an answer that asks to come back (no quota before the deadline,
// Classroom unavailable, the pair in flight elsewhere) is not acknowledged, so Pub/Sub redelivers it with backoff.
import {randomBytes} from 'node:crypto';
import {z} from 'zod';
import type {RequestContext} from '../audit';
import {itemResultOf} from '../answers';
import type {Config} from '../config';
import type {CreateFlow} from '../create/flow';
import type {Removals} from '../removal';
import {shouldRetry} from '../retry-decision';
import {InvitationRequestSchema} from '../validation';
import type {OperationItemResult, Operations} from './store';

/** What a message carries: enough to run the item without reading the operation's request. */
export const ItemMessage = z
  .object({
    operation: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
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

export class OperationWorker {
  constructor(
    private readonly config: Config,
    private readonly flow: CreateFlow,
    private readonly removals: Removals,
    private readonly operations: Operations,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs the item, records its result, or throws RetryLater. */
  async handle(msg: ItemMessage): Promise<WorkerOutcome> {
    const op = await this.operations.read(msg.operation);
    // Expired, never stored, or an index the operation does not have (a forged message would otherwise fill a
    // missing item's count and make the operation look done): acknowledged so that it is not redelivered for ever.
    if (!op || msg.index >= op.total) return 'unknown_operation';
    // A redelivered message whose item is already done: no Classroom call, nothing written.
    if (await this.operations.resultOf(op.id, msg.index)) return 'duplicate';
    if (
      msg.after !== undefined &&
      !(await this.operations.resultOf(op.id, msg.after))
    )
      throw new RetryLater(
        undefined,
        `item ${msg.after} of the same pair first`,
      );
    const ctx: RequestContext = {
      // One id per attempt: a redelivery of the same message (its holder killed mid-way) is another decision,
      // with its own audit event.
      requestId: `${op.id}.${msg.index}.${randomBytes(6).toString('base64url')}`,
      source: op.kind === 'webhook' ? 'webhook' : 'http',
      caller: op.caller,
      operationId: op.id,
      ...(op.webhookId === undefined ? {} : {webhookId: op.webhookId}),
    };
    const answer =
      msg.action === 'withdraw'
        ? await this.removals.withdraw(msg.invitation, ctx)
        : await this.flow.create(msg.invitation, ctx, {replace: msg.replace});
    const {result, retryAfterS} = itemResultOf(answer, msg.sourcedId ?? '');
    const error = result.error;
    if (error && shouldRetry('sender', {httpStatus: error.code, error}))
      throw new RetryLater(retryAfterS, `${error.code} ${error.status}`);
    if (
      error?.status === 'NOT_FOUND' &&
      this.now() < op.createdAt.getTime() + this.config.retryNotFoundForMs
    )
      // The person or the course may not exist in Google yet (an SIS runs ahead of provisioning).
      throw new RetryLater(undefined, 'NOT_FOUND within RETRY_NOT_FOUND_FOR');
    await this.operations.record(op.id, {index: msg.index, ...strip(result)});
    return 'recorded';
  }

  /** A message Pub/Sub gave up on (moved to the dead-letter topic): its item is reported failed. */
  async deadLettered(msg: ItemMessage): Promise<WorkerOutcome> {
    const op = await this.operations.read(msg.operation);
    if (!op || msg.index >= op.total) return 'unknown_operation';
    const recorded = await this.operations.record(msg.operation, {
      index: msg.index,
      outcome: 'failed',
      ...(msg.sourcedId === undefined ? {} : {sourcedId: msg.sourcedId}),
      error: {
        code: 503,
        status: 'UNAVAILABLE',
        message:
          'Gave up after the maximum number of delivery attempts (dead-lettered). Send the item again.',
      },
    });
    return recorded ? 'recorded' : 'duplicate';
  }
}

/** An ItemResult without the empty sourcedId of a batch item. */
function strip(
  r: ReturnType<typeof itemResultOf>['result'],
): Omit<OperationItemResult, 'index'> {
  const {sourcedId, ...rest} = r;
  return sourcedId ? {...rest, sourcedId} : rest;
}
