// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the first request with a key runs; a retry
// with the same key and the same request gets the stored answer; the same key with another request is 422;
// the same key while the first is still running is 409. Keys live in `idempotency_keys`, scoped per caller.
// Webhook deliveries use the same store with one difference (`takeOverChanged`): see BeginOptions.
import {createHash} from 'node:crypto';
import type {Firestore, Timestamp as TimestampT} from '@google-cloud/firestore';
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import {
  ApiError,
  badRequest,
  errorInfo,
  errorWithHttpStatus,
  retryable,
} from './errors';
import {isAlreadyExists, isLostRace} from './firestore-errors';
import {WEBHOOK_DELIVERIES_COLLECTION} from './ledger-model';
import type {InvitationRequest} from './validation';

export const IDEMPOTENCY_COLLECTION = 'idempotency_keys';

export interface StoredResponse {
  httpStatus: number;
  /** The JSON body as sent, kept as text so the replay is byte-identical. */
  body: string;
  headers: Record<string, string>;
}

interface KeyDoc {
  state: 'pending' | 'done';
  fingerprint: string;
  requestId: string;
  leaseExpiresAt: TimestampT;
  expireAt: TimestampT;
  response?: StoredResponse;
}

export interface KeyClaim {
  id: string;
  writeTime: TimestampT;
}

export interface BeginOptions {
  /**
   * A finished key (or an abandoned one) with another fingerprint is taken over, and the new request runs,
   * instead of answering 422. For webhook deliveries: a Standard Webhooks sender retries every non-2xx, so
   * a 422 would loop until the endpoint is disabled, and the changed body would never be applied. A key
   * whose first request is still in flight stays `in_flight` either way.
   */
  takeOverChanged?: boolean;
}

export type KeyDecision =
  /** `previousFingerprint`: set when a finished key of another request was taken over (takeOverChanged). */
  | {kind: 'new'; claim: KeyClaim; previousFingerprint?: string}
  | {kind: 'replay'; response: StoredResponse}
  | {kind: 'mismatch'; error: ApiError}
  | {kind: 'in_flight'; error: ApiError};

/**
 * The header value: an RFC 8941 sf-string ("…") as the draft says, or a bare token as Stripe-style clients
 * send it. Printable ASCII, 1 to 255 characters. Undefined when absent.
 */
