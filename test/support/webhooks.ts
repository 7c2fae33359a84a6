// Posting a signed SIS delivery to a test gateway, as a Standard Webhooks sender does.
import {randomUUID} from 'node:crypto';
import type {Server} from 'node:http';
import request from 'supertest';
import {signedWebhookHeaders} from '../../tools/webhook-headers';

/** `headers` replaces the signed ones entirely (to test what a broken sender sends). */
export function postWebhook(
  server: Server,
  secret: string,
  body: string,
  d: {id?: string; at?: Date; headers?: Record<string, string>} = {},
) {
  const headers =
    d.headers ??
    signedWebhookHeaders(
      secret,
      d.id ?? `msg_${randomUUID()}`,
      d.at ?? new Date(),
      body,
    );
  let r = request(server)
    .post('/webhooks/sis')
    .set('Content-Type', 'application/json');
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  return r.send(body);
}
