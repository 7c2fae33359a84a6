// The deployment as data: from validated settings, the files it needs and the ordered commands that make
// everything the gateway runs on (APIs, Firestore, service accounts and their roles, topics, the three functions,
// their triggers' retry and dead-letter policy). Pure: printed by --dry-run (tools/deploy-shell.ts) and run by
// tools/deploy-runner.ts from the same steps, so the printout is what runs.
import {z} from 'zod';
import {RESULTS_SUBCOLLECTION} from '../functions/operations/store';
import type {DeploySettings, Sizing} from './deploy-settings';
import {
  MAX_DELIVERY_ATTEMPTS,
  MAX_RETRY_DELAY_SECONDS,
  MIN_RETRY_DELAY_SECONDS,
} from './item-delivery';

/** A value known only while the deployment runs: a directory it made, or what an earlier command printed. */
export interface Ref {
  ref: string;
}
/** One argument: literal text, or text with values known only at run time. */
export type Word = string | ReadonlyArray<string | Ref>;

export type Step =
  /** Printed as comments: what the next commands make, and why. */
  | {kind: 'section'; title: string; notes: string[]}
  | {kind: 'run'; argv: Word[]}
  /** `check` quietly; `create` only when it fails (the thing is missing), so that a re-run succeeds. */
  | {kind: 'ensure'; check: Word[]; create: Word[]}
  /** What the command prints, trimmed, becomes `variable`; it must match `pattern`. */
  | {
      kind: 'capture';
      variable: string;
      argv: Word[];
      pattern: RegExp;
      what: string;
    };

export interface Plan {
  /** One line on what this deploys, for the printout. */
  title: string;
  /** Every command runs here: the repository (`--source=.`, firebase.json). */
  cwd: string;
  /** Written to a fresh private directory, `$DEPLOY_DIR`, before the first command. */
  files: Array<{name: string; content: string}>;
  steps: Step[];
}

export const FILES_DIR = 'DEPLOY_DIR';
export const RUNTIME = 'nodejs24';
/** The function targets of functions/index.ts. */
export const TARGETS = {
  http: 'invitations',
  worker: 'invitationsWorker',
  deadLetter: 'invitationsDeadLetter',
} as const;

/** Classroom's scope for invitations, as granted to the service account's client ID in the Admin console. */
const CLASSROOM_SCOPE = 'https://www.googleapis.com/auth/classroom.rosters';

const IndexesFile = z.looseObject({
  indexes: z.array(z.looseObject({collectionGroup: z.string()})).default([]),
  fieldOverrides: z
    .array(
      z.looseObject({
        collectionGroup: z.string(),
        fieldPath: z.string(),
        ttl: z.boolean().optional(),
      }),
    )
    .default([]),
});

export interface Sources {
  /** The repository: where commands run. */
  root: string;
  /** Where the settings came from, for the printout. */
  envFile: string;
  /** firestore.indexes.json and firestore.rules as they are in the repository. */
  indexes: string;
  rules: string;
}

/** A file of the plan, as an argument: its path under `$DEPLOY_DIR`. */
const inFiles = (flag: string, name: string): Word => [
  `${flag}=`,
  {ref: FILES_DIR},
  `/${name}`,
];

