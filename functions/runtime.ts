// Builds the object graph from configuration, once per instance: production (index.ts) and tests alike, tests
// injecting what they must (the emulator's Firestore, ID token certificates, a clock).
import {Firestore} from '@google-cloud/firestore';
import {withCircuitBreaker} from './circuit';
import {ClassroomInvitations, createClassroomInvitations} from './classroom';
import type {Config} from './config';
import {CreateFlow} from './create/flow';
import {createApp, Handler} from './http/app';
import {CallerVerifier, CertSource} from './http/caller';
import {HttpInvitations} from './http/invitations';
import {HttpOperations} from './http/operations';
import {HttpBatches} from './http/batches';
import {Intake, ItemQueue} from './operations/intake';
import {PubSubQueue} from './operations/pubsub-queue';
import {IdempotencyKeys} from './idempotency';
import {Ledger, WEBHOOK_DELIVERIES_COLLECTION} from './ledger';
import {Operations} from './operations/store';
import {OperationWorker} from './operations/worker';
import {PacedClassroom} from './pacer/paced-classroom';
import {Pacer} from './pacer/pacer';
import {PacerStore} from './pacer/store';
import {SubjectPool} from './pacer/subjects';
import {setRedactEmails} from './logs';
import {RefusalAudit} from './refusal-audit';
import {Removals} from './removal';
import {WebhookProcessor} from './webhooks/processor';

export interface RuntimeDeps {
  /** Default: a client for the configured project. */
  db?: Firestore;
  /** Classroom's client, before the circuit breaker is put around it. Default: the official client. */
  classroom?: ClassroomInvitations;
  /** Google's ID token certificates. Default: fetched from Google. */
  certs?: CertSource;
  /** Where operation items are published. Default: Pub/Sub (the emulator when PUBSUB_EMULATOR_HOST is set). */
  queue?: ItemQueue;
  /** Wall clock for leases, deadlines and expiries. */
  now?: () => number;
}

export interface Runtime {
  handler: Handler;
  db: Firestore;
  ledger: Ledger;
  /** Classroom as the gateway calls it: paced, behind the circuit breaker when configured. */
  classroom: ClassroomInvitations;
  pacer: Pacer;
  /** Long-running operations (batches, large deliveries). */
  operations: Operations;
  /** Runs one item of an operation (the `invitationsWorker` target). */
  worker: OperationWorker;
  flow: CreateFlow;
  /** Writes the refusal audit's last summaries. */
  close(): Promise<void>;
}

export function createRuntime(config: Config, deps: RuntimeDeps = {}): Runtime {
  setRedactEmails(config.logRedactEmails);
  const now = deps.now ?? Date.now;
  const db =
    deps.db ??
    new Firestore({
      ...(config.projectId ? {projectId: config.projectId} : {}),
      ignoreUndefinedProperties: true,
    });
  const ledger = new Ledger(
    db,
    config.collectionPrefix,
    config.leaseMs,
    config.ledgerTtlMs,
    now,
  );
  // The breaker outside the pacer: while Classroom is down, calls are refused before they take any quota.
  const pacer = new Pacer(
    new PacerStore(db, config.collectionPrefix, config.pacer),
    new SubjectPool(
      config.classroomSubjects.length ? config.classroomSubjects : [''],
    ),
  );
  const classroom = withCircuitBreaker(
    new PacedClassroom(
      deps.classroom ?? createClassroomInvitations(config),
      pacer,
    ),
    config.circuit,
  );
  const keys = new IdempotencyKeys(
    db,
    config.collectionPrefix,
    config.leaseMs,
    config.idempotencyKeyTtlMs,
    now,
  );
  const deliveries = new IdempotencyKeys(
    db,
    config.collectionPrefix,
    config.leaseMs,
    config.idempotencyKeyTtlMs,
    now,
    WEBHOOK_DELIVERIES_COLLECTION,
  );
  const httpRefusals = new RefusalAudit('http', config.refusalAudit, events =>
    ledger.appendAuditMany(events),
  );
  const webhookRefusals = new RefusalAudit(
    'webhook',
    config.refusalAudit,
    events => ledger.appendAuditMany(events),
  );
  const flow = new CreateFlow(config, ledger, classroom, now);
  const removals = new Removals(config, ledger, classroom, httpRefusals, now);
  const invitations = new HttpInvitations(
    config,
    flow,
    ledger,
    keys,
    httpRefusals,
  );

  const operations = new Operations(
    db,
    config.collectionPrefix,
    config.operationTtlMs,
    now,
  );
  const intake = new Intake(
    operations,
    deps.queue ?? new PubSubQueue(config.invitationsTopic, config.projectId),
    config.itemsPerMessage,
  );
  const operationsView = new HttpOperations(operations);
  const webhooks = new WebhookProcessor(
    config,
    flow,
    removals,
    ledger,
    deliveries,
    webhookRefusals,
    intake,
    operationsView,
  );
  const callers = new CallerVerifier(
    config.callerAudience,
    config.allowedCallers,
    deps.certs,
  );
  return {
    handler: createApp(
      {
        invitations,
        operations: operationsView,
        batches: new HttpBatches(
          intake,
          ledger,
          keys,
          httpRefusals,
          operationsView,
        ),
        removals,
        webhooks,
        callers,
      },
      config.projectId,
    ),
    db,
    ledger,
    classroom,
    pacer,
    operations,
    worker: new OperationWorker(config, flow, removals, operations, now),
    flow,
    async close() {
      await httpRefusals.close();
      await webhookRefusals.close();
    },
  };
}

/** The function's handler (index.ts loads this on the first request). */
export function createRuntimeHandler(
  config: Config,
  deps: RuntimeDeps = {},
): Handler {
  return createRuntime(config, deps).handler;
}
