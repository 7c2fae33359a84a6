// Every answer of the gateway is a decision with one audit event: written with the answer (decide), written
// unless the audit store fails (decideSafely), or counted through the refusal limiter (refuseCompactly).
import {
  auditEvent,
  AuditEvent,
  AuditFields,
  AuditPair,
  RequestContext,
} from './audit';
import type {Answer} from './answers';
import type {Ledger} from './ledger';
import * as logs from './log-events';
import type {RefusalAudit} from './refusal-audit';

/** Decisions need only the audit's append. */
type AuditLog = Pick<Ledger, 'appendAudit'>;

/** The audit event of an answer: its outcome and status, and what else the decision knew. */
function eventOf(
  ctx: RequestContext,
  pair: AuditPair,
  answer: Answer,
  extra: Partial<AuditFields>,
): AuditEvent {
  return auditEvent(ctx, pair, {
    outcome: answer.outcome,
    httpStatus: answer.httpStatus,
    ...extra,
  });
}

/** Writes the final audit event of a request that reserved nothing, then answers. */
export async function decide<A extends Answer>(
  ledger: AuditLog,
  ctx: RequestContext,
  pair: AuditPair,
  answer: A,
  extra: Partial<AuditFields>,
): Promise<A> {
  await ledger.appendAudit(eventOf(ctx, pair, answer, extra));
  return answer;
}

/**
 * For answers that stand whatever happens to the audit (a caller's mistake stays a 400 even when the audit
 * store is down); the log keeps the trace.
 */
export async function decideSafely<A extends Answer>(
  ledger: AuditLog,
  ctx: RequestContext,
  pair: AuditPair,
  answer: A,
  extra: Partial<AuditFields>,
): Promise<A> {
  try {
    return await decide(ledger, ctx, pair, answer, extra);
  } catch (err) {
    logs.auditWriteFailed(ctx.requestId, err);
    return answer;
  }
}

/**
 * A refusal of a request that never passed validation or the caller check: anyone can send those, so they go
 * through the refusal limiter (bounded rate, expiring events) instead of one kept document each.
 */
export async function refuseCompactly<A extends Answer>(
  ledger: AuditLog,
  refusals: RefusalAudit | undefined,
  ctx: RequestContext,
  pair: AuditPair,
  answer: A,
  extra: Partial<AuditFields>,
): Promise<A> {
  if (!refusals) return decideSafely(ledger, ctx, pair, answer, extra);
  await refusals.record(eventOf(ctx, pair, answer, extra));
  return answer;
}
