// Runs a request once per key: the Idempotency-Key of POST /v1/invitations and the webhook-id of a delivery.
// A finished key's answer is replayed; a key in flight or reused with another request is refused; a new one
// runs, and its answer is stored, unless it tells the caller to retry (then the key is freed).
import {
  errorOf,
  ErrorAnswer,
  fromError,
  jsonOf,
  replayed,
  StoredAnswer,
  Answer,
} from './answers';
import type {IdempotencyKeys} from './idempotency';
import {shouldRetry} from './retry-decision';

export interface KeyedRequest {
  /** Whose key space: a caller, or `webhook`. */
  scope: string;
  key: string;
  /** What the request means; the same key with another fingerprint is another request. */
  fingerprint: string;
  requestId: string;
  /** See BeginOptions in idempotency.ts (webhook deliveries). */
  takeOverChanged?: boolean;
  /**
   * When the answer cannot be stored, free the key rather than leave it pending for a lease (webhook deliveries):
   * a redelivery then runs again, which the ledger makes safe, instead of meeting 409 until the lease ends.
   */
  freeKeyWhenUnstored?: boolean;
}

export type OnceResult<O extends string> =
  | {ran: true; answer: Answer<O>}
  | {
      ran: false;
      answer: StoredAnswer<'replayed'> | ErrorAnswer<'rejected' | 'in_flight'>;
    };

/**
 * `run` gets the fingerprint of the finished request whose key it took over, if any (takeOverChanged).
 * `storeFailed`: the answer stands; unless freeKeyWhenUnstored, the key stays pending until its lease ends, then
 * a retry runs again.
 */
export async function oncePerKey<O extends string>(
  keys: IdempotencyKeys,
  k: KeyedRequest,
  run: (previousFingerprint: string | undefined) => Promise<Answer<O>>,
  storeFailed: (err: unknown) => void,
): Promise<OnceResult<O>> {
  const decision = await keys.begin(
    k.scope,
    k.key,
    k.fingerprint,
    k.requestId,
    k.takeOverChanged ? {takeOverChanged: true} : {},
  );
  switch (decision.kind) {
    case 'replay':
      return {ran: false, answer: replayed(decision.response)};
    case 'mismatch':
      return {ran: false, answer: fromError(decision.error, 'rejected')};
    case 'in_flight':
      return {ran: false, answer: fromError(decision.error, 'in_flight')};
    case 'new': {
      const answer = await run(decision.previousFingerprint);
      // A replay of the stored answer is marked when it is replayed, not before.
      const headers = {...answer.headers};
      delete headers['Idempotent-Replayed'];
      const retryLater = shouldRetry('caller', {
        httpStatus: answer.httpStatus,
        error: errorOf(answer),
      });
      try {
        await keys.finish(
          decision.claim,
          {httpStatus: answer.httpStatus, body: jsonOf(answer), headers},
          !retryLater,
        );
      } catch (err) {
        storeFailed(err);
        if (k.freeKeyWhenUnstored)
          await keys
            .finish(
              decision.claim,
              {httpStatus: 0, body: '', headers: {}},
              false,
            )
            .catch(() => undefined);
      }
      return {ran: true, answer};
    }
  }
}
