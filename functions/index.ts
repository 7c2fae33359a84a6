// Entry point: puts the request guard in front of the framework's server and registers the targets: the
// `invitations` HTTP function, and the `invitationsWorker` / `invitationsDeadLetter` CloudEvent functions that run
// operation items from Pub/Sub. Everything else loads on first use, so that a new instance starts serving early.
import {
  cloudEvent,
  CloudEventFunction,
  http,
} from '@google-cloud/functions-framework';
import type * as ConfigModule from './config';
import type {Handler} from './http/app';
import {googleError} from './errors';
import {installRequestGuard} from './http/guard';
import * as logs from './log-events';
import type * as WorkerEntry from './operations/worker-entry';
import type * as RuntimeModule from './runtime';

let config: ConfigModule.Config | undefined;
let runtime: Promise<RuntimeModule.Runtime> | undefined;

/** Parsed on the first request and kept once it parses; a bad one is parsed (and reported) again each time. */
function loadConfig(): ConfigModule.Config {
  config ??= (require('./config') as typeof ConfigModule).parseConfig(
    process.env,
  );
  return config;
}

installRequestGuard(() => {
  const c = loadConfig();
  return {bodyTimeoutMs: c.bodyTimeoutMs, projectId: c.projectId};
});

function load(): Promise<RuntimeModule.Runtime> {
  runtime ??= Promise.resolve().then(() =>
    (require('./runtime') as typeof RuntimeModule).createRuntime(loadConfig()),
  );
  return runtime;
}

http('invitations', async (req, res) => {
  let h: Handler;
  try {
    h = (await load()).handler;
  } catch (err) {
    runtime = undefined; // a bad configuration is logged on every request until fixed
    logs.misconfigured(err);
    res.status(503).json({
      error: googleError(503, 'UNAVAILABLE', 'The service is not configured.'),
    });
    return;
  }
  await h(req, res);
});

/** An item of an operation; a throw leaves the message to Pub/Sub's redelivery (a bad configuration too). */
async function runItem(
  event: {id?: string; data?: unknown},
  deadLettered: boolean,
): Promise<void> {
  let r: RuntimeModule.Runtime;
  try {
    r = await load();
  } catch (err) {
    runtime = undefined;
    logs.misconfigured(err);
    throw err;
  }
  const entry = require('./operations/worker-entry') as typeof WorkerEntry;
  await entry.runItemEvent(r.worker, event, deadLettered);
}

const worker: CloudEventFunction = event => runItem(event, false);
const deadLetter: CloudEventFunction = event => runItem(event, true);
cloudEvent('invitationsWorker', worker);
cloudEvent('invitationsDeadLetter', deadLetter);
