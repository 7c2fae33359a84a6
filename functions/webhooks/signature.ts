// Standard Webhooks verification (the `standardwebhooks` library) over the raw body, trying each configured
// secret in turn so that a rotation never drops a delivery. The library enforces a 5-minute tolerance both ways;
// the timestamp's form is checked here first, since the library's parseInt reads `1764000000abc` as a number.
import { createHash } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export interface SignatureHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

export type Verification =
  | { ok: true; webhookId: string; secretId: string }
  | { ok: false; reason: 'NOT_CONFIGURED' | 'MISSING_HEADERS' | 'INVALID_TIMESTAMP' | 'STALE_TIMESTAMP' | 'FUTURE_TIMESTAMP' | 'BAD_SIGNATURE'; message: string };

/** A short, non-secret name of a secret for audits and logs (which key of a rotation signed). */
export function secretId(secret: string): string {
  return 'whsec-' + createHash('sha256').update(secret).digest('hex').slice(0, 8);
}

export class SignatureVerifier {
  private readonly hooks: { hook: Webhook; id: string }[];

  constructor(secrets: string[]) {
    this.hooks = secrets.map((s) => ({ hook: new Webhook(s), id: secretId(s) }));
  }

  verify(rawBody: Buffer, headers: SignatureHeaders): Verification {
    if (this.hooks.length === 0) return { ok: false, reason: 'NOT_CONFIGURED', message: 'Webhooks are not configured on this gateway.' };
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (!id || !timestamp || !signature) {
      return { ok: false, reason: 'MISSING_HEADERS', message: 'The webhook-id, webhook-timestamp and webhook-signature headers are required.' };
    }
    // Whole seconds since the epoch, digits only: anything else is not what the sender signed.
    if (!/^[0-9]{1,12}$/.test(timestamp)) {
      return { ok: false, reason: 'INVALID_TIMESTAMP', message: 'The webhook-timestamp header must be whole seconds since the epoch (digits only).' };
    }
    const h = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    let last: unknown;
    for (const { hook, id: sid } of this.hooks) {
      try {
        hook.verify(rawBody, h, { jsonParse: false });
        return { ok: true, webhookId: id, secretId: sid };
      } catch (err) {
        last = err;
        // A timestamp outside the tolerance fails for every secret alike.
        if (err instanceof WebhookVerificationError && /timestamp/i.test(err.message)) break;
      }
    }
    const message = last instanceof Error ? last.message : '';
    if (/too old/i.test(message)) return { ok: false, reason: 'STALE_TIMESTAMP', message: 'The webhook timestamp is more than 5 minutes old.' };
    if (/too new/i.test(message)) return { ok: false, reason: 'FUTURE_TIMESTAMP', message: 'The webhook timestamp is more than 5 minutes in the future.' };
    if (/timestamp/i.test(message)) return { ok: false, reason: 'STALE_TIMESTAMP', message: 'The webhook timestamp is not valid.' };
    return { ok: false, reason: 'BAD_SIGNATURE', message: 'No webhook signature matches this delivery.' };
  }
}
