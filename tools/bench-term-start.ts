// The term-start scenario of `npm run bench` (issue 11): N new pairs against a stand-in holding Classroom's quota
// (20 calls per second per subject, 50 per project) over 3 instances, over HTTP and as 4 signed webhook deliveries,
// each with 1 and 2 impersonated subjects; time against the quota's floor, throttled calls, and exactly-once.
import {randomBytes, randomUUID} from 'node:crypto';
import {Firestore} from '@google-cloud/firestore';
import {z} from 'zod';
import {PACER_SLOTS_COLLECTION, scopeId} from '../functions/pacer/store';
import {ClassroomStandIn} from '../standin/server';
import {
  freePort,
  FunctionProcess,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from './instance';
import {postSignedDelivery} from './webhook-headers';

/** Classroom's documented quota (1,200 queries per minute per user, 3,000 per project), as the stand-in enforces it. */
export const TERM_START_QUOTA = {userQps: 20, projectQps: 50};
export const TERM_START_TARGETS = {
  timeOverFloor: 1.1,
  throttledPercent: 2,
  lostOrTwice: 0,
};
const INSTANCES = 3;
const HTTP_IN_FLIGHT = 24;
const DELIVERIES = 4;
/** A patient sender: longer than any delivery's REQUEST_DEADLINE_MS, so a timeout means something is wrong. */
const SENDER_TIMEOUT_MS = 60_000;
const SUBJECT_POOL = ['admin1@school.example', 'admin2@school.example'];
/** Students per course, as a district's rosters come: many pairs share a course. */
const COURSE_SIZE = 25;
/** Outcomes of a delivery's enrollment that mean "invited once": made now, answered from the ledger, or found made. */
const INVITED = new Set(['created', 'replayed', 'adopted']);

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface TermStartOptions {
  /** N = 120 instead of 600. */
  quick: boolean;
  project: string;
  /** The built function module (lib/functions/index.js). */
  entry: string;
}

export interface Pair {
  courseId: string;
  userId: string;
  role: 'STUDENT';
  /** In a delivery: the enrollment's and the class's sourcedIds. */
  enrollment: string;
  classId: string;
}

/** One second of the stand-in's counts, from the start of the second the run began in. */
export interface SecondProfile {
  t: number;
  accepted: Record<string, number>;
  throttled: number;
  /** Positions the pacer leased for this second, per subject, from its slot documents in Firestore. */
  leased: Record<string, number>;
}

export interface TermStartRun {
  name: string;
  path: 'http' | 'webhooks';
  subjects: number;
  pairs: number;
  elapsedS: number;
  floorS: number;
  timeOverFloor: number;
  upstreamAccepted: number;
  upstreamThrottled: number;
  throttledPercent: number;
  /** Classroom calls per method as the stand-in saw them, throttled ones included. */
  callsByMethod: Record<string, number>;
  peakAcceptedPerSecond: Record<string, number>;
  client429: number;
  client503: number;
  client409: number;
  /** Requests or deliveries that got no readable answer (network error, the client's timeout); tried again after 1 s. */
  clientErrors: number;
  /** Seconds the client spent waiting because a Retry-After told it to, summed over requests or deliveries. */
  retryAfterWaitS: number;
  /** HTTP: requests whose final answer was 200; webhooks: deliveries. */
  final200: number;
  finalExpected: number;
  /** Webhook results whose outcome is not created, replayed or adopted. */
  otherOutcomes: number;
  standInInvitations: number;
  pairsMissing: number;
  /** Pairs with more than one invitation, or whose answer names another invitation than the stand-in holds for them. */
  pairsTwiceOrMismatched: number;
  /** Invitations in the stand-in for none of the N pairs. */
  strayInvitations: number;
  correct: boolean;
  /** Whole seconds inside the run where the stand-in accepted under half the quota. */
  idleSeconds: number[];
  perSecond: SecondProfile[];
  /** What the client saw (and the instances logged) that explains the profile, in time order. */
  events: string[];
}

export interface TermStartResult {
  figures: {
    quota: typeof TERM_START_QUOTA;
    instances: number;
    pairs: number;
    targets: typeof TERM_START_TARGETS;
    runs: TermStartRun[];
  };
  rows: [string, string, string, string][];
  broken: boolean;
}

export function makePairs(tag: string, n: number): Pair[] {
  return Array.from({length: n}, (_, k) => {
    const classId = `${tag}-c${Math.floor(k / COURSE_SIZE)}`;
    return {
      courseId: `d:${classId}`,
      userId: `${tag}-s${k}@school.example`,
      role: 'STUDENT',
      enrollment: `enr-${tag}-${k}`,
      classId,
    };
  });
}

/** The instances of one run, their output watched for the pacer's and the subject pool's own log lines. */
class Fleet {
  readonly events: Array<{at: number; text: string}> = [];

  private constructor(readonly fns: FunctionProcess[]) {}

  static async start(
    opts: TermStartOptions,
    env: Record<string, string>,
  ): Promise<Fleet> {
    const fns: FunctionProcess[] = [];
    for (let i = 0; i < INSTANCES; i++)
      fns.push(
        spawnFunction({
          port: await freePort(),
          entry: opts.entry,
          env: {GOOGLE_CLOUD_PROJECT: opts.project, ...env},
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    const fleet = new Fleet(fns);
    fns.forEach((fn, i) => {
      fleet.watch(i, fn.child.stdout);
      fleet.watch(i, fn.child.stderr);
    });
    await Promise.all(fns.map(fn => waitForHealth(fn, 30_000)));
    return fleet;
  }

  url(i: number): string {
    return this.fns[i % this.fns.length]!.url;
  }

  stop(): Promise<unknown> {
    return Promise.all(this.fns.map(stopFunction));
  }

  /** Keeps rate cuts, subjects leaving or rejoining the rotation, and ERROR lines; the request log is skipped. */
  private watch(i: number, stream: NodeJS.ReadableStream | null): void {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (
          !/pacer slowed|rotation|"severity":"ERROR"|could not record/.test(
            line,
          )
        )
          continue;
        let text = line.slice(0, 300);
        try {
          const l = JSON.parse(line) as Record<string, unknown>;
          text = [l.message, l.subject, l.qps !== undefined && `${l.qps} QPS`]
            .filter(Boolean)
            .join(' · ');
        } catch {
          // not JSON: kept as it came
        }
        this.events.push({at: Date.now(), text: `instance ${i + 1}: ${text}`});
      }
    });
  }
}

interface Outcome {
  /** The invitation id each pair was finally answered with. */
  answered: Array<string | undefined>;
  final200: number;
  finalExpected: number;
  otherOutcomes: number;
  client: {
    '429': number;
    '503': number;
    '409': number;
    errors: number;
    retryAfterWaitS: number;
  };
  events: Array<{at: number; text: string}>;
}

function newOutcome(n: number, finalExpected: number): Outcome {
  return {
    answered: new Array<string | undefined>(n),
    final200: 0,
    finalExpected,
    otherOutcomes: 0,
    client: {'429': 0, '503': 0, '409': 0, errors: 0, retryAfterWaitS: 0},
    events: [],
  };
}

/** Retry-After in seconds as the gateway sends it; undefined when absent or not a number of seconds. */
function retryAfterOf(res: Response): number | undefined {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v >= 0 && res.headers.has('retry-after')
    ? v
    : undefined;
}

/** An answer a well-behaved client waits out and tries again: 429, 503, and 409 ABORTED (the pair or delivery is in flight). */
function isRetryLater(status: number, errorStatus: string | undefined) {
  return (
    status === 429 ||
    status === 503 ||
    (status === 409 && errorStatus === 'ABORTED')
  );
}

function countRetryLater(o: Outcome, status: number): void {
  if (status === 429) o.client['429']++;
  else if (status === 503) o.client['503']++;
  else o.client['409']++;
}

const HttpAnswer = z.object({
  id: z.string().optional(),
  error: z
    .object({
      status: z.string().optional(),
      message: z.string().optional(),
      details: z.array(z.object({reason: z.string().optional()})).optional(),
    })
    .optional(),
});

const DeliveryAnswer = z.object({
  results: z
    .array(
      z.object({
        sourcedId: z.string(),
        outcome: z.string(),
        invitation: z.object({id: z.string()}).optional(),
        error: HttpAnswer.shape.error,
      }),
    )
    .optional(),
  error: HttpAnswer.shape.error,
});

type ErrorBody = z.infer<typeof HttpAnswer>['error'];

/** "RESOURCE_EXHAUSTED/CLASSROOM_QUOTA_BACKLOG", or "…/classroom" for Classroom's own 429 passed through. */
function why(e: ErrorBody): string {
  if (!e) return '?';
  const reason =
    e.details?.find(d => d.reason)?.reason ??
    (e.message?.startsWith('Quota exceeded') ? 'classroom' : undefined);
  return reason ? `${e.status}/${reason}` : (e.status ?? '?');
}

/** (a) N pairs POSTed to /v1/invitations, HTTP_IN_FLIGHT at once, round-robin over the instances, honouring Retry-After. */
async function overHttp(
  fleet: Fleet,
  pairs: Pair[],
  giveUpAt: number,
): Promise<Outcome> {
  const o = newOutcome(pairs.length, pairs.length);
  let next = 0;
  let turn = 0;
  const settle = async (k: number) => {
    const {courseId, userId, role} = pairs[k]!;
    const body = JSON.stringify({courseId, userId, role});
    while (Date.now() < giveUpAt) {
      let res: Response;
      let json: z.infer<typeof HttpAnswer>;
      try {
        res = await fetch(`${fleet.url(turn++)}/v1/invitations`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body,
          signal: AbortSignal.timeout(SENDER_TIMEOUT_MS),
        });
        json = HttpAnswer.parse(await res.json());
      } catch (err) {
        o.client.errors++;
        o.events.push({at: Date.now(), text: `pair ${k}: ${String(err)}`});
        await sleep(1000);
        continue;
      }
      if (res.status === 200 && json.id) {
        o.answered[k] = json.id;
        o.final200++;
        return;
      }
      if (!isRetryLater(res.status, json.error?.status)) {
        o.events.push({
          at: Date.now(),
          text: `pair ${k}: final ${res.status} ${why(json.error)}`,
        });
        return;
      }
      countRetryLater(o, res.status);
      const after = retryAfterOf(res);
      o.events.push({
        at: Date.now(),
        text: `HTTP ${res.status} ${why(json.error)} Retry-After ${after ?? 'absent'}`,
      });
      o.client.retryAfterWaitS += after ?? 1;
      await sleep((after ?? 1) * 1000);
    }
    o.events.push({at: Date.now(), text: `pair ${k}: given up`});
  };
  await Promise.all(
    Array.from({length: HTTP_IN_FLIGHT}, async () => {
      while (next < pairs.length) await settle(next++);
    }),
  );
  return o;
}

