// Node's own early answers, before a request exists (malformed HTTP, headers too large, a request too slow),
// in Google's error JSON, with one log line each. The request guard (guard.ts) installs this.
import {randomUUID} from 'node:crypto';
import type {Socket} from 'node:net';
import {ApiError, reasonOf} from '../errors';
import {logRequest} from '../logs';
import {refusal} from './body-limits';

/** Node's own early answers (malformed HTTP, headers too large, a request too slow), in Google's error JSON. */
function clientErrorAnswer(code: string | undefined): ApiError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return refusal(
        408,
        'DEADLINE_EXCEEDED',
        'The request did not arrive within the time allowed.',
        'REQUEST_TIMEOUT',
      );
    case 'HPE_HEADER_OVERFLOW':
      return refusal(
        431,
        'OUT_OF_RANGE',
        'The request headers are too large.',
        'HEADERS_TOO_LARGE',
      );
    default:
      return refusal(
        400,
        'INVALID_ARGUMENT',
        'The request is not valid HTTP.',
        'MALFORMED_REQUEST',
      );
  }
}

const REASON_PHRASE: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

// Node's documented pattern: the socket has no response object yet, so the answer is written raw.
export function onClientError(
  err: Error & {code?: string},
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const e = clientErrorAnswer(err.code);
  const requestId = randomUUID();
  const payload = JSON.stringify(e.toJSON());
  socket.end(
    `HTTP/1.1 ${e.httpStatus} ${REASON_PHRASE[e.httpStatus]}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` +
      `X-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${payload}`,
  );
  logRequest({
    requestId,
    method: '',
    url: '',
    status: e.httpStatus,
    latencyMs: 0,
    outcome: 'rejected',
    remoteIp: socket.remoteAddress,
    responseSize: Buffer.byteLength(payload),
    details: {reason: reasonOf(e), nodeError: err.code},
  });
}
