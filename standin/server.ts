// A local stand-in for Classroom's invitations API, served over real HTTP at its root (/v1/invitations),
// as the official client calls it. Used by `npm start` and the tests; never deployed.
// This file routes; the invitations themselves live in invitations.ts. Tests steer it through /__standin/*
// (faults, latency, call counts).
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {googleError, readBody, send} from './http';
import {InvitationStore, StandInMethod, StoredInvitation} from './invitations';

export type {StandInMethod, StoredInvitation} from './invitations';

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

export class ClassroomStandIn {
  private readonly store = new InvitationStore();
  readonly invitations = this.store.invitations;
  readonly calls: Record<StandInMethod, number> = {
    create: 0,
    list: 0,
    get: 0,
    delete: 0,
  };
  /** Latency added to every call, in ms. */
  latencyMs = 0;
  private faults: Fault[] = [];
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
    return this.store.seed(invitation);
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
        if (fault.thenSucceed) this.store.perform(method, id, url, body);
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
      const outcome = this.store.perform(method, id, url, body);
      if ('error' in outcome) return googleError(res, outcome.error);
      send(res, 200, outcome.body);
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
