// A request refused at the door (compressed, oversized or stalled body, an undecodable path): answered in
// Google's error JSON, its connection closed without reading the rest, one log line, no audit event.
import type {IncomingMessage, ServerResponse} from 'node:http';
import {ApiError, reasonOf} from '../errors';
import {logRequest, traceFields} from '../logs';
import {firstHeader, remoteIp} from './request-facts';

export interface GuardSettings {
  bodyTimeoutMs: number;
  /** For the trace fields of log lines. */
  projectId: string | undefined;
}

// How long a refused request's connection stays half-open so that the client can read the answer.
const LINGER_MS = 500;

export interface Refusal {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  started: number;
  settings: GuardSettings;
  receivedBytes: number;
}

/** Answers a body-level refusal in Google's error JSON, ends the connection, and logs one line. Not audited. */
export function refuse(
  r: Refusal,
  err: ApiError,
  details: Record<string, unknown>,
): void {
  const payload = JSON.stringify(err.toJSON());
  if (!r.res.headersSent)
    answerThenClose(r.req, r.res, err.httpStatus, payload);
  const reason = reasonOf(err);
  logRequest({
    requestId: r.requestId,
    method: r.req.method ?? '',
    url: r.req.url ?? '',
    status: err.httpStatus,
    latencyMs: performance.now() - r.started,
    outcome: 'rejected',
    userAgent: r.req.headers['user-agent'],
    remoteIp: remoteIp(r.req),
    requestSize: r.receivedBytes,
    responseSize: Buffer.byteLength(payload),
    trace: traceFields(
      firstHeader(r.req.headers['x-cloud-trace-context']),
      r.settings.projectId,
    ),
    details: {reason, ...details},
  });
}

/**
 * Sends the answer and ends the connection, the rest of the body unread. Closing at once would make the
 * kernel reset the connection over unread bytes, and a client still sending could lose the answer with it.
 * So, like Go's net/http: the whole answer goes out now (Content-Length marks its end), the connection stays
 * open a moment for the client to read it, then closes. Meanwhile nothing is read: once a few KiB are
 * buffered Node stops reading the socket, and TCP makes the sender wait.
 */
function answerThenClose(
  req: IncomingMessage,
  res: ServerResponse,
  httpStatus: number,
  payload: string,
): void {
  res.writeHead(httpStatus, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    Connection: 'close',
  });
  res.write(payload);
  req.pause();
  const end = () => {
    clearTimeout(linger);
    res.end();
  };
  const linger = setTimeout(end, LINGER_MS);
  req.socket.once('close', end);
}
