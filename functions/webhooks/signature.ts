// Standard Webhooks verification over the exact bytes received, trying each configured secret in turn so that a
// rotation never drops a delivery, with the spec's 5-minute tolerance both ways. The HMAC runs in node:crypto
// (OpenSSL): the `standardwebhooks` library computes it in pure JavaScript over a decoded string, about 14 ms per
// MiB and secret against 1 ms, work any sender could make us do. The library stays the reference that signs in
// tests and tools; test/unit/signature.test.ts checks that both agree.
import {createHash, createHmac, timingSafeEqual} from 'node:crypto';

/** The spec's tolerance (and the library's): a timestamp further than this from our clock is refused. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

export interface SignatureHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

export type Verification =
  | {ok: true; webhookId: string; secretId: string}
  | {
      ok: false;
      reason:
        | 'NOT_CONFIGURED'
        | 'MISSING_HEADERS'
        | 'INVALID_TIMESTAMP'
        | 'STALE_TIMESTAMP'
        | 'FUTURE_TIMESTAMP'
        | 'BAD_SIGNATURE';
      message: string;
    };

/** A short, non-secret name of a secret for audits and logs (which key of a rotation signed). */
export function secretId(secret: string): string {
  return (
    'whsec-' + createHash('sha256').update(secret).digest('hex').slice(0, 8)
  );
}

/** The HMAC key of a `whsec_…` secret: the base64 after the prefix, decoded (as the library does). */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
}

/** The `v1,` signatures of the header (several during a rotation), decoded; other schemes (`v1a`) are skipped. */
function v1Signatures(header: string): Buffer[] {
  const out: Buffer[] = [];
  for (const part of header.split(' ').slice(0, 16)) {
    const [scheme, value] = part.split(',', 2);
    if (scheme === 'v1' && value && /^[A-Za-z0-9+/]+={0,2}$/.test(value))
      out.push(Buffer.from(value, 'base64'));
  }
  return out;
}

export class SignatureVerifier {
  private readonly keys: {key: Buffer; id: string}[];

  constructor(
    secrets: string[],
    private readonly nowSeconds: () => number = () =>
      Math.floor(Date.now() / 1000),
  ) {
    this.keys = secrets.map(s => ({key: keyOf(s), id: secretId(s)}));
  }

  verify(rawBody: Buffer, headers: SignatureHeaders): Verification {
    if (this.keys.length === 0)
      return {
        ok: false,
        reason: 'NOT_CONFIGURED',
        message: 'Webhooks are not configured on this gateway.',
      };
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (!id || !timestamp || !signature) {
      return {
        ok: false,
        reason: 'MISSING_HEADERS',
        message:
          'The webhook-id, webhook-timestamp and webhook-signature headers are required.',
      };
    }
    // Whole seconds since the epoch, digits only: anything else is not what the sender signed.
    if (!/^[0-9]{1,12}$/.test(timestamp)) {
      return {
        ok: false,
        reason: 'INVALID_TIMESTAMP',
        message:
          'The webhook-timestamp header must be whole seconds since the epoch (digits only).',
      };
    }
    // The clock first: a stale delivery costs no HMAC at all, whatever its size.
    const skew = this.nowSeconds() - Number(timestamp);
    if (skew > TIMESTAMP_TOLERANCE_SECONDS)
      return {
        ok: false,
        reason: 'STALE_TIMESTAMP',
        message: 'The webhook timestamp is more than 5 minutes old.',
      };
    if (skew < -TIMESTAMP_TOLERANCE_SECONDS)
      return {
        ok: false,
        reason: 'FUTURE_TIMESTAMP',
        message: 'The webhook timestamp is more than 5 minutes in the future.',
      };
    const offered = v1Signatures(signature);
    if (offered.length > 0) {
      for (const {key, id: sid} of this.keys) {
        const expected = createHmac('sha256', key)
          .update(`${id}.${timestamp}.`)
          .update(rawBody)
          .digest();
        if (
          offered.some(
            sig =>
              sig.length === expected.length && timingSafeEqual(sig, expected),
          )
        )
          return {ok: true, webhookId: id, secretId: sid};
      }
    }
    return {
      ok: false,
      reason: 'BAD_SIGNATURE',
      message: 'No webhook signature matches this delivery.',
    };
  }
}
