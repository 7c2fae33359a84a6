// What deploy.env may say, and the checks a deployment must pass before a single command is printed or run: its
// own settings (project, region, service accounts, sizing …) and the gateway's, which go through the gateway's own
// parseConfig so that a configuration the function would refuse at startup never gets deployed.
import {z} from 'zod';
import {Config, ConfigError, parseConfig} from '../functions/config';
import {parsedSettings} from '../functions/config-settings';
import {DeployError, EnvEntry} from './deploy-env-file';
import {deadLetterTopicOf, retryWindowSeconds} from './item-delivery';

export interface DeploySettingDoc {
  key: string;
  /** As shown to users (markdown). */
  default: string;
  description: string;
}

/** The documentation of each deployment setting, kept beside its schema (as functions/config-settings.ts does). */
export const deploySettingDocs = z.registry<DeploySettingDoc>();

/**
 * Sizing defaults, from `npm run bench` (its sizing scenario, tools/bench-sizing.ts, measures at these very
 * values: keep the two together); the reasons are in docs/deployment.md#sizing. `worker` sizes `invitationsWorker`
 * and `invitationsDeadLetter` (the dead-letter target keeps no warm instance). `heapMib`: three quarters of the
 * memory, so that V8 collects before Cloud Run stops the instance for memory.
 */
export interface SizingDefaults {
  memory: string;
  cpu: string;
  concurrency: number;
  maxInstances: number;
  minInstances: number;
  timeoutSeconds: number;
  heapMib: number;
}

export const SIZING_DEFAULTS: Record<'http' | 'worker', SizingDefaults> = {
  http: {
    memory: '1Gi',
    cpu: '1',
    concurrency: 32,
    maxInstances: 10,
    minInstances: 1,
    timeoutSeconds: 60,
    heapMib: 768,
  },
  worker: {
    memory: '1Gi',
    cpu: '1',
    concurrency: 16,
    maxInstances: 5,
    minInstances: 0,
    timeoutSeconds: 60,
    heapMib: 768,
  },
};

/** Time a function keeps beyond its deadlines to write outcomes to Firestore and answer. */
export const TIMEOUT_MARGIN_SECONDS = 10;
/** Cloud Run functions allow an event-driven function at most 540 s. */
const EVENT_FUNCTION_MAX_TIMEOUT_SECONDS = 540;
/** The rest of an instance's memory holds Node's code, buffers and the young generation. */
const HEAP_SHARE_OF_MEMORY = 0.75;

const SERVICE_ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

type Field<T> = z.ZodType<T, string | undefined>;

function setting<T>(doc: DeploySettingDoc, schema: Field<T>): Field<T> {
  return schema.register(deploySettingDocs, doc);
}

/** A value matching a pattern; `def` when unset (undefined: required). */
function matching(
  key: string,
  pattern: RegExp,
  what: string,
  def?: string,
): Field<string> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v ?? def;
      if (value === undefined) {
        ctx.addIssue({code: 'custom', message: `${key} is required: ${what}`});
        return z.NEVER;
      }
      if (!pattern.test(value)) {
        ctx.addIssue({code: 'custom', message: `${key} must be ${what}`});
        return z.NEVER;
      }
      return value;
    });
}

function optionalMatching(
  key: string,
  pattern: RegExp,
  what: string,
): Field<string | undefined> {
  return z
    .string()
    .optional()
    .refine(v => v === undefined || pattern.test(v), `${key} must be ${what}`);
}

function integer(
  key: string,
  def: number,
  min: number,
  max: number,
): Field<number> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return def;
      const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
      if (!(n >= min && n <= max)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} must be an integer from ${min} to ${max}`,
        });
        return z.NEVER;
      }
      return n;
    });
}

interface Memory {
  text: string;
  mib: number;
}

function memory(key: string, def: string): Field<Memory> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v ?? def;
      const m = /^(\d{1,6})(Mi|Gi)$/.exec(text);
      const mib = m ? Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) : NaN;
      if (!(mib >= 128 && mib <= 32 * 1024)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} must be a size from 128Mi to 32Gi, in Mi or Gi (as 512Mi or 2Gi)`,
        });
        return z.NEVER;
      }
      return {text, mib};
    });
}

