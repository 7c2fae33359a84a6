// HTTP routing for the `invitations` function: Classroom-compatible endpoints plus health.
import {randomUUID} from 'node:crypto';
import type {Request, Response} from '@google-cloud/functions-framework';
import type {RequestContext} from '../audit';
import {Answer, fromError} from '../answers';
import {
  ApiError,
  badRequest,
  FieldViolation,
  gatewayError,
  toApiError,
} from '../errors';
import * as logs from '../log-events';
import {logRequest, traceFields, withLogContext} from '../logs';
import type {Removals} from '../removal';
import {jsonObjectOrUndefined, RawRequest} from '../validation';
import type {WebhookProcessor} from '../webhooks/processor';
import type {CallerVerifier} from './caller';
import {remoteIp, requestIdOf} from './request-facts';
import type {HttpInvitations} from './invitations';
import type {HttpOperations} from './operations';
import type {HttpBatches} from './batches';

export interface AppDeps {
  invitations: HttpInvitations;
  operations: HttpOperations;
  batches: HttpBatches;
  removals: Removals;
  webhooks: WebhookProcessor;
  callers: CallerVerifier;
}

export type Handler = (req: Request, res: Response) => Promise<void>;

function send(res: Response, answer: Answer<string>, requestId: string): void {
  res.status(answer.httpStatus);
  res.set({
    ...answer.headers,
    'X-Request-Id': requestId,
    'Cache-Control': 'no-store',
  });
  if (answer.kind === 'stored') {
    // The stored JSON text as first sent: a replay is byte-identical.
    res.type('application/json');
    res.send(answer.json);
  } else {
    res.json(answer.body);
  }
}

const FLAGS = ['replace', 'validateOnly'] as const;
type Flags = Record<(typeof FLAGS)[number], boolean>;

/**
 * Boolean query parameters as Google APIs take them: absent, or once, exactly `true` or `false`. Anything else
 * (`TRUE`, `1`, `yes`, a repeat) is refused rather than guessed, since a wrong guess creates real invitations.
 */
function parseFlags(url: string): Flags | ApiError {
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const flags: Flags = {replace: false, validateOnly: false};
  const violations: FieldViolation[] = [];
  for (const name of FLAGS) {
    const values = params.getAll(name);
    if (values.length > 1)
      violations.push({field: name, description: `${name} may be given once`});
    else if (
      values.length === 1 &&
      values[0] !== 'true' &&
      values[0] !== 'false'
    )
      violations.push({
        field: name,
        description: `${name} must be true or false`,
      });
    else flags[name] = values[0] === 'true';
  }
  if (violations.length > 0)
    return badRequest(
      `Invalid query parameter: ${violations.map(v => v.field).join(', ')}.`,
      violations,
    );
  return flags;
}

interface Routed {
  answer: Answer<string>;
  details?: Record<string, unknown>;
  quiet?: boolean;
}

/** Domain fields worth a log line: what was asked, and what Classroom said if it refused. */
function invitationDetails(
  body: unknown,
  answer: Answer<string>,
): Record<string, unknown> {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  const pick = (v: unknown) =>
    typeof v === 'string' ? v.slice(0, 256) : undefined;
  return {
    source: 'http',
    courseId: pick(b.courseId),
    userId: pick(b.userId),
    role: pick(b.role),
    ...upstreamStatusOf(answer),
  };
}

function upstreamStatusOf(answer: Answer<string>): {upstreamStatus?: string} {
  return answer.kind === 'error' && answer.upstreamStatus
    ? {upstreamStatus: answer.upstreamStatus}
    : {};
}

/** The request context of an HTTP call: who called, as far as it could be verified. */
function httpContext(
  requestId: string,
  who: {caller: string; claimedCaller?: string},
): RequestContext {
  return {
    requestId,
    source: 'http',
    caller: who.caller,
    claimedCaller: who.claimedCaller,
  };
}

