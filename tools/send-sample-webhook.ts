// `npm run send-sample-webhook [-- --id <webhook-id>] [-- --status tobedeleted]`: signs a sample OneRoster enrollment event with the
// Standard Webhooks scheme and posts it to the local stack's /webhooks/sis, as an SIS would.
// GATEWAY_URL (default http://localhost:$PORT or 8080) and WEBHOOK_SECRET (default: the local stack's) apply.
import {randomUUID} from 'node:crypto';
import {signedWebhookHeaders} from './webhook-headers';
import {LOCAL_WEBHOOK_SECRET} from './local-secrets';

async function main(): Promise<void> {
  const url =
    (
      process.env.GATEWAY_URL || `http://localhost:${process.env.PORT || 8080}`
    ).replace(/\/+$/, '') + '/webhooks/sis';
  const secret = process.env.WEBHOOK_SECRET || LOCAL_WEBHOOK_SECRET;
  const idArg = process.argv.indexOf('--id');
  const id =
    idArg > 0 && process.argv[idArg + 1]
      ? process.argv[idArg + 1]!
      : `msg_${randomUUID()}`;
  // --status tobedeleted sends the same enrollments as withdrawn (the pending invitations are deleted).
  const statusArg = process.argv.indexOf('--status');
  const status =
    statusArg > 0 && process.argv[statusArg + 1]
      ? process.argv[statusArg + 1]!
      : 'active';
  const event = {
    type: 'enrollments.created',
    // Fixed: a redelivery carries the very same body; only the webhook-timestamp header changes.
    timestamp: '2026-09-01T07:00:00.000Z',
    data: {
      enrollments: [
        {
          sourcedId: 'enr-1001',
          status,
          role: 'student',
          user: {sourcedId: 'usr-1', email: 'ada@school.example'},
          class: {sourcedId: 'math-101'},
        },
        {
          sourcedId: 'enr-1002',
          status,
          role: 'teacher',
          user: {sourcedId: 'usr-2', email: 'grace@school.example'},
          class: {sourcedId: 'math-101'},
          primary: true,
        },
        {
          sourcedId: 'enr-1003',
          status,
          role: 'administrator',
          user: {sourcedId: 'usr-3', email: 'principal@school.example'},
          class: {sourcedId: 'math-101'},
        },
        {
          sourcedId: 'enr-1004',
          status,
          role: 'student',
          user: {sourcedId: 'usr-4', email: 'unknown-pupil@school.example'},
          class: {sourcedId: 'math-101'},
        },
      ],
    },
  };
  const body = JSON.stringify(event);
  const now = new Date();
  const headers = {
    'Content-Type': 'application/json',
    ...signedWebhookHeaders(secret, id, now, body),
  };
  const res = await fetch(url, {method: 'POST', headers, body});
  console.log(
    `POST ${url}\nwebhook-id: ${id}\n\nHTTP ${res.status}${res.headers.get('idempotent-replayed') ? ' (replayed)' : ''}`,
  );
  console.log(JSON.stringify(await res.json(), null, 2));
  console.log(
    `\nRedeliver the same event: npm run send-sample-webhook -- --id ${id}`,
  );
  if (!res.ok) process.exitCode = 1;
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
