// How Pub/Sub delivers the items of operations to the workers: one policy for the emulator's wiring
// (tools/pubsub-setup.ts) and for production (`npm run deploy`, tools/deploy-plan.ts).

/** Deliveries of one item before Pub/Sub gives up and moves it to the dead-letter topic (Pub/Sub allows 5–100). */
export const MAX_DELIVERY_ATTEMPTS = 100;
/** Longer than REQUEST_DEADLINE_MS: an item waiting for quota must not be redelivered while it waits. */
export const ACK_DEADLINE_SECONDS = 60;
/** Redelivery backoff of an unacknowledged item, between these bounds (Pub/Sub allows 0–600 s). */
export const MIN_RETRY_DELAY_SECONDS = 10;
export const MAX_RETRY_DELAY_SECONDS = 600;

export function deadLetterTopicOf(topic: string): string {
  return `${topic}-dead-letter`;
}

/**
 * About how long an item is retried before it is dead-lettered: the backoffs between its deliveries, doubling from
 * the minimum and capped at the maximum (about 16 hours with the values above). Pub/Sub does not publish its exact
 * curve, so this is an estimate: settings that need the window use it with a margin.
 */
export function retryWindowSeconds(): number {
  let total = 0;
  for (let i = 0; i < MAX_DELIVERY_ATTEMPTS - 1; i++)
    total += Math.min(
      MAX_RETRY_DELAY_SECONDS,
      MIN_RETRY_DELAY_SECONDS * 2 ** i,
    );
  return total;
}