export function enrollmentEvent(pairs: Pair[]): string {
  return JSON.stringify({
    type: 'enrollments.created',
    timestamp: new Date().toISOString(),
    data: {
      enrollments: pairs.map(p => ({
        sourcedId: p.enrollment,
        status: 'active',
        role: 'student',
        user: {sourcedId: `usr-${p.userId.split('@')[0]}`, email: p.userId},
        class: {sourcedId: p.classId},
      })),
    },
  });
}

/** "created 118, replayed 2, failed 30 (RESOURCE_EXHAUSTED/CLASSROOM_QUOTA_BACKLOG 30)" */
function outcomeSummary(a: z.infer<typeof DeliveryAnswer>): string {
  const outcomes = new Map<string, number>();
  const reasons = new Map<string, number>();
  for (const r of a.results ?? []) {
    outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    if (r.error)
      reasons.set(why(r.error), (reasons.get(why(r.error)) ?? 0) + 1);
  }
  const list = (m: Map<string, number>) =>
    [...m].map(([k, v]) => `${k} ${v}`).join(', ');
  return list(outcomes) + (reasons.size ? ` (${list(reasons)})` : '');
}

/**
 * (b) The same pairs as DELIVERIES signed deliveries sent at once, spread over the instances; each redelivered (same
 * webhook-id and body, fresh timestamp and signature) after its Retry-After until it is answered 200.
 */
