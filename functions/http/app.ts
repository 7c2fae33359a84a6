// HTTP routing for the `invitations` function: Classroom-compatible endpoints plus health.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import type { RequestContext } from '../audit';
import { gatewayError, toApiError } from '../errors';
import type { Answer, InvitationGateway } from '../gateway';
import { errorFields, log } from '../logs';
import type { WebhookProcessor } from '../webhooks/processor';
import type { CallerVerifier } from './caller';

export interface AppDeps {
  gateway: InvitationGateway;
  webhooks: WebhookProcessor;
  callers: CallerVerifier;
}

export type Handler = (req: Request, res: Response) => Promise<void>;

function send(res: Response, answer: Pick<Answer, 'httpStatus' | 'body' | 'headers'>, requestId: string): void {
  res.status(answer.httpStatus);
  res.set({ ...answer.headers, 'X-Request-Id': requestId, 'Cache-Control': 'no-store' });
  res.json(answer.body);
}


export function createApp(deps: AppDeps): Handler {
  return async (req, res) => {
    const requestId = randomUUID();
    try {
      const path = req.path.replace(/\/+$/, '') || '/';
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        send(res, { httpStatus: 200, body: { status: 'ok' }, headers: {} }, requestId);
        return;
      }
      if (path === '/v1/invitations' && req.method === 'POST') {
        const raw = { contentType: req.get('content-type'), rawBody: req.rawBody, body: req.body };
        const who = await deps.callers.identify(req.get('authorization'));
        const ctx: RequestContext = { requestId, source: 'http', caller: who.caller };
        const answer = 'error' in who ? await deps.gateway.refuse(raw, ctx, who.error) : await deps.gateway.createFromHttp(raw, ctx, req.get('idempotency-key'));
        send(res, answer, requestId);
        return;
      }
      if (path === '/webhooks/sis' && req.method === 'POST') {
        const answer = await deps.webhooks.handle(
          { contentType: req.get('content-type'), rawBody: req.rawBody, body: req.body },
          { 'webhook-id': req.get('webhook-id'), 'webhook-timestamp': req.get('webhook-timestamp'), 'webhook-signature': req.get('webhook-signature') },
          requestId,
        );
        send(res, answer, requestId);
        return;
      }
      const err = gatewayError('NOT_FOUND', `No route for ${req.method} ${req.path}.`);
      send(res, { httpStatus: err.httpStatus, body: err.toJSON(), headers: err.headers }, requestId);
    } catch (err) {
      log('ERROR', 'unhandled failure while serving a request', { requestId, ...errorFields(err) });
      const e = toApiError(err);
      if (!res.headersSent) send(res, { httpStatus: e.httpStatus, body: e.toJSON(), headers: e.headers }, requestId);
    }
  };
}
