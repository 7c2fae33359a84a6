// The stand-in's invitations: one per (user, course); create, get, list (by user and/or course, paged), delete.
// Users and courses come into being on first sight and get numeric ids, as Classroom answers with.
import {randomBytes} from 'node:crypto';
import {invalid} from './http';
import {reservedErrorFor, ReservedError, STANDIN_ERRORS} from './reserved';

export type StandInMethod = 'create' | 'list' | 'get' | 'delete';

export interface StoredInvitation {
  id: string;
  userId: string;
  courseId: string;
  role: string;
}

/** What one call answers: a 200 body, or one of Classroom's errors. */
export type Outcome = {body: unknown} | {error: ReservedError};

const ROLES = new Set(['STUDENT', 'TEACHER', 'OWNER']);
const NUMERIC = /^[0-9]+$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const ALIAS = /^[dp]:\S{1,254}$/;

export class InvitationStore {
  readonly invitations = new Map<string, StoredInvitation>();
  private readonly userIds = new Map<string, string>(); // email -> numeric id
  private readonly courseIds = new Map<string, string>(); // alias -> numeric id
  private nextUser = 100000000000000000001n;
  private nextCourse = 700000000001n;

  /** Puts an invitation in place as if another tool had created it. */
  seed(invitation: {
    userId: string;
    courseId: string;
    role: string;
  }): StoredInvitation {
    const stored = {
      id: this.newId(),
      userId: this.resolveUser(invitation.userId),
      courseId: this.resolveCourse(invitation.courseId),
      role: invitation.role,
    };
    this.invitations.set(stored.id, stored);
    return stored;
  }

  /** Executes one API call. */
  perform(
    method: StandInMethod,
    id: string | undefined,
    url: URL,
    body: string,
  ): Outcome {
    const fail = (error: ReservedError): Outcome => ({error});
    switch (method) {
      case 'create': {
        let inv: Record<string, unknown>;
        try {
          inv = JSON.parse(body || '{}') as Record<string, unknown>;
        } catch {
          return fail(invalid('Invalid JSON payload received.'));
        }
        const {userId, courseId, role} = inv;
        if (
          typeof userId !== 'string' ||
          !(NUMERIC.test(userId) || EMAIL.test(userId))
        )
          return fail(invalid('Invalid userId.'));
        if (
          typeof courseId !== 'string' ||
          !(NUMERIC.test(courseId) || ALIAS.test(courseId))
        )
          return fail(invalid('Invalid courseId.'));
        if (typeof role !== 'string' || !ROLES.has(role))
          return fail(invalid('Invalid role.'));
        if (inv.id !== undefined)
          return fail(invalid('Invitation id is read-only.'));
        const reserved = reservedErrorFor({userId, courseId, role});
        if (reserved) return fail(reserved);
        const u = this.resolveUser(userId);
        const c = this.resolveCourse(courseId);
        for (const existing of this.invitations.values()) {
          if (existing.userId === u && existing.courseId === c)
            return fail(STANDIN_ERRORS.alreadyExists);
        }
        const stored = {id: this.newId(), userId: u, courseId: c, role};
        this.invitations.set(stored.id, stored);
        return {body: stored};
      }
      case 'get': {
        const inv = this.invitations.get(id!);
        return inv ? {body: inv} : fail(STANDIN_ERRORS.notFound);
      }
      case 'delete': {
        if (!this.invitations.delete(id!)) return fail(STANDIN_ERRORS.notFound);
        return {body: {}};
      }
      case 'list':
        return this.list(url);
    }
  }

  private list(url: URL): Outcome {
    const userId = url.searchParams.get('userId') ?? '';
    const courseId = url.searchParams.get('courseId') ?? '';
    if (!userId && !courseId)
      return {
        error: invalid('At least one of userId or courseId must be specified.'),
      };
    const u = userId ? this.resolveUser(userId) : undefined;
    const c = courseId ? this.resolveCourse(courseId) : undefined;
    const all = [...this.invitations.values()].filter(
      i => (!u || i.userId === u) && (!c || i.courseId === c),
    );
    const pageSize = Number(url.searchParams.get('pageSize') || 0) || 500;
    const offset = Number(
      Buffer.from(
        url.searchParams.get('pageToken') ?? '',
        'base64url',
      ).toString() || 0,
    );
    const page = all.slice(offset, offset + pageSize);
    const next =
      offset + pageSize < all.length
        ? Buffer.from(String(offset + pageSize)).toString('base64url')
        : undefined;
    // Like Google APIs, empty lists and absent tokens are omitted.
    return {
      body: {
        ...(page.length ? {invitations: page} : {}),
        ...(next ? {nextPageToken: next} : {}),
      },
    };
  }

  private newId(): string {
    return randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  }

  private resolveUser(userId: string): string {
    if (NUMERIC.test(userId)) return userId;
    const email = userId.toLowerCase();
    let id = this.userIds.get(email);
    if (!id) {
      id = String(this.nextUser++);
      this.userIds.set(email, id);
    }
    return id;
  }

  private resolveCourse(courseId: string): string {
    if (NUMERIC.test(courseId)) return courseId;
    let id = this.courseIds.get(courseId);
    if (!id) {
      id = String(this.nextCourse++);
      this.courseIds.set(courseId, id);
    }
    return id;
  }
}