interface Cpu {
  text: string;
  count: number;
}

function cpu(key: string, def: string): Field<Cpu> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v ?? def;
      const count = /^(\d{1,2}(\.\d{1,3})?|\.\d{1,3})$/.test(text)
        ? Number(text)
        : NaN;
      if (!(count >= 0.08 && count <= 8)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} must be a number of vCPUs from 0.083 to 8 (as 1 or 2)`,
        });
        return z.NEVER;
      }
      return {text, count};
    });
}

function seconds(key: string, def: number, max: number): Field<number> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return def;
      const m = /^(\d{1,5})s?$/.exec(v);
      const n = m ? Number(m[1]) : NaN;
      if (!(n >= 1 && n <= max)) {
        ctx.addIssue({
          code: 'custom',
          message: `${key} must be a number of seconds from 1 to ${max} (as 60 or 60s)`,
        });
        return z.NEVER;
      }
      return n;
    });
}

/** The IAM members that may call `invitations` behind Cloud Run IAM. */
function members(key: string): Field<string[]> {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const items = (v ?? '').split(/[\s,]+/).filter(Boolean);
      for (const item of items) {
        const problem = refuseMember(item);
        if (problem !== undefined) {
          ctx.addIssue({code: 'custom', message: `${key}: ${problem}`});
          return z.NEVER;
        }
      }
      return items.map(i =>
        i.replace(/:(.*)$/, (_, id: string) => `:${id.toLowerCase()}`),
      );
    });
}

function refuseMember(m: string): string | undefined {
  if (m === 'allUsers' || m === 'allAuthenticatedUsers')
    return `${m} would make the function public: a public deployment comes with WEBHOOK_SECRET, and then the function verifies callers itself (CALLER_AUDIENCE, ALLOWED_CALLERS)`;
  if (
    /^(user|serviceAccount|group):[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(
      m,
    ) ||
    /^domain:[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(m)
  )
    return undefined;
  return `${JSON.stringify(m.slice(0, 80))} is not an IAM member (user:…, serviceAccount:…, group:… or domain:…)`;
}

const sizing = (target: 'HTTP' | 'WORKER', d: SizingDefaults) => {
  const what =
    target === 'HTTP'
      ? 'the `invitations` function'
      : '`invitationsWorker` and `invitationsDeadLetter`';
  const key = (k: string) => `${target}_${k}`;
  const shown = (v: string) => `\`${v}\``;
  return {
    memory: setting(
      {
        key: key('MEMORY'),
        default: shown(`${d.memory}`),
        description: `memory of each instance of ${what}, in \`Mi\` or \`Gi\``,
      },
      memory(key('MEMORY'), d.memory),
    ),
    cpu: setting(
      {
        key: key('CPU'),
        default: shown(`${d.cpu}`),
        description: `vCPUs of each instance of ${what}; at least 1 when concurrency is above 1`,
      },
      cpu(key('CPU'), d.cpu),
    ),
    concurrency: setting(
      {
        key: key('CONCURRENCY'),
        default: shown(`${d.concurrency}`),
        description: `${target === 'HTTP' ? 'requests' : 'Pub/Sub pushes (messages of `ITEMS_PER_MESSAGE` items)'} one instance of ${what} serves at once; 1–1000`,
      },
      integer(key('CONCURRENCY'), d.concurrency, 1, 1000),
    ),
    maxInstances: setting(
      {
        key: key('MAX_INSTANCES'),
        default: shown(`${d.maxInstances}`),
        description: `instances of ${what} at most; 1–1000`,
      },
      integer(key('MAX_INSTANCES'), d.maxInstances, 1, 1000),
    ),
    minInstances: setting(
      {
        key: key('MIN_INSTANCES'),
        default: shown(`${d.minInstances}`),
        description:
          target === 'HTTP'
            ? `instances of ${what} kept warm (billed while idle); 0–1000`
            : 'instances of `invitationsWorker` kept warm (billed while idle; `invitationsDeadLetter` keeps none); 0–1000',
      },
      integer(key('MIN_INSTANCES'), d.minInstances, 0, 1000),
    ),
    timeoutSeconds: setting(
      {
        key: key('TIMEOUT'),
        default: shown(`${d.timeoutSeconds}s`),
        description:
          target === 'HTTP'
            ? `time Cloud Run allows one request of ${what}; at least \`BODY_TIMEOUT_MS\` + \`REQUEST_DEADLINE_MS\` + ${TIMEOUT_MARGIN_SECONDS} s; up to 3600`
            : `time Cloud Run allows one item of ${what}, and the ack deadline of their subscriptions; at least \`REQUEST_DEADLINE_MS\` + ${TIMEOUT_MARGIN_SECONDS} s; up to ${EVENT_FUNCTION_MAX_TIMEOUT_SECONDS}`,
      },
      seconds(
        key('TIMEOUT'),
        d.timeoutSeconds,
        target === 'HTTP' ? 3600 : EVENT_FUNCTION_MAX_TIMEOUT_SECONDS,
      ),
    ),
    heapMib: setting(
      {
        key: key('HEAP_MB'),
        default: shown(`${d.heapMib}`),
        description: `V8 heap limit of ${what} in MiB (\`NODE_OPTIONS=--max-old-space-size\`); at most ${HEAP_SHARE_OF_MEMORY * 100}% of its memory; \`0\`: no flag, Node's own limit`,
      },
      // 0: no flag (Node's own limit).
      integer(key('HEAP_MB'), d.heapMib, 0, 32 * 1024).transform(n =>
        n === 0 ? undefined : n,
      ),
    ),
  };
};

