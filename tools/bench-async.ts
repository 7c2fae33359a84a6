// The asynchronous scenario of `npm run bench` (issue 12): signed SIS deliveries taken as operations, their items
// carried by the Pub/Sub emulator to 3 `invitationsWorker` instances behind a round-robin front (what Cloud Run's
// frontend does), against a stand-in holding Classroom's quota. Measures (a) how fast a 1,000-enrollment delivery
// is acknowledged, (b) 4 concurrent deliveries of 500 against the quota's floor, (c) kill -9 of a worker in the
// middle, (d) a redelivered message; each checked for exactly-once against the stand-in.
import {randomBytes} from 'node:crypto';
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import {PubSub} from '@google-cloud/pubsub';
import {z} from 'zod';
import type {ItemMessage} from '../functions/operations/worker';
import {ClassroomStandIn} from '../standin/server';
import {
  enrollmentEvent,
  makePairs,
  Pair,
  TERM_START_QUOTA,
  TERM_START_TARGETS,
  verify,
} from './bench-term-start';
import {
  freePort,
  FunctionProcess,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from './instance';
import {ItemWiring, sinkTopic, wireItemTopics} from './pubsub-setup';
import {postSignedDelivery} from './webhook-headers';

/** The term start's targets (time over the floor, throttled share, exactly once), and the acknowledgement's. */
export const ASYNC_TARGETS = {...TERM_START_TARGETS, ackP99Ms: 1000};
const WORKERS = 3;
const DELIVERIES = 4;
const DELIVERY_SIZE = 500;
const ACK_SIZE = 1000;
const SUBJECT = 'admin1@school.example';
const INVITED = new Set(['created', 'replayed', 'adopted']);

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

export interface AsyncOptions {
  quick: boolean;
  project: string;
  entry: string;
}

export interface AsyncRun {
  name: string;
  deliveries: number;
  enrollments: number;
  /** Time from the first delivery sent to the last operation done. */
  elapsedS: number;
  floorS: number;
  timeOverFloor: number;
  ackMs: number[];
  upstreamAccepted: number;
  upstreamThrottled: number;
  throttledPercent: number;
  callsByMethod: Record<string, number>;
  /** Pushes the front answered with a failure (a worker killed, or an item left for redelivery). */
  pushesRefused: number;
  pushes: number;
  outcomes: Record<string, number>;
  standInInvitations: number;
  pairsMissing: number;
  pairsTwice: number;
  correct: boolean;
  notes: string[];
}

export interface AsyncResult {
  figures: {
    quota: typeof TERM_START_QUOTA;
    workers: number;
    targets: typeof ASYNC_TARGETS;
    ack: {
      enrollments: number;
      samples: number;
      p50Ms: number;
      p99Ms: number;
      maxMs: number;
    };
    runs: AsyncRun[];
    redelivery: {itemsRedelivered: number; classroomCalls: number};
  };
  rows: [string, string, string, string][];
  broken: boolean;
}

const OperationAnswer = z.object({
  name: z.string(),
  done: z.boolean(),
  metadata: z.object({
    progress: z.record(z.string(), z.number()),
  }),
  response: z
    .object({
      results: z.array(
        z.object({
          index: z.number(),
          outcome: z.string(),
          sourcedId: z.string().optional(),
          invitation: z.object({id: z.string()}).optional(),
          error: z.object({status: z.string()}).optional(),
        }),
      ),
    })
    .optional(),
});
type OperationAnswer = z.infer<typeof OperationAnswer>;

/**
 * Cloud Run's part in front of the workers: each push goes to the next live worker; a worker that refuses the
 * connection (killed) is skipped, and a push nobody can take is answered 503 (Pub/Sub redelivers it).
 */
class Front {
  pushes = 0;
  refused = 0;
  private next = 0;
  private server: Server | undefined;
  url = '';

  constructor(readonly workers: FunctionProcess[]) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.forward(req, res));
    await new Promise<void>(r => this.server!.listen(0, '127.0.0.1', r));
    const {port} = this.server.address() as {port: number};
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  /** Pushes not acknowledged, with when and why (relative times are made at the report). */
  readonly events: Array<{at: number; text: string}> = [];
  /** Workers killed: sent nothing more, as Cloud Run stops routing to an instance that crashed. */
  readonly down = new Set<FunctionProcess>();
  /** Pushes in flight per worker. */
  readonly inFlight = new Map<FunctionProcess, number>();

  private async forward(req: IncomingMessage, res: ServerResponse) {
    this.pushes++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const live = this.workers.filter(
      w =>
        !this.down.has(w) &&
        w.child.exitCode === null &&
        w.child.signalCode === null,
    );
    const w = live[this.next++ % Math.max(1, live.length)];
    if (!w) {
      this.refused++;
      res.writeHead(503).end();
      return;
    }
    this.inFlight.set(w, (this.inFlight.get(w) ?? 0) + 1);
    try {
      const up = await fetch(w.url + (req.url ?? '/'), {
        method: req.method,
        headers: {
          'content-type': req.headers['content-type'] ?? 'application/json',
        },
        body,
      });
      const text = await up.arrayBuffer();
      if (up.status >= 300) {
        this.refused++;
        this.events.push({at: Date.now(), text: `push answered ${up.status}`});
      }
      res.writeHead(up.status).end(Buffer.from(text));
    } catch {
      // The worker died holding the push: Pub/Sub sees a failure and redelivers (Cloud Run answers 5xx too).
      this.refused++;
      this.events.push({at: Date.now(), text: 'push lost with its worker'});
      res.writeHead(502).end();
    } finally {
      this.inFlight.set(w, (this.inFlight.get(w) ?? 1) - 1);
    }
  }

  stop(): Promise<void> {
    return new Promise(r => {
      this.server?.closeAllConnections();
      this.server?.close(() => r());
    });
  }
}

