// `npm run bench`: measures the gateway against its own Firestore emulator and Classroom stand-in, as ratios
// taken in the same run (this machine is shared and noisy: absolute times drift, ratios hold better).
// Prints a table and writes bench/results/latest.json.
import {spawn} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import {cpus, totalmem} from 'node:os';
import {join, resolve} from 'node:path';
import autocannon from 'autocannon';
import {Firestore} from '@google-cloud/firestore';
import {ClassroomStandIn} from '../standin/server';
import {
  FunctionProcess,
  postSettled,
  spawnFunction,
  stopFunction,
  waitForHealth,
} from './instance';
import {runTermStart, TermStartResult} from './bench-term-start';
import {AsyncResult, runAsync} from './bench-async';
import {noMetadataServerWithEmulators} from './metadata-server';
import {
  peakRssMiB,
  RSS_TARGET_SHARE,
  runSizing,
  SIZING,
  SizingResult,
} from './bench-sizing';

const ROOT = resolve(__dirname, '../..');
const PROJECT =
  process.env.GOOGLE_CLOUD_PROJECT ||
  process.env.GCLOUD_PROJECT ||
  'demo-classroom-gateway';
const ENTRY = join(ROOT, 'lib/functions/index.js');
const quick = process.argv.includes('--quick');
/** Only the term-start scenario (tools/bench-term-start.ts), for iterating on the pacer. */
const termStartOnly = process.argv.includes('--term-start-only');
const termStart = () => runTermStart({quick, project: PROJECT, entry: ENTRY});
/** Only the asynchronous scenario (tools/bench-async.ts): operations over Pub/Sub. */
const asyncOnly = process.argv.includes('--async-only');
const asyncIntake = () => runAsync({quick, project: PROJECT, entry: ENTRY});
/** Only the sizing scenario (tools/bench-sizing.ts): peak memory at the deploy's concurrency. */
const sizingOnly = process.argv.includes('--sizing-only');
const sizing = () => runSizing({quick, project: PROJECT, entry: ENTRY});

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);

let port = 18_000 + Math.floor(Math.random() * 1000);
const prefix = `bench_${Date.now()}_`;

type Fn = FunctionProcess;

function startFunction(standInUrl: string): Fn {
  return spawnFunction({
    port: port++,
    entry: ENTRY,
    env: {
      GOOGLE_CLOUD_PROJECT: PROJECT,
      CLASSROOM_ROOT_URL: standInUrl,
      COLLECTION_PREFIX: prefix,
    },
  });
}

let pairSeq = 0;
const newPair = (tag: string) => ({
  courseId: `d:${tag}-${++pairSeq}`,
  userId: `${tag}${pairSeq}@school.example`,
  role: 'STUDENT',
});

