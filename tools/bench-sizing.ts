// The sizing scenario of `npm run bench` (issue 13): peak memory of one instance of each target at the concurrency
// the deploy gives it by default (tools/deploy-settings.ts), under the heaviest legitimate load: every request in flight the
// largest there is. The deploy's memory is chosen so that this peak stays at or under 70 % of it.
import {randomBytes} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {ClassroomStandIn} from '../standin/server';
import {enrollmentEvent, makePairs} from './bench-term-start';
import {
  freePort,
  FunctionProcess,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from './instance';
import {SIZING_DEFAULTS} from './deploy-settings';
import {sinkTopic} from './pubsub-setup';
import {postSignedDelivery} from './webhook-headers';

/** What the deploy gives each target by default (tools/deploy-settings.ts); the bench measures at these. */
export const SIZING = {
  http: sized(SIZING_DEFAULTS.http),
  worker: sized(SIZING_DEFAULTS.worker),
};

function sized(d: {memory: string; concurrency: number; heapMib: number}) {
  const m = /^(\d+)(Mi|Gi)$/.exec(d.memory);
  if (!m) throw new Error(`unexpected memory ${d.memory}`);
  const memoryMiB = Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
  return {concurrency: d.concurrency, memoryMiB, heapMiB: d.heapMib};
}
export const RSS_TARGET_SHARE = 0.7;

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

export interface SizingOptions {
  quick: boolean;
  project: string;
  entry: string;
}

export interface SizingRun {
  target: 'invitations' | 'invitationsWorker';
  concurrency: number;
  memoryMiB: number;
  heapMiB: number;
  load: string;
  requests: number;
  failures: number;
  statuses: Record<string, number>;
  peakRssMiB: number;
  shareOfMemory: number;
}

export interface SizingResult {
  figures: {runs: SizingRun[]; targetShare: number};
  rows: [string, string, string, string][];
  broken: boolean;
}

/** Answers counted by status; `failed` says which statuses count as failures for the target. */
class Tally {
  requests = 0;
  failures = 0;
  readonly statuses: Record<string, number> = {};
  constructor(private readonly failed: (status: number) => boolean) {}
  add(status: number): void {
    this.requests++;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (this.failed(status)) this.failures++;
  }
}

/** A run's figures: the process's peak against the size the deploy gives the target. */
function measured(
  target: SizingRun['target'],
  size: {concurrency: number; memoryMiB: number; heapMiB: number},
  load: string,
  tally: Tally,
  pid: number | undefined,
): SizingRun {
  const peak = peakRssMiB(pid);
  return {
    target,
    ...size,
    load,
    requests: tally.requests,
    failures: tally.failures,
    statuses: tally.statuses,
    peakRssMiB: peak,
    shareOfMemory: peak / size.memoryMiB,
  };
}

/** The process's high-water resident set (VmHWM), in MiB. */
export function peakRssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** A batch as large as the endpoint takes: 10,000 items of long ids, just under its 2 MiB cap. */
function largestBatch(tag: string): string {
  const pad = 'x'.repeat(60);
  return JSON.stringify({
    requests: Array.from({length: 10_000}, (_, i) => ({
      invitation: {
        userId: `${tag}-${i}-${pad.slice(0, 40)}@school.example`,
        courseId: `d:${tag}-course-${i % 400}-${pad.slice(0, 50)}`,
        role: 'STUDENT',
      },
    })),
  });
}

async function spawnTarget(
  opts: SizingOptions,
  target: 'invitations' | 'invitationsWorker',
  env: Record<string, string>,
  heapMiB: number,
): Promise<FunctionProcess> {
  const fn = spawnFunction({
    target,
    port: await freePort(),
    entry: opts.entry,
    env: {
      GOOGLE_CLOUD_PROJECT: opts.project,
      // As the deploy sets it (NODE_OPTIONS in the function's environment).
      NODE_OPTIONS: `--max-old-space-size=${heapMiB}`,
      ...env,
    },
  });
  await waitForHealth(fn, 30_000, () => '', target !== 'invitations');
  return fn;
}

/**
 * The HTTP target at its concurrency: every slot busy with the largest requests there are, round after round: a
 * 10,000-item batch (2 MiB), a 1,000-enrollment delivery, and a single create, a third each.
 */
async function httpRun(
  opts: SizingOptions,
  standIn: ClassroomStandIn,
): Promise<SizingRun> {
  const {concurrency, heapMiB} = SIZING.http;
  const tag = `sz${Date.now().toString(36)}`;
  const topic = `bench-sizing-${tag}`;
  // Items are published to a topic nobody reads: what is measured is the intake, not the quota.
  const sink = await sinkTopic(opts.project, topic);
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const fn = await spawnTarget(
    opts,
    'invitations',
    {
      CLASSROOM_ROOT_URL: standIn.url,
      COLLECTION_PREFIX: `bench_${tag}_`,
      CLASSROOM_SUBJECT: 'admin1@school.example',
      WEBHOOK_SECRETS: secret,
      INVITATIONS_TOPIC: topic,
    },
    heapMiB,
  );
  const rounds = opts.quick ? 1 : 3;
  const tally = new Tally(status => status >= 500);
  try {
    const batch = largestBatch(tag);
    let n = 0;
    const one = async (slot: number, round: number) => {
      const kind = (slot + round) % 3;
      let res: Response;
      if (kind === 0)
        res = await fetch(`${fn.url}/v1/invitations:batchCreate`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: batch,
        });
      else if (kind === 1) {
        const body = enrollmentEvent(makePairs(`${tag}-${n++}`, 1000));
        res = await postSignedDelivery(fn.url, secret, body);
      } else
        res = await fetch(`${fn.url}/v1/invitations`, {
          method: 'POST',
          headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({
            userId: `${tag}-single-${n++}@school.example`,
            courseId: `d:${tag}-single`,
            role: 'STUDENT',
          }),
        });
      await res.arrayBuffer();
      tally.add(res.status);
    };
    for (let round = 0; round < rounds; round++)
      await Promise.all(
        Array.from({length: concurrency}, (_, slot) => one(slot, round)),
      );
    return measured(
      'invitations',
      SIZING.http,
      `${concurrency} in flight × ${rounds} rounds: 10,000-item batches (${(Buffer.byteLength(batch) / 2 ** 20).toFixed(2)} MiB), 1,000-enrollment deliveries, single creates`,
      tally,
      fn.child.pid,
    );
  } finally {
    await stopFunction(fn);
    await sink.close();
  }
}

