// Structured log lines for Cloud Logging: one JSON object per line on stdout/stderr, the fields Cloud
// Logging understands (severity, httpRequest, logging.googleapis.com/trace). Secrets are never passed
// here; email addresses are masked when LOG_REDACT_EMAILS=true. A request's context (requestId, trace) is carried
// by AsyncLocalStorage, so that every line written while serving it carries its trace. The events themselves
// are named in log-events.ts.
import {AsyncLocalStorage} from 'node:async_hooks';

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export type LogSink = (line: string, severity: Severity) => void;

const defaultSink: LogSink = (line, severity) => {
  if (severity === 'CRITICAL' || severity === 'ERROR' || severity === 'WARNING')
    process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
};

let sink: LogSink = defaultSink;
let redactEmails = false;

/** Tests capture log lines here. */
export function setLogSink(s: LogSink | undefined): void {
  sink = s ?? defaultSink;
}

export function setRedactEmails(on: boolean): void {
  redactEmails = on;
}

const EMAIL_IN_TEXT =
  /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)/g;

/** Keeps the domain (useful for policy questions), masks the person. */
export function redact(text: string): string {
  return text.replace(EMAIL_IN_TEXT, '***@$1');
}

/** The fields every line of one request carries: its requestId and its trace. */
export type LogContext = Record<string, string>;

const context = new AsyncLocalStorage<LogContext>();

/** Runs `fn(...args)` with `fields` added to every line it (and whatever it awaits) logs. */
export function withLogContext<A extends unknown[], T>(
  fields: LogContext,
  fn: (...args: A) => T,
  ...args: A
): T {
  return context.run({...context.getStore(), ...fields}, fn, ...args);
}

/** A line's own fields win over the request's context (a webhook item names its own requestId). */
export function log(
  severity: Severity,
  message: string,
  fields: Record<string, unknown> = {},
): void {
  sink(logLine(severity, message, fields), severity);
}

/** The line `log` would write, for a writer that is not ours (the Functions Framework's, for a thrown error). */
export function logLine(
  severity: Severity,
  message: string,
  fields: Record<string, unknown> = {},
): string {
  const line = JSON.stringify({
    severity,
    message,
    ...context.getStore(),
    ...fields,
  });
  return redactEmails ? redact(line) : line;
}

// Causes nest (gaxios wraps a fetch error that wraps a socket error); a few levels tell the story.
const MAX_CAUSE_DEPTH = 3;

/** An error as a log line keeps it: name, message, code, stack and its chain of causes (no response bodies). */
export function errorFields(err: unknown): Record<string, unknown> {
  return {error: describeError(err, 0)};
}

function describeError(err: unknown, depth: number): unknown {
  if (!(err instanceof Error)) return String(err);
  const out: Record<string, unknown> = {
    name: err.name,
    message: err.message,
    code: (err as {code?: unknown}).code,
    stack: err.stack,
  };
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    out.cause = describeError(err.cause, depth + 1);
  return out;
}

/** `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` → the fields that tie a log line to its trace. */
export function traceFields(
  header: string | undefined,
  projectId: string | undefined,
): Record<string, string> {
  const m = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?![0-9])/.exec(header ?? '');
  if (!m || !projectId) return {};
  const out: Record<string, string> = {
    'logging.googleapis.com/trace': `projects/${projectId}/traces/${m[1]!.toLowerCase()}`,
  };
  // A span id is an unsigned 64-bit number; anything longer is the caller's text, not a span.
  if (m[2] && BigInt(m[2]) < 2n ** 64n)
    out['logging.googleapis.com/spanId'] = BigInt(m[2])
      .toString(16)
      .padStart(16, '0');
  return out;
}

export interface RequestLog {
  requestId: string;
  method: string;
  url: string;
  status: number;
  latencyMs: number;
  outcome: string;
  userAgent?: string;
  remoteIp?: string;
  requestSize?: number;
  responseSize?: number;
  trace?: Record<string, string>;
  /** Domain fields: courseId, userId, role, source, webhookId, upstreamStatus, counts … */
  details?: Record<string, unknown>;
}

/** The one line per request. Severity follows the status: 5xx ERROR, 4xx WARNING, else INFO. */
export function logRequest(r: RequestLog): void {
  const severity: Severity =
    r.status >= 500 ? 'ERROR' : r.status >= 400 ? 'WARNING' : 'INFO';
  log(severity, `${r.method} ${r.url} ${r.status} ${r.outcome}`, {
    requestId: r.requestId,
    outcome: r.outcome,
    latencyMs: Math.round(r.latencyMs * 10) / 10,
    httpRequest: {
      requestMethod: r.method,
      requestUrl: r.url,
      status: r.status,
      latency: `${(r.latencyMs / 1000).toFixed(3)}s`,
      ...(r.userAgent ? {userAgent: r.userAgent} : {}),
      ...(r.remoteIp ? {remoteIp: r.remoteIp} : {}),
      ...(r.requestSize !== undefined
        ? {requestSize: String(r.requestSize)}
        : {}),
      ...(r.responseSize !== undefined
        ? {responseSize: String(r.responseSize)}
        : {}),
    },
    ...(r.trace ?? {}),
    ...(r.details ?? {}),
  });
}
