// A local stand-in for Classroom's invitations API, served over real HTTP at its root (/v1/invitations),
// as the official client calls it. Used by `npm start` and the tests; never deployed.
// Semantics follow the reference: one invitation per (user, course); create, get, list (by user and/or
// course, paged), delete. Tests steer it through /__standin/* (faults, latency, call counts).
import {randomBytes} from 'node:crypto';
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {reservedErrorFor, ReservedError, STANDIN_ERRORS} from './reserved';

export type StandInMethod = 'create' | 'list' | 'get' | 'delete';

export interface StoredInvitation {
  id: string;
  userId: string;
  courseId: string;
  role: string;
}

/** An injected fault: the next `count` calls of `method` get `status` (or hang, or are delayed). */
export interface Fault {
  method: StandInMethod;
  count?: number;
  httpStatus?: number;
  status?: string;
  message?: string;
  /** Delay before answering, in ms (applies to the faulted calls). */
  latencyMs?: number;
  /** Never answer (the client's deadline decides). */
  hang?: boolean;
  /** With a fault status: also perform the call (e.g. a create that succeeds but whose answer is lost). */
  thenSucceed?: boolean;
  retryAfterSeconds?: number;
}

const ROLES = new Set(['STUDENT', 'TEACHER', 'OWNER']);
const NUMERIC = /^[0-9]+$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const ALIAS = /^[dp]:\S{1,254}$/;

function googleError(
  res: ServerResponse,
  e: ReservedError,
  headers: Record<string, string> = {},
): void {
  send(
    res,
    e.httpStatus,
    {error: {code: e.httpStatus, message: e.message, status: e.status}},
    headers,
  );
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const invalid = (message: string): ReservedError => ({
  httpStatus: 400,
  status: 'INVALID_ARGUMENT',
  message,
});

export class ClassroomStandIn {
  readonly invitations = new Map<string, StoredInvitation>();
  readonly calls: Record<StandInMethod, number> = {
    create: 0,
    list: 0,
    get: 0,
    delete: 0,
  };
  /** Latency added to every call, in ms. */
  latencyMs = 0;
  private faults: Fault[] = [];
  private readonly userIds = new Map<string, string>(); // email -> numeric id
  private readonly courseIds = new Map<string, string>(); // alias -> numeric id
  private nextUser = 100000000000000000001n;
  private nextCourse = 700000000001n;
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('stand-in is not listening');
    return `http://127.0.0.1:${addr.port}/`;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => void this.route(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return this.url;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  reset(): void {
    this.invitations.clear();
    this.faults = [];
    this.latencyMs = 0;
    for (const k of Object.keys(this.calls) as StandInMethod[])
      this.calls[k] = 0;
  }

  injectFault(fault: Fault): void {
    this.faults.push({count: 1, ...fault});
  }

  /** Puts an invitation in place as if another tool had created it (not counted as a create call). */
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

  private takeFault(method: StandInMethod): Fault | undefined {
    const i = this.faults.findIndex(f => f.method === method);
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.count = (f.count ?? 1) - 1;
    if (f.count <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://standin');
      const body = await readBody(req);
      if (url.pathname.startsWith('/__standin/'))
        return this.control(req.method ?? 'GET', url.pathname, body, res);
      const m = /^\/v1\/invitations(?:\/([^/:]+))?$/.exec(url.pathname);
      if (!m)
        return googleError(res, {
          httpStatus: 404,
          status: 'NOT_FOUND',
          message: `Method not found: ${url.pathname}`,
        });
      const id = m[1] ? decodeURIComponent(m[1]) : undefined;
      const method: StandInMethod | undefined =
        req.method === 'POST' && !id
          ? 'create'
          : req.method === 'GET'
            ? id
              ? 'get'
              : 'list'
            : req.method === 'DELETE' && id
              ? 'delete'
              : undefined;
      if (!method)
        return googleError(res, {
          httpStatus: 404,
          status: 'NOT_FOUND',
          message: 'Method not found.',
        });
      this.calls[method]++;
      const fault = this.takeFault(method);
      const delay = (fault?.latencyMs ?? 0) + this.latencyMs;
      if (fault?.hang) {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      if (delay > 0) await new Promise(r => setTimeout(r, delay));
      if (fault?.httpStatus) {
        if (fault.thenSucceed) this.perform(method, id, url, body, undefined);
        const headers: Record<string, string> = fault.retryAfterSeconds
          ? {'Retry-After': String(fault.retryAfterSeconds)}
          : {};
        return googleError(
          res,
          {
            httpStatus: fault.httpStatus,
            status: fault.status ?? 'UNAVAILABLE',
            message: fault.message ?? 'The service is currently unavailable.',
          },
          headers,
        );
      }
      this.perform(method, id, url, body, res);
    } catch (err) {
      send(res, 500, {
        error: {
          code: 500,
          message: `stand-in failure: ${String(err)}`,
          status: 'INTERNAL',
        },
      });
    }
  }

  /** Executes one API call; answers on `res` when given. */
  private perform(
    method: StandInMethod,
    id: string | undefined,
    url: URL,
    body: string,
    res: ServerResponse | undefined,
  ): void {
    const answer = (status: number, payload: unknown) =>
      res && send(res, status, payload);
    const fail = (e: ReservedError) => res && googleError(res, e);
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
        return answer(200, stored);
      }
      case 'get': {
        const inv = this.invitations.get(id!);
        return inv ? answer(200, inv) : fail(STANDIN_ERRORS.notFound);
      }
      case 'delete': {
        if (!this.invitations.delete(id!)) return fail(STANDIN_ERRORS.notFound);
        return answer(200, {});
      }
      case 'list': {
        const userId = url.searchParams.get('userId') ?? '';
        const courseId = url.searchParams.get('courseId') ?? '';
        if (!userId && !courseId)
          return fail(
            invalid('At least one of userId or courseId must be specified.'),
          );
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
        return answer(200, {
          ...(page.length ? {invitations: page} : {}),
          ...(next ? {nextPageToken: next} : {}),
        });
      }
    }
  }

  private control(
    method: string,
    path: string,
    body: string,
    res: ServerResponse,
  ): void {
    if (path === '/__standin/calls' && method === 'GET')
      return send(res, 200, this.calls);
    if (path === '/__standin/invitations' && method === 'GET')
      return send(res, 200, [...this.invitations.values()]);
    if (path === '/__standin/reset' && method === 'POST') {
      this.reset();
      return send(res, 200, {});
    }
    if (path === '/__standin/faults' && method === 'POST') {
      this.injectFault(JSON.parse(body) as Fault);
      return send(res, 200, {});
    }
    if (path === '/__standin/latency' && method === 'POST') {
      this.latencyMs =
        Number((JSON.parse(body) as {latencyMs?: unknown}).latencyMs) || 0;
      return send(res, 200, {});
    }
    if (path === '/__standin/seed' && method === 'POST') {
      return send(res, 200, this.seed(JSON.parse(body) as StoredInvitation));
    }
    send(res, 404, {
      error: {
        code: 404,
        message: 'unknown control endpoint',
        status: 'NOT_FOUND',
      },
    });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