async function post(
  url: string,
  body: unknown,
): Promise<{
  status: number;
  json: {id?: string; error?: {status: string}};
  ms: number;
  retryAfter: string | null;
}> {
  const t = performance.now();
  const res = await fetch(`${url}/v1/invitations`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as {id?: string; error?: {status: string}};
  return {
    status: res.status,
    json,
    ms: performance.now() - t,
    retryAfter: res.headers.get('retry-after'),
  };
}

/** Spawn → first 200 to a create: the cold start a new instance's first caller pays. */
async function coldStart(standInUrl: string): Promise<number> {
  const fn = startFunction(standInUrl);
  const body = newPair('cold');
  try {
    for (;;) {
      try {
        const r = await post(fn.url, body);
        if (r.status === 200) return performance.now() - fn.spawnedAt;
      } catch {
        // not listening yet
      }
      await sleep(5);
    }
  } finally {
    await stopFunction(fn);
  }
}

/** The floor: a bare process that imports the runtime dependencies and reads one Firestore document. */
async function bareBaseline(): Promise<number> {
  const script = `
    require('@google-cloud/functions-framework');
    require('@googleapis/classroom');
    require('zod');
    const { Firestore } = require('@google-cloud/firestore');
    new Firestore({ projectId: ${JSON.stringify(PROJECT)} }).collection('bench').doc('baseline').get().then(() => process.exit(0));`;
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST ?? '',
      METADATA_SERVER_DETECTION: 'none',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await new Promise(r => child.once('exit', r));
  return performance.now() - started;
}

const waitHealthy = (fn: Fn) => waitForHealth(fn, 30_000);

async function main(): Promise<void> {
  if (!process.env.FIRESTORE_EMULATOR_HOST)
    throw new Error(
      'run through `npm run bench` (it starts the Firestore emulator)',
    );
  noMetadataServerWithEmulators();
  if (termStartOnly) return report([], {}, {termStart: await termStart()});
  if (asyncOnly) return report([], {}, {asyncIntake: await asyncIntake()});
  if (sizingOnly) return report([], {}, {sizing: await sizing()});
  const standIn = new ClassroomStandIn();
  const standInUrl = await standIn.start();
  const db = new Firestore({projectId: PROJECT});
  const results: Record<string, number | string> = {};

  // One Firestore document read, warm, sequential: the unit most figures are stated in.
  await db.collection('bench').doc('read').set({x: 1});
  const reads: number[] = [];
  for (let i = 0; i < (quick ? 50 : 300); i++) {
    const t = performance.now();
    await db.collection('bench').doc('read').get();
    reads.push(performance.now() - t);
  }
  const readP50 = median(reads);
  results.firestoreReadP50Ms = readP50;

  // Cold start against its floor, alternating so that drift hits both alike.
  const colds: number[] = [];
  const bares: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    bares.push(await bareBaseline());
    colds.push(await coldStart(standInUrl));
  }
  results.coldStartMs = median(colds);
  results.bareImportAndReadMs = median(bares);
  results.coldStartRatio = median(colds) / median(bares);

  const main = startFunction(standInUrl);
  await waitHealthy(main);
  for (let i = 0; i < 20; i++) await post(main.url, newPair('warm'));

  // New invitations, sequential: the gateway's overhead over calling Classroom (the stand-in) directly.
  const direct: number[] = [];
  const viaGateway: number[] = [];
  for (let i = 0; i < (quick ? 40 : 200); i++) {
    const d = newPair('direct');
    let t = performance.now();
    await (
      await fetch(`${standInUrl}v1/invitations`, {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(d),
      })
    ).json();
    direct.push(performance.now() - t);
    t = performance.now();
    const r = await post(main.url, newPair('new'));
    if (r.status !== 200)
      throw new Error(`new invitation answered ${r.status}`);
    viaGateway.push(r.ms);
  }
  results.newInvitationP50Ms = median(viaGateway);
  results.classroomDirectP50Ms = median(direct);
  results.newInvitationOverheadP50Ms = median(viaGateway) - median(direct);
  results.newInvitationOverheadRatio =
    (median(viaGateway) - median(direct)) / readP50;

  // Repeats answered from the ledger, one connection (latency, not throughput), with autocannon.
  const repeated = newPair('repeat');
  await post(main.url, repeated);
  const ac = await autocannon({
    url: `${main.url}/v1/invitations`,
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(repeated),
    connections: 1,
    duration: quick ? 3 : 10,
  });
  if (ac.non2xx > 0) throw new Error(`repeats answered ${ac.non2xx} non-2xx`);
  results.repeatP50Ms = ac.latency.p50;
  results.repeatP99Ms = ac.latency.p99;
  results.repeatP50Ratio = ac.latency.p50 / readP50;
  results.repeatP99Ratio = ac.latency.p99 / readP50;

  // A burst of 60 identical requests over 3 instances, against one lone new request in the same run.
  const others = [startFunction(standInUrl), startFunction(standInUrl)];
  await Promise.all(others.map(waitHealthy));
  for (const o of others) await post(o.url, newPair('warm'));
  const instances = [main, ...others];
  const lone: number[] = [];
  for (let i = 0; i < 5; i++)
    lone.push((await post(main.url, newPair('lone'))).ms);
  // The floor of any burst on this machine: 60 concurrent requests that touch nothing (GET /healthz).
  const floors: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await Promise.all(
      Array.from({length: 60}, (_, k) =>
        fetch(`${instances[k % 3]!.url}/healthz`).then(r => r.text()),
      ),
    );
    floors.push(performance.now() - t0);
  }
  results.burstHttpFloorMs = median(floors);
  const burstBody = newPair('burst');
  const createsBefore = standIn.calls.create;
  let t = performance.now();
  const burst = await Promise.all(
    Array.from({length: 60}, (_, i) =>
      postSettled(instances[i % 3]!.url, burstBody, 20),
    ),
  );
  results.burstSettleMs = performance.now() - t;
  results.burstClassroomCalls = standIn.calls.create - createsBefore;
  results.burstDistinctInvitations = new Set(burst.map(b => b.body.id)).size;
  results.burstAll200 = burst.every(b => b.status === 200) ? 'yes' : 'no';
  results.loneNewRequestMs = median(lone);
  results.burstSettleRatio = (results.burstSettleMs as number) / median(lone);
  await Promise.all(others.map(stopFunction));

  // SIS re-sync: 2,000 requests over 200 pairs, 32 in flight, on one instance.
  const pairs = Array.from({length: 200}, () => newPair('resync'));
  const order = Array.from({length: 2000}, (_, i) => pairs[i % 200]!);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const resyncBefore = standIn.calls.create;
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  t = performance.now();
  await Promise.all(
    Array.from({length: 32}, async () => {
      while (next < order.length) {
        const body = order[next++]!;
        const started = performance.now();
        const r = await postSettled(main.url, body, 20);
        lat.push(performance.now() - started);
        if (r.status !== 200) failures++;
      }
    }),
  );
  const resyncMs = performance.now() - t;
  results.resyncRequestsPerSecond = 2000 / (resyncMs / 1000);
  results.resyncP50Ms = median(lat);
  results.resyncP99Ms = quantile(lat, 0.99);
  results.resyncClassroomCalls = standIn.calls.create - resyncBefore;
  results.resyncUniquePairs = 200;
  results.resyncFailures = failures;

  results.peakRssMiB = peakRssMiB(main.child.pid);
  await stopFunction(main);
  await standIn.stop();
  await db.terminate();

  const round = (v: number | string, d = 1) =>
    typeof v === 'number' ? v.toFixed(d) : v;
  const rows: [string, string, string, string][] = [
    [
      'one Firestore document read (p50)',
      `${round(readP50)} ms`,
      '',
      'the unit',
    ],
    [
      'cold start: spawn → first create',
      `${round(results.coldStartMs)} ms`,
      `${round(results.coldStartRatio, 2)}× bare import + 1 read (${round(results.bareImportAndReadMs)} ms)`,
      '≤ 1.3×',
    ],
    [
      'repeat from the ledger, p50',
      `${round(results.repeatP50Ms)} ms`,
      `${round(results.repeatP50Ratio, 2)}× one read`,
      '≤ 2×',
    ],
    [
      'repeat from the ledger, p99',
      `${round(results.repeatP99Ms)} ms`,
      `${round(results.repeatP99Ratio, 2)}× one read`,
      '',
    ],
    [
      'new invitation overhead, p50',
      `${round(results.newInvitationOverheadP50Ms)} ms`,
      `${round(results.newInvitationOverheadRatio, 2)}× one read (gateway ${round(results.newInvitationP50Ms)} ms, direct ${round(results.classroomDirectP50Ms)} ms)`,
      '≤ 2×',
    ],
    [
      'burst: 60 identical over 3 instances',
      `${round(results.burstSettleMs, 0)} ms`,
      `${round(results.burstSettleRatio, 2)}× a lone new request (${round(results.loneNewRequestMs)} ms); Classroom calls ${results.burstClassroomCalls}`,
      'calls = 1; ≤ 6×',
    ],
    [
      'burst floor: 60 × GET /healthz over 3 instances',
      `${round(results.burstHttpFloorMs, 0)} ms`,
      `${round((results.burstSettleMs as number) / (results.burstHttpFloorMs as number), 2)}× → the burst's own cost over bare HTTP`,
      '',
    ],
    [
      're-sync: 2,000 requests / 200 pairs, 32 in flight',
      `${round(results.resyncRequestsPerSecond, 0)} req/s`,
      `p99 ${round(results.resyncP99Ms)} ms; Classroom calls ${results.resyncClassroomCalls}`,
      'calls = 200',
    ],
    [
      'peak RSS of the function process (after the re-sync, 32 in flight)',
      `${round(results.peakRssMiB)} MiB`,
      `${round((100 * (results.peakRssMiB as number)) / SIZING.http.memoryMiB, 0)} % of the deploy's ${SIZING.http.memoryMiB} MiB`,
      `≤ ${100 * RSS_TARGET_SHARE} %`,
    ],
  ];
  const broken =
    results.burstClassroomCalls !== 1 ||
    results.resyncClassroomCalls !== 200 ||
    results.burstDistinctInvitations !== 1 ||
    failures > 0;
  report(
    rows,
    results,
    {
      termStart: await termStart(),
      asyncIntake: await asyncIntake(),
      sizing: await sizing(),
    },
    broken,
  );
}

