// Malformed bodies never reach the function: the Functions Framework parses JSON before calling it, and a
// parse failure goes to Express's default handler, which answers in HTML. This installs a final handler on
// the framework's Express applications that answers Google's error JSON instead. It must run before the
// framework builds its server (index.ts runs first, the framework builds the server after loading it).
import { dirname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { canonicalForHttp, errorInfo, gatewayError } from '../errors';

type Next = (err?: unknown) => void;
interface ExpressAppProto {
  handle(req: IncomingMessage, res: ServerResponse, callback?: Next): void;
  __googleErrorJson?: boolean;
}

export function bodyErrorAnswer(err: unknown): { httpStatus: number; body: unknown } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; statusCode?: unknown; type?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const message =
      e.type === 'entity.parse.failed'
        ? 'The request body is not valid JSON.'
        : e.type === 'entity.too.large'
          ? 'The request body is too large.'
          : e.type === 'encoding.unsupported' || e.type === 'charset.unsupported'
            ? 'The request body uses an unsupported encoding.'
            : 'The request body could not be read.';
    const canonical = canonicalForHttp(status);
    const err400 = gatewayError(canonical === 'UNKNOWN' ? 'INVALID_ARGUMENT' : canonical, message, {
      details: [errorInfo(typeof e.type === 'string' ? e.type.toUpperCase().replace(/\./g, '_') : 'BAD_BODY')],
    });
    return { httpStatus: status, body: err400.toJSON() };
  }
  const e503 = gatewayError('UNAVAILABLE', 'The service is currently unavailable. Retry the request.');
  return { httpStatus: 503, body: e503.toJSON() };
}

export function installBodyErrorHandler(): void {
  const ffDir = dirname(require.resolve('@google-cloud/functions-framework'));
  // Resolve express as the framework does, so we patch the copy it uses.
  const express = require(require.resolve('express', { paths: [ffDir] })) as { application: ExpressAppProto };
  const proto = express.application;
  if (proto.__googleErrorJson) return;
  const original = proto.handle;
  proto.handle = function handle(this: ExpressAppProto, req, res, callback) {
    if (callback) return original.call(this, req, res, callback);
    return original.call(this, req, res, (err?: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      const answer = err === undefined ? { httpStatus: 404, body: gatewayError('NOT_FOUND', 'Not found.').toJSON() } : bodyErrorAnswer(err);
      res.statusCode = answer.httpStatus;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(answer.body));
    });
  };
  proto.__googleErrorJson = true;
}