const http = sizing('HTTP', SIZING_DEFAULTS.http);
const worker = sizing('WORKER', SIZING_DEFAULTS.worker);

/** Every key deploy.env may hold besides the gateway's own settings, in the order of the documentation. */
export const DEPLOY_SETTINGS = z.object({
  project: setting(
    {
      key: 'PROJECT',
      default: 'required',
      description:
        'the Google Cloud project to deploy to (its id); every command names it, whatever gcloud is configured with',
    },
    matching(
      'PROJECT',
      /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
      'a Google Cloud project id (6 to 30 lower-case letters, digits and -)',
    ),
  ),
  region: setting(
    {
      key: 'REGION',
      default: 'required',
      description:
        'the region of the three functions and of their Eventarc triggers (as `us-central1`)',
    },
    matching(
      'REGION',
      /^[a-z]+-[a-z]+[0-9]{1,2}$/,
      'a Cloud Run region (as us-central1 or europe-west1)',
    ),
  ),
  firestoreLocation: setting(
    {
      key: 'FIRESTORE_LOCATION',
      default: '`REGION`',
      description:
        'where the `(default)` Firestore database is created when the project has none (a region, or a multi-region as `nam5`); it can never be moved',
    },
    optionalMatching(
      'FIRESTORE_LOCATION',
      /^[a-z][a-z0-9-]{2,30}$/,
      'a Firestore location (as nam5, eur3 or us-central1)',
    ),
  ),
  serviceAccount: setting(
    {
      key: 'SERVICE_ACCOUNT',
      default: '`invitation-gateway`',
      description:
        'the account id the three functions run as (created when missing): Firestore, Pub/Sub publishing, the webhook secret and the Classroom delegation are granted to it',
    },
    matching(
      'SERVICE_ACCOUNT',
      SERVICE_ACCOUNT_ID,
      'a service account id (6 to 30 lower-case letters, digits and -, the part before @)',
      'invitation-gateway',
    ),
  ),
  triggerServiceAccount: setting(
    {
      key: 'TRIGGER_SERVICE_ACCOUNT',
      default: '`invitation-gateway-trigger`',
      description:
        'the account id Eventarc pushes items as (created when missing); it may only invoke the two worker targets',
    },
    matching(
      'TRIGGER_SERVICE_ACCOUNT',
      SERVICE_ACCOUNT_ID,
      'a service account id (6 to 30 lower-case letters, digits and -, the part before @)',
      'invitation-gateway-trigger',
    ),
  ),
  buildServiceAccount: setting(
    {
      key: 'BUILD_SERVICE_ACCOUNT',
      default: "unset (the project's default)",
      description:
        "the service account email Cloud Build builds the functions as, when the project's default one lacks the rights (see [Prerequisites](#prerequisites))",
    },
    optionalMatching(
      'BUILD_SERVICE_ACCOUNT',
      /^[a-z0-9-]{6,30}@[a-z0-9-]+(\.[a-z0-9-]+)*\.gserviceaccount\.com$/,
      'a service account email (…@….gserviceaccount.com)',
    ),
  ),
  webhookSecret: setting(
    {
      key: 'WEBHOOK_SECRET',
      default: 'unset (no webhooks)',
      description:
        'the Secret Manager secret holding `WEBHOOK_SECRETS` (its id, optionally `:version`; `latest` by default). Set: `/webhooks/sis` is served, so the function is public and `CALLER_AUDIENCE` + `ALLOWED_CALLERS` are required. The secret and its value are made by hand, never by the script',
    },
    optionalMatching(
      'WEBHOOK_SECRET',
      /^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}(:(latest|[1-9][0-9]{0,9}))?$/,
      'a Secret Manager secret id, optionally followed by :latest or :<version number>',
    ),
  ),
  invokers: setting(
    {
      key: 'INVOKERS',
      default: 'none',
      description:
        'IAM members given `roles/run.invoker` on `invitations` (as `serviceAccount:sis-sync@PROJECT.iam.gserviceaccount.com`), space- or comma-separated: the callers Cloud Run IAM lets through when the function is private',
    },
    members('INVOKERS'),
  ),
  httpMemory: http.memory,
  httpCpu: http.cpu,
  httpConcurrency: http.concurrency,
  httpMaxInstances: http.maxInstances,
  httpMinInstances: http.minInstances,
  httpTimeoutSeconds: http.timeoutSeconds,
  httpHeapMib: http.heapMib,
  workerMemory: worker.memory,
  workerCpu: worker.cpu,
  workerConcurrency: worker.concurrency,
  workerMaxInstances: worker.maxInstances,
  workerMinInstances: worker.minInstances,
  workerTimeoutSeconds: worker.timeoutSeconds,
  workerHeapMib: worker.heapMib,
});

