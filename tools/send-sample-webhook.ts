// `npm run send-sample-webhook [-- --id <webhook-id>] [-- --status tobedeleted] [-- --count N]`: signs a sample OneRoster
// enrollment event with the Standard Webhooks scheme and posts it to the local stack's /webhooks/sis, as an SIS would.
// With --count (up to 1,000 new enrollments) the delivery is taken as an operation: the 202, then its progress.
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
  const countArg = process.argv.indexOf('--count');
  const count =
    countArg > 0
      ? Math.min(1000, Math.max(1, Number(process.argv[countArg + 1]) || 0))
      : 0;
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
  if (count > 0)
    // A class of new pupils: one enrollment each, in one section per 30 (a term start in miniature).
    event.data.enrollments = Array.from({length: count}, (_, i) => ({
      sourcedId: `enr-${id}-${i}`,
      status,
      role: 'student',
      user: {
        sourcedId: `usr-${i}`,
        email: `pupil${i}.${id.slice(-6)}@school.example`,
      },
      class: {sourcedId: `section-${Math.floor(i / 30)}`},
    }));
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
  const answer = (await res.json()) as {name?: string; done?: boolean};
  console.log(JSON.stringify(answer, null, 2));
  const location = res.headers.get('location');
  if (res.status === 202 && location) await follow(new URL(location, url).href);
  console.log(
    `\nRedeliver the same event: npm run send-sample-webhook -- --id ${id}`,
  );
  if (!res.ok) process.exitCode = 1;
}

/** Polls the operation until it is done, printing its progress once a second. */
async function follow(operationUrl: string): Promise<void> {
  console.log(`\nFollowing ${operationUrl}`);
  for (;;) {
    const op = (await (await fetch(operationUrl)).json()) as {
      done?: boolean;
      metadata?: {progress?: Record<string, number>};
    };
    const p = op.metadata?.progress ?? {};
    console.log(
      Object.entries(p)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    );
    if (op.done) return;
    await new Promise(r => setTimeout(r, 1000));
  }
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