async function asWebhooks(
  fleet: Fleet,
  pairs: Pair[],
  secret: string,
  giveUpAt: number,
): Promise<Outcome> {
  const o = newOutcome(pairs.length, DELIVERIES);
  const size = Math.ceil(pairs.length / DELIVERIES);
  const deliver = async (d: number) => {
    const first = d * size;
    const mine = pairs.slice(first, first + size);
    const id = `msg_${randomUUID()}`;
    const body = enrollmentEvent(mine);
    for (let attempt = 1; Date.now() < giveUpAt; attempt++) {
      const instance = (d + attempt - 1) % INSTANCES;
      const label = `delivery ${d + 1} #${attempt} via instance ${instance + 1}`;
      let res: Response;
      let json: z.infer<typeof DeliveryAnswer>;
      try {
        res = await postSignedDelivery(fleet.url(instance), secret, body, {
          id,
          signal: AbortSignal.timeout(SENDER_TIMEOUT_MS),
        });
        json = DeliveryAnswer.parse(await res.json());
      } catch (err) {
        o.client.errors++;
        o.events.push({at: Date.now(), text: `${label}: ${String(err)}`});
        await sleep(1000);
        continue;
      }
      const after = retryAfterOf(res);
      o.events.push({
        at: Date.now(),
        text: `${label} → ${res.status}${res.status === 200 ? '' : ` ${why(json.error)} Retry-After ${after ?? 'absent'}`}: ${outcomeSummary(json)}`,
      });
      if (res.status === 200) {
        o.final200++;
        const results = json.results ?? [];
        mine.forEach((p, j) => {
          const r = results[j];
          if (r?.sourcedId !== p.enrollment || !INVITED.has(r.outcome)) {
            o.otherOutcomes++;
            return;
          }
          o.answered[first + j] = r.invitation?.id;
        });
        o.otherOutcomes += Math.max(0, results.length - mine.length);
        return;
      }
      if (!isRetryLater(res.status, json.error?.status)) return;
      countRetryLater(o, res.status);
      o.client.retryAfterWaitS += after ?? 1;
      await sleep((after ?? 1) * 1000);
    }
    o.events.push({at: Date.now(), text: `delivery ${d + 1}: given up`});
  };
  await Promise.all(Array.from({length: DELIVERIES}, (_, d) => deliver(d)));
  return o;
}

