// The SIS event: OneRoster 1.2 enrollments in a Standard Webhooks payload, and how each maps to a
// Classroom invitation (or is skipped, with the reason reported).
import {z} from 'zod';
import {
  badRequest,
  errorInfo,
  errorWithHttpStatus,
  FieldViolation,
} from '../errors';
import {ALIAS, EMAIL, InvitationRequest, Role} from '../validation';

export const MAX_ENROLLMENTS = 1000;
export const EVENT_TYPE = 'enrollments.created';

// Echoed in every result, audit event and log line: no control characters (OneRoster ids are GUID-like).
const SourcedId = z
  .string({error: 'sourcedId must be a string'})
  .min(1, 'sourcedId is required')
  .max(255)
  .regex(
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    /^[^\u0000-\u001f\u007f-\u009f]+$/,
    'sourcedId must not contain control characters',
  )
  // A lone surrogate (JSON's "\ud800" escape) is no character at all, and Firestore refuses to store it.
  .refine(v => !/\p{Cs}/u.test(v), 'sourcedId must be well-formed Unicode');
const Ref = z.object({sourcedId: SourcedId});

const Enrollment = z.object({
  sourcedId: SourcedId,
  // OneRoster 1.2 has active | tobedeleted; 1.1's `inactive` means tobedeleted.
  status: z.enum(['active', 'tobedeleted', 'inactive'], {
    error: 'status must be active or tobedeleted',
  }),
  // EnrolRoleEnum is extensible (e.g. ext:guardian): unknown roles are skipped, not refused.
  role: z
    .string({error: 'role must be a string'})
    .min(1, 'role is required')
    .max(64),
  user: Ref.extend({
    email: z
      .string({error: 'email is required'})
      .max(254)
      .refine(v => EMAIL.test(v), 'email must be an email address'),
  }),
  class: Ref,
  beginDate: z.string().optional(),
  endDate: z.string().optional(),
  primary: z.boolean().optional(),
});
export type Enrollment = z.infer<typeof Enrollment>;

const Event = z.object({
  type: z.literal(EVENT_TYPE, {error: `type must be "${EVENT_TYPE}"`}),
  timestamp: z.iso.datetime({
    offset: true,
    error: 'timestamp must be an ISO-8601 date-time',
  }),
  data: z.object({
    enrollments: z
      .array(Enrollment, {error: 'enrollments must be an array'})
      .min(1, 'at least one enrollment is required'),
  }),
});
export type EnrollmentEvent = z.infer<typeof Event>;

export function parseEvent(body: unknown): EnrollmentEvent {
  const count = (body as {data?: {enrollments?: unknown}} | null)?.data
    ?.enrollments;
  if (Array.isArray(count) && count.length > MAX_ENROLLMENTS) {
    // 413: the delivery is too large to take in one piece; the sender must split it.
    throw errorWithHttpStatus(
      413,
      'OUT_OF_RANGE',
      `A delivery may carry at most ${MAX_ENROLLMENTS} enrollments; this one has ${count.length}. Split it.`,
      {
        details: [errorInfo('TOO_MANY_ENROLLMENTS')],
      },
    );
  }
  const parsed = Event.safeParse(body);
  if (parsed.success) return parsed.data;
  const violations: FieldViolation[] = [];
  const seen = new Set<string>();
  for (const issue of parsed.error.issues) {
    const field =
      issue.path.reduce<string>(
        (acc, p) =>
          typeof p === 'number'
            ? `${acc}[${p}]`
            : acc
              ? `${acc}.${String(p)}`
              : String(p),
        '',
      ) || '(body)';
    if (seen.has(field) || violations.length >= 50) continue;
    seen.add(field);
    violations.push({field, description: issue.message});
  }
  throw badRequest(
    `Invalid enrollment event: ${violations
      .slice(0, 5)
      .map(v => v.field)
      .join(', ')}${violations.length > 5 ? ', …' : ''}.`,
    violations,
  );
}

const ROLE_MAP: Record<string, Role | undefined> = {
  student: 'STUDENT',
  teacher: 'TEACHER',
};

export type Mapping =
  | {kind: 'invite'; invitation: InvitationRequest}
  | {kind: 'withdraw'; invitation: InvitationRequest}
  | {
      kind: 'skip';
      reason: string;
      /** For the audit: the pair as the SIS named it, with its own role. */
      pair: {courseId: string; userId: string; role: string};
    };

/**
 * student → STUDENT, teacher → TEACHER; administrator, proctor and other roles are skipped. An active
 * enrollment invites (replacing a pending invitation of another role); a tobedeleted one withdraws the
 * pending invitation of its role.
 */
export function mapEnrollment(
  e: Enrollment,
  aliasPrefix: 'd:' | 'p:',
): Mapping {
  const courseId = aliasPrefix + e.class.sourcedId;
  const userId = e.user.email.toLowerCase();
  const skip = (reason: string): Mapping => ({
    kind: 'skip',
    reason,
    pair: {courseId, userId, role: e.role},
  });
  const role = ROLE_MAP[e.role];
  if (!role) return skip(`role ${e.role} has no Classroom course role`);
  if (!ALIAS.test(courseId))
    return skip('class sourcedId cannot form a course alias');
  // OWNER is never created from a webhook: ownership is a decision for a person, not a feed.
  const invitation = {courseId, userId, role};
  return e.status === 'active'
    ? {kind: 'invite', invitation}
    : {kind: 'withdraw', invitation};
}

/**
 * How a delivery's enrollments run. Those for one (course, user) pair form a group that runs in delivery
 * order, one at a time; groups run concurrently. Within a group an enrollment is superseded (skipped, never
 * sent) by a later one that is active (it decides the pair's role, whatever came before) or of the same role
 * (it restates that role's status); `supersededBy` maps its index to the nearest such later index. So two
 * active enrollments end in the last one's role, and "active student, tobedeleted teacher" in either order
 * ends in a student invitation: a later withdrawal of another role leaves an earlier active one standing.
 */
export interface DeliveryPlan {
  groups: number[][];
  supersededBy: Map<number, number>;
}

export function planDelivery(mappings: Mapping[]): DeliveryPlan {
  const byPair = new Map<string, number[]>();
  const groups: number[][] = [];
  mappings.forEach((m, i) => {
    if (m.kind === 'skip') {
      groups.push([i]);
      return;
    }
    // The ledger's pair: the course id after alias mapping and the lower-cased email (mapEnrollment).
    const pair = `${m.invitation.courseId}\n${m.invitation.userId}`;
    let group = byPair.get(pair);
    if (!group) {
      group = [];
      byPair.set(pair, group);
      groups.push(group);
    }
    group.push(i);
  });
  const supersededBy = new Map<number, number>();
  for (const group of groups) {
    let nearestActive: number | undefined;
    const nearestOfRole = new Map<Role, number>();
    for (let k = group.length - 1; k >= 0; k--) {
      const i = group[k]!;
      const m = mappings[i]!;
      if (m.kind === 'skip') continue;
      const candidates = [
        nearestActive,
        nearestOfRole.get(m.invitation.role),
      ].filter((j): j is number => j !== undefined);
      if (candidates.length > 0) supersededBy.set(i, Math.min(...candidates));
      nearestOfRole.set(m.invitation.role, i);
      if (m.kind === 'invite') nearestActive = i;
    }
  }
  return {groups, supersededBy};
}
