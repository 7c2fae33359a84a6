// GET /v1/operations/{id}: an operation's progress, and its results once done. A read: logged, not audited.
import type {OperationAnswer} from '../answers';
import {fromError, ErrorAnswer} from '../answers';
import {gatewayError} from '../errors';
import type {Operations} from '../operations/store';
import {operationJson} from '../operations/view';

export class HttpOperations {
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
    const progress = await this.operations.progress(op);
    const results =
      progress.pending === 0
        ? await this.operations.allResults(op.id)
        : undefined;
    return {
      kind: 'operation',
      httpStatus: 200,
      body: operationJson(op, progress, results),
      headers: {'Cache-Control': 'no-store'},
      outcome: progress.pending === 0 ? 'done' : 'running',
      details: {operation: op.id, ...progress},
    };
  }
}