/** Warm-up, not counted: each instance serves a few new pairs and one small delivery before the clock starts. */
async function warm(fleet: Fleet, secret: string, tag: string): Promise<void> {
  const pairs = makePairs(`${tag}-warm`, INSTANCES * 5);
  await Promise.all(
    fleet.fns.map(async (fn, i) => {
      for (const p of pairs.slice(i * 5, i * 5 + 3))
        await fetch(`${fn.url}/v1/invitations`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({
            courseId: p.courseId,
            userId: p.userId,
            role: p.role,
          }),
        }).then(r => r.arrayBuffer());
      const body = enrollmentEvent(pairs.slice(i * 5 + 3, i * 5 + 5));
      const res = await postSignedDelivery(fn.url, secret, body);
      await res.arrayBuffer();
      if (res.status !== 200)
        throw new Error(`warm-up delivery answered ${res.status}`);
    }),
  );
}

/** The stand-in's own view of each pair (quota off while asking): exactly one invitation, the one the pair was answered. */
export async function verify(
  standIn: ClassroomStandIn,
  pairs: Pair[],
  answered: Array<string | undefined>,
): Promise<{missing: number; twice: number; stray: number}> {
  let missing = 0;
  let twice = 0;
  const mine = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({length: 16}, async () => {
      while (next < pairs.length) {
        const k = next++;
        const p = pairs[k]!;
        const q = new URLSearchParams({userId: p.userId, courseId: p.courseId});
        const res = await fetch(`${standIn.url}v1/invitations?${q}`);
        const found =
          ((await res.json()) as {invitations?: Array<{id: string}>})
            .invitations ?? [];
        for (const inv of found) mine.add(inv.id);
        if (found.length === 0 || answered[k] === undefined) missing++;
        else if (found.length > 1 || found[0]!.id !== answered[k]) twice++;
      }
    }),
  );
  return {missing, twice, stray: standIn.invitations.size - mine.size};
}

/**
 * Per second from the start of the second `t0` fell in, through `t1`: calls the stand-in accepted and throttled,
 * and positions the pacer leased (its slot documents are per scope and second, so leased and accepted line up:
 * a position leased but never called shows as leased > accepted).
 */
async function profile(
  standIn: ClassroomStandIn,
  db: Firestore,
  prefix: string,
  subjects: string[],
  t0: number,
  t1: number,
): Promise<SecondProfile[]> {
  const s0 = Math.floor(t0 / 1000);
  const zero = () => Object.fromEntries(subjects.map(s => [s, 0]));
  const rows: SecondProfile[] = Array.from(
    {length: Math.floor(t1 / 1000) - s0 + 1},
    (_, t) => ({t, accepted: zero(), throttled: 0, leased: zero()}),
  );
  for (const r of standIn.rate().seconds) {
    const row = rows[r.second - s0];
    if (!row) continue;
    row.accepted[r.subject] = (row.accepted[r.subject] ?? 0) + r.accepted;
    row.throttled += r.throttled;
  }
  const slots = await db.collection(prefix + PACER_SLOTS_COLLECTION).get();
  for (const doc of slots.docs) {
    const [scope, slot] = doc.id.split('~');
    const subject = subjects.find(s => scopeId(s) === scope);
    const row = rows[Number(slot) - s0];
    const taken = doc.get('taken') as unknown;
    if (subject && row && typeof taken === 'number')
      row.leased[subject] = taken;
  }
  return rows;
}