export function createApp(deps: AppDeps, projectId?: string): Handler {
  const route = async (req: Request, requestId: string): Promise<Routed> => {
    const path = req.path.replace(/\/+$/, '') || '/';
    if (
      path === '/healthz' &&
      (req.method === 'GET' || req.method === 'HEAD')
    ) {
      return {
        answer: {
          kind: 'health',
          httpStatus: 200,
          body: {status: 'ok'},
          headers: {},
          outcome: 'ok',
        },
        quiet: true,
      };
    }
    if (path === '/v1/invitations' && req.method === 'POST') {
      const bytes = {
        contentType: req.get('content-type'),
        rawBody: req.rawBody,
      };
      const body = jsonObjectOrUndefined(bytes);
      const raw: RawRequest = {...bytes, body};
      const who = await deps.callers.identify(req.get('authorization'));
      const ctx = httpContext(requestId, who);
      const opts = parseFlags(req.originalUrl ?? req.url);
      const answer =
        'error' in who
          ? await deps.invitations.refuse(raw, ctx, who.error)
          : opts instanceof ApiError
            ? await deps.invitations.refuse(raw, ctx, opts)
            : await deps.invitations.create(
                raw,
                ctx,
                req.get('idempotency-key'),
                opts,
              );
      return {answer, details: invitationDetails(body, answer)};
    }
    if (path === '/v1/invitations:batchCreate' && req.method === 'POST') {
      const who = await deps.callers.identify(req.get('authorization'));
      const ctx = httpContext(requestId, who);
      const raw: RawRequest = {
        contentType: req.get('content-type'),
        rawBody: req.rawBody,
        body: undefined,
      };
      const answer =
        'error' in who
          ? await deps.invitations.refuse(raw, ctx, who.error)
          : await deps.batches.create(raw, ctx, req.get('idempotency-key'));
      return {answer, details: {source: 'http', ...answer.details}};
    }
    const del = /^\/v1\/invitations\/([^/]+)$/.exec(path);
    if (del && req.method === 'DELETE') {
      const who = await deps.callers.identify(req.get('authorization'));
      const ctx = httpContext(requestId, who);
      const id = decodeURIComponent(del[1]!);
      const answer =
        'error' in who
          ? await deps.invitations.refuse(
              {contentType: undefined, rawBody: undefined, body: undefined},
              ctx,
              who.error,
            )
          : await deps.removals.deleteInvitation(id, ctx);
      return {
        answer,
        details: {
          source: 'http',
          invitationId: id.slice(0, 256),
          ...upstreamStatusOf(answer),
        },
      };
    }
    const op = /^\/v1\/operations\/([^/]+)$/.exec(path);
    if (op && req.method === 'GET') {
      // Read by the callers of /v1/invitations (the same verification); the unguessable name is not a credential.
      const who = await deps.callers.identify(req.get('authorization'));
      const id = decodeURIComponent(op[1]!);
      const answer =
        'error' in who
          ? fromError(who.error, 'rejected')
          : await deps.operations.get(id);
      return {
        answer,
        details: {operation: id.slice(0, 64), ...answer.details},
      };
    }
    if (path === '/webhooks/sis' && req.method === 'POST') {
      const answer = await deps.webhooks.handle(
        // Parsed only after the signature is verified: an unsigned body costs no JSON parse.
        {
          contentType: req.get('content-type'),
          rawBody: req.rawBody,
          body: undefined,
        },
        {
          'webhook-id': req.get('webhook-id'),
          'webhook-timestamp': req.get('webhook-timestamp'),
          'webhook-signature': req.get('webhook-signature'),
        },
        requestId,
      );
      return {
        answer,
        details: {
          source: 'webhook',
          webhookId: req.get('webhook-id')?.slice(0, 256),
          ...answer.details,
        },
      };
    }
    return {
      answer: fromError(
        gatewayError('NOT_FOUND', `No route for ${req.method} ${req.path}.`),
        'not_found',
      ),
    };
  };

  return async (req, res) => {
    const started = performance.now();
    // The guard named the request when it arrived; early and late answers share one id scheme.
    const requestId = requestIdOf(res) ?? randomUUID();
    const trace = traceFields(req.get('x-cloud-trace-context'), projectId);
    let routed: Routed;
    try {
      // Every line logged while this request is served carries its requestId and trace.
      routed = await withLogContext(
        {requestId, ...trace},
        route,
        req,
        requestId,
      );
    } catch (err) {
      logs.unhandledFailure(requestId, trace, err);
      routed = {answer: fromError(toApiError(err), 'failed')};
    }
    if (res.headersSent) return;
    send(res, routed.answer, requestId);
    if (routed.quiet) return;
    logRequest({
      requestId,
      method: req.method,
      url: req.originalUrl ?? req.url,
      status: routed.answer.httpStatus,
      latencyMs: performance.now() - started,
      outcome: routed.answer.outcome,
      userAgent: req.get('user-agent'),
      remoteIp: remoteIp(req),
      requestSize: req.rawBody?.length,
      responseSize: Number(res.getHeader('content-length')) || undefined,
      trace,
      details: routed.details,
    });
  };
}
