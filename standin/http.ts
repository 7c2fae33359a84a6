// The stand-in's wire helpers: JSON answers, Google's error shape, the request body.
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {ReservedError} from './reserved';

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
    req.on('data', (c: Buffer) => chunks.push(c));
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