/** Whole seconds strictly inside the run where fewer than half the quota's calls were accepted. */
function idleSecondsOf(rows: SecondProfile[], perSecond: number): number[] {
  return rows
    .slice(1, -1)
    .filter(
      r => Object.values(r.accepted).reduce((a, b) => a + b, 0) < perSecond / 2,
    )
    .map(r => r.t);
}

/** HTTP's many retries folded into one line per second; deliveries' answers and instance log lines kept as they are. */
function timeline(
  events: Array<{at: number; text: string}>,
  origin: number,
): string[] {
  const folded = new Map<string, {at: number; count: number}>();
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    const key = e.text.startsWith('HTTP ')
      ? `${Math.floor((e.at - origin) / 1000)} ${e.text}`
      : `${e.at} ${e.text}`;
    const f = folded.get(key);
    if (f) f.count++;
    else folded.set(key, {at: e.at, count: 1});
  }
  return [...folded].map(
    ([key, f]) =>
      `+${((f.at - origin) / 1000).toFixed(1)} s ${key.slice(key.indexOf(' ') + 1)}${f.count > 1 ? ` ×${f.count}` : ''}`,
  );
}

async function measure(
  opts: TermStartOptions,
  standIn: ClassroomStandIn,
  db: Firestore,
  path: 'http' | 'webhooks',
  subjectCount: number,
  n: number,
): Promise<TermStartRun> {
  const subjects = SUBJECT_POOL.slice(0, subjectCount);
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const tag = `ts${Date.now().toString(36)}${path[0]}${subjectCount}`;
  const name = `${path === 'http' ? 'HTTP' : 'webhooks'}, ${subjectCount} subject${subjectCount > 1 ? 's' : ''}`;
  // A fresh prefix per run: no ledger entry, pacer slot or rate cut of an earlier run carries over.
  const prefix = `bench_${tag}_`;
  standIn.setQuota(TERM_START_QUOTA);
  const fleet = await Fleet.start(opts, {
    CLASSROOM_ROOT_URL: standIn.url,
    COLLECTION_PREFIX: prefix,
    CLASSROOM_SUBJECTS: subjects.join(' '),
    WEBHOOK_SECRETS: secret,
    // Issue 11's scenario: deliveries answered inline, within their deadline (issue 12 adds the asynchronous one).
    WEBHOOK_INLINE_MAX: '1000',
  });
  try {
    await warm(fleet, secret, tag);
    // Let the warm-up's pacer slots pass, then start from full buckets and zero counts (the quota stays set).
    await sleep(1500);
    standIn.reset();
    const pairs = makePairs(tag, n);
    const perSecond = Math.min(
      TERM_START_QUOTA.userQps * subjectCount,
      TERM_START_QUOTA.projectQps,
    );
    const floorS = n / perSecond;
    const t0 = Date.now();
    const giveUpAt = t0 + Math.max(120_000, floorS * 10_000);
    const o =
      path === 'http'
        ? await overHttp(fleet, pairs, giveUpAt)
        : await asWebhooks(fleet, pairs, secret, giveUpAt);
    const t1 = Date.now();
    const rate = standIn.rate();
    const rows = await profile(standIn, db, prefix, subjects, t0, t1);
    const callsByMethod = {...standIn.calls};
    standIn.setQuota(undefined);
    const check = await verify(standIn, pairs, o.answered);
    const elapsedS = (t1 - t0) / 1000;
    const correct =
      o.final200 === o.finalExpected &&
      o.otherOutcomes === 0 &&
      check.missing === 0 &&
      check.twice === 0 &&
      check.stray === 0 &&
      standIn.invitations.size === n;
    const origin = Math.floor(t0 / 1000) * 1000;
    return {
      name,
      path,
      subjects: subjectCount,
      pairs: n,
      elapsedS,
      floorS,
      timeOverFloor: elapsedS / floorS,
      upstreamAccepted: rate.totals.accepted,
      upstreamThrottled: rate.totals.throttled,
      throttledPercent:
        (100 * rate.totals.throttled) / Math.max(1, rate.totals.accepted),
      callsByMethod,
      peakAcceptedPerSecond: Object.fromEntries(
        subjects.map(s => [s, standIn.peakPerSecond(s)]),
      ),
      client429: o.client['429'],
      client503: o.client['503'],
      client409: o.client['409'],
      clientErrors: o.client.errors,
      retryAfterWaitS: o.client.retryAfterWaitS,
      final200: o.final200,
      finalExpected: o.finalExpected,
      otherOutcomes: o.otherOutcomes,
      standInInvitations: standIn.invitations.size,
      pairsMissing: check.missing,
      pairsTwiceOrMismatched: check.twice,
      strayInvitations: check.stray,
      correct,
      idleSeconds: idleSecondsOf(rows, perSecond),
      perSecond: rows,
      events: timeline(
        [...o.events, ...fleet.events.filter(e => e.at >= t0 && e.at <= t1)],
        origin,
      ),
    };
  } finally {
    await fleet.stop();
  }
}

