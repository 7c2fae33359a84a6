// Entry point: puts the request guard in front of the framework's server and registers the `invitations`
// HTTP function. Everything else loads on the first request, so that a new instance starts serving early.
import {http} from '@google-cloud/functions-framework';
import type * as ConfigModule from './config';
import type {Handler} from './http/app';
import {googleError} from './errors';
import {installRequestGuard} from './http/guard';
import * as logs from './log-events';
import type * as RuntimeModule from './runtime';

let config: ConfigModule.Config | undefined;
let handler: Promise<Handler> | undefined;

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

function load(): Promise<Handler> {
  handler ??= Promise.resolve().then(() => {
    const runtime = require('./runtime') as typeof RuntimeModule;
    return runtime.createRuntimeHandler(loadConfig());
  });
  return handler;
}

http('invitations', async (req, res) => {
  let h: Handler;
  try {
    h = await load();
  } catch (err) {
    handler = undefined; // a bad configuration is logged on every request until fixed
    logs.misconfigured(err);
    res.status(503).json({
      error: googleError(503, 'UNAVAILABLE', 'The service is not configured.'),
    });
    return;
  }
  await h(req, res);
});
