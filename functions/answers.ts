// The answer model shared by HTTP and webhooks: a tagged union whose `kind` says what the body is, and the
// builders of each kind. Google error JSON comes only from an ApiError (errors.ts).
import type {Outcome} from './audit';
import type {Invitation} from './classroom';
import type {ApiError, GoogleErrorBody, GoogleErrorObject} from './errors';
import type {StoredResponse} from './idempotency';
import type {OperationJson} from './operations/view';

interface AnswerBase<O extends string> {
  httpStatus: number;
  headers: Record<string, string>;
  /** For the audit event and the log line. */
  outcome: O;
  /** Domain fields for the request's log line (counts, reasons). */
  details?: Record<string, unknown>;
}

/** Classroom's Invitation resource, as Classroom answers it. */
export interface InvitationAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'invitation';
  body: Invitation;
}

/** ?validateOnly=true: what a create would send back, but for the id only Classroom can assign. */
export interface PreviewAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'preview';
  body: {userId: string; courseId: string; role: string};
}

/** Google's error JSON; `upstreamStatus` when it is Classroom's own refusal. */
export interface ErrorAnswer<O extends string = Outcome> extends AnswerBase<O> {
  kind: 'error';
  body: GoogleErrorBody;
  upstreamStatus?: string;
}

/** Done, nothing to show (a delete, a withdrawal): `{}`. */
export interface EmptyAnswer<O extends string = Outcome> extends AnswerBase<O> {
  kind: 'empty';
  body: Record<string, never>;
}

/** A webhook enrollment that maps to nothing to do. */
export interface SkippedAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'skipped';
  body: {reason: string};
}

/** One result per enrollment of a delivery, in order. */
export interface ItemResult {
  sourcedId: string;
  outcome: string;
  invitation?: Invitation;
  error?: GoogleErrorObject;
  reason?: string;
}

export interface DeliveryAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'delivery';
  body: {results: ItemResult[]};
}

/** Google's error JSON asking for a redelivery, with the per-item results beside it for the operator. */
export interface IncompleteAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'incomplete';
  body: GoogleErrorBody & {results: ItemResult[]};
}

export interface HealthAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'health';
  body: {status: 'ok'};
}

/** A long-running operation (AIP-151), as `GET /v1/operations/{id}` and the calls that start one answer it. */
export interface OperationAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'operation';
  body: OperationJson;
}

/** An answer stored under an idempotency key, replayed as the exact JSON text first sent. */
export interface StoredAnswer<
  O extends string = Outcome,
> extends AnswerBase<O> {
  kind: 'stored';
  json: string;
}

export type Answer<O extends string = Outcome> =
  | InvitationAnswer<O>
  | PreviewAnswer<O>
  | ErrorAnswer<O>
  | EmptyAnswer<O>
  | SkippedAnswer<O>
  | DeliveryAnswer<O>
  | IncompleteAnswer<O>
  | HealthAnswer<O>
  | OperationAnswer<O>
  | StoredAnswer<O>;

/** What the create flow answers. */
export type CreateAnswer = InvitationAnswer | ErrorAnswer;

export function ok<O extends string>(
  invitation: Invitation,
  outcome: O,
  headers: Record<string, string> = {},
): InvitationAnswer<O> {
  return {
    kind: 'invitation',
    httpStatus: 200,
    body: invitation,
    headers,
    outcome,
  };
}

export function fromError<O extends string>(
  err: ApiError,
  outcome: O,
): ErrorAnswer<O> {
  const answer: ErrorAnswer<O> = {
    kind: 'error',
    httpStatus: err.httpStatus,
    body: err.toJSON(),
    headers: err.headers,
    outcome,
  };
  if (err.upstream) answer.upstreamStatus = err.status;
  return answer;
}

export function empty<O extends string>(outcome: O): EmptyAnswer<O> {
  return {kind: 'empty', httpStatus: 200, body: {}, headers: {}, outcome};
}

export function skipped(reason: string): SkippedAnswer {
  return {
    kind: 'skipped',
    httpStatus: 200,
    body: {reason},
    headers: {},
    outcome: 'skipped',
  };
}

/** A stored answer, replayed: same status, body and headers, marked as a replay. */
export function replayed(r: StoredResponse): StoredAnswer<'replayed'> {
  return {
    kind: 'stored',
    httpStatus: r.httpStatus,
    json: r.body,
    headers: {...r.headers, 'Idempotent-Replayed': 'true'},
    outcome: 'replayed',
  };
}

/** The body as JSON text, as it is sent and stored. */
export function jsonOf(answer: Answer<string>): string {
  return answer.kind === 'stored' ? answer.json : JSON.stringify(answer.body);
}

/** Google's error object of an answer, if it is an error. */
export function errorOf(answer: Answer<string>): GoogleErrorObject | undefined {
  return answer.kind === 'error' || answer.kind === 'incomplete'
    ? answer.body.error
    : undefined;
}

/** An item's result (of a delivery, or of an operation) from the answer its create or withdrawal got. */
export function itemResultOf(
  a: CreateAnswer | EmptyAnswer | SkippedAnswer | ErrorAnswer,
  sourcedId: string,
): {result: ItemResult; retryAfterS?: number} {
  switch (a.kind) {
    case 'error': {
      const after = Number(a.headers['Retry-After']);
      return {
        result: {sourcedId, outcome: a.outcome, error: a.body.error},
        retryAfterS: Number.isFinite(after) ? after : undefined,
      };
    }
    case 'skipped':
      return {result: {sourcedId, outcome: 'skipped', reason: a.body.reason}};
    case 'empty':
      return {result: {sourcedId, outcome: 'withdrawn'}};
    case 'invitation':
      return {result: {sourcedId, outcome: a.outcome, invitation: a.body}};
  }
}
