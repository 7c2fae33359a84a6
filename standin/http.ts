// The stand-in's wire helpers: JSON answers, Google's error shape, a bounded request body.
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {ReservedError} from './reserved';

/** Far above any invitation or control body; what is larger is refused before it is buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** As Google words it (with 400 INVALID_ARGUMENT). */
export const BODY_TOO_LARGE: ReservedError = {
  httpStatus: 400,
  status: 'INVALID_ARGUMENT',
  message: `Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`,
};

export class BodyTooLarge extends Error {}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Google's error JSON, `code` equal to the HTTP status. */
export function googleError(
  res: ServerResponse,
  e: ReservedError,
  headers: Record<string, string> = {},
): void {
  send(
    res,
    e.httpStatus,
    {error: {code: e.httpStatus, message: e.message, status: e.status}},
    headers,
  );
}

export const invalid = (message: string): ReservedError => ({
  httpStatus: 400,
  status: 'INVALID_ARGUMENT',
  message,
});

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(c);
      // Stop buffering; the rest is read and dropped so that the answer can be read by the sender.
      req.off('data', onData);
      req.resume();
      chunks.length = 0;
      reject(new BodyTooLarge());
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** decodeURIComponent that answers undefined for a malformed escape instead of throwing. */
export function decodePathPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
