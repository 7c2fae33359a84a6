// Reserved values that make the Classroom stand-in answer each documented invitations.create error.
// Everything else well-formed is accepted: users and courses come into being on first sight.
// Matching is on the email's local part or the alias name, so any domain works (e.g. unknown-7@school.edu).

export interface ReservedError {
  httpStatus: number;
  status: string;
  message: string;
}

/** Messages as Classroom words them; named request errors carry the `@Name ` prefix (with its space). */
export const STANDIN_ERRORS = {
  notFound: {
    httpStatus: 404,
    status: 'NOT_FOUND',
    message: 'Requested entity was not found.',
  },
  permissionDenied: {
    httpStatus: 403,
    status: 'PERMISSION_DENIED',
    message: 'The caller does not have permission',
  },
  untrustedDomain: {
    httpStatus: 403,
    status: 'PERMISSION_DENIED',
    message:
      '@CannotInviteUserInUntrustedDomain The user being invited or created is not within the same domain as, or a trusted domain of, the caller.',
  },
  disabled: {
    httpStatus: 400,
    status: 'FAILED_PRECONDITION',
    message: 'Precondition check failed.',
  },
  alreadyMember: {
    httpStatus: 400,
    status: 'FAILED_PRECONDITION',
    message:
      'The user already has this role or a role with greater permissions in the course.',
  },
  ineligibleOwner: {
    httpStatus: 400,
    status: 'FAILED_PRECONDITION',
    message:
      '@IneligibleOwner The user cannot be added as the owner of the course because the user is not a co-teacher.',
  },
  alreadyExists: {
    httpStatus: 409,
    status: 'ALREADY_EXISTS',
    message: 'Requested entity already exists',
  },
} satisfies Record<string, ReservedError>;

/** The table the README documents: a reserved prefix and what it produces. */
export const RESERVED_VALUES: {
  field: 'userId' | 'courseId';
  prefix: string;
  role?: string;
  error: ReservedError;
}[] = [
  {field: 'userId', prefix: 'unknown', error: STANDIN_ERRORS.notFound},
  {field: 'userId', prefix: 'untrusted', error: STANDIN_ERRORS.untrustedDomain},
  {field: 'userId', prefix: 'disabled', error: STANDIN_ERRORS.disabled},
  {field: 'userId', prefix: 'member', error: STANDIN_ERRORS.alreadyMember},
  {
    field: 'userId',
    prefix: 'ineligible',
    role: 'OWNER',
    error: STANDIN_ERRORS.ineligibleOwner,
  },
  {field: 'courseId', prefix: 'unknown', error: STANDIN_ERRORS.notFound},
  {
    field: 'courseId',
    prefix: 'forbidden',
    error: STANDIN_ERRORS.permissionDenied,
  },
];

function namePart(field: 'userId' | 'courseId', value: string): string {
  if (field === 'userId')
    return value.includes('@') ? value.split('@')[0]!.toLowerCase() : '';
  return /^[dp]:/.test(value) ? value.slice(2).toLowerCase() : '';
}

export function reservedErrorFor(invitation: {
  userId: string;
  courseId: string;
  role: string;
}): ReservedError | undefined {
  for (const r of RESERVED_VALUES) {
    if (r.role && r.role !== invitation.role) continue;
    if (namePart(r.field, invitation[r.field]).startsWith(r.prefix))
      return r.error;
  }
  return undefined;
}