/** The deployment settings with their documentation, in order. */
export function deploySettingList(): Array<DeploySettingDoc & {field: string}> {
  return Object.entries(DEPLOY_SETTINGS.shape).map(([field, schema]) => {
    const doc = deploySettingDocs.get(schema);
    if (doc === undefined)
      throw new Error(`${field}: a deployment setting without documentation`);
    return {...doc, field};
  });
}

export interface Sizing {
  memory: string;
  memoryMib: number;
  cpu: string;
  cpuCount: number;
  concurrency: number;
  maxInstances: number;
  minInstances: number;
  timeoutSeconds: number;
  heapMib: number | undefined;
}

export interface DeploySettings {
  project: string;
  region: string;
  firestoreLocation: string;
  /** Emails. */
  serviceAccount: string;
  triggerServiceAccount: string;
  serviceAccountId: string;
  triggerServiceAccountId: string;
  buildServiceAccount: string | undefined;
  webhookSecret: {secret: string; version: string} | undefined;
  invokers: string[];
  http: Sizing;
  worker: Sizing;
  /**
   * The gateway's environment as deployed: the settings deploy.env gives (never a secret value) and
   * GOOGLE_CLOUD_PROJECT, in the order of docs/configuration.md.
   */
  gatewayEnv: Array<[string, string]>;
  /** That environment as the function will parse it. */
  config: Config;
  topic: string;
  deadLetterTopic: string;
}

/** Variables of the gateway that deploy.env must not hold, and why. */
const NOT_IN_DEPLOY_ENV: Record<string, string> = {
  WEBHOOK_SECRETS:
    'holds secret values, which never go into deploy.env: keep them in Secret Manager and name the secret in WEBHOOK_SECRET',
  GOOGLE_CLOUD_PROJECT: 'is set from PROJECT',
  PORT: 'is set by Cloud Run',
  FIRESTORE_EMULATOR_HOST:
    'points at the local emulator: it has no place in a deployment',
};

