// A local stand-in for Classroom's invitations API, served over real HTTP at its root (/v1/invitations),
// as the official client calls it. Used by `npm start` and the tests; never deployed.
// This file routes: invitations live in invitations.ts, the token endpoints and subjects in auth.ts, the optional
// quota and per-second counts in quota.ts. Tests steer it through /__standin/* (faults, latency, quota, counts).
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {
  Delegation,
  Exchanges,
  SIGN_JWT_PATH,
  TOKEN_PATH,
  TokenAnswer,
  UNAUTHENTICATED,
} from './auth';
import {
  BODY_TOO_LARGE,
  BodyTooLarge,
  decodePathPart,
  googleError,
  invalid,
  readBody,
  send,
} from './http';
import {InvitationStore, StandInMethod, StoredInvitation} from './invitations';
import {control} from './control';
import {Fault, faultAnswer, Faults} from './faults';
import {
  parseQuota,
  Quota,
  QuotaBuckets,
  quotaExceeded,
  Rate,
  RateCounter,
} from './quota';

export type {StandInMethod, StoredInvitation} from './invitations';
export type {Quota, Rate} from './quota';
export type {Exchanges} from './auth';
export type {Fault} from './faults';

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
  private readonly faults = new Faults();
  private readonly delegation = new Delegation();
  private buckets: QuotaBuckets | undefined;
  private readonly counter = new RateCounter();
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  /** Epoch ms for the quota's buckets and the per-second counts; tests may step it by hand. */
  private readonly now: () => number;

  constructor(options: {now?: () => number} = {}) {
    this.now = options.now ?? Date.now;
  }

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
    this.faults.clear();
    this.latencyMs = 0;
    for (const k of Object.keys(this.calls) as StandInMethod[])
      this.calls[k] = 0;
    this.delegation.reset();
    this.counter.clear();
    // The quota setting survives a reset (a test sets it once in beforeAll); its buckets start full again.
    if (this.buckets)
      this.buckets = new QuotaBuckets(this.buckets.quota, this.now);
  }

  /** Turns the quota on (buckets start full) or, with undefined, off. Throws on a non-positive rate. */
  setQuota(quota: Quota | undefined): void {
    const parsed = parseQuota(quota);
    this.buckets = parsed && new QuotaBuckets(parsed, this.now);
  }

  get quota(): Quota | undefined {
    return this.buckets?.quota;
  }

  /** Token exchanges for this subject are refused from now on; tokens already minted keep working. */
  revokeSubject(subject: string): void {
    this.delegation.revoke(subject);
  }

  restoreSubject(subject: string): void {
    this.delegation.restore(subject);
  }

  revokedSubjects(): string[] {
    return this.delegation.revokedSubjects();
  }

  /** Token exchanges per subject (refused ones included, and counted apart). */
  tokenExchanges(): Record<string, Exchanges> {
    return this.delegation.exchanges();
  }

  /** Classroom calls accepted and throttled, per whole second and per subject, as the stand-in saw them. */
  rate(): Rate {
    return this.counter.rate();
  }

  /** The most Classroom calls accepted in one whole second, for `subject` or over all subjects. */
  peakPerSecond(subject?: string): number {
    return this.counter.peakPerSecond(subject);
  }

  injectFault(fault: Fault): void {
    this.faults.inject(fault);
  }

  /** Puts an invitation in place as if another tool had created it (not counted as a create call). */
  seed(invitation: {
    userId: string;
    courseId: string;
    role: string;
  }): StoredInvitation {
    return this.store.seed(invitation);
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://standin');
      const body = await readBody(req);
      if (url.pathname.startsWith('/__standin/'))
        return control(this, req.method ?? 'GET', url.pathname, body, res);
      const signJwt = SIGN_JWT_PATH.exec(url.pathname);
      if (req.method === 'POST' && signJwt)
        return answer(
          res,
          this.delegation.signJwt(decodePathPart(signJwt[1]!), body),
        );
      if (req.method === 'POST' && url.pathname === TOKEN_PATH)
        return answer(res, this.delegation.token(body));
      const m = /^\/v1\/invitations(?:\/([^/:]+))?$/.exec(url.pathname);
      if (!m)
        return googleError(res, {
          httpStatus: 404,
          status: 'NOT_FOUND',
          message: `Method not found: ${url.pathname}`,
        });
      const id = m[1] ? decodePathPart(m[1]) : undefined;
      if (m[1] && id === undefined)
        return googleError(res, invalid('Invalid invitation id.'));
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
      // Authentication, then quota, as Google orders them; both before any fault or latency.
      const subject = this.delegation.subjectOf(req.headers.authorization);
      if (subject === undefined) return googleError(res, UNAUTHENTICATED);
      const refusedBy = this.buckets?.take(subject);
      this.counter.record(subject, !refusedBy, this.now());
      if (refusedBy) return googleError(res, quotaExceeded(refusedBy));
      const fault = this.faults.take(method);
      const delay = (fault?.latencyMs ?? 0) + this.latencyMs;
      if (fault?.hang) {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      if (delay > 0) await new Promise(r => setTimeout(r, delay));
      const httpStatus = fault?.httpStatus;
      if (fault && httpStatus) {
        if (fault.thenSucceed) this.store.perform(method, id, url, body);
        const [error, headers] = faultAnswer({...fault, httpStatus});
        return googleError(res, error, headers);
      }
      const outcome = this.store.perform(method, id, url, body);
      if ('error' in outcome) return googleError(res, outcome.error);
      send(res, 200, outcome.body);
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return googleError(res, BODY_TOO_LARGE, {Connection: 'close'});
      send(res, 500, {
        error: {
          code: 500,
          message: `stand-in failure: ${String(err)}`,
          status: 'INTERNAL',
        },
      });
    }
  }
}

function answer(res: ServerResponse, a: TokenAnswer): void {
  send(res, a.status, a.body);
}
