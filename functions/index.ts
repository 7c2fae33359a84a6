// Entry point: parses the configuration (a bad one stops the instance before it listens: startup.ts), puts the
// request guard in front of the framework's server and registers the targets: the `invitations` HTTP function, and
// the `invitationsWorker` / `invitationsDeadLetter` CloudEvent functions that run operation items from Pub/Sub.
// Everything else loads on first use, so that a new instance starts serving early.
import {
  cloudEvent,
  CloudEventFunction,
  http,
} from '@google-cloud/functions-framework';
import type {Handler} from './http/app';
import {googleError} from './errors';
import {installRequestGuard} from './http/guard';
import * as logs from './log-events';
import type * as WorkerEntry from './operations/worker-entry';
import type * as RuntimeModule from './runtime';
import {configOrExit} from './startup';
import {DEAD_LETTER_TARGET, HTTP_TARGET, WORKER_TARGET} from './targets';

const config = configOrExit(process.env);
let runtime: Promise<RuntimeModule.Runtime> | undefined;

installRequestGuard(() => ({
  bodyTimeoutMs: config.bodyTimeoutMs,
  projectId: config.projectId,
}));

// What can still fail once the configuration parsed is building the runtime on first use: a lazily loaded module
// missing from the deployed dependencies, or a client library refusing its settings. That is answered 503 (and a
// worker's message left to redelivery) with an ERROR line, and tried again on the next request.
function load(): Promise<RuntimeModule.Runtime> {
  runtime ??= Promise.resolve().then(() =>
    (require('./runtime') as typeof RuntimeModule).createRuntime(config),
  );
  return runtime;
}

http(HTTP_TARGET, async (req, res) => {
  let h: Handler;
  try {
    h = (await load()).handler;
  } catch (err) {
    runtime = undefined;
    logs.runtimeFailed(err);
    res.status(503).json({
      error: googleError(503, 'UNAVAILABLE', 'The service could not start.'),
    });
    return;
  }
  await h(req, res);
});

/** An item of an operation; a throw leaves the message to Pub/Sub's redelivery (a runtime that failed too). */
async function runItem(
  event: {id?: string; data?: unknown},
  deadLettered: boolean,
): Promise<void> {
  let r: RuntimeModule.Runtime;
  try {
    r = await load();
  } catch (err) {
    runtime = undefined;
    logs.runtimeFailed(err);
    throw err;
  }
  const entry = require('./operations/worker-entry') as typeof WorkerEntry;
  await entry.runItemEvent(r.worker, event, deadLettered);
}

const worker: CloudEventFunction = event => runItem(event, false);
const deadLetter: CloudEventFunction = event => runItem(event, true);
cloudEvent(WORKER_TARGET, worker);
cloudEvent(DEAD_LETTER_TARGET, deadLetter);
