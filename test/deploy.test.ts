// `npm run deploy`: the built CLI against sample deploy.env files, with fake `gcloud` and `firebase` on PATH that
// record every call (and can fail one). A dry run prints a bash script and calls nothing; that script, run by
// bash, makes exactly the calls the deploy itself makes; a bad deploy.env stops everything before the first command.
import {spawn, spawnSync} from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {delimiter, join, resolve} from 'node:path';
import {deploySettingList} from '../tools/deploy-settings';
import {withDeployTable} from '../tools/deploy-table';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'lib/tools/deploy.js');
const FIXTURE = join(ROOT, 'test/fixtures/deploy.env');
const PROJECT = 'district-gateway-test';
const SA = `invitation-gateway@${PROJECT}.iam.gserviceaccount.com`;
const TRIGGER_SA = `invitation-gateway-trigger@${PROJECT}.iam.gserviceaccount.com`;
const PUBSUB_AGENT =
  'serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com';

/** One recorded call: the command, its arguments (files under the deploy's directory as <DIR>/name), and those files. */
interface Call {
  argv: string[];
  files: Record<string, string>;
}

// The fake answers the questions the deploy asks (project number, trigger, subscription) as gcloud would.
const FAKE = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const argv = [path.basename(process.argv[1]), ...process.argv.slice(2)];
const files = {};
const shown = argv.map(a => {
  const m = /^(--env-vars-file=|--config=)(.*)\\/([^/]+)$/.exec(a);
  if (!m) return a;
  for (const f of fs.readdirSync(m[2])) files[f] = fs.readFileSync(path.join(m[2], f), 'utf8');
  return m[1] + '<DIR>/' + m[3];
});
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({argv: shown, files}) + '\\n');
const line = argv.join(' ');
if (process.env.FAKE_FAIL && line.includes(process.env.FAKE_FAIL)) {
  process.stderr.write('fake: refused\\n');
  process.exit(7);
}
const has = s => argv.some(a => a.includes(s));
if (process.env.FAKE_MISSING && has('describe') && !has('--format=')) process.exit(1);
if (has('value(projectNumber)')) process.stdout.write(process.env.FAKE_EMPTY ? '\\n' : '123456789\\n');
if (has('eventTrigger.trigger')) process.stdout.write(has('invitationsWorker') ? 'invitationsworker-017712\\n' : 'invitationsdeadletter-017713\\n');
if (has('transport.pubsub.subscription')) process.stdout.write('eventarc-europe-west1-' + argv[4] + '-sub-001\\n');
`;

let bin: string;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'deploy-test-'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  for (const name of ['gcloud', 'firebase']) {
    writeFileSync(join(bin, name), FAKE);
    chmodSync(join(bin, name), 0o755);
  }
});
afterAll(() => rmSync(work, {recursive: true, force: true}));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  calls: Call[];
}

let runs = 0;
/** The CLI (or any command) with the fakes first on PATH; `env` adds FAKE_* controls. */
function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  const log = join(work, `calls-${++runs}.jsonl`);
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: {
        PATH: [bin, process.env.PATH ?? ''].join(delimiter),
        HOME: work,
        FAKE_LOG: log,
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', code =>
      done({
        code,
        stdout,
        stderr,
        calls: existsSync(log)
          ? readFileSync(log, 'utf8')
              .trim()
              .split('\n')
              .map(l => JSON.parse(l) as Call)
          : [],
      }),
    );
  });
}

const deploy = (args: string[], env?: Record<string, string>) =>
  run(process.execPath, [CLI, ...args], env);

function envFile(text: string): string {
  const path = join(work, `deploy-${++runs}.env`);
  writeFileSync(path, text);
  return path;
}

/** A call as its command words: everything before the first flag. */
const head = (c: Call) =>
  c.argv
    .slice(
      0,
      c.argv.findIndex(a => a.startsWith('-')),
    )
    .join(' ');
const find = (calls: Call[], words: string) => {
  const found = calls.filter(c => head(c) === words);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('npm run deploy -- --dry-run', () => {
  let dry: Result;
  beforeAll(async () => {
    dry = await deploy(['--dry-run', `--settings=${FIXTURE}`]);
  });

  it('prints a bash script and calls neither gcloud nor firebase', () => {
    expect(dry.code).toBe(0);
    expect(dry.stderr).toBe('');
    expect(dry.calls).toEqual([]);
    const syntax = spawnSync('bash', ['-n'], {input: dry.stdout});
    expect(syntax.status).toBe(0);
    expect(dry.stdout).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(dry.stdout).toContain('set -euo pipefail');
    expect(dry.stdout).toContain(`cd ${ROOT}`);
  });

  it("writes the gateway's settings as an env-vars file: lists intact, no secret value, the heap flag", () => {
    expect(dry.stdout).toContain(
      [
        'cat > "${DEPLOY_DIR}/invitations.env.yaml" <<\'EOF\'',
        `GOOGLE_CLOUD_PROJECT: "${PROJECT}"`,
        'CLASSROOM_SUBJECTS: "admin1@district.example admin2@district.example"',
        'ALLOWED_EMAIL_DOMAINS: "district.example"',
        'WEBHOOK_INLINE_MAX: "50"',
        `CALLER_AUDIENCE: "https://europe-west1-${PROJECT}.cloudfunctions.net/invitations"`,
        `ALLOWED_CALLERS: "sis-sync@${PROJECT}.iam.gserviceaccount.com, roster-tool@${PROJECT}.iam.gserviceaccount.com"`,
        'NODE_OPTIONS: "--max-old-space-size=640"',
        'EOF',
      ].join('\n'),
    );
    expect(dry.stdout).not.toContain('whsec_');
    expect(dry.stdout).toContain(
      '--set-secrets=WEBHOOK_SECRETS=sis-webhook-secret:latest',
    );
  });

  it('names the runtime nodejs24 for each of the three functions', () => {
    expect(dry.stdout.match(/--runtime=nodejs24/g)).toHaveLength(3);
    expect(dry.stdout).not.toMatch(/nodejs(20|22)/);
  });
});

describe('the printed script and the deploy make the same calls', () => {
  let script: Result;
  let real: Result;
  beforeAll(async () => {
    const printed = await deploy(['--dry-run', `--settings=${FIXTURE}`]);
    const file = join(work, 'printed.sh');
    writeFileSync(file, printed.stdout);
    // FAKE_MISSING: nothing exists yet, so each describe fails and its create runs.
    script = await run('bash', [file], {FAKE_MISSING: '1'});
    real = await deploy([`--settings=${FIXTURE}`], {FAKE_MISSING: '1'});
  }, 60_000);

  it('both finish, with the same calls in the same order', () => {
    expect(script.code).toBe(0);
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('deploy: done');
    expect(script.calls).toEqual(real.calls);
  });

  it('deploys everything, in order', () => {
    expect(real.calls.map(head)).toEqual([
      'gcloud services enable cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com eventarc.googleapis.com pubsub.googleapis.com firestore.googleapis.com firebaserules.googleapis.com classroom.googleapis.com iam.googleapis.com iamcredentials.googleapis.com cloudresourcemanager.googleapis.com secretmanager.googleapis.com',
      'gcloud firestore databases describe',
      'gcloud firestore databases create',
      `gcloud iam service-accounts describe ${SA}`,
      'gcloud iam service-accounts create invitation-gateway',
      `gcloud iam service-accounts describe ${TRIGGER_SA}`,
      'gcloud iam service-accounts create invitation-gateway-trigger',
      'gcloud pubsub topics describe invitation-items',
      'gcloud pubsub topics create invitation-items',
      'gcloud pubsub topics describe invitation-items-dead-letter',
      'gcloud pubsub topics create invitation-items-dead-letter',
      `gcloud projects add-iam-policy-binding ${PROJECT}`,
      'gcloud pubsub topics add-iam-policy-binding invitation-items',
      `gcloud iam service-accounts add-iam-policy-binding ${SA}`,
      'gcloud secrets versions describe latest',
      'gcloud secrets add-iam-policy-binding sis-webhook-secret',
      'firebase deploy',
      'gcloud functions deploy invitations',
      'gcloud functions add-invoker-policy-binding invitations',
      'gcloud functions deploy invitationsWorker',
      'gcloud functions deploy invitationsDeadLetter',
      'gcloud functions add-invoker-policy-binding invitationsWorker',
      'gcloud functions add-invoker-policy-binding invitationsDeadLetter',
      `gcloud projects describe ${PROJECT}`,
      `gcloud iam service-accounts add-iam-policy-binding ${TRIGGER_SA}`,
      'gcloud pubsub topics add-iam-policy-binding invitation-items-dead-letter',
      'gcloud functions describe invitationsWorker',
      'gcloud eventarc triggers describe invitationsworker-017712',
      'gcloud pubsub subscriptions update eventarc-europe-west1-invitationsworker-017712-sub-001',
      'gcloud pubsub subscriptions add-iam-policy-binding eventarc-europe-west1-invitationsworker-017712-sub-001',
      'gcloud functions describe invitationsDeadLetter',
      'gcloud eventarc triggers describe invitationsdeadletter-017713',
      'gcloud pubsub subscriptions update eventarc-europe-west1-invitationsdeadletter-017713-sub-001',
      'gcloud functions describe invitations',
      `gcloud iam service-accounts describe ${SA}`,
    ]);
    // Every gcloud call names the project, whatever gcloud is configured with, and never prompts.
    for (const c of real.calls.filter(c => c.argv[0] === 'gcloud')) {
      expect(
        c.argv.some(a => a === `--project=${PROJECT}` || a === PROJECT),
      ).toBe(true);
      expect(c.argv).toContain('--quiet');
    }
  });

  it('grants each identity only its roles', () => {
    const grants = real.calls
      .filter(c =>
        c.argv.some(a => /^add-(iam|invoker)-policy-binding$/.test(a)),
      )
      .map(c => {
        const flag = (f: string) =>
          c.argv.find(a => a.startsWith(`--${f}=`))?.slice(f.length + 3);
        return `${head(c).replace(/^gcloud /, '')} ${flag('member')} ${flag('role') ?? 'roles/run.invoker'}`;
      });
    expect(grants).toEqual([
      `projects add-iam-policy-binding ${PROJECT} serviceAccount:${SA} roles/datastore.user`,
      `pubsub topics add-iam-policy-binding invitation-items serviceAccount:${SA} roles/pubsub.publisher`,
      `iam service-accounts add-iam-policy-binding ${SA} serviceAccount:${SA} roles/iam.serviceAccountTokenCreator`,
      `secrets add-iam-policy-binding sis-webhook-secret serviceAccount:${SA} roles/secretmanager.secretAccessor`,
      `functions add-invoker-policy-binding invitations serviceAccount:sis-sync@${PROJECT}.iam.gserviceaccount.com roles/run.invoker`,
      `functions add-invoker-policy-binding invitationsWorker serviceAccount:${TRIGGER_SA} roles/run.invoker`,
      `functions add-invoker-policy-binding invitationsDeadLetter serviceAccount:${TRIGGER_SA} roles/run.invoker`,
      `iam service-accounts add-iam-policy-binding ${TRIGGER_SA} ${PUBSUB_AGENT} roles/iam.serviceAccountTokenCreator`,
      `pubsub topics add-iam-policy-binding invitation-items-dead-letter ${PUBSUB_AGENT} roles/pubsub.publisher`,
      `pubsub subscriptions add-iam-policy-binding eventarc-europe-west1-invitationsworker-017712-sub-001 ${PUBSUB_AGENT} roles/pubsub.subscriber`,
    ]);
  });

  it('deploys the HTTP function public, sized, with its settings file and the secret as a reference', () => {
    const http = find(real.calls, 'gcloud functions deploy invitations');
    expect(http.argv).toEqual(
      expect.arrayContaining([
        '--gen2',
        '--runtime=nodejs24',
        '--region=europe-west1',
        '--source=.',
        '--entry-point=invitations',
        '--trigger-http',
        '--allow-unauthenticated',
        '--ingress-settings=all',
        `--service-account=${SA}`,
        '--memory=1Gi',
        '--cpu=1',
        '--concurrency=32',
        '--max-instances=10',
        '--min-instances=1',
        '--timeout=60s',
        '--env-vars-file=<DIR>/invitations.env.yaml',
        '--set-secrets=WEBHOOK_SECRETS=sis-webhook-secret:latest',
      ]),
    );
    expect(http.files['invitations.env.yaml']).toContain(
      'NODE_OPTIONS: "--max-old-space-size=640"',
    );
    expect(JSON.stringify(real.calls)).not.toContain('whsec_');
  });

  it('deploys the workers on their topics, private, retried, pushed as the trigger account', () => {
    for (const [target, topic] of [
      ['invitationsWorker', 'invitation-items'],
      ['invitationsDeadLetter', 'invitation-items-dead-letter'],
    ]) {
      const w = find(real.calls, `gcloud functions deploy ${target}`);
      expect(w.argv).toEqual(
        expect.arrayContaining([
          '--runtime=nodejs24',
          `--entry-point=${target}`,
          `--trigger-topic=${topic}`,
          `--trigger-service-account=${TRIGGER_SA}`,
          '--retry',
          '--ingress-settings=internal-only',
          '--memory=1Gi',
          '--cpu=1',
          '--concurrency=16',
          '--max-instances=5',
          '--min-instances=0',
          '--timeout=60s',
          '--env-vars-file=<DIR>/workers.env.yaml',
          '--clear-secrets',
        ]),
      );
      expect(w.argv).not.toContain('--allow-unauthenticated');
      // The workers' file: the same settings, with the workers' own heap flag (the default), not the HTTP one's.
      expect(w.files['workers.env.yaml']).toContain(
        'CLASSROOM_SUBJECTS: "admin1@district.example admin2@district.example"',
      );
      expect(w.files['workers.env.yaml']).toContain(
        'NODE_OPTIONS: "--max-old-space-size=768"',
      );
    }
  });

  it("gives the worker's subscription the retry policy, the ack deadline and the dead-letter topic", () => {
    const update = find(
      real.calls,
      'gcloud pubsub subscriptions update eventarc-europe-west1-invitationsworker-017712-sub-001',
    );
    expect(update.argv).toEqual(
      expect.arrayContaining([
        '--ack-deadline=60',
        '--min-retry-delay=10s',
        '--max-retry-delay=600s',
        `--dead-letter-topic=projects/${PROJECT}/topics/invitation-items-dead-letter`,
        '--max-delivery-attempts=100',
      ]),
    );
  });

  it('deploys the Firestore rules, the indexes and their TTL policies to the project', () => {
    expect(find(real.calls, 'firebase deploy').argv).toEqual([
      'firebase',
      'deploy',
      '--only=firestore:rules,firestore:indexes',
      `--project=${PROJECT}`,
      '--non-interactive',
    ]);
  });

  it('removes its files once done', () => {
    expect(real.stdout).toMatch(
      /--env-vars-file=(\S+)\/invitations\.env\.yaml/,
    );
    const dir = /--env-vars-file=(\S+)\/invitations\.env\.yaml/.exec(
      real.stdout,
    )![1]!;
    expect(existsSync(dir)).toBe(false);
  });
});

describe('npm run deploy, for real', () => {
  it('skips what exists on a second run', async () => {
    const again = await deploy([`--settings=${FIXTURE}`]);
    expect(again.code).toBe(0);
    expect(again.calls.map(head).filter(h => / create( |$)/.test(h))).toEqual(
      [],
    );
    expect(again.stdout).toContain(
      '= gcloud pubsub topics describe invitation-items --project=district-gateway-test --quiet (exists)',
    );
  });

  it('stops at the first command that fails, with its exit status, and names it', async () => {
    const r = await deploy([`--settings=${FIXTURE}`], {
      FAKE_FAIL: 'functions deploy invitationsWorker',
    });
    expect(r.code).toBe(7);
    expect(head(r.calls.at(-1)!)).toBe(
      'gcloud functions deploy invitationsWorker',
    );
    expect(r.calls.map(head)).not.toContain(
      'gcloud functions deploy invitationsDeadLetter',
    );
    expect(r.stderr).toContain('fake: refused');
    expect(r.stderr).toMatch(
      /deploy: stopped: exit status 7 from\n {2}gcloud functions deploy invitationsWorker --gen2 /,
    );
  });

  it('stops when a value it needs comes back empty', async () => {
    const r = await deploy([`--settings=${FIXTURE}`], {FAKE_EMPTY: '1'});
    expect(r.code).toBe(1);
    expect(head(r.calls.at(-1)!)).toBe(`gcloud projects describe ${PROJECT}`);
    expect(r.stderr).toContain(
      'deploy: stopped: no value for the project number',
    );
  });

  it('says so when gcloud is not installed', async () => {
    const r = await run(process.execPath, [CLI, `--settings=${FIXTURE}`], {
      PATH: join(work, 'nothing-here'),
    });
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('gcloud is not installed or not on PATH');
  });
});

const VALID = [
  'PROJECT=district-gateway-test',
  'REGION=us-central1',
  'INVOKERS=serviceAccount:sis@district-gateway-test.iam.gserviceaccount.com',
  'CLASSROOM_SUBJECT=classroom-admin@district.example',
].join('\n');
const PUBLIC = [
  VALID,
  'WEBHOOK_SECRET=sis-webhook-secret',
  'CALLER_AUDIENCE=https://us-central1-district-gateway-test.cloudfunctions.net/invitations',
  'ALLOWED_CALLERS=sis@district-gateway-test.iam.gserviceaccount.com',
].join('\n');

describe('a deploy.env that cannot work stops everything before the first command', () => {
  it.each([
    ['no PROJECT', 'REGION=us-central1', 'PROJECT is required'],
    [
      'an unknown key',
      `${VALID}\nMEMORY=2Gi`,
      ':5: MEMORY is neither a deployment setting (deploy.env.example) nor a gateway setting (docs/configuration.md)',
    ],
    [
      'a gateway setting the function would refuse',
      `${VALID}\nCLASSROOM_QPS=0`,
      'the gateway would refuse this configuration at startup: CLASSROOM_QPS must be an integer between 1 and 1000',
    ],
    [
      'half of the caller settings',
      `${VALID}\nCALLER_AUDIENCE=https://example.test/invitations`,
      'CALLER_AUDIENCE and ALLOWED_CALLERS must be set together',
    ],
    [
      'a secret value',
      `${VALID}\nWEBHOOK_SECRETS=whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==`,
      ':5: WEBHOOK_SECRETS holds secret values, which never go into deploy.env',
    ],
    [
      'webhooks (public) without the caller settings',
      `${VALID}\nWEBHOOK_SECRET=sis-webhook-secret`,
      'WEBHOOK_SECRET makes the function public',
    ],
    [
      'a worker timeout shorter than the request deadline',
      `${VALID}\nREQUEST_DEADLINE_MS=45000\nWORKER_TIMEOUT=50s`,
      'WORKER_TIMEOUT (50s) must be at least 55s',
    ],
    [
      'an HTTP timeout shorter than body time + deadline',
      `${VALID}\nHTTP_TIMEOUT=30`,
      'HTTP_TIMEOUT (30s) must be at least 40s',
    ],
    [
      'a heap flag as large as the memory',
      `${VALID}\nHTTP_MEMORY=1Gi\nHTTP_HEAP_MB=1024`,
      'HTTP_HEAP_MB (1024) must be at most 75% of HTTP_MEMORY',
    ],
    [
      'concurrency on a fraction of a CPU',
      `${VALID}\nWORKER_CPU=0.5\nWORKER_MEMORY=512Mi`,
      'WORKER_CONCURRENCY above 1 needs WORKER_CPU of at least 1',
    ],
    [
      'no admin to act as (Classroom would refuse every call)',
      VALID.replace(/^CLASSROOM_SUBJECTS?=.*$/m, ''),
      'set CLASSROOM_SUBJECT (or CLASSROOM_SUBJECTS)',
    ],
    [
      'a NOT_FOUND retry longer than the retry window',
      `${VALID}\nRETRY_NOT_FOUND_FOR=2d`,
      "RETRY_NOT_FOUND_FOR must be under the items' retry window",
    ],
    [
      'allUsers as an invoker',
      `${VALID.replace(/INVOKERS=.*/, 'INVOKERS=allUsers')}`,
      'INVOKERS: allUsers would make the function public',
    ],
    [
      'a flag where a project id goes',
      'PROJECT=--impersonate-service-account=x@y.iam.gserviceaccount.com\nREGION=us-central1',
      'PROJECT must be a Google Cloud project id',
    ],
    [
      'the local stand-in as Classroom',
      `${VALID}\nCLASSROOM_ROOT_URL=http://127.0.0.1:9090`,
      'CLASSROOM_ROOT_URL points at a local stand-in',
    ],
    [
      'a key set twice',
      `${VALID}\nREGION=europe-west1`,
      ':5: REGION is already set on line 2',
    ],
    [
      'a comment after a value',
      `${VALID}\nHTTP_MEMORY=2Gi # bigger`,
      ':5: HTTP_MEMORY: a comment after a value',
    ],
    ['an export line', `export ${VALID}`, ':1: no "export"'],
  ])('%s', async (_, text, message) => {
    const r = await deploy(['--dry-run', `--settings=${envFile(text)}`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual([]);
    expect(r.stderr).toMatch(/^deploy: nothing was run\.\n/);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('c2VjcmV0');
  });

  it('names every problem of the file at once', async () => {
    const r = await deploy([
      '--dry-run',
      `--settings=${envFile('REGION=moon\nFOO=1\nCLASSROOM_QPS=0')}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter(l => l.includes('.env'))).toHaveLength(
      4,
    );
  });

  it('and a missing deploy.env says how to make one', async () => {
    const r = await deploy([
      '--dry-run',
      `--settings=${join(work, 'none.env')}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'copy deploy.env.example to deploy.env and fill it in',
    );
  });
});

describe('what a deploy.env decides', () => {
  it('a private deployment: no public access, no secret, the callers of INVOKERS', async () => {
    const r = await deploy([`--settings=${envFile(VALID)}`]);
    expect(r.code).toBe(0);
    const http = find(r.calls, 'gcloud functions deploy invitations');
    expect(http.argv).toEqual(
      expect.arrayContaining(['--no-allow-unauthenticated', '--clear-secrets']),
    );
    // Nothing about a secret: no API, no check, no binding.
    expect(r.calls.map(head).join('\n')).not.toMatch(/secret/);
    expect(
      find(r.calls, 'gcloud functions add-invoker-policy-binding invitations')
        .argv,
    ).toContain(
      '--member=serviceAccount:sis@district-gateway-test.iam.gserviceaccount.com',
    );
    // Its admin is impersonated keylessly: Token Creator on itself.
    expect(r.calls.map(head)).toContain(
      `gcloud iam service-accounts add-iam-policy-binding ${SA}`,
    );
  });

  it('a value that looks like shell reaches the functions as text, and the printed script never runs it', async () => {
    const pwned = join(work, 'pwned');
    const audience = `https://x.test/$(touch ${pwned})'\`touch ${pwned}\`'`;
    const text = PUBLIC.replace(
      /CALLER_AUDIENCE=.*/,
      `CALLER_AUDIENCE="${audience}"`,
    );
    const printed = await deploy(['--dry-run', `--settings=${envFile(text)}`]);
    expect(printed.code).toBe(0);
    const file = join(work, 'hostile.sh');
    writeFileSync(file, printed.stdout);
    const script = await run('bash', [file]);
    const real = await deploy([`--settings=${envFile(text)}`]);
    for (const r of [script, real]) {
      expect(r.code).toBe(0);
      expect(
        find(r.calls, 'gcloud functions deploy invitations').files[
          'invitations.env.yaml'
        ],
      ).toContain(`CALLER_AUDIENCE: ${JSON.stringify(audience)}`);
    }
    expect(existsSync(pwned)).toBe(false);
  });

  it('a COLLECTION_PREFIX: indexes and TTL policies on the prefixed collections, operation_results as it is', async () => {
    const r = await deploy([
      `--settings=${envFile(`${PUBLIC}\nCOLLECTION_PREFIX=tenant1_`)}`,
    ]);
    expect(r.code).toBe(0);
    const fb = find(r.calls, 'firebase deploy');
    expect(fb.argv).toContain('--config=<DIR>/firebase.json');
    const indexes = JSON.parse(fb.files['firestore.indexes.json']!) as {
      indexes: Array<{collectionGroup: string}>;
      fieldOverrides: Array<{
        collectionGroup: string;
        fieldPath: string;
        ttl: boolean;
      }>;
    };
    expect(new Set(indexes.indexes.map(i => i.collectionGroup))).toEqual(
      new Set(['tenant1_audit']),
    );
    expect(
      indexes.fieldOverrides.filter(f => f.ttl).map(f => f.collectionGroup),
    ).toEqual([
      'tenant1_invitations',
      'tenant1_idempotency_keys',
      'tenant1_webhook_deliveries',
      'tenant1_audit',
      'tenant1_pacer_slots',
      'tenant1_operations',
      'operation_results',
    ]);
    expect(fb.files['firestore.rules']).toBe(
      readFileSync(join(ROOT, 'firestore.rules'), 'utf8'),
    );
    expect(JSON.parse(fb.files['firebase.json']!)).toEqual({
      firestore: {rules: 'firestore.rules', indexes: 'firestore.indexes.json'},
    });
  });
});

describe('deploy.env.example and docs/deployment.md', () => {
  const example = readFileSync(join(ROOT, 'deploy.env.example'), 'utf8');

  it('the example is a deployment that passes every check', async () => {
    const r = await deploy(['--dry-run', '--settings=deploy.env.example']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(deploySettingList().map(s => s.key))('the example shows %s', key => {
    expect(example).toMatch(new RegExp(`^(# )?${key}=`, 'm'));
  });

  it("the table of deploy.env's settings in docs/deployment.md is the one tools/deploy-settings.ts generates", () => {
    const doc = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
    if (withDeployTable(doc) !== doc)
      throw new Error(
        'docs/deployment.md differs from tools/deploy-settings.ts: run `npm run docs:config`',
      );
  });
});