export function buildPlan(s: DeploySettings, src: Sources): Plan {
  const p = s.project;
  const gcloud = (...args: Word[]): Word[] => [
    'gcloud',
    ...args,
    `--project=${p}`,
    '--quiet',
  ];
  const regional = (...args: Word[]) => gcloud(...args, `--region=${s.region}`);
  const sa = (email: string) => `--member=serviceAccount:${email}`;
  const pubsubAgent: Word = [
    '--member=serviceAccount:service-',
    {ref: 'PROJECT_NUMBER'},
    '@gcp-sa-pubsub.iam.gserviceaccount.com',
  ];
  const subjects = s.config.classroomSubjects;
  const prefix = s.config.collectionPrefix;
  const firestore = firestoreFiles(src, prefix);
  const steps: Step[] = [];
  const section = (title: string, ...notes: string[]) =>
    steps.push({kind: 'section', title, notes});
  const run = (...argv: Word[]) => steps.push({kind: 'run', argv});

  section(
    'APIs',
    'Cloud Run functions build with Cloud Build into Artifact Registry and run on Cloud Run; Eventarc and Pub/Sub carry',
    "the items of operations; Firestore holds the ledger; IAM Credentials signs the delegation's JWT; Classroom is called.",
  );
  run(
    ...gcloud(
      'services',
      'enable',
      'cloudfunctions.googleapis.com',
      'run.googleapis.com',
      'cloudbuild.googleapis.com',
      'artifactregistry.googleapis.com',
      'eventarc.googleapis.com',
      'pubsub.googleapis.com',
      'firestore.googleapis.com',
      'firebaserules.googleapis.com',
      'classroom.googleapis.com',
      'iam.googleapis.com',
      'iamcredentials.googleapis.com',
      'cloudresourcemanager.googleapis.com',
      ...(s.webhookSecret ? ['secretmanager.googleapis.com'] : []),
    ),
  );

  section(
    'The Firestore database',
    `(default), in Native mode, created only when the project has none; its location (${s.firestoreLocation}) can never change.`,
  );
  steps.push({
    kind: 'ensure',
    check: gcloud('firestore', 'databases', 'describe', '--database=(default)'),
    create: gcloud(
      'firestore',
      'databases',
      'create',
      '--database=(default)',
      `--location=${s.firestoreLocation}`,
      '--type=firestore-native',
    ),
  });

  section(
    'Service accounts',
    `${s.serviceAccount}: the identity of all three functions.`,
    `${s.triggerServiceAccount}: the identity Eventarc pushes items as; it may only invoke the two worker targets.`,
  );
  for (const [id, email, name] of [
    [s.serviceAccountId, s.serviceAccount, 'Classroom invitation gateway'],
    [
      s.triggerServiceAccountId,
      s.triggerServiceAccount,
      'Classroom invitation gateway: Eventarc triggers',
    ],
  ] as const)
    steps.push({
      kind: 'ensure',
      check: gcloud('iam', 'service-accounts', 'describe', email),
      create: gcloud(
        'iam',
        'service-accounts',
        'create',
        id,
        `--display-name=${name}`,
      ),
    });

  section(
    'Pub/Sub topics',
    `${s.topic} carries the items of operations, ITEMS_PER_MESSAGE to a message (INVITATIONS_TOPIC); a message`,
    `that runs out of delivery attempts moves to ${s.deadLetterTopic}.`,
  );
  for (const topic of [s.topic, s.deadLetterTopic])
    steps.push({
      kind: 'ensure',
      check: gcloud('pubsub', 'topics', 'describe', topic),
      create: gcloud('pubsub', 'topics', 'create', topic),
    });

  section(
    "The gateway's roles",
    'Firestore reads and writes (the ledger, the audit, operations, the pacer); publishing items.',
    ...(subjects.length > 0
      ? [
          `Keyless domain-wide delegation as ${subjects.join(', ')}: the account has the IAM Credentials API sign its`,
          "delegation JWT (signJwt), which needs Token Creator on itself. The Admin console's grant is a manual step (below).",
        ]
      : [
          'No CLASSROOM_SUBJECT(S): Classroom is called as the service account itself, without delegation.',
        ]),
    ...(s.webhookSecret
      ? [
          `Reading the webhook secret ${s.webhookSecret.secret} (version ${s.webhookSecret.version}, which must exist).`,
        ]
      : []),
  );
  run(
    'gcloud',
    'projects',
    'add-iam-policy-binding',
    p,
    sa(s.serviceAccount),
    '--role=roles/datastore.user',
    '--condition=None',
    '--quiet',
  );
  run(
    ...gcloud(
      'pubsub',
      'topics',
      'add-iam-policy-binding',
      s.topic,
      sa(s.serviceAccount),
      '--role=roles/pubsub.publisher',
    ),
  );
  if (subjects.length > 0)
    run(
      ...gcloud(
        'iam',
        'service-accounts',
        'add-iam-policy-binding',
        s.serviceAccount,
        sa(s.serviceAccount),
        '--role=roles/iam.serviceAccountTokenCreator',
      ),
    );
  if (s.webhookSecret) {
    run(
      ...gcloud(
        'secrets',
        'versions',
        'describe',
        s.webhookSecret.version,
        `--secret=${s.webhookSecret.secret}`,
        '--format=value(name,state)',
      ),
    );
    run(
      ...gcloud(
        'secrets',
        'add-iam-policy-binding',
        s.webhookSecret.secret,
        sa(s.serviceAccount),
        '--role=roles/secretmanager.secretAccessor',
      ),
    );
  }

  section(
    'Firestore rules, indexes and TTL policies',
    'The rules deny every client (only the functions, with server credentials, touch the data); the indexes serve',
    `npm run audit; the TTL policies (the fieldOverrides of firestore.indexes.json${prefix ? `, with COLLECTION_PREFIX ${prefix}` : ''}) delete`,
    `expired documents: ${firestore.ttl.join(', ')}.`,
  );
  run(
    'firebase',
    'deploy',
    '--only=firestore:rules,firestore:indexes',
    `--project=${p}`,
    '--non-interactive',
    ...(firestore.config ? [inFiles('--config', 'firebase.json')] : []),
  );

  const env = envFiles(s);
  section(
    `${TARGETS.http}: the HTTP function`,
    ...(s.webhookSecret
      ? [
          'Public: webhook senders sign with Standard Webhooks and carry no Google token, so Cloud Run IAM lets every',
          'request through; the function verifies the others itself (CALLER_AUDIENCE + ALLOWED_CALLERS).',
        ]
      : [
          'Private: Cloud Run IAM lets only callers with roles/run.invoker through (INVOKERS, below); no webhooks.',
        ]),
  );
  run(
    ...regional(
      'functions',
      'deploy',
      TARGETS.http,
      ...functionFlags(s, TARGETS.http, s.http, s.http.minInstances),
      '--trigger-http',
      s.webhookSecret
        ? '--allow-unauthenticated'
        : '--no-allow-unauthenticated',
      '--ingress-settings=all',
      inFiles('--env-vars-file', env.http.name),
      s.webhookSecret
        ? `--set-secrets=WEBHOOK_SECRETS=${s.webhookSecret.secret}:${s.webhookSecret.version}`
        : '--clear-secrets',
    ),
  );
  if (s.invokers.length > 0) {
    section(`Who may call ${TARGETS.http} through Cloud Run IAM`);
    for (const member of s.invokers)
      run(
        ...regional(
          'functions',
          'add-invoker-policy-binding',
          TARGETS.http,
          `--member=${member}`,
        ),
      );
  } else if (!s.webhookSecret)
    section(
      `INVOKERS is empty: nobody may call ${TARGETS.http} yet (grant roles/run.invoker to the SIS's account).`,
    );

  section(
    `${TARGETS.worker} and ${TARGETS.deadLetter}: the workers`,
    `Eventarc Pub/Sub triggers on ${s.topic} and ${s.deadLetterTopic}, pushing as ${s.triggerServiceAccountId};`,
    'reachable only from inside the project. --retry: a failed item is redelivered, never dropped.',
  );
  for (const [target, topic, minInstances] of [
    [TARGETS.worker, s.topic, s.worker.minInstances],
    [TARGETS.deadLetter, s.deadLetterTopic, 0],
  ] as const)
    run(
      ...regional(
        'functions',
        'deploy',
        target,
        ...functionFlags(s, target, s.worker, minInstances),
        `--trigger-topic=${topic}`,
        `--trigger-service-account=${s.triggerServiceAccount}`,
        '--retry',
        '--ingress-settings=internal-only',
        inFiles('--env-vars-file', env.worker.name),
        '--clear-secrets',
      ),
    );
  for (const target of [TARGETS.worker, TARGETS.deadLetter])
    run(
      ...regional(
        'functions',
        'add-invoker-policy-binding',
        target,
        sa(s.triggerServiceAccount),
      ),
    );

  section(
    "Pub/Sub's service agent",
    'It mints the OIDC tokens of authenticated pushes as the trigger account (needed in projects older than April 2021),',
    "publishes dead letters to the dead-letter topic, and acknowledges them on the worker's subscription.",
  );
  steps.push({
    kind: 'capture',
    variable: 'PROJECT_NUMBER',
    argv: [
      'gcloud',
      'projects',
      'describe',
      p,
      '--format=value(projectNumber)',
      '--quiet',
    ],
    pattern: /^\d{1,20}$/,
    what: 'the project number',
  });
  run(
    ...gcloud(
      'iam',
      'service-accounts',
      'add-iam-policy-binding',
      s.triggerServiceAccount,
      pubsubAgent,
      '--role=roles/iam.serviceAccountTokenCreator',
    ),
  );
  run(
    ...gcloud(
      'pubsub',
      'topics',
      'add-iam-policy-binding',
      s.deadLetterTopic,
      pubsubAgent,
      '--role=roles/pubsub.publisher',
    ),
  );

  section(
    "The triggers' subscriptions",
    `Eventarc made them; re-applied on every deploy. Ack deadline = WORKER_TIMEOUT (${s.worker.timeoutSeconds}s): an item is not`,
    `redelivered while its worker still runs. Redelivery backoff ${MIN_RETRY_DELAY_SECONDS}–${MAX_RETRY_DELAY_SECONDS} s; after ${MAX_DELIVERY_ATTEMPTS} deliveries an item goes to ${s.deadLetterTopic},`,
    'whose target reports it failed.',
  );
  const subscriptionOf = (target: string, variable: string) => {
    steps.push({
      kind: 'capture',
      variable: `${variable}_TRIGGER`,
      argv: regional(
        'functions',
        'describe',
        target,
        '--format=value(eventTrigger.trigger.basename())',
      ),
      pattern: /^[a-z][a-z0-9_-]{0,127}$/,
      what: `the Eventarc trigger of ${target}`,
    });
    steps.push({
      kind: 'capture',
      variable: `${variable}_SUBSCRIPTION`,
      argv: gcloud(
        'eventarc',
        'triggers',
        'describe',
        [{ref: `${variable}_TRIGGER`}],
        `--location=${s.region}`,
        '--format=value(transport.pubsub.subscription.basename())',
      ),
      pattern: /^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/,
      what: `the Pub/Sub subscription of ${target}'s trigger`,
    });
    return [{ref: `${variable}_SUBSCRIPTION`}];
  };
  const retryFlags = [
    `--ack-deadline=${s.worker.timeoutSeconds}`,
    `--min-retry-delay=${MIN_RETRY_DELAY_SECONDS}s`,
    `--max-retry-delay=${MAX_RETRY_DELAY_SECONDS}s`,
  ];
  const workerSubscription = subscriptionOf(TARGETS.worker, 'WORKER');
  run(
    ...gcloud(
      'pubsub',
      'subscriptions',
      'update',
      workerSubscription,
      ...retryFlags,
      `--dead-letter-topic=projects/${p}/topics/${s.deadLetterTopic}`,
      `--max-delivery-attempts=${MAX_DELIVERY_ATTEMPTS}`,
    ),
  );
  run(
    ...gcloud(
      'pubsub',
      'subscriptions',
      'add-iam-policy-binding',
      workerSubscription,
      pubsubAgent,
      '--role=roles/pubsub.subscriber',
    ),
  );
  const deadLetterSubscription = subscriptionOf(
    TARGETS.deadLetter,
    'DEAD_LETTER',
  );
  run(
    ...gcloud(
      'pubsub',
      'subscriptions',
      'update',
      deadLetterSubscription,
      ...retryFlags,
    ),
  );

  section(
    `The URLs of ${TARGETS.http}`,
    'CALLER_AUDIENCE is the one callers request their ID tokens for.',
  );
  run(
    ...regional(
      'functions',
      'describe',
      TARGETS.http,
      '--format=value(url,serviceConfig.uri)',
    ),
  );
  if (subjects.length > 0) {
    section(
      "The service account's client ID, for domain-wide delegation",
      'Once, by hand, in the Google Admin console: Security > Access and data control > API controls > Manage',
      `domain-wide delegation > Add new: this client ID, scope ${CLASSROOM_SCOPE}.`,
    );
    run(
      ...gcloud(
        'iam',
        'service-accounts',
        'describe',
        s.serviceAccount,
        '--format=value(oauth2ClientId)',
      ),
    );
  }

  return {
    title: `the Classroom invitation gateway to project ${p}, region ${s.region}, from ${src.envFile}`,
    cwd: src.root,
    files: [
      env.http,
      ...(env.worker === env.http ? [] : [env.worker]),
      ...firestore.files,
    ],
    steps,
  };
}