/** One intake instance, WORKERS workers and a dead-letter target, wired to a fresh topic. */
class Stack {
  readonly notes: Array<{at: number; text: string}> = [];
  private constructor(
    readonly intake: FunctionProcess,
    readonly workers: FunctionProcess[],
    readonly deadLetter: FunctionProcess,
    readonly front: Front,
    readonly wiring: ItemWiring,
    readonly env: Record<string, string>,
    readonly opts: AsyncOptions,
    readonly topic: string,
  ) {}

  static async start(
    opts: AsyncOptions,
    env: Record<string, string>,
    topic: string,
  ): Promise<Stack> {
    const full = {
      GOOGLE_CLOUD_PROJECT: opts.project,
      ...env,
      INVITATIONS_TOPIC: topic,
    };
    const spawnOne = async (
      target: 'invitations' | 'invitationsWorker' | 'invitationsDeadLetter',
    ) =>
      spawnFunction({
        target,
        port: await freePort(),
        entry: opts.entry,
        env: full,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    const intake = await spawnOne('invitations');
    const workers: FunctionProcess[] = [];
    for (let i = 0; i < WORKERS; i++)
      workers.push(await spawnOne('invitationsWorker'));
    const deadLetter = await spawnOne('invitationsDeadLetter');
    await waitForHealth(intake, 30_000);
    await Promise.all(
      [...workers, deadLetter].map(w =>
        waitForHealth(w, 30_000, () => '', true),
      ),
    );
    const front = new Front(workers);
    const frontUrl = await front.start();
    const wiring = await wireItemTopics({
      projectId: opts.project,
      topic,
      workerUrl: `${frontUrl}/projects/${opts.project}/topics/${topic}`,
      deadLetterUrl: `${deadLetter.url}/projects/${opts.project}/topics/${topic}-dead-letter`,
    });
    const stack = new Stack(
      intake,
      workers,
      deadLetter,
      front,
      wiring,
      full,
      opts,
      topic,
    );
    for (const p of [intake, ...workers, deadLetter]) stack.watch(p);
    return stack;
  }

  /** ERROR lines of any instance, and items left for redelivery, kept for the report. */
  private watch(p: FunctionProcess) {
    let rest = '';
    p.child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines)
        if (
          /"severity":"(ERROR|CRITICAL)"|Error:|left for redelivery/.test(line)
        )
          this.notes.push({at: Date.now(), text: line.slice(0, 300)});
    });
  }

  /**
   * Kills a worker holding a push (waiting up to 5 s for one to hold one) with SIGKILL, and, as Cloud Run replaces
   * an instance, starts a new one in its place. Returns the pushes the killed worker held.
   */
  async killAndReplace(downMs: number): Promise<number> {
    const until = Date.now() + 5000;
    let i = 0;
    while (Date.now() < until) {
      i = this.workers.findIndex(w => (this.front.inFlight.get(w) ?? 0) > 0);
      if (i >= 0) break;
      await sleep(20);
    }
    i = Math.max(0, i);
    const old = this.workers[i]!;
    const held = this.front.inFlight.get(old) ?? 0;
    this.front.down.add(old);
    old.child.kill('SIGKILL');
    await sleep(downMs);
    const fresh = spawnFunction({
      target: 'invitationsWorker',
      port: await freePort(),
      entry: this.opts.entry,
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.watch(fresh);
    await waitForHealth(fresh, 30_000, () => '', true);
    this.workers[i] = fresh;
    return held;
  }

  async stop(): Promise<void> {
    await this.front.stop();
    await Promise.all(
      [this.intake, ...this.workers, this.deadLetter].map(stopFunction),
    );
    await this.wiring.close();
  }
}

async function deliver(
  url: string,
  secret: string,
  pairs: Pair[],
): Promise<{ms: number; status: number; name?: string}> {
  const body = enrollmentEvent(pairs);
  const t = performance.now();
  const res = await postSignedDelivery(url, secret, body);
  const json = (await res.json()) as {name?: string};
  return {
    ms: performance.now() - t,
    status: res.status,
    ...(json.name ? {name: json.name} : {}),
  };
}

async function waitDone(
  url: string,
  names: string[],
  giveUpAt: number,
): Promise<Map<string, OperationAnswer>> {
  const done = new Map<string, OperationAnswer>();
  while (done.size < names.length && Date.now() < giveUpAt) {
    for (const name of names) {
      if (done.has(name)) continue;
      const res = await fetch(`${url}/v1/${name}`);
      const op = OperationAnswer.parse(await res.json());
      if (op.done) done.set(name, op);
    }
    if (done.size < names.length) await sleep(250);
  }
  return done;
}

/** (a) Acknowledgement of 1,000-enrollment deliveries, sequential, onto a topic nobody reads (no quota spent). */
async function measureAck(
  opts: AsyncOptions,
  standIn: ClassroomStandIn,
  samples: number,
): Promise<number[]> {
  const tag = `ack${Date.now().toString(36)}`;
  const topic = `bench-sink-${tag}`;
  const sink = await sinkTopic(opts.project, topic);
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const intake = spawnFunction({
    port: await freePort(),
    entry: opts.entry,
    env: {
      GOOGLE_CLOUD_PROJECT: opts.project,
      CLASSROOM_ROOT_URL: standIn.url,
      COLLECTION_PREFIX: `bench_${tag}_`,
      CLASSROOM_SUBJECT: SUBJECT,
      WEBHOOK_SECRETS: secret,
      INVITATIONS_TOPIC: topic,
    },
  });
  try {
    await waitForHealth(intake, 30_000);
    const ms: number[] = [];
    // Two deliveries to warm the instance (its Pub/Sub client, its Firestore channel), not counted.
    for (let i = -2; i < samples; i++) {
      const r = await deliver(
        intake.url,
        secret,
        makePairs(`${tag}-${i + 2}`, ACK_SIZE),
      );
      if (r.status !== 202)
        throw new Error(`a 1,000-enrollment delivery answered ${r.status}`);
      if (i >= 0) ms.push(r.ms);
    }
    return ms;
  } finally {
    await stopFunction(intake);
    await sink.close();
  }
}

/** (b) and (c): `deliveries` deliveries of `size` sent at once; a worker killed at `killAtS` when given. */
async function measureRun(
  opts: AsyncOptions,
  standIn: ClassroomStandIn,
  name: string,
  deliveries: number,
  size: number,
  killAtS?: number,
): Promise<{run: AsyncRun; stack: Stack; pairs: Pair[]; operations: string[]}> {
  const tag = `as${Date.now().toString(36)}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  standIn.setQuota(undefined);
  const stack = await Stack.start(
    opts,
    {
      CLASSROOM_ROOT_URL: standIn.url,
      COLLECTION_PREFIX: `bench_${tag}_`,
      CLASSROOM_SUBJECT: SUBJECT,
      WEBHOOK_SECRETS: secret,
    },
    `bench-items-${tag}`,
  );
  // Warm-up, not counted: one operation of a message per worker (the front hands them round), quota off.
  const warm = await deliver(
    stack.intake.url,
    secret,
    makePairs(`${tag}-warm`, WORKERS * 20),
  );
  if (!warm.name)
    throw new Error(`the warm-up delivery answered ${warm.status}`);
  await waitDone(stack.intake.url, [warm.name], Date.now() + 60_000);
  standIn.reset();
  standIn.setQuota(TERM_START_QUOTA);
  await sleep(1500);
  const pairs = makePairs(tag, deliveries * size);
  const floorS = pairs.length / TERM_START_QUOTA.userQps;
  const t0 = Date.now();
  const kill =
    killAtS === undefined
      ? Promise.resolve(0)
      : sleep(killAtS * 1000).then(() => stack.killAndReplace(3000));
  const acks = await Promise.all(
    Array.from({length: deliveries}, (_, d) =>
      deliver(stack.intake.url, secret, pairs.slice(d * size, (d + 1) * size)),
    ),
  );
  const names = acks.map(a => a.name ?? '');
  const notes = [
    ...acks
      .filter(a => a.status !== 202)
      .map(a => `delivery answered ${a.status}`),
  ];
  const done = await waitDone(
    stack.intake.url,
    names.filter(Boolean),
    t0 + Math.max(180_000, floorS * 5_000),
  );
  const t1 = Date.now();
  const held = await kill;
  if (killAtS !== undefined)
    notes.unshift(`killed a worker holding ${held} push(es) at ${killAtS} s`);
  const rate = standIn.rate();
  const callsByMethod = {...standIn.calls};
  standIn.setQuota(undefined);
  const answered: Array<string | undefined> = [];
  const outcomes: Record<string, number> = {};
  let otherOutcomes = 0;
  names.forEach((n, d) => {
    const results = done.get(n)?.response?.results ?? [];
    results.forEach((r, j) => {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (INVITED.has(r.outcome)) answered[d * size + j] = r.invitation?.id;
      else otherOutcomes++;
    });
  });
  const check = await verify(standIn, pairs, answered);
  const elapsedS = (t1 - t0) / 1000;
  const run: AsyncRun = {
    name,
    deliveries,
    enrollments: pairs.length,
    elapsedS,
    floorS,
    timeOverFloor: elapsedS / floorS,
    ackMs: acks.map(a => Math.round(a.ms)),
    upstreamAccepted: rate.totals.accepted,
    upstreamThrottled: rate.totals.throttled,
    throttledPercent:
      (100 * rate.totals.throttled) / Math.max(1, rate.totals.accepted),
    callsByMethod,
    pushes: stack.front.pushes,
    pushesRefused: stack.front.refused,
    outcomes,
    standInInvitations: standIn.invitations.size,
    pairsMissing: check.missing,
    pairsTwice: check.twice + check.stray,
    correct:
      done.size === deliveries &&
      otherOutcomes === 0 &&
      check.missing === 0 &&
      check.twice === 0 &&
      check.stray === 0 &&
      standIn.invitations.size === pairs.length,
    notes: [
      ...notes,
      ...[...stack.front.events, ...stack.notes.slice(0, 30)]
        .sort((a, b) => a.at - b.at)
        .map(e => `+${((e.at - t0) / 1000).toFixed(1)} s ${e.text}`),
    ],
  };
  return {run, stack, pairs, operations: names};
}

/** (d) A message of items already done, published again: the workers acknowledge it without a Classroom call. */
async function redeliver(
  opts: AsyncOptions,
  standIn: ClassroomStandIn,
  stack: Stack,
  pairs: Pair[],
  operation: string,
): Promise<{itemsRedelivered: number; classroomCalls: number}> {
  const before = standIn.calls.create + standIn.calls.list;
  const items: ItemMessage['items'] = pairs.slice(0, 20).map((p, index) => ({
    index,
    action: 'create',
    invitation: {userId: p.userId, courseId: p.courseId, role: p.role},
    sourcedId: p.enrollment,
  }));
  const message: ItemMessage = {
    operation: operation.replace(/^operations\//, ''),
    items,
  };
  const pubsub = new PubSub({projectId: opts.project});
  const pushesBefore = stack.front.pushes;
  await pubsub
    .topic(stack.topic)
    .publishMessage({data: Buffer.from(JSON.stringify(message))});
  await pubsub.close();
  const until = Date.now() + 15_000;
  while (stack.front.pushes === pushesBefore && Date.now() < until)
    await sleep(100);
  await sleep(1000);
  return {
    itemsRedelivered: stack.front.pushes > pushesBefore ? items.length : 0,
    classroomCalls: standIn.calls.create + standIn.calls.list - before,
  };
}

function row(r: AsyncRun): [string, string, string, string] {
  return [
    `async, ${r.name}: ${r.deliveries} deliveries of ${r.enrollments / r.deliveries}, ${WORKERS} workers`,
    `${r.elapsedS.toFixed(1)} s`,
    `${r.timeOverFloor.toFixed(2)}× floor ${r.floorS.toFixed(1)} s; throttled ${r.upstreamThrottled} / accepted ${r.upstreamAccepted} (${r.throttledPercent.toFixed(1)} %); ` +
      `acks ${r.ackMs.join(', ')} ms; pushes ${r.pushes} (${r.pushesRefused} not acknowledged); ` +
      `invitations ${r.standInInvitations}/${r.enrollments}, missing ${r.pairsMissing}, twice ${r.pairsTwice}`,
    r.name.startsWith('kill')
      ? '0 lost or twice'
      : `≤ ${ASYNC_TARGETS.timeOverFloor.toFixed(2)}×; ≤ ${ASYNC_TARGETS.throttledPercent} %; 0 lost or twice`,
  ];
}

export async function runAsync(opts: AsyncOptions): Promise<AsyncResult> {
  const standIn = new ClassroomStandIn();
  await standIn.start();
  const runs: AsyncRun[] = [];
  let redelivery = {itemsRedelivered: 0, classroomCalls: -1};
  let ackMs: number[] = [];
  try {
    ackMs = await measureAck(opts, standIn, opts.quick ? 5 : 30);
    console.log(
      `\nasync: 1,000-enrollment delivery acknowledged in ${ackMs.map(m => m.toFixed(0)).join(', ')} ms`,
    );
    const size = opts.quick ? 100 : DELIVERY_SIZE;
    const main = await measureRun(opts, standIn, 'at quota', DELIVERIES, size);
    runs.push(main.run);
    console.log(JSON.stringify(main.run, null, 1));
    redelivery = await redeliver(
      opts,
      standIn,
      main.stack,
      main.pairs,
      main.operations[0]!,
    );
    await main.stack.stop();
    const killed = await measureRun(
      opts,
      standIn,
      'kill -9 of a worker at 8 s',
      1,
      opts.quick ? 200 : 600,
      8,
    );
    await killed.stack.stop();
    runs.push(killed.run);
    console.log(JSON.stringify(killed.run, null, 1));
  } finally {
    await standIn.stop();
  }
  const ack = {
    enrollments: ACK_SIZE,
    samples: ackMs.length,
    p50Ms: Math.round(quantile(ackMs, 0.5)),
    p99Ms: Math.round(quantile(ackMs, 0.99)),
    maxMs: Math.round(Math.max(...ackMs)),
  };
  const rows: [string, string, string, string][] = [
    [
      `async: acknowledgement of a ${ACK_SIZE}-enrollment delivery (${ack.samples} in a row)`,
      `p50 ${ack.p50Ms} ms`,
      `p99 ${ack.p99Ms} ms, max ${ack.maxMs} ms`,
      `p99 ≤ ${ASYNC_TARGETS.ackP99Ms} ms`,
    ],
    ...runs.map(row),
    [
      'async: a message of 20 done items published again',
      `${redelivery.classroomCalls} Classroom calls`,
      `${redelivery.itemsRedelivered} items redelivered`,
      '0 calls',
    ],
  ];
  return {
    figures: {
      quota: TERM_START_QUOTA,
      workers: WORKERS,
      targets: ASYNC_TARGETS,
      ack,
      runs,
      redelivery,
    },
    rows,
    broken:
      runs.some(r => !r.correct) ||
      redelivery.classroomCalls !== 0 ||
      redelivery.itemsRedelivered === 0,
  };
}
