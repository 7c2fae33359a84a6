// The front door of the function's HTTP server, ahead of the Functions Framework's Express app and its body
// parsers (limit 1024mb, gzip inflated): names each request, refuses compressed and oversized bodies, times the
// body's arrival, and reads the body itself so that nothing behind it reads an unbounded one.
import {randomUUID} from 'node:crypto';
import {subscribe} from 'node:diagnostics_channel';
import {IncomingMessage, Server, ServerResponse} from 'node:http';
import * as logs from '../log-events';
import {logRequest} from '../logs';
import {
  bodyCapFor,
  bodyTimedOut,
  bodyTooLarge,
  DEFAULT_BODY_TIMEOUT_MS,
  encodingUnsupported,
  eventMethodNotAllowed,
  malformedTarget,
  notAnEvent,
  routePath,
} from './body-limits';
import {onClientError} from './client-errors';
import {GuardSettings, refuse, Refusal} from './refusal';
import {isIdentity, remoteIp, wellFormedTarget} from './request-facts';
import {servesEvents} from '../targets';

export type {GuardSettings} from './refusal';

/** Settings are asked for per request (the entry reads its parsed configuration; tests change theirs). */
export type GuardSettingsSource = () => GuardSettings;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

// Headers must arrive within this; Node checks its request timeouts only every 30 s, so these are backstops.
const HEADERS_TIMEOUT_MS = 20_000;

function settingsFrom(source: GuardSettingsSource): GuardSettings {
  try {
    return source();
  } catch {
    // A source that throws (a test's, say) must not take the guard down: it keeps guarding on its defaults.
    return {bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS, projectId: undefined};
  }
}

/**
 * One request: header checks, then the body read here against the route's cap and the body timer. Only a
 * request whose whole body arrived in bounds reaches `next` (the framework's app), with `rawBody` set; the
 * framework's body parsers then see a finished request and leave it alone.
 */
function admit(
  req: IncomingMessage,
  res: ServerResponse,
  source: GuardSettingsSource,
  next: RequestListener,
  expectsContinue: boolean,
): void {
  const started = performance.now();
  const requestId = randomUUID();
  // Every answer carries these, the framework's own (404 for /favicon.ico) included.
  res.setHeader('X-Request-Id', requestId);
  res.setHeader('Cache-Control', 'no-store');
  const settings = settingsFrom(source);
  const r: Refusal = {req, res, requestId, started, settings, receivedBytes: 0};

  if (!wellFormedTarget(req.url)) {
    refuse(r, malformedTarget(), {});
    return;
  }
  const events = servesEvents();
  // The framework's event handler throws (a 500 with a stack trace) on a request without an object body.
  if (events && req.method !== 'POST') {
    refuse(r, eventMethodNotAllowed(req.method ?? ''), {});
    return;
  }
  const encoding = req.headers['content-encoding'];
  if (!isIdentity(encoding)) {
    refuse(r, encodingUnsupported(encoding ?? ''), {
      contentEncoding: encoding?.slice(0, 64),
    });
    return;
  }
  const cap = bodyCapFor(req.method, routePath(req.url), events);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > cap) {
    refuse(r, bodyTooLarge(cap), {declaredBytes: Number(declared)});
    return;
  }
  const hasBody =
    declared !== undefined || req.headers['transfer-encoding'] !== undefined;
  // Only now may a client that waits for 100 Continue send its body.
  if (expectsContinue) res.writeContinue();

  const chunks: Buffer[] = [];
  let settled = false;
  const settle = () => {
    settled = true;
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onAbandoned);
    req.off('close', onAbandoned);
  };
  const onData = (chunk: Buffer) => {
    r.receivedBytes += chunk.length;
    if (r.receivedBytes > cap) {
      settle();
      chunks.length = 0;
      refuse(r, bodyTooLarge(cap), {});
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    settle();
    const rawBody = Buffer.concat(chunks, r.receivedBytes);
    if (hasBody)
      (req as IncomingMessage & {rawBody?: Buffer}).rawBody = rawBody;
    const isEvent = eventBodyFor(req, rawBody, events);
    if (events && !isEvent) {
      refuse(r, notAnEvent(), {});
      return;
    }
    next(req, res);
  };
  const onAbandoned = () => {
    if (settled) return;
    settle();
    // Nobody to answer: the client closed the connection before its body was in.
    logRequest({
      requestId,
      method: req.method ?? '',
      url: req.url ?? '',
      status: 499,
      latencyMs: performance.now() - started,
      outcome: 'cancelled',
      remoteIp: remoteIp(req),
      requestSize: r.receivedBytes,
      details: {reason: 'CLIENT_CLOSED_REQUEST'},
    });
  };
  const timer = setTimeout(() => {
    if (settled) return;
    settle();
    chunks.length = 0;
    refuse(r, bodyTimedOut(settings.bodyTimeoutMs), {});
  }, settings.bodyTimeoutMs);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onAbandoned);
  req.on('close', onAbandoned);
}

