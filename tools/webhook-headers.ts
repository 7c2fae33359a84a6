// The Standard Webhooks headers a sender puts on a delivery, signed with the official library: what an SIS
// (or its middleware) sends. Used by `npm run send-sample-webhook` and the tests.
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