/** Passes the gateway's check of WEBHOOK_SECRETS: the real value comes from Secret Manager at startup. */
const SECRET_STAND_IN = `whsec_${Buffer.alloc(24).toString('base64')}`;

/** Every problem of the file at once, or the settings of a deployment that can work. */
export function readDeploySettings(
  entries: Map<string, EnvEntry>,
  file: string,
): DeploySettings {
  const deployKeys = new Map(deploySettingList().map(s => [s.key, s.field]));
  const gatewayVariables = parsedSettings().map(s => s.variable);
  const deployInput: Record<string, string> = {};
  const gatewayInput = new Map<string, string>();
  const problems: string[] = [];
  for (const [key, {value, line}] of entries) {
    const field = deployKeys.get(key);
    if (field !== undefined) deployInput[field] = value;
    else if (NOT_IN_DEPLOY_ENV[key] !== undefined)
      problems.push(`${file}:${line}: ${key} ${NOT_IN_DEPLOY_ENV[key]}`);
    else if (gatewayVariables.includes(key)) gatewayInput.set(key, value);
    else
      problems.push(
        `${file}:${line}: ${key} is neither a deployment setting (deploy.env.example) nor a gateway setting (docs/configuration.md)`,
      );
  }
  // Every problem of the file at once: the deploy's own settings and the gateway's are checked apart.
  const parsed = DEPLOY_SETTINGS.safeParse(deployInput);
  if (!parsed.success)
    problems.push(...parsed.error.issues.map(i => `${file}: ${i.message}`));
  const [secret, version] = deployInput.webhookSecret?.split(':') ?? [];
  const gatewayEnv: Array<[string, string]> = [
    ['GOOGLE_CLOUD_PROJECT', deployInput.project ?? ''],
    ...gatewayVariables.flatMap((v): Array<[string, string]> => {
      const value = gatewayInput.get(v);
      return value === undefined ? [] : [[v, value]];
    }),
  ];
  let config: Config | undefined;
  try {
    config = parseConfig({
      ...Object.fromEntries(gatewayEnv),
      ...(secret !== undefined ? {WEBHOOK_SECRETS: SECRET_STAND_IN} : {}),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(
      `${file}: the gateway would refuse this configuration at startup: ${err.message}`,
    );
  }
  if (problems.length > 0 || !parsed.success || config === undefined)
    throw new DeployError(problems.join('\n'));
  const d = parsed.data;

  const size = (p: 'http' | 'worker'): Sizing => ({
    memory: d[`${p}Memory`].text,
    memoryMib: d[`${p}Memory`].mib,
    cpu: d[`${p}Cpu`].text,
    cpuCount: d[`${p}Cpu`].count,
    concurrency: d[`${p}Concurrency`],
    maxInstances: d[`${p}MaxInstances`],
    minInstances: d[`${p}MinInstances`],
    timeoutSeconds: d[`${p}TimeoutSeconds`],
    heapMib: d[`${p}HeapMib`],
  });
  const settings: DeploySettings = {
    project: d.project,
    region: d.region,
    firestoreLocation: d.firestoreLocation ?? d.region,
    serviceAccountId: d.serviceAccount,
    triggerServiceAccountId: d.triggerServiceAccount,
    serviceAccount: `${d.serviceAccount}@${d.project}.iam.gserviceaccount.com`,
    triggerServiceAccount: `${d.triggerServiceAccount}@${d.project}.iam.gserviceaccount.com`,
    buildServiceAccount: d.buildServiceAccount,
    webhookSecret:
      secret === undefined ? undefined : {secret, version: version ?? 'latest'},
    invokers: d.invokers,
    http: size('http'),
    worker: size('worker'),
    gatewayEnv,
    config,
    topic: config.invitationsTopic,
    deadLetterTopic: deadLetterTopicOf(config.invitationsTopic),
  };
  const across = acrossSettings(settings);
  if (across.length > 0)
    throw new DeployError(across.map(p => `${file}: ${p}`).join('\n'));
  return settings;
}

/** Rules between settings: each one names what to change. */
function acrossSettings(s: DeploySettings): string[] {
  const c = s.config;
  const problems: string[] = [];
  if (c.classroomSubjects.length === 0)
    problems.push(
      'set CLASSROOM_SUBJECT (or CLASSROOM_SUBJECTS): the Workspace admin the gateway acts as through domain-wide delegation. Without one it calls Classroom as its service account, which Classroom refuses, so every invitation would fail',
    );
  if (c.classroomIsLocal)
    problems.push(
      `CLASSROOM_ROOT_URL points at a local stand-in (${c.classroomRootUrl}): leave it unset to call Classroom`,
    );
  if (s.webhookSecret && c.callerAudience === undefined)
    problems.push(
      `WEBHOOK_SECRET makes the function public (webhook senders carry no Google token), so the function must verify every other caller itself: set CALLER_AUDIENCE (as https://${s.region}-${s.project}.cloudfunctions.net/invitations) and ALLOWED_CALLERS`,
    );
  const deadline = Math.ceil(c.requestDeadlineMs / 1000);
  const httpFloor =
    Math.ceil((c.bodyTimeoutMs + c.requestDeadlineMs) / 1000) +
    TIMEOUT_MARGIN_SECONDS;
  if (s.http.timeoutSeconds < httpFloor)
    problems.push(
      `HTTP_TIMEOUT (${s.http.timeoutSeconds}s) must be at least ${httpFloor}s: BODY_TIMEOUT_MS + REQUEST_DEADLINE_MS + ${TIMEOUT_MARGIN_SECONDS}s, or Cloud Run cuts requests off before the gateway answers them`,
    );
  const workerFloor = deadline + TIMEOUT_MARGIN_SECONDS;
  if (s.worker.timeoutSeconds < workerFloor)
    problems.push(
      `WORKER_TIMEOUT (${s.worker.timeoutSeconds}s) must be at least ${workerFloor}s: REQUEST_DEADLINE_MS + ${TIMEOUT_MARGIN_SECONDS}s, or items are cut off (and redelivered) while they wait for quota`,
    );
  const window = retryWindowSeconds();
  if (c.leaseMs / 1000 >= window)
    problems.push(
      `LEASE_SECONDS (${c.leaseMs / 1000}) must be under the items' retry window (about ${Math.round(window / 60)} minutes), so that an item whose worker died is taken over before it is dead-lettered`,
    );
  if (c.retryNotFoundForMs / 1000 >= window)
    problems.push(
      `RETRY_NOT_FOUND_FOR must be under the items' retry window (about ${Math.round(window / 60)} minutes): an item is dead-lettered after that, whatever it says`,
    );
  if (s.deadLetterTopic.length > 255)
    problems.push(
      'INVITATIONS_TOPIC is too long for its dead-letter topic (the topic id plus "-dead-letter", 255 characters at most)',
    );
  for (const [name, z] of [
    ['HTTP', s.http],
    ['WORKER', s.worker],
  ] as const) {
    if (z.concurrency > 1 && z.cpuCount < 1)
      problems.push(
        `${name}_CONCURRENCY above 1 needs ${name}_CPU of at least 1 (Cloud Run's rule)`,
      );
    if (z.cpuCount >= 1 && z.memoryMib > 4096 * z.cpuCount)
      problems.push(
        `${name}_MEMORY (${z.memory}) needs more vCPUs: Cloud Run allows at most 4Gi per vCPU`,
      );
    if (z.minInstances > z.maxInstances)
      problems.push(
        `${name}_MIN_INSTANCES (${z.minInstances}) is above ${name}_MAX_INSTANCES (${z.maxInstances})`,
      );
    if (
      z.heapMib !== undefined &&
      z.heapMib > z.memoryMib * HEAP_SHARE_OF_MEMORY
    )
      problems.push(
        `${name}_HEAP_MB (${z.heapMib}) must be at most ${HEAP_SHARE_OF_MEMORY * 100}% of ${name}_MEMORY (${Math.floor(z.memoryMib * HEAP_SHARE_OF_MEMORY)} MiB of ${z.memory}): the rest holds code, buffers and the young generation`,
      );
  }
  return problems;
}
