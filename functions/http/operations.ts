// GET /v1/operations/{id}: an operation's progress, and its results once done. A read: logged, not audited.
// A done operation never changes (results are written once), so its answer is kept in memory, within a bound: a
// caller polling a done 10,000-item operation pays one read per poll, not 10,000.
import type {Answer, OperationAnswer} from '../answers';
import {fromError, ErrorAnswer} from '../answers';
import {gatewayError} from '../errors';
import type {Operations} from '../operations/store';
import {OperationJson, operationJson} from '../operations/view';

/** Results of done operations kept per instance, in all (a 10,000-item operation's answer is about 2 MB). */
export const DONE_CACHE_MAX_RESULTS = 50_000;

export class HttpOperations {
  /** Done operations' answers by id, oldest first (Map keeps insertion order). */
  private readonly done = new Map<string, OperationJson>();
  private doneResults = 0;

  constructor(private readonly operations: Operations) {}

  async get(
    id: string,
  ): Promise<OperationAnswer<string> | ErrorAnswer<string>> {
    const op = await this.operations.read(id);
    if (!op)
      return fromError(
        gatewayError(
          'NOT_FOUND',
          `Operation ${JSON.stringify(id.slice(0, 64))} was not found.`,
        ),
        'not_found',
      );
    // Read first even when kept: an expired operation is gone (404), whatever this instance remembers.
    const kept = this.done.get(op.id);
    if (kept) return this.answer(op.id, kept);
    const progress = await this.operations.progress(op);
    const results =
      progress.pending === 0
        ? await this.operations.allResults(op.id)
        : undefined;
    const body = operationJson(op, progress, results);
    if (body.done) this.keep(op.id, body);
    return this.answer(op.id, body);
  }

  /**
   * A replayed answer that named an operation (a batch's, a large delivery's, by its Location) shows the operation
   * as it is now, as a GET would, not as it was when it was taken; an expired one stays as it was stored.
   */
  async asNow<A extends Answer<string>>(answer: A): Promise<A> {
    if (answer.kind !== 'stored' || answer.outcome !== 'replayed')
      return answer;
    const id = /^\/v1\/operations\/([A-Za-z0-9_-]{22})$/.exec(
      answer.headers.Location ?? '',
    )?.[1];
    if (!id) return answer;
    const now = await this.get(id);
    return now.kind === 'operation'
      ? {...answer, json: JSON.stringify(now.body)}
      : answer;
  }

  private answer(id: string, body: OperationJson): OperationAnswer<string> {
    return {
      kind: 'operation',
      httpStatus: 200,
      body,
      headers: {'Cache-Control': 'no-store'},
      outcome: body.done ? 'done' : 'running',
      details: {operation: id, ...body.metadata.progress},
    };
  }

  private keep(id: string, body: OperationJson): void {
    const size = (b: OperationJson) => b.response?.results.length ?? 0;
    if (size(body) > DONE_CACHE_MAX_RESULTS) return;
    this.done.set(id, body);
    this.doneResults += size(body);
    for (const [oldId, old] of this.done) {
      if (this.doneResults <= DONE_CACHE_MAX_RESULTS) break;
      this.done.delete(oldId);
      this.doneResults -= size(old);
    }
  }
}
