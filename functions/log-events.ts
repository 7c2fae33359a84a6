// One named function per log event (as firebase/extensions' logs.ts): messages and fields live here, call sites
// say what happened. The request's requestId and trace come from the log context (logs.ts).
import type {WebhookIdReuse} from './audit';
import type {ConfigError} from './config';
import {errorFields, log, logLine} from './logs';

// Start-up and infrastructure

/** The one line of an instance that will not start: every bad setting by name, then what is wrong with each. */
export function configurationRefused(err: ConfigError): void {
  log(
    'CRITICAL',
    `invalid configuration, the instance stops without serving: ${err.variables.join(', ')}`,
    {settings: err.variables, problems: err.problems.map(p => p.message)},
  );
}

/** The configuration parsed, but the objects serving requests could not be built from it (see index.ts). */
export function runtimeFailed(err: unknown): void {
  log('ERROR', 'the function could not build its runtime', errorFields(err));
}

export function guardFailed(err: unknown): void {
  log('ERROR', 'could not guard the HTTP server', errorFields(err));
}

/** Written after the request's log context has ended: its trace is passed along. */
export function unhandledFailure(
  requestId: string,
  trace: Record<string, string>,
  err: unknown,
): void {
  log('ERROR', 'unhandled failure while serving a request', {
    requestId,
    ...trace,
    ...errorFields(err),
  });
}

export function certsUnavailable(err: unknown): void {
  log(
    'WARNING',
    "Google's ID token certificates could not be fetched; callers get 503",
    errorFields(err),
  );
}

export function classroomCredentialsFailed(err: unknown): void {
  log('ERROR', 'could not set up credentials for Classroom', errorFields(err));
}

// The pacer and the subject pool

export function subjectLeftRotation(
  subject: string,
  retryInSeconds: number,
  err: unknown,
): void {
  log(
    'ERROR',
    'an impersonated admin left the rotation: its delegated token could not be obtained (domain-wide delegation revoked, the account suspended, or the scope not granted)',
    {subject, retryInSeconds, ...errorFields(err)},
  );
}

export function subjectBack(subject: string, outForMs: number): void {
  log('INFO', 'an impersonated admin is back in the rotation', {
    subject,
    outForSeconds: Math.round(outForMs / 1000),
  });
}

export function rateCut(subject: string, qps: number): void {
  log(
    'WARNING',
    'Classroom answered 429: the pacer slowed this subject for every instance',
    {
      subject,
      qps: Math.round(qps * 100) / 100,
    },
  );
}

export function rateCutFailed(err: unknown): void {
  log('WARNING', 'could not record a rate cut after a 429', errorFields(err));
}

// The circuit breaker

export function circuitOpened(fields: Record<string, unknown>): void {
  log(
    'WARNING',
    'Classroom circuit opened: calls to Classroom fail fast until a probe succeeds',
    {circuit: fields},
  );
}

export function circuitClosed(openForMs: number): void {
  log('INFO', 'Classroom circuit closed: a probe call succeeded', {
    circuit: {openForMs},
  });
}

export function circuitStaysOpen(fields: Record<string, unknown>): void {
  log('WARNING', 'Classroom circuit stays open: a probe call failed', {
    circuit: fields,
  });
}

// Invitations

export function createFailed(requestId: string, err: unknown): void {
  log('ERROR', 'invitation request failed inside the gateway', {
    requestId,
    ...errorFields(err),
  });
}

export function sharedOutcomeAuditFailed(
  requestId: string,
  err: unknown,
): void {
  log('ERROR', 'could not write the audit event of a shared outcome', {
    requestId,
    ...errorFields(err),
  });
}

export function markCheckedFailed(err: unknown): void {
  log('WARNING', 'could not mark a ledger entry checked', errorFields(err));
}

export function recordFailed(requestId: string, err: unknown): void {
  log('ERROR', 'could not record the outcome in the ledger', {
    requestId,
    ...errorFields(err),
  });
}

export function auditWriteFailed(requestId: string, err: unknown): void {
  log('ERROR', 'could not write an audit event', {
    requestId,
    ...errorFields(err),
  });
}

export function validateOnlyFailed(requestId: string, err: unknown): void {
  log('ERROR', 'validateOnly failed inside the gateway', {
    requestId,
    ...errorFields(err),
  });
}

export function deleteFailed(requestId: string, err: unknown): void {
  log('ERROR', 'delete failed inside the gateway', {
    requestId,
    ...errorFields(err),
  });
}

export function withdrawalFailed(requestId: string, err: unknown): void {
  log('ERROR', 'withdrawal failed inside the gateway', {
    requestId,
    ...errorFields(err),
  });
}

// Once per key (Idempotency-Key and webhook-id)

export function keyHandlingFailed(requestId: string, err: unknown): void {
  log('ERROR', 'idempotency key handling failed', {
    requestId,
    ...errorFields(err),
  });
}

export function keyOutcomeNotStored(requestId: string, err: unknown): void {
  log('ERROR', 'could not store the idempotency key outcome', {
    requestId,
    ...errorFields(err),
  });
}

export function deliveryOutcomeNotStored(
  requestId: string,
  err: unknown,
): void {
  log('ERROR', 'could not store the webhook delivery outcome', {
    requestId,
    ...errorFields(err),
  });
}

// Webhooks

export function deliveryFailed(
  requestId: string,
  webhookId: string | undefined,
  err: unknown,
): void {
  log('ERROR', 'webhook delivery failed inside the gateway', {
    requestId,
    webhookId,
    ...errorFields(err),
  });
}

export function webhookIdReused(
  requestId: string,
  webhookId: string | undefined,
  reuse: WebhookIdReuse,
): void {
  log(
    'WARNING',
    'webhook-id redelivered with another body: processing the new body',
    {requestId, webhookId, ...reuse},
  );
}

// The refusal audit

export function refusalsCounted(fields: {
  source: string;
  countedSinceLastLine: number;
  countedNotYetWritten: number;
  perSecond: number;
  burst: number;
}): void {
  log(
    'WARNING',
    'refusals are being counted, not audited one by one (refusal audit rate limit)',
    fields,
  );
}

export function refusalAuditWriteFailed(
  requestId: string,
  source: string,
  suppressedCount: number | undefined,
  err: unknown,
): void {
  log('ERROR', 'could not write a refusal audit event', {
    requestId,
    source,
    ...(suppressedCount ? {suppressedCount} : {}),
    ...errorFields(err),
  });
}

// Operations

export function unreadableItemMessage(eventId: string | undefined): void {
  log(
    'ERROR',
    'an operation item message could not be read; acknowledged without effect',
    {
      eventId: eventId?.slice(0, 128),
    },
  );
}

/**
 * A message left for Pub/Sub to redeliver. A CloudEvent function can only say so by throwing, and the Functions
 * Framework writes the error's stack to stderr: the stack is made this one structured INFO line, so that a term
 * start's quota backlog does not fill the error log with stack traces.
 */
export function itemsLeftForRedelivery(
  operation: string,
  why: string,
  retryAfterS: number | undefined,
): Error {
  const err = new Error(`operation ${operation}: items left for redelivery`);
  err.stack = logLine('INFO', 'operation items were left for redelivery', {
    operation,
    why,
    ...(retryAfterS === undefined ? {} : {retryAfterS}),
  });
  return err;
}

export function itemsDone(
  operation: string,
  outcomes: string[],
  deadLettered: boolean,
): void {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  log(
    deadLettered ? 'WARNING' : 'INFO',
    deadLettered
      ? 'operation items were dead-lettered'
      : 'operation items were handled',
    {operation, items: outcomes.length, outcomes: counts},
  );
}