// The framework's server is the one whose request listener is an Express application; other servers in the
// same process (the Classroom stand-in in tests) are left alone, and so is a server already guarded.
function isExpressApp(listener: unknown): boolean {
  const app = listener as {handle?: unknown; set?: unknown; use?: unknown};
  return (
    typeof listener === 'function' &&
    typeof app.handle === 'function' &&
    typeof app.set === 'function' &&
    typeof app.use === 'function'
  );
}

/**
 * Puts the guard in front of `server`'s request listeners (public EventEmitter API: they are taken off and
 * called by the guard). Returns false when the server is not the framework's or is already guarded.
 */
export function guardServer(
  server: Server,
  source: GuardSettingsSource,
): boolean {
  const app = server.listeners('request') as RequestListener[];
  if (app.length === 0 || !app.every(isExpressApp)) return false;
  server.removeAllListeners('request');
  const next: RequestListener = (req, res) => {
    for (const listener of app) listener.call(server, req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    admit(req, res, source, next, false),
  );
  // With a listener here, Node sends no automatic 100 Continue: an oversized upload is refused unsent.
  if (server.listenerCount('checkContinue') === 0) {
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      admit(req, res, source, next, true),
    );
  }
  if (server.listenerCount('clientError') === 0)
    server.on('clientError', onClientError);
  server.headersTimeout = Math.min(
    server.headersTimeout || HEADERS_TIMEOUT_MS,
    HEADERS_TIMEOUT_MS,
  );
  server.requestTimeout = Math.min(
    server.requestTimeout || Infinity,
    server.headersTimeout + settingsFrom(source).bodyTimeoutMs,
  );
  return true;
}

let installed = false;

/**
 * Guards every framework server of this process from its first request on. Node publishes
 * `http.server.request.start` (public diagnostics_channel) synchronously just before it emits 'request', so
 * the first request is already guarded. Works for the framework's CLI and for `getTestServer` alike.
 */
export function installRequestGuard(source: GuardSettingsSource): void {
  if (installed) return;
  installed = true;
  subscribe('http.server.request.start', message => {
    const server = (message as {server?: unknown}).server;
    if (!(server instanceof Server)) return;
    try {
      guardServer(server, source);
    } catch (err) {
      // A subscriber that throws crashes the process (the error is rethrown as uncaught).
      logs.guardFailed(err);
    }
  });
}

/**
 * The CloudEvent targets (`invitationsWorker`, `invitationsDeadLetter`) read their event from `req.body`, which the
 * framework's own parsers no longer fill once this guard has read the body: the JSON is parsed here, on any path in
 * a process serving such a target, and elsewhere on `/` or the emulator's push path `/projects/<p>/topics/<t>`
 * (the gateway's routes parse their bodies themselves, from `rawBody`). False when no JSON object was set, which
 * the framework's event handler would fail on.
 */
function eventBodyFor(
  req: IncomingMessage,
  rawBody: Buffer,
  anyPath: boolean,
): boolean {
  const path = routePath(req.url);
  if (!anyPath && path !== '/' && !path.startsWith('/projects/')) return false;
  const type = (req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/json' && type !== 'application/cloudevents+json')
    return false;
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return false;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return false;
  (req as IncomingMessage & {body?: unknown}).body = body;
  return true;
}
