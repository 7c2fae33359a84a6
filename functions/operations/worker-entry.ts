// What the `invitationsWorker` and `invitationsDeadLetter` targets do with one CloudEvent: run (or fail) the items
// it carries. Returning acknowledges the message; throwing (RetryLater) leaves it to Pub/Sub's redelivery.
import * as logs from '../log-events';
import {itemOf} from './item-event';
import {RetryLater, type OperationWorker} from './worker';

export async function runItemEvent(
  worker: OperationWorker,
  event: {id?: string; data?: unknown},
  deadLettered = false,
): Promise<void> {
  const item = itemOf(event);
  if (!item) {
    // Redelivering a message nobody can read would only loop: acknowledged, and said loudly.
    logs.unreadableItemMessage(event.id);
    return;
  }
  const {operation} = item.message;
  const outcomes = await (
    deadLettered
      ? worker.deadLettered(item.message)
      : worker.handle(item.message)
  ).catch((err: unknown) => {
    if (!(err instanceof RetryLater)) throw err;
    throw logs.itemsLeftForRedelivery(operation, err.why, err.retryAfterS);
  });
  logs.itemsDone(operation, outcomes, deadLettered);
}