/** What the three functions share: source, runtime, identity, sizing and the other flags that size them. */
function functionFlags(
  s: DeploySettings,
  target: string,
  z: Sizing,
  minInstances: number,
): Word[] {
  return [
    '--gen2',
    `--runtime=${RUNTIME}`,
    '--source=.',
    `--entry-point=${target}`,
    `--service-account=${s.serviceAccount}`,
    `--memory=${z.memory}`,
    `--cpu=${z.cpu}`,
    `--concurrency=${z.concurrency}`,
    `--max-instances=${z.maxInstances}`,
    `--min-instances=${minInstances}`,
    `--timeout=${z.timeoutSeconds}s`,
    ...(s.buildServiceAccount
      ? [
          `--build-service-account=projects/${s.project}/serviceAccounts/${s.buildServiceAccount}`,
        ]
      : []),
  ];
}

interface EnvFile {
  name: string;
  content: string;
}

/**
 * The functions' environment as `--env-vars-file` YAML: lists (ALLOWED_CALLERS, CLASSROOM_SUBJECTS) hold spaces and
 * commas that --set-env-vars would split. Each value is a JSON string, which YAML reads as the same string.
 * The file replaces the whole environment, so a line removed from deploy.env is removed from the functions.
 */
function envFiles(s: DeploySettings): {http: EnvFile; worker: EnvFile} {
  const file = (name: string, heapMib: number | undefined): EnvFile => {
    const vars: Array<[string, string]> = [
      ...s.gatewayEnv,
      ...(heapMib === undefined
        ? []
        : ([['NODE_OPTIONS', `--max-old-space-size=${heapMib}`]] as Array<
            [string, string]
          >)),
    ];
    return {
      name,
      content: vars.map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join(''),
    };
  };
  const http = file(`${TARGETS.http}.env.yaml`, s.http.heapMib);
  if (s.http.heapMib === s.worker.heapMib) return {http, worker: http};
  return {http, worker: file('workers.env.yaml', s.worker.heapMib)};
}

