// Validation of a create request (POST /v1/invitations): content type, size, JSON shape and each field.
// Every problem is reported at once as a google.rpc.BadRequest field violation.
import { z } from 'zod';
import { badRequest, errorInfo, FieldViolation, gatewayError } from './errors';

export const MAX_BODY_BYTES = 16 * 1024;
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
export const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
// Course aliases: d: (domain) or p: (project) and a name; at most 256 characters in all (courses.aliases).
export const ALIAS = /^[dp]:[\x21-\x7e]{1,254}$/;

export const UserIdSchema = z
  .string({ error: 'userId must be a string' })
  .max(254, 'userId must be at most 254 characters')
  .refine((v) => NUMERIC_ID.test(v) || EMAIL.test(v), 'userId must be an email address or a numeric Google user id')
  // Email addresses are case-insensitive in Google Workspace; one spelling keeps one ledger entry per person.
  .transform((v) => v.toLowerCase());

export const CourseIdSchema = z
  .string({ error: 'courseId must be a string' })
  .refine((v) => NUMERIC_ID.test(v) || ALIAS.test(v), 'courseId must be a numeric course id or an alias d:… / p:… (at most 256 characters)');

export const RoleSchema = z.enum(ROLES, { error: 'role must be one of STUDENT, TEACHER, OWNER' });

const InvitationSchema = z.object({ userId: UserIdSchema, courseId: CourseIdSchema, role: RoleSchema });
const ALLOWED_FIELDS = new Set(['userId', 'courseId', 'role']);

export interface RawRequest {
  contentType: string | undefined;
  rawBody: Buffer | undefined;
  body: unknown;
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/** Checks the envelope (content type, size, a JSON object) and returns the parsed object. */
export function parseJsonObjectBody(raw: RawRequest, maxBytes = MAX_BODY_BYTES): Record<string, unknown> {
  if (!isJsonContentType(raw.contentType)) {
    throw gatewayError('INVALID_ARGUMENT', 'The request body must be JSON, sent with Content-Type: application/json.', {
      details: [errorInfo('UNSUPPORTED_CONTENT_TYPE', { contentType: String(raw.contentType ?? '') })],
    });
  }
  const size = raw.rawBody?.length ?? 0;
  if (size > maxBytes) {
    throw gatewayError('INVALID_ARGUMENT', `The request body is ${size} bytes; at most ${maxBytes} are accepted.`, {
      details: [errorInfo('BODY_TOO_LARGE', { limitBytes: String(maxBytes) })],
    });
  }
  const body = raw.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw gatewayError('INVALID_ARGUMENT', 'The request body must be a JSON object.', {
      details: [errorInfo('BODY_NOT_A_JSON_OBJECT')],
    });
  }
  return body as Record<string, unknown>;
}

export function validateInvitation(body: Record<string, unknown>): InvitationRequest {
  const violations: FieldViolation[] = [];
  for (const key of Object.keys(body)) {
    if (ALLOWED_FIELDS.has(key)) continue;
    violations.push({
      field: key,
      description: key === 'id' ? 'id is assigned by Classroom and is read-only' : `unknown field ${JSON.stringify(key).slice(0, 80)}`,
    });
  }
  const parsed = InvitationSchema.safeParse(body);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const field = issue.path.map(String).join('.') || '(body)';
      if (seen.has(field)) continue; // one violation per field, the first reason
      seen.add(field);
      const missing = body[field] === undefined && ALLOWED_FIELDS.has(field);
      violations.push({ field, description: missing ? `${field} is required` : issue.message });
    }
  }
  if (violations.length > 0 || !parsed.success) {
    const fields = violations.map((v) => v.field).join(', ');
    throw badRequest(`Invalid invitation: ${fields}.`, violations);
  }
  return parsed.data;
}

/** The whole check for POST /v1/invitations. Throws ApiError (400 INVALID_ARGUMENT) on any problem. */
export function parseCreateRequest(raw: RawRequest): InvitationRequest {
  return validateInvitation(parseJsonObjectBody(raw));
}
