// POST /v1/invitations:batchCreate: up to 10,000 invitations in one call, taken as a long-running operation. Bad
// items are answered in the operation at once (and audited through the refusal limiter: anyone can send them);
// good ones are published for the workers. The answer is the operation (AIP-151), `200` as Google's APIs answer
// a method that starts one; the same Idempotency-Key with the same batch gets the same operation back.
import {createHash} from 'node:crypto';
import {auditEvent, RequestContext} from '../audit';
import {Answer, fromError, OperationAnswer} from '../answers';
import {BatchItem, parseBatchCreateRequest} from '../batch-request';
import {refuseCompactly} from '../decisions';
import {ApiError, toApiError, violatedFields} from '../errors';
import {IdempotencyKeys, keyScope, parseIdempotencyKey} from '../idempotency';
import type {Ledger} from '../ledger';
import {pairKey} from '../ledger';
import * as logs from '../log-events';
import {oncePerKey} from '../once-per-key';
import type {Intake} from '../operations/intake';
import {startingProgress} from '../operations/store';
import {operationJson, operationName} from '../operations/view';
import type {RefusalAudit} from '../refusal-audit';
import type {RawRequest} from '../validation';
import {BATCH_BODY_MAX_BYTES} from './body-limits';
import type {HttpOperations} from './operations';

const NO_PAIR = {courseId: null, userId: null, role: null, pairKey: null};

export class HttpBatches {
  constructor(
    private readonly intake: Intake,
    private readonly ledger: Ledger,
    private readonly keys: IdempotencyKeys,
    private readonly refusals: RefusalAudit,
    /** Answers a replayed batch with its operation as it is now. */
    private readonly operations?: HttpOperations,
  ) {}

  async create(
    raw: RawRequest,
    ctx: RequestContext,
    idempotencyKeyHeader: string | undefined,
  ): Promise<Answer<string>> {
    let items: BatchItem[];
    let key: string | undefined;
    try {
      items = parseBatchCreateRequest(raw, BATCH_BODY_MAX_BYTES);
      key = parseIdempotencyKey(idempotencyKeyHeader);
    } catch (err) {
      const e = toApiError(err);
      return refuseCompactly(
        this.ledger,
        this.refusals,
        ctx,
        NO_PAIR,
        fromError(e, 'rejected'),
        {violations: violatedFields(e)?.slice(0, 10)},
      );
    }
    const run = () => this.start(items, ctx);
    if (key === undefined) return run();
    try {
      const scope = keyScope(ctx);
      const once = await oncePerKey(
        this.keys,
        {
          scope,
          key,
          fingerprint: batchFingerprint(items),
          requestId: ctx.requestId,
        },
        run,
        err => logs.keyOutcomeNotStored(ctx.requestId, err),
      );
      return this.operations
        ? await this.operations.asNow(once.answer)
        : once.answer;
    } catch (err) {
      logs.keyHandlingFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }

  private async start(
    items: BatchItem[],
    ctx: RequestContext,
  ): Promise<OperationAnswer<string> | Answer<string>> {
    try {
      const op = await this.intake.start({
        kind: 'batchCreate',
        caller: ctx.caller,
        items: items.map(it =>
          it instanceof ApiError
            ? {result: {outcome: 'rejected', error: it.body}}
            : {run: {action: 'create', invitation: it}},
        ),
      });
      const rejected = items.filter(it => it instanceof ApiError) as ApiError[];
      for (const [i, e] of items.entries()) {
        if (!(e instanceof ApiError)) continue;
        await this.refusals.record(
          auditEvent({...ctx, operationId: op.id}, NO_PAIR, {
            outcome: 'rejected',
            httpStatus: e.httpStatus,
            violations: violatedFields(e)?.slice(0, 10),
            reason: `item ${i} of the batch`,
          }),
        );
      }
      // Every item refused: the operation is done already, and says so with its results (as a GET would).
      const body = operationJson(
        op,
        startingProgress(items.length, {failed: rejected.length}),
        rejected.length === items.length
          ? rejected.map((e, index) => ({
              index,
              outcome: 'rejected',
              error: e.body,
            }))
          : undefined,
      );
      return {
        kind: 'operation',
        httpStatus: 200,
        body,
        headers: {Location: `/v1/${operationName(op.id)}`},
        outcome: 'accepted',
        details: {
          operation: op.id,
          items: items.length,
          rejected: rejected.length,
        },
      };
    } catch (err) {
      logs.createFailed(ctx.requestId, err);
      return fromError(toApiError(err), 'failed');
    }
  }
}

/** The same batch, item for item (as validated: the case of an email does not count). */
function batchFingerprint(items: BatchItem[]): string {
  const h = createHash('sha256').update('POST /v1/invitations:batchCreate');
  for (const it of items)
    h.update(
      JSON.stringify(
        it instanceof ApiError
          ? ['invalid', it.body.message]
          : [pairKey(it.courseId, it.userId), it.role],
      ),
    );
  return h.digest('hex');
}