/**
 * The worker at its concurrency: every slot a push of 100 items (the most a message carries), each item a
 * Classroom call; the pacer's ceiling lifted so that every item runs (1,600 at once) instead of waiting its turn.
 */
async function workerRun(
  opts: SizingOptions,
  standIn: ClassroomStandIn,
): Promise<SizingRun> {
  const {concurrency, heapMiB} = SIZING.worker;
  const tag = `szw${Date.now().toString(36)}`;
  const prefix = `bench_${tag}_`;
  const env = {
    CLASSROOM_ROOT_URL: standIn.url,
    COLLECTION_PREFIX: prefix,
    CLASSROOM_SUBJECT: 'admin1@school.example',
    CLASSROOM_QPS: '1000',
    CLASSROOM_PROJECT_QPS: '1000',
  };
  // The operations the pushes belong to, made by an intake instance onto a topic nobody reads.
  const topic = `bench-sizing-${tag}`;
  const sink = await sinkTopic(opts.project, topic);
  const intake = await spawnTarget(
    opts,
    'invitations',
    {...env, INVITATIONS_TOPIC: topic},
    SIZING.http.heapMiB,
  );
  const fn = await spawnTarget(opts, 'invitationsWorker', env, heapMiB);
  const rounds = opts.quick ? 1 : 3;
  // A push is acknowledged (2xx) or it is not: every item must have run.
  const tally = new Tally(status => status >= 300);
  try {
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        Array.from({length: concurrency}, async (_, slot) => {
          const items = Array.from({length: 100}, (_, i) => ({
            invitation: {
              userId: `${tag}-${round}-${slot}-${i}@school.example`,
              courseId: `d:${tag}-${slot}`,
              role: 'STUDENT',
            },
          }));
          const made = await fetch(`${intake.url}/v1/invitations:batchCreate`, {
            method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({requests: items}),
          });
          const op = ((await made.json()) as {name: string}).name.replace(
            'operations/',
            '',
          );
          const message = {
            operation: op,
            items: items.map((it, index) => ({
              index,
              action: 'create',
              invitation: it.invitation,
            })),
          };
          const res = await fetch(
            `${fn.url}/projects/${opts.project}/topics/${topic}`,
            {
              method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({
                message: {
                  data: Buffer.from(JSON.stringify(message)).toString('base64'),
                  messageId: `${round}-${slot}`,
                  attributes: {},
                },
                subscription: `projects/${opts.project}/subscriptions/${topic}-worker`,
              }),
            },
          );
          await res.arrayBuffer();
          tally.add(res.status);
        }),
      );
      await sleep(100);
    }
    return measured(
      'invitationsWorker',
      SIZING.worker,
      `${concurrency} pushes in flight × ${rounds} rounds, 100 items each (the most a message carries)`,
      tally,
      fn.child.pid,
    );
  } finally {
    await Promise.all([stopFunction(fn), stopFunction(intake)]);
    await sink.close();
  }
}

function row(r: SizingRun): [string, string, string, string] {
  return [
    `sizing, ${r.target}: ${r.load}`,
    `peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
    `${(100 * r.shareOfMemory).toFixed(0)} % of ${r.memoryMiB} MiB (heap cap ${r.heapMiB} MiB); ${r.requests} requests, ${JSON.stringify(r.statuses)}`,
    `≤ ${100 * RSS_TARGET_SHARE} %; no 5xx`,
  ];
}

export async function runSizing(opts: SizingOptions): Promise<SizingResult> {
  const standIn = new ClassroomStandIn();
  await standIn.start();
  const runs: SizingRun[] = [];
  try {
    runs.push(await httpRun(opts, standIn));
    runs.push(await workerRun(opts, standIn));
  } finally {
    await standIn.stop();
  }
  for (const r of runs) console.log(`\n${row(r).join(' | ')}`);
  for (const r of runs.filter(r => r.shareOfMemory > RSS_TARGET_SHARE))
    console.log(
      `TARGET MISSED: ${r.target} peaked at ${(100 * r.shareOfMemory).toFixed(0)} % of its memory (≤ ${100 * RSS_TARGET_SHARE} %): raise its memory or lower its concurrency in tools/deploy-settings.ts`,
    );
  return {
    figures: {runs, targetShare: RSS_TARGET_SHARE},
    rows: runs.map(row),
    broken: runs.some(r => r.failures > 0),
  };
}