/** Prints the table and writes bench/results/latest.json; exits non-zero when a correctness check failed. */
function report(
  rows: [string, string, string, string][],
  results: Record<string, number | string>,
  scenarios: {
    termStart?: TermStartResult;
    asyncIntake?: AsyncResult;
    sizing?: SizingResult;
  },
  broken = false,
): void {
  const {termStart, asyncIntake, sizing} = scenarios;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`\nMachine: ${machine}\n`);
  console.log(
    '| measure | figure | ratio | target |\n| --- | --- | --- | --- |',
  );
  for (const r of [
    ...rows,
    ...(termStart?.rows ?? []),
    ...(asyncIntake?.rows ?? []),
    ...(sizing?.rows ?? []),
  ])
    console.log(`| ${r.join(' | ')} |`);
  const out = join(ROOT, 'bench/results');
  mkdirSync(out, {recursive: true});
  writeFileSync(
    join(out, 'latest.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine,
        ...results,
        ...(termStart ? {termStart: termStart.figures} : {}),
        ...(asyncIntake ? {async: asyncIntake.figures} : {}),
        ...(sizing ? {sizing: sizing.figures} : {}),
      },
      null,
      2,
    ) + '\n',
  );
  console.log('\nFigures written to bench/results/latest.json');
  if (broken || termStart?.broken || asyncIntake?.broken || sizing?.broken) {
    console.error(
      'CORRECTNESS FAILURE: Classroom calls or answers are not what the ledger guarantees',
    );
    process.exitCode = 1;
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
