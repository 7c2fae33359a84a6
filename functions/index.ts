// Entry point: registers the `invitations` HTTP function. Everything else loads on the first request,
// so that a new instance starts serving as early as possible.
import { http } from '@google-cloud/functions-framework';
import type * as ConfigModule from './config';
import type { Handler } from './http/app';
import { installBodyErrorHandler } from './http/body-errors';
import { errorFields, log } from './logs';
import type * as RuntimeModule from './runtime';

installBodyErrorHandler();

let handler: Promise<Handler> | undefined;

function load(): Promise<Handler> {
  handler ??= Promise.resolve().then(() => {
    const config = require('./config') as typeof ConfigModule;
    const runtime = require('./runtime') as typeof RuntimeModule;
    return runtime.createRuntimeHandler(config.parseConfig(process.env));
  });
  return handler;
}

http('invitations', async (req, res) => {
  let h: Handler;
  try {
    h = await load();
  } catch (err) {
    handler = undefined; // a bad configuration is logged on every request until fixed
    log('ERROR', 'the function is misconfigured', errorFields(err));
    res.status(503).json({ error: { code: 503, message: 'The service is not configured.', status: 'UNAVAILABLE' } });
    return;
  }
  await h(req, res);
});
