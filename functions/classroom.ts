// The upstream: Classroom's invitations API through the official client (@googleapis/classroom), loaded on
// first use so that importing the function stays cheap. Classroom's error answers become ApiErrors that
// carry Classroom's own status and error object unchanged.
import type * as ClassroomModule from '@googleapis/classroom';
import type {classroom_v1} from '@googleapis/classroom';
import type {Config} from './config';
import {
  ApiError,
  canonicalForHttp,
  GoogleErrorObject,
  googleError,
  retryable,
  gatewayError,
} from './errors';
import {
  ClassroomAuth,
  googleAuth,
  isRefusal,
  standInAuth,
  SubjectCredentialsError,
} from './classroom-auth';
import type {InvitationRequest} from './validation';

export {ROSTERS_SCOPE, SubjectCredentialsError} from './classroom-auth';

/** Classroom's Invitation resource as it answers it. */
export interface Invitation {
  id: string;
  userId: string;
  courseId: string;
  role: string;
}

export interface CallOptions {
  /** Milliseconds before the call is abandoned (answered as DEADLINE_EXCEEDED). */
  timeoutMs: number;
  /** The request's deadline (epoch ms): how long the pacer may make the call wait for quota. */
  deadline?: number;
  /** The admin to impersonate ('' or absent: the service account itself); the pacer chooses it. */
  subject?: string;
  /** Filled in by the pacer with the subject the call went out as, for the audit. */
  via?: {subject?: string};
}

export interface ClassroomInvitations {
  create(invitation: InvitationRequest, opts: CallOptions): Promise<Invitation>;
  /** The pending invitation for a (course, user) pair, if Classroom has one. */
  findForPair(
    courseId: string,
    userId: string,
    opts: CallOptions,
  ): Promise<Invitation | undefined>;
  get(id: string, opts: CallOptions): Promise<Invitation>;
  delete(id: string, opts: CallOptions): Promise<void>;
}

interface GaxiosLikeError {
  code?: unknown;
  message?: unknown;
  response?: {status?: unknown; data?: unknown; headers?: unknown};
}

function isGoogleErrorObject(v: unknown): v is GoogleErrorObject {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.code === 'number' &&
    typeof o.message === 'string' &&
    typeof o.status === 'string'
  );
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'ABORT_ERR',
]);

/**
 * Turns what the client threw into an ApiError. An answer from Classroom keeps its HTTP status and
 * error object exactly (duck-typed: two gaxios copies may coexist, so instanceof is unreliable).
 */
export function upstreamError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = (
    typeof err === 'object' && err !== null ? err : {}
  ) as GaxiosLikeError;
  const status =
    typeof e.response?.status === 'number' ? e.response.status : undefined;
  if (status !== undefined) {
    const data = e.response?.data as {error?: unknown} | undefined;
    const body: GoogleErrorObject = isGoogleErrorObject(data?.error)
      ? data.error
      : googleError(
          status,
          canonicalForHttp(status),
          typeof e.message === 'string'
            ? e.message
            : `Classroom answered HTTP ${status}`,
        );
    const headers: Record<string, string> = {};
    const retryAfter = headerValue(e.response?.headers, 'retry-after');
    if (retryAfter) headers['Retry-After'] = retryAfter;
    return new ApiError({
      httpStatus: status,
      body,
      headers,
      upstream: true,
      cause: err,
    });
  }
  if (isTimeout(err)) {
    return gatewayError(
      'DEADLINE_EXCEEDED',
      'Classroom did not answer within the deadline. The invitation may have been created; retry to find out.',
      {cause: err},
    );
  }
  return retryable(
    'UNAVAILABLE',
    'Classroom could not be reached. Retry the request.',
    1,
    'UPSTREAM_UNREACHABLE',
    err,
  );
}

