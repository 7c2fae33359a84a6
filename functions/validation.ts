// Validation of a create request (POST /v1/invitations): content type, charset, size, JSON syntax and shape,
// and each field. Every field problem is reported at once as a google.rpc.BadRequest field violation.
import {z} from 'zod';
import {
  ApiError,
  badRequest,
  errorInfo,
  FieldViolation,
  gatewayError,
} from './errors';
import {
  bodyTooLarge,
  charsetUnsupported,
  INVITATION_BODY_MAX_BYTES,
} from './http/body-limits';

export const MAX_BODY_BYTES = INVITATION_BODY_MAX_BYTES;
export const ROLES = ['STUDENT', 'TEACHER', 'OWNER'] as const;
export type Role = (typeof ROLES)[number];

/** What Classroom's Invitation carries on create; `id` is read-only and refused. */
export interface InvitationRequest {
  userId: string;
  courseId: string;
  role: Role;
}

const NUMERIC_ID = /^[0-9]{1,64}$/;
// Pragmatic address check (RFC 5321 lengths, one @, a dotted domain); Classroom is the final judge.
export const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
// Course aliases: d: (domain) or p: (project) and a name; at most 256 characters in all (courses.aliases).
export const ALIAS = /^[dp]:[\x21-\x7e]{1,254}$/;

export const UserIdSchema = z
  .string({error: 'userId must be a string'})
  .max(254, 'userId must be at most 254 characters')
  .refine(
    v => NUMERIC_ID.test(v) || EMAIL.test(v),
    'userId must be an email address or a numeric Google user id',
  )
  // Email addresses are case-insensitive in Google Workspace; one spelling keeps one ledger entry per person.
  .transform(v => v.toLowerCase());

export const CourseIdSchema = z
  .string({error: 'courseId must be a string'})
  .refine(
    v => NUMERIC_ID.test(v) || ALIAS.test(v),
    'courseId must be a numeric course id or an alias d:… / p:… (at most 256 characters)',
  );

export const RoleSchema = z.enum(ROLES, {
  error: 'role must be one of STUDENT, TEACHER, OWNER',
});

/** An invitation's three fields, validated (also what a worker's message carries). */
export const InvitationRequestSchema = z.object({
  userId: UserIdSchema,
  courseId: CourseIdSchema,
  role: RoleSchema,
});
const ALLOWED_FIELDS = new Set(['userId', 'courseId', 'role']);

export interface RawRequest {
  /** The Content-Type header as sent. */
  contentType: string | undefined;
  /** The body's bytes, read by the request guard (functions/http/guard.ts); nothing else parses them. */
  rawBody: Buffer | undefined;
  /** The body as JSON when the caller already looked at it, for audit fields only; validation reads rawBody. */
  body: unknown;
}

interface MediaType {
  type: string;
  charset: string | undefined;
}

/** `application/json; charset="UTF-8"` → { type: 'application/json', charset: 'utf-8' }. */
function mediaTypeOf(contentType: string | undefined): MediaType | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';');
  let charset: string | undefined;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*(?:"([^"]*)"|([^\s;]*))\s*$/i.exec(p);
    if (m) charset = (m[1] ?? m[2] ?? '').toLowerCase();
  }
  return {type: (type ?? '').trim().toLowerCase(), charset};
}

const UTF8 = new TextDecoder('utf-8', {fatal: true});

function notJson(message: string): ApiError {
  return gatewayError('INVALID_ARGUMENT', message, {
    details: [errorInfo('ENTITY_PARSE_FAILED')],
  });
}

/** Parses the body's bytes as JSON (UTF-8, an initial BOM ignored); an empty body is `{}`, as body-parser had it. */
function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw notJson('The request body is not valid UTF-8.');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw notJson('The request body is not valid JSON.');
  }
}

/** Checks the envelope (content type, charset, size, a JSON object) and returns the parsed object. */
export function parseJsonObjectBody(
  raw: RawRequest,
  maxBytes = MAX_BODY_BYTES,
): Record<string, unknown> {
  const media = mediaTypeOf(raw.contentType);
  if (media?.type !== 'application/json') {
    throw gatewayError(
      'INVALID_ARGUMENT',
      'The request body must be JSON, sent with Content-Type: application/json.',
      {
        details: [
          errorInfo('UNSUPPORTED_CONTENT_TYPE', {
            contentType: String(raw.contentType ?? '').slice(0, 256),
          }),
        ],
      },
    );
  }
  if (
    media.charset !== undefined &&
    media.charset !== 'utf-8' &&
    media.charset !== 'utf8'
  )
    throw charsetUnsupported(media.charset);
  const bytes = raw.rawBody ?? Buffer.alloc(0);
  // The guard has already refused a larger body; this keeps the function safe behind any other front door.
  if (bytes.length > maxBytes) throw bodyTooLarge(maxBytes);
  const body = parseJson(bytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw gatewayError(
      'INVALID_ARGUMENT',
      'The request body must be a JSON object.',
      {
        details: [errorInfo('BODY_NOT_A_JSON_OBJECT')],
      },
    );
  }
  return body as Record<string, unknown>;
}

/** The body as a JSON object for audit and log fields, or undefined; never throws. */
export function jsonObjectOrUndefined(
  raw: Pick<RawRequest, 'contentType' | 'rawBody'>,
): Record<string, unknown> | undefined {
  try {
    return parseJsonObjectBody({...raw, body: undefined});
  } catch {
    return undefined;
  }
}

/**
 * A field name as the caller sent it, fit to echo in an answer and keep in the audit: control characters escaped
 * (as JSON escapes them) and at most 64 characters, since any sender can choose it.
 */
export function fieldName(key: string): string {
  const shown = /^[\x21-\x7e]{1,64}$/.test(key)
    ? key
    : JSON.stringify(key)
        .slice(1, -1)
        .replace(
          /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
          c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
        );
  return shown.length > 64 ? `${shown.slice(0, 63)}…` : shown;
}

export function validateInvitation(
  body: Record<string, unknown>,
): InvitationRequest {
  const violations: FieldViolation[] = [];
  for (const key of Object.keys(body)) {
    if (ALLOWED_FIELDS.has(key)) continue;
    if (violations.length >= 50) break; // a body of thousands of keys gets a bounded answer
    violations.push({
      field: fieldName(key),
      description:
        key === 'id'
          ? 'id is assigned by Classroom and is read-only'
          : `unknown field ${JSON.stringify(key).slice(0, 80)}`,
    });
  }
  const parsed = InvitationRequestSchema.safeParse(body);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const field = issue.path.map(String).join('.') || '(body)';
      if (seen.has(field)) continue; // one violation per field, the first reason
      seen.add(field);
      const missing = body[field] === undefined && ALLOWED_FIELDS.has(field);
      violations.push({
        field,
        description: missing ? `${field} is required` : issue.message,
      });
    }
  }
  if (violations.length > 0 || !parsed.success) {
    const fields = violations.map(v => v.field).join(', ');
    throw badRequest(`Invalid invitation: ${fields}.`, violations);
  }
  return parsed.data;
}

/** The whole check for POST /v1/invitations. Throws ApiError (400 INVALID_ARGUMENT, or 413/415 for the envelope). */
export function parseCreateRequest(raw: RawRequest): InvitationRequest {
  return validateInvitation(parseJsonObjectBody(raw));
}
