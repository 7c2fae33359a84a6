// The Standard Webhooks headers a sender puts on a delivery, signed with the official library: what an SIS
// (or its middleware) sends. Used by `npm run send-sample-webhook`, the bench and the tests.
import {randomUUID} from 'node:crypto';
import {Webhook} from 'standardwebhooks';

export function signedWebhookHeaders(
  secret: string,
  id: string,
  at: Date,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** POSTs a delivery to `<baseUrl>/webhooks/sis`, signed now; a fresh webhook-id unless one is given (a redelivery). */
export function postSignedDelivery(
  baseUrl: string,
  secret: string,
  body: string,
  opts: {id?: string; signal?: AbortSignal} = {},
): Promise<Response> {
  return fetch(`${baseUrl}/webhooks/sis`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...signedWebhookHeaders(
        secret,
        opts.id ?? `msg_${randomUUID()}`,
        new Date(),
        body,
      ),
    },
    body,
    ...(opts.signal ? {signal: opts.signal} : {}),
  });
}
