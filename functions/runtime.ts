// Builds the production object graph from configuration, once per instance.
import { Firestore } from '@google-cloud/firestore';
import { withCircuitBreaker } from './circuit';
import { createClassroomInvitations } from './classroom';
import type { Config } from './config';
import { InvitationGateway } from './gateway';
import { createApp, Handler } from './http/app';
import { CallerVerifier } from './http/caller';
import { IdempotencyKeys } from './idempotency';
import { Ledger, WEBHOOK_DELIVERIES_COLLECTION } from './ledger';
import { setRedactEmails } from './logs';
import { RefusalAudit } from './refusal-audit';
import { WebhookProcessor } from './webhooks/processor';

export function createRuntimeHandler(config: Config): Handler {
  setRedactEmails(config.logRedactEmails);
  const db = new Firestore({ ...(config.projectId ? { projectId: config.projectId } : {}), ignoreUndefinedProperties: true });
  const ledger = new Ledger(db, config.collectionPrefix, config.leaseMs, config.ledgerTtlMs);
  const keys = new IdempotencyKeys(db, config.collectionPrefix, config.leaseMs, config.idempotencyKeyTtlMs);
  const httpRefusals = new RefusalAudit('http', config.refusalAudit, (events) => ledger.appendAuditMany(events));
  const gateway = new InvitationGateway(config, ledger, withCircuitBreaker(createClassroomInvitations(config), config.circuit), keys, httpRefusals);
  const deliveries = new IdempotencyKeys(db, config.collectionPrefix, config.leaseMs, config.idempotencyKeyTtlMs, Date.now, WEBHOOK_DELIVERIES_COLLECTION);
  const webhookRefusals = new RefusalAudit('webhook', config.refusalAudit, (events) => ledger.appendAuditMany(events));
  const webhooks = new WebhookProcessor(config, gateway, ledger, deliveries, webhookRefusals);
  const callers = new CallerVerifier(config.callerAudience, config.allowedCallers);
  return createApp({ gateway, webhooks, callers }, config.projectId);
}