/**
 * The TTL policies to name, and, with a COLLECTION_PREFIX, a firebase.json of its own whose indexes and TTL policies
 * name the prefixed collections (the functions prefix their top-level collections; operation_results, a
 * subcollection, keeps its name).
 */
function firestoreFiles(
  src: Sources,
  prefix: string,
): {ttl: string[]; config: boolean; files: EnvFile[]} {
  const indexes = IndexesFile.parse(JSON.parse(src.indexes));
  const named = (group: string) =>
    group === RESULTS_SUBCOLLECTION ? group : `${prefix}${group}`;
  const ttl = indexes.fieldOverrides
    .filter(f => f.ttl === true)
    .map(f => `${named(f.collectionGroup)}.${f.fieldPath}`);
  if (prefix === '') return {ttl, config: false, files: []};
  const prefixed = {
    ...indexes,
    indexes: indexes.indexes.map(i => ({
      ...i,
      collectionGroup: named(i.collectionGroup),
    })),
    fieldOverrides: indexes.fieldOverrides.map(f => ({
      ...f,
      collectionGroup: named(f.collectionGroup),
    })),
  };
  return {
    ttl,
    config: true,
    files: [
      {
        name: 'firebase.json',
        content: `${JSON.stringify({firestore: {rules: 'firestore.rules', indexes: 'firestore.indexes.json'}}, null, 2)}\n`,
      },
      {
        name: 'firestore.indexes.json',
        content: `${JSON.stringify(prefixed, null, 2)}\n`,
      },
      {name: 'firestore.rules', content: src.rules},
    ],
  };
}