/** "3–9, 14, 20–22" */
function ranges(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}–${xs[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

function printRun(r: TermStartRun): void {
  console.log(
    `\nterm start, ${r.name}: ${r.elapsedS.toFixed(1)} s (floor ${r.floorS.toFixed(1)} s, ${r.timeOverFloor.toFixed(2)}×); upstream ${r.upstreamAccepted} accepted, ${r.upstreamThrottled} throttled; ${r.correct ? 'correct' : 'NOT CORRECT'}`,
  );
  for (const s of Object.keys(r.peakAcceptedPerSecond)) {
    console.log(
      `  accepted/s ${s}: ${r.perSecond.map(p => p.accepted[s] ?? 0).join(' ')}`,
    );
    console.log(
      `  leased/s   ${s}: ${r.perSecond.map(p => p.leased[s] ?? 0).join(' ')}`,
    );
  }
  console.log(`  throttled/s: ${r.perSecond.map(p => p.throttled).join(' ')}`);
  if (r.idleSeconds.length)
    console.log(
      `  seconds under half the quota: ${ranges(r.idleSeconds)} (of 0–${r.perSecond.length - 1})`,
    );
  for (const e of r.events.slice(0, 60)) console.log(`  ${e}`);
  if (r.events.length > 60)
    console.log(`  … ${r.events.length - 60} more in latest.json`);
}

function row(r: TermStartRun): [string, string, string, string] {
  const peaks = Object.entries(r.peakAcceptedPerSecond)
    .map(([s, v]) => `${s.split('@')[0]} ${v}`)
    .join(', ');
  const what =
    r.path === 'http'
      ? `${r.pairs} pairs, ${HTTP_IN_FLIGHT} in flight`
      : `${DELIVERIES} deliveries of ${Math.ceil(r.pairs / DELIVERIES)}`;
  return [
    `term start, ${r.name}: ${what}, ${INSTANCES} instances`,
    `${r.elapsedS.toFixed(1)} s`,
    `${r.timeOverFloor.toFixed(2)}× floor ${r.floorS.toFixed(1)} s; ` +
      `throttled ${r.upstreamThrottled} / accepted ${r.upstreamAccepted} (${r.throttledPercent.toFixed(1)} %); ` +
      `peak accepted/s ${peaks}; client 429 ${r.client429}, 503 ${r.client503}, 409 ${r.client409}` +
      `${r.clientErrors ? `, no answer ${r.clientErrors}` : ''}; ` +
      `final 200 ${r.final200}/${r.finalExpected}; invitations ${r.standInInvitations}/${r.pairs}, ` +
      `missing ${r.pairsMissing}, twice ${r.pairsTwiceOrMismatched + r.strayInvitations}`,
    `≤ ${TERM_START_TARGETS.timeOverFloor.toFixed(2)}×; ≤ ${TERM_START_TARGETS.throttledPercent} %; 0 lost or twice`,
  ];
}

/** Runs the four measured runs on one stand-in (its own, with the quota on) and the shared emulator. */
export async function runTermStart(
  opts: TermStartOptions,
): Promise<TermStartResult> {
  const n = opts.quick ? 120 : 600;
  const standIn = new ClassroomStandIn();
  await standIn.start();
  const db = new Firestore({projectId: opts.project});
  const runs: TermStartRun[] = [];
  try {
    for (const path of ['http', 'webhooks'] as const)
      for (const subjects of [1, 2]) {
        const r = await measure(opts, standIn, db, path, subjects, n);
        printRun(r);
        runs.push(r);
      }
  } finally {
    await standIn.stop();
    await db.terminate();
  }
  return {
    figures: {
      quota: TERM_START_QUOTA,
      instances: INSTANCES,
      pairs: n,
      targets: TERM_START_TARGETS,
      runs,
    },
    rows: runs.map(row),
    broken: runs.some(r => !r.correct),
  };
}