export function parseIdempotencyKey(
  header: string | undefined,
): string | undefined {
  if (header === undefined) return undefined;
  let v = header.trim();
  const quoted = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(v);
  if (quoted) v = quoted[1]!.replace(/\\(["\\])/g, '$1');
  else if (v.includes('"')) v = ''; // a broken sf-string
  if (v.length < 1 || v.length > 255 || !/^[\x20-\x7e]+$/.test(v)) {
    throw badRequest('Invalid Idempotency-Key header.', [
      {
        field: 'Idempotency-Key',
        description: 'must be 1 to 255 printable ASCII characters, e.g. a UUID',
      },
    ]);
  }
  return v;
}

/**
 * The request a key stands for: the validated invitation and the options that change what it does (`?replace`),
 * so whitespace or key order do not matter but another meaning does.
 */
export function fingerprint(
  req: InvitationRequest,
  opts: {replace?: boolean} = {},
): string {
  const parts = ['POST /v1/invitations', req.courseId, req.userId, req.role];
  if (opts.replace) parts.push('replace');
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The scope of a caller's keys: per verified caller; unverified callers per claim, which spares honest callers
 * from colliding and gives a forger nothing it could not get by sending the same request itself.
 */
export function keyScope(ctx: {
  caller: string;
  claimedCaller?: string;
}): string {
  return ctx.claimedCaller === undefined
    ? ctx.caller
    : `${ctx.caller}:${ctx.claimedCaller}`;
}

/** 422, as the draft specifies for a key reused with a different payload. */
function keyReused(): ApiError {
  return errorWithHttpStatus(
    422,
    'INVALID_ARGUMENT',
    'This Idempotency-Key was already used with a different request. Use a new key for a new request.',
    {
      details: [errorInfo('IDEMPOTENCY_KEY_REUSED')],
    },
  );
}

function stillInFlight(collection: string): ApiError {
  // The same store serves webhook deliveries: their sender knows a webhook-id, not an Idempotency-Key.
  return collection === WEBHOOK_DELIVERIES_COLLECTION
    ? retryable(
        'ABORTED',
        'A delivery with this webhook-id is still in progress.',
        1,
        'DELIVERY_IN_FLIGHT',
      )
    : retryable(
        'ABORTED',
        'A request with this Idempotency-Key is still in progress.',
        1,
        'IDEMPOTENCY_KEY_IN_FLIGHT',
      );
}

export class IdempotencyKeys {
  private readonly keys;
  private readonly inFlight: () => ApiError;

  constructor(
    db: Firestore,
    prefix: string,
    private readonly leaseMs: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    collection: string = IDEMPOTENCY_COLLECTION,
  ) {
    this.keys = db.collection(prefix + collection);
    this.inFlight = () => stillInFlight(collection);
  }

  private docId(caller: string, key: string): string {
    return createHash('sha256').update(`${caller}\n${key}`).digest('hex');
  }

  private pending(fp: string, requestId: string): Record<string, unknown> {
    return {
      state: 'pending',
      fingerprint: fp,
      requestId,
      leaseExpiresAt: Timestamp.fromMillis(this.now() + this.leaseMs),
      expireAt: Timestamp.fromMillis(this.now() + this.ttlMs),
      response: FieldValue.delete(),
      updatedAt: FieldValue.serverTimestamp(),
    };
  }

  async begin(
    caller: string,
    key: string,
    fp: string,
    requestId: string,
    opts: BeginOptions = {},
  ): Promise<KeyDecision> {
    const id = this.docId(caller, key);
    const ref = this.keys.doc(id);
    for (let round = 0; round < 5; round++) {
      try {
        const {response: _drop, ...fresh} = this.pending(fp, requestId);
        const res = await ref.create({
          ...fresh,
          createdAt: FieldValue.serverTimestamp(),
        });
        return {kind: 'new', claim: {id, writeTime: res.writeTime}};
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      const snap = await ref.get();
      if (!snap.exists || !snap.updateTime) continue;
      const doc = snap.data() as KeyDoc;
      const expired = doc.expireAt.toMillis() <= this.now(); // TTL deletion lags: an expired key is gone
      const abandoned =
        doc.state === 'pending' && doc.leaseExpiresAt.toMillis() <= this.now();
      const changed = !expired && doc.fingerprint !== fp;
      if (changed && !opts.takeOverChanged)
        return {kind: 'mismatch', error: keyReused()};
      if (!changed && !expired && doc.state === 'done' && doc.response)
        return {kind: 'replay', response: doc.response};
      const finishedWithOther = changed && doc.state === 'done';
      if (expired || abandoned || finishedWithOther) {
        try {
          // Precondition on the version read: of two requests taking over at once, one wins; the other
          // reads again and finds the winner in flight.
          const res = await ref.update(this.pending(fp, requestId), {
            lastUpdateTime: snap.updateTime,
          });
          const claim = {id, writeTime: res.writeTime};
          return changed
            ? {kind: 'new', claim, previousFingerprint: doc.fingerprint}
            : {kind: 'new', claim};
        } catch (err) {
          if (!isLostRace(err)) throw err;
          continue;
        }
      }
      return {kind: 'in_flight', error: this.inFlight()};
    }
    return {kind: 'in_flight', error: this.inFlight()};
  }

  /** Stores the answer for replays, or frees the key when the answer says "retry". */
  async finish(
    claim: KeyClaim,
    response: StoredResponse,
    storable: boolean,
  ): Promise<void> {
    const ref = this.keys.doc(claim.id);
    try {
      if (storable) {
        await ref.update(
          {
            state: 'done',
            response,
            leaseExpiresAt: FieldValue.delete(),
            updatedAt: FieldValue.serverTimestamp(),
          },
          {lastUpdateTime: claim.writeTime},
        );
      } else {
        await ref.delete({lastUpdateTime: claim.writeTime});
      }
    } catch (err) {
      // Taken over after our lease ran out: the key belongs to the later request now.
      if (!isLostRace(err)) throw err;
    }
  }
}
