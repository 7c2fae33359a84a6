// The one place that turns failures into Google's error JSON: {"error":{code,message,status,details}}.
// Canonical codes and their HTTP statuses follow google/rpc/code.proto.

export const CANONICAL_HTTP = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const;

export type CanonicalStatus = keyof typeof CANONICAL_HTTP;

/** Best canonical status for an HTTP status when a body does not name one (e.g. a proxy's 502). */
export function canonicalForHttp(httpStatus: number): CanonicalStatus {
  switch (httpStatus) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 502:
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return httpStatus >= 500 ? 'INTERNAL' : 'UNKNOWN';
  }
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** The `error` member of Google's JSON error body. Unknown members from upstream are kept as they came. */
export interface GoogleErrorObject {
  code: number;
  message: string;
  status: string;
  details?: unknown[];
  [extra: string]: unknown;
}

export interface GoogleErrorBody {
  error: GoogleErrorObject;
}

export const ERROR_DOMAIN = 'classroom-gateway.invitations';

/**
 * A failure with everything needed to answer the caller: HTTP status, Google's error object and headers.
 * Errors that come from Classroom keep Classroom's object untouched (`upstream` is true).
 */
export class ApiError extends Error {
  readonly httpStatus: number;
  readonly body: GoogleErrorObject;
  readonly headers: Record<string, string>;
  readonly upstream: boolean;

  /** `cause`: what was thrown underneath (a gaxios error, a Firestore fault), for the logs; never sent. */
  constructor(opts: {
    httpStatus: number;
    body: GoogleErrorObject;
    headers?: Record<string, string>;
    upstream?: boolean;
    cause?: unknown;
  }) {
    super(
      opts.body.message,
      opts.cause === undefined ? undefined : {cause: opts.cause},
    );
    this.name = 'ApiError';
    this.httpStatus = opts.httpStatus;
    this.body = opts.body;
    this.headers = opts.headers ?? {};
    this.upstream = opts.upstream ?? false;
  }

  get status(): string {
    return this.body.status;
  }

  toJSON(): GoogleErrorBody {
    return {error: this.body};
  }
}

/** The one builder of Google's error object: `code` is always the HTTP status the answer goes out with. */
export function googleError(
  httpStatus: number,
  status: CanonicalStatus,
  message: string,
  details?: unknown[],
): GoogleErrorObject {
  const body: GoogleErrorObject = {code: httpStatus, message, status};
  if (details && details.length > 0) body.details = details;
  return body;
}

export interface ErrorOptions {
  details?: unknown[];
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error of the gateway's own making with an HTTP status other than the canonical one (408, 413, 415, 422, 431). */
export function errorWithHttpStatus(
  httpStatus: number,
  status: CanonicalStatus,
  message: string,
  opts: ErrorOptions = {},
): ApiError {
  return new ApiError({
    httpStatus,
    body: googleError(httpStatus, status, message, opts.details),
    headers: opts.headers,
    cause: opts.cause,
  });
}

/** An error of the gateway's own making, with the canonical HTTP status. */
export function gatewayError(
  status: CanonicalStatus,
  message: string,
  opts: ErrorOptions = {},
): ApiError {
  return errorWithHttpStatus(CANONICAL_HTTP[status], status, message, opts);
}

export function badRequest(
  message: string,
  violations: FieldViolation[],
): ApiError {
  return gatewayError('INVALID_ARGUMENT', message, {
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: violations,
      },
    ],
  });
}

export function errorInfo(
  reason: string,
  metadata?: Record<string, string>,
  domain: string = ERROR_DOMAIN,
): Record<string, unknown> {
  return {
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason,
    domain,
    ...(metadata ? {metadata} : {}),
  };
}

/** Retry-After in whole seconds, with the matching google.rpc.RetryInfo detail. */
export function retryable(
  status: CanonicalStatus,
  message: string,
  retryAfterSeconds: number,
  reason: string,
  cause?: unknown,
): ApiError {
  // 0 only when asked for exactly: "now" (the pacer's queue frees up within the second); else whole seconds, at least 1.
  const seconds =
    retryAfterSeconds === 0 ? 0 : Math.max(1, Math.ceil(retryAfterSeconds));
  return gatewayError(status, message, {
    cause,
    headers: {'Retry-After': String(seconds)},
    details: [
      errorInfo(reason),
      {
        '@type': 'type.googleapis.com/google.rpc.RetryInfo',
        retryDelay: `${seconds}s`,
      },
    ],
  });
}

/** The fields a google.rpc.BadRequest detail names (the first detail), for the audit. */
export function violatedFields(err: ApiError): string[] | undefined {
  const detail = err.body.details?.[0] as
    {fieldViolations?: FieldViolation[]} | undefined;
  return detail?.fieldViolations?.map(v => v.field);
}

/** The reason of an ErrorInfo first detail, for the log line. */
export function reasonOf(err: ApiError): string | undefined {
  return (err.body.details?.[0] as {reason?: string} | undefined)?.reason;
}

/**
 * Maps anything thrown to an ApiError. Unknown failures are internal faults of the gateway or its
 * storage, never the caller's doing: they become 503 UNAVAILABLE (retryable) without leaking internals.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return retryable(
    'UNAVAILABLE',
    'The service is currently unavailable. Retry the request.',
    1,
    'BACKEND_UNAVAILABLE',
    err,
  );
}