/** A timeout anywhere in the cause chain (gaxios wraps the AbortSignal.timeout error of fetch). */
function isTimeout(err: unknown): boolean {
  for (
    let e = err, depth = 0;
    typeof e === 'object' && e !== null && depth < 5;
    depth++
  ) {
    const {name, code, cause} = e as {
      name?: unknown;
      code?: unknown;
      cause?: unknown;
    };
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return true;
    e = cause;
  }
  return false;
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as {get?: (n: string) => unknown} & Record<string, unknown>;
  const v = typeof h.get === 'function' ? h.get(name) : h[name];
  return typeof v === 'string' ? v : undefined;
}

function asInvitation(data: classroom_v1.Schema$Invitation): Invitation {
  return {
    id: data.id ?? '',
    userId: data.userId ?? '',
    courseId: data.courseId ?? '',
    role: data.role ?? '',
  };
}

/** Builds the production client: the official library, one client per impersonated subject (`opts.subject`). */
export function createClassroomInvitations(
  config: Config,
): ClassroomInvitations {
  const clients = new Map<string, Promise<Loaded>>();
  const load = (subject: string): Promise<Loaded> => {
    let client = clients.get(subject);
    if (!client) {
      client = loadClient(config, subject).catch((err: unknown) => {
        clients.delete(subject); // credentials may appear later (a secret mounted, a role granted): try again
        throw err;
      });
      clients.set(subject, client);
    }
    return client;
  };
  /** The subject's client, its token fetched (or reused) first: a refused token is the subject's failure, not Classroom's. */
  const ready = async (opts: CallOptions): Promise<classroom_v1.Classroom> => {
    const subject = opts.subject ?? '';
    try {
      const {api, credentials} = await load(subject);
      await credentials?.token();
      return api;
    } catch (err) {
      throw new SubjectCredentialsError(subject, isRefusal(err), err);
    }
  };

  // invitations.create is not idempotent: the client's own retries stay off; the gateway decides.
  // Node's own fetch: gaxios would otherwise import node-fetch dynamically on first use, which costs
  // time on the cold path and fails inside Jest's module sandbox.
  const callOpts = (o: CallOptions) => ({
    timeout: o.timeoutMs,
    retry: false,
    fetchImplementation: fetch,
  });

  return {
    async create(invitation, opts) {
      const c = await ready(opts);
      try {
        const res = await c.invitations.create(
          {requestBody: {...invitation}},
          callOpts(opts),
        );
        return asInvitation(res.data);
      } catch (err) {
        throw upstreamError(err);
      }
    },
    async findForPair(courseId, userId, opts) {
      const c = await ready(opts);
      try {
        // At most one invitation exists per user and course, so the first page is the whole answer.
        const res = await c.invitations.list(
          {courseId, userId, pageSize: 10},
          callOpts(opts),
        );
        const first = res.data.invitations?.[0];
        return first ? asInvitation(first) : undefined;
      } catch (err) {
        throw upstreamError(err);
      }
    },
    async get(id, opts) {
      const c = await ready(opts);
      try {
        return asInvitation(
          (await c.invitations.get({id}, callOpts(opts))).data,
        );
      } catch (err) {
        throw upstreamError(err);
      }
    },
    async delete(id, opts) {
      const c = await ready(opts);
      try {
        await c.invitations.delete({id}, callOpts(opts));
      } catch (err) {
        throw upstreamError(err);
      }
    },
  };
}

interface Loaded {
  api: classroom_v1.Classroom;
  credentials: ClassroomAuth | undefined;
}

/** The official client for one subject, loaded on first use (the module costs cold-start time). */
async function loadClient(config: Config, subject: string): Promise<Loaded> {
  const mod = require('@googleapis/classroom') as typeof ClassroomModule;
  const credentials = config.classroomIsLocal
    ? standInAuth(config.classroomRootUrl, subject)
    : await googleAuth(mod, subject);
  const options: classroom_v1.Options = {
    version: 'v1',
    rootUrl: config.classroomRootUrl,
  };
  if (credentials) options.auth = credentials.auth;
  return {api: mod.classroom(options), credentials};
}
