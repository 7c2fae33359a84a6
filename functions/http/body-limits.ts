// What a request body may be (size per route, encoding, how long it may take to arrive) and the Google error
// for each body that is refused. Shared by the request guard (before the body is read) and by validation.
import {
  ApiError,
  CanonicalStatus,
  errorInfo,
  errorWithHttpStatus,
} from '../errors';

/** POST /v1/invitations: one invitation is three short strings; 16 KiB is far more than any honest one. */
export const INVITATION_BODY_MAX_BYTES = 16 * 1024;
/** POST /webhooks/sis: a delivery of up to 1,000 enrollments. */
export const WEBHOOK_BODY_MAX_BYTES = 1024 * 1024;
/** POST /v1/invitations:batchCreate: up to 10,000 invitations of about 100 bytes each. */
export const BATCH_BODY_MAX_BYTES = 2 * 1024 * 1024;
/**
 * The base64 data of one item message (functions/operations/item-event.ts): a slice of 100 items of the longest
 * fields an item may carry is about 325 KB of it.
 */
export const EVENT_DATA_MAX_CHARS = 512 * 1024;
/**
 * Any request to a CloudEvent target (`invitationsWorker`, `invitationsDeadLetter`): one Pub/Sub message of that
 * data, with room for its envelope (ids, times, attributes, subscription; the event's attributes in structured mode).
 */
export const EVENT_BODY_MAX_BYTES = EVENT_DATA_MAX_CHARS + 16 * 1024;
/** Every other request: no other route reads a body. */
export const OTHER_BODY_MAX_BYTES = 16 * 1024;
/** Time for a body to arrive once the headers are in (BODY_TIMEOUT_MS). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** The path as the app routes it: no query, no trailing slash. */
export function routePath(url: string | undefined): string {
  let path = url ?? '';
  if (!path.startsWith('/')) {
    // absolute-form request targets (`POST http://host/webhooks/sis HTTP/1.1`)
    try {
      path = new URL(path).pathname;
    } catch {
      return '';
    }
  }
  return path.replace(/[?#].*$/s, '').replace(/\/+$/, '') || '/';
}

export function bodyCapFor(
  method: string | undefined,
  path: string,
  events = false,
): number {
  // Eventarc pushes to `/`, the emulator to the topic's path: a process serving events takes one on any path.
  if (events) return EVENT_BODY_MAX_BYTES;
  if (method === 'POST' && path === '/v1/invitations')
    return INVITATION_BODY_MAX_BYTES;
  if (method === 'POST' && path === '/webhooks/sis')
    return WEBHOOK_BODY_MAX_BYTES;
  if (method === 'POST' && path === '/v1/invitations:batchCreate')
    return BATCH_BODY_MAX_BYTES;
  return OTHER_BODY_MAX_BYTES;
}

/** An error whose HTTP status is not the canonical status's usual one (413, 415, 408); `code` is the HTTP status. */
export function refusal(
  httpStatus: number,
  status: CanonicalStatus,
  message: string,
  reason: string,
  metadata?: Record<string, string>,
): ApiError {
  return errorWithHttpStatus(httpStatus, status, message, {
    details: [errorInfo(reason, metadata)],
  });
}

/** 400: a request target Express cannot route (a bad `%` escape, `OPTIONS *`), refused before it throws. */
export function malformedTarget(): ApiError {
  return refusal(
    400,
    'INVALID_ARGUMENT',
    'The request path is not a valid URL path.',
    'MALFORMED_PATH',
  );
}

/** 405: a CloudEvent target takes events, which are POSTed. */
export function eventMethodNotAllowed(method: string): ApiError {
  return refusal(
    405,
    'INVALID_ARGUMENT',
    `This function takes events (POST), not ${method.slice(0, 16)}.`,
    'METHOD_NOT_ALLOWED',
  );
}

/** 400: what a CloudEvent target was sent is not an event (a JSON object). */
export function notAnEvent(): ApiError {
  return refusal(
    400,
    'INVALID_ARGUMENT',
    'The request body must be an event: a JSON object (application/json or application/cloudevents+json).',
    'NOT_AN_EVENT',
  );
}

/** 413 OUT_OF_RANGE, as for a delivery of more than 1,000 enrollments: the caller must send less. */
export function bodyTooLarge(limitBytes: number): ApiError {
  return refusal(
    413,
    'OUT_OF_RANGE',
    `The request body is larger than ${limitBytes} bytes, the most this endpoint accepts.`,
    'BODY_TOO_LARGE',
    {
      limitBytes: String(limitBytes),
    },
  );
}

/** 415: compressed bodies are never inflated (a small gzip can hold gigabytes). */
export function encodingUnsupported(contentEncoding: string): ApiError {
  return refusal(
    415,
    'INVALID_ARGUMENT',
    'Compressed request bodies are not accepted: send the body uncompressed (Content-Encoding: identity).',
    'ENCODING_UNSUPPORTED',
    {
      contentEncoding: contentEncoding.slice(0, 64),
    },
  );
}

/** 415: JSON exchanged between systems is UTF-8 (RFC 8259 §8.1). */
export function charsetUnsupported(charset: string): ApiError {
  return refusal(
    415,
    'INVALID_ARGUMENT',
    'The request body must be JSON in UTF-8.',
    'CHARSET_UNSUPPORTED',
    {charset: charset.slice(0, 64)},
  );
}

/**
 * 408 DEADLINE_EXCEEDED: the server's deadline for receiving the body passed. Not CANCELLED, which says the
 * caller gave up; DEADLINE_EXCEEDED also tells a client that the same request may be sent again.
 */
export function bodyTimedOut(timeoutMs: number): ApiError {
  return refusal(
    408,
    'DEADLINE_EXCEEDED',
    `The request body did not arrive within ${timeoutMs} ms.`,
    'BODY_TIMEOUT',
    {timeoutMs: String(timeoutMs)},
  );
}
