// Starts the gateway the way production does (Functions Framework pipeline, real Firestore emulator, the
// official Classroom client, the runtime wiring of functions/runtime.ts) against an in-process Classroom
// stand-in. Each call gets its own data.
import {randomBytes} from 'node:crypto';
import type {Server} from 'node:http';
import {http} from '@google-cloud/functions-framework';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import type {Firestore} from '@google-cloud/firestore';
import type {ClassroomInvitations} from '../../functions/classroom';
import {Config, parseConfig} from '../../functions/config';
import type {CreateFlow} from '../../functions/create/flow';
import {guardServer} from '../../functions/http/guard';
import {setLogSink} from '../../functions/logs';
import type {CertSource} from '../../functions/http/caller';
import {
  Ledger,
  AUDIT_COLLECTION,
  LEDGER_COLLECTION,
} from '../../functions/ledger';
import type {Operations} from '../../functions/operations/store';
import type {OperationWorker} from '../../functions/operations/worker';
import {PACER_RATES_COLLECTION} from '../../functions/pacer/store';
import {createRuntime} from '../../functions/runtime';
import {ClassroomStandIn} from '../../standin/server';
import {newFirestore, PROJECT_ID, uniquePrefix} from './emulator';

export interface TestGateway {
  server: Server;
  standIn: ClassroomStandIn;
  db: Firestore;
  config: Config;
  ledger: Ledger;
  /** The create flow of this instance (what POST /v1/invitations and webhooks run after validation). */
  flow: CreateFlow;
  classroom: ClassroomInvitations;
  /** Long-running operations and the worker that runs their items (what `invitationsWorker` runs). */
  operations: Operations;
  worker: OperationWorker;
  auditDocs(): Promise<Record<string, unknown>[]>;
  /** The pacer's rate cuts (one per throttled subject), as stored. */
  rateDocs(): Promise<Record<string, unknown>[]>;
  /** Forgets the pacer's rate cuts: a test's 429 storm would otherwise slow the next test down for 20 s. */
  resetPacer(): Promise<void>;
  ledgerDocs(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

// Request log lines would drown the test report; GATEWAY_TEST_LOGS=1 shows them.
if (!process.env.GATEWAY_TEST_LOGS) setLogSink(() => undefined);

export async function startTestGateway(
  name: string,
  env: Record<string, string> = {},
  certs?: CertSource,
): Promise<TestGateway> {
  const standIn = new ClassroomStandIn();
  const standInUrl = await standIn.start();
  const prefix = uniquePrefix(name);
  const config = parseConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT_ID,
    CLASSROOM_ROOT_URL: standInUrl,
    COLLECTION_PREFIX: prefix,
    INFLIGHT_WAIT_MS: '3000',
    // The stand-in has no quota unless a test gives it one; those tests set the rate they pace at.
    CLASSROOM_QPS: '1000',
    // Deliveries are answered inline unless a test is about operations (those set their own threshold).
    WEBHOOK_INLINE_MAX: '1000',
    ...env,
  });
  const db = newFirestore();
  const runtime = createRuntime(config, {db, certs});
  const fnName = `invitations_${name}_${randomBytes(3).toString('hex')}`;
  http(fnName, runtime.handler);
  const server = getTestServer(fnName);
  // The guard index.ts installs for every framework server, put on this one directly: a subscription made by
  // one test file would outlive it in a shared Jest worker.
  guardServer(server, () => ({
    bodyTimeoutMs: config.bodyTimeoutMs,
    projectId: config.projectId,
  }));
  const docs = async (collection: string) =>
    (await db.collection(prefix + collection).get()).docs.map(d => ({
      _id: d.id,
      ...d.data(),
    }));
  return {
    server,
    standIn,
    db,
    config,
    ledger: runtime.ledger,
    flow: runtime.flow,
    classroom: runtime.classroom,
    operations: runtime.operations,
    worker: runtime.worker,
    auditDocs: () => docs(AUDIT_COLLECTION),
    rateDocs: () => docs(PACER_RATES_COLLECTION),
    async resetPacer() {
      const rates = await db.collection(prefix + PACER_RATES_COLLECTION).get();
      await Promise.all(rates.docs.map(d => d.ref.delete()));
    },
    ledgerDocs: () => docs(LEDGER_COLLECTION),
    async close() {
      await runtime.close(); // the refusal audit's last summaries, before the client goes
      await standIn.stop();
      server.close?.();
      await db.terminate();
    },
  };
}
