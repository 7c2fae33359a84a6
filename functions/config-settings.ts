// Every environment setting, once: its variable, validator, default and description, keyed by where it lands in
// `Config`. parseConfig (functions/config.ts) and the table in docs/configuration.md (npm run docs:config) both come from here.
import {z} from 'zod';
import {DEFAULT_BODY_TIMEOUT_MS} from './http/body-limits';
import {
  apiRoot,
  duration,
  flag,
  integer,
  list,
  matching,
  oneOf,
  Parser,
  refuseCaller,
  refuseSecret,
  refuseSubject,
  text,
} from './config-parsers';
import {DEFAULT_RETRY_POLICY} from './retry';

export interface SettingDoc {
  variable: string;
  /** As shown to users (markdown). */
  default: string;
  /** One line of markdown; it names the unit of anything measured. */
  description: string;
  /** parseConfig reads it into `Config`; `platform`: read by the runtime or a client library, documented here. */
  readBy: 'parseConfig' | 'platform';
}

/** The documentation of each schema in SETTINGS (zod keeps it beside the schema, so nothing is listed twice). */
export const settingDocs = z.registry<SettingDoc>();

/** One entry of the registry: the variable, how it parses, its default as shown (when the parser does not know it). */
function setting<T>(s: {
  variable: string;
  parse: Parser<T>;
  default?: string;
  description: string;
}): z.ZodType<T, string | undefined> {
  const shown = s.default ?? s.parse.default;
  if (shown === undefined)
    throw new Error(`${s.variable}: the registry shows no default`);
  const description =
    s.parse.accepts === undefined
      ? s.description
      : `${s.description}; ${s.parse.accepts}`;
  return s.parse.schema(s.variable).register(settingDocs, {
    variable: s.variable,
    default: shown,
    description,
    readBy: 'parseConfig',
  });
}

/** Keyed by the field of `Config` each lands in (`group.field` inside a group); in the order of the table. */
export const SETTINGS = z.object({
  projectId: setting({
    variable: 'GOOGLE_CLOUD_PROJECT',
    parse: text,
    default: 'discovered',
    description: 'project of the Firestore database',
  }),
  classroomRootUrl: setting({
    variable: 'CLASSROOM_ROOT_URL',
    parse: apiRoot('https://classroom.googleapis.com/'),
    description:
      'Classroom API root. An `http://` loopback URL (the stand-in) gets no credentials; any other must be `https`. Only the origin counts: the client always calls `/v1/…` at the root.',
  }),
  classroomSubject: setting({
    variable: 'CLASSROOM_SUBJECT',
    parse: text,
    default: 'unset',
    description:
      'the Workspace user the service account impersonates through domain-wide delegation (see [Pointing at the real Classroom API](deployment.md#pointing-at-the-real-classroom-api))',
  }),
  classroomSubjects: setting({
    variable: 'CLASSROOM_SUBJECTS',
    parse: list(s => s.toLowerCase(), refuseSubject),
    default: 'unset',
    description:
      "several admins to impersonate, separated by spaces: each has its own Classroom quota (20 queries per second), so the pool multiplies the rate up to the project's limit. Each call goes to an admin with quota left, and the audit records which. Set this or `CLASSROOM_SUBJECT`, not both",
  }),
  'pacer.subjectQps': setting({
    variable: 'CLASSROOM_QPS',
    parse: integer(19, 1, 1000, 'count'),
    description:
      'Classroom calls per second per impersonated admin, summed over every instance (Classroom allows 20: the default keeps a margin). The pacer coordinates instances through Firestore and halves the rate for a while after a 429',
  }),
  'pacer.projectQps': setting({
    variable: 'CLASSROOM_PROJECT_QPS',
    parse: integer(47, 1, 10_000, 'count'),
    description:
      'Classroom calls per second over all admins and instances (Classroom allows 50 per Cloud project); matters when `CLASSROOM_SUBJECTS` lists more admins than fit under it at `CLASSROOM_QPS`',
  }),
  classroomTimeoutMs: setting({
    variable: 'CLASSROOM_TIMEOUT_MS',
    parse: integer(10_000, 100, 120_000, 'milliseconds'),
    description: 'time allowed for one Classroom call',
  }),
  requestDeadlineMs: setting({
    variable: 'REQUEST_DEADLINE_MS',
    parse: integer(20_000, 500, 600_000, 'milliseconds'),
    description:
      'time allowed for a whole request, retries included: every caller gets an answer within it',
  }),
  'retryPolicy.maxAttempts': setting({
    variable: 'RETRY_MAX_ATTEMPTS',
    parse: integer(DEFAULT_RETRY_POLICY.maxAttempts, 1, 20, 'count'),
    description: 'Classroom calls per request at most, the first included',
  }),
  'retryPolicy.initialBackoffMs': setting({
    variable: 'RETRY_INITIAL_BACKOFF_MS',
    parse: integer(
      DEFAULT_RETRY_POLICY.initialBackoffMs,
      1,
      60_000,
      'milliseconds',
    ),
    description: 'bound of the first backoff; each next bound doubles',
  }),
  'retryPolicy.maxBackoffMs': setting({
    variable: 'RETRY_MAX_BACKOFF_MS',
    parse: integer(
      DEFAULT_RETRY_POLICY.maxBackoffMs,
      1,
      300_000,
      'milliseconds',
    ),
    description:
      'backoff bounds stop growing here (truncated exponential backoff; never less than `RETRY_INITIAL_BACKOFF_MS`)',
  }),
  ledgerTtlMs: setting({
    variable: 'LEDGER_TTL_DAYS',
    parse: integer(400, 1, 3650, 'days'),
    description:
      'ledger entries carry `expireAt` this far ahead (for the TTL policy)',
  }),
  idempotencyKeyTtlMs: setting({
    variable: 'IDEMPOTENCY_KEY_TTL_HOURS',
    parse: integer(24, 1, 24 * 30, 'hours'),
    description:
      'idempotency keys carry `expireAt` this far ahead; an expired key is treated as unused',
  }),
  operationTtlMs: setting({
    variable: 'OPERATION_TTL_DAYS',
    parse: integer(30, 1, 3650, 'days'),
    description:
      'operations (`GET /v1/operations/{id}`) and their per-item results carry `expireAt` this far after they start (for the TTL policy); an expired operation answers `404`',
  }),
  invitationsTopic: setting({
    variable: 'INVITATIONS_TOPIC',
    parse: matching(
      /^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$|^$/,
      'INVITATIONS_TOPIC must be a Pub/Sub topic id (a letter, then 3 to 255 letters, digits, or . _ ~ + % -)',
    ),
    default: '`invitation-items`',
    description:
      "Pub/Sub topic (in the function's project) that carries the items of operations to the `invitationsWorker` target",
  }),
  itemsPerMessage: setting({
    variable: 'ITEMS_PER_MESSAGE',
    parse: integer(20, 1, 100, 'count'),
    description:
      "items of an operation carried by one Pub/Sub message: they run side by side on one worker (one lease of quota serves them all), and a redelivery runs again only those still without a result. The default is one second of one admin's quota",
  }),
  retryNotFoundForMs: setting({
    variable: 'RETRY_NOT_FOUND_FOR',
    parse: duration('0s'),
    description:
      "an item of an operation (a batch, a large webhook delivery) that Classroom answers `404 NOT_FOUND` is tried again, with Pub/Sub's backoff, until this long after the operation started, before it is reported failed: SIS feeds often run ahead of the accounts and courses they name. `0s`: off",
  }),
  inflightWaitMs: setting({
    variable: 'INFLIGHT_WAIT_MS',
    parse: integer(3000, 0, 60_000, 'milliseconds'),
    description:
      'how long a repeat waits for an in-flight first request before `409 ABORTED`',
  }),
  leaseMs: setting({
    variable: 'LEASE_SECONDS',
    parse: integer(60, 1, 3600, 'seconds'),
    description:
      'lease of an in-flight reservation; after it, the pair can be taken over (its holder is presumed dead)',
  }),
  collectionPrefix: setting({
    variable: 'COLLECTION_PREFIX',
    parse: matching(
      /^[A-Za-z0-9_-]*$/,
      'COLLECTION_PREFIX may hold only letters, digits, _ and -',
    ),
    default: 'empty',
    description:
      'prefix of every collection name, to keep several gateways (or test suites) in one database (letters, digits, `_` and `-`)',
  }),
  webhookSecrets: setting({
    variable: 'WEBHOOK_SECRETS',
    parse: list(s => s, refuseSecret),
    default: 'unset',
    description:
      'Standard Webhooks secrets (`whsec_…`, at least 24 random bytes), separated by spaces; during a rotation list the new and the old one. Unset: `/webhooks/sis` answers 401 to everything',
  }),
  courseAliasPrefix: setting({
    variable: 'COURSE_ALIAS_PREFIX',
    parse: oneOf(['d:', 'p:'] as const),
    description:
      '`d:` (domain alias) or `p:` (project alias), put before a OneRoster `class.sourcedId` to form the course id',
  }),
  allowedEmailDomains: setting({
    variable: 'ALLOWED_EMAIL_DOMAINS',
    parse: list(d => d.toLowerCase().replace(/^@/, '')),
    default: 'unset',
    description:
      'if set (space- or comma-separated), invitations to addresses outside these domains are refused (`403 PERMISSION_DENIED`, reason `EMAIL_DOMAIN_NOT_ALLOWED`) before the ledger and Classroom, on both endpoints; numeric user ids are then refused too, since they cannot be checked (`USER_ID_NOT_CHECKABLE`)',
  }),
  webhookConcurrency: setting({
    variable: 'WEBHOOK_CONCURRENCY',
    parse: integer(8, 1, 64, 'count'),
    description: 'enrollments of one delivery processed at once',
  }),
  webhookInlineMax: setting({
    variable: 'WEBHOOK_INLINE_MAX',
    parse: integer(20, 0, 1000, 'count'),
    description:
      'a delivery with more enrollments to act on than this is taken as an operation: stored, published to `INVITATIONS_TOPIC` and answered `202 Accepted` at once, whatever its size; smaller ones are answered inline with their results. `0`: every delivery is taken as an operation',
  }),
  callerAudience: setting({
    variable: 'CALLER_AUDIENCE',
    parse: text,
    default: 'unset',
    description:
      "set together with `ALLOWED_CALLERS` (either alone is a configuration error): `/v1/invitations` then verifies the caller's Google-signed ID token in the function (RS256 signature, expiry, issuer, this audience: the exact URL callers request tokens for). A missing or invalid token gets `401 UNAUTHENTICATED`; Google's keys out of reach gets `503`. Unset: the function relies on Cloud Run IAM and audits the caller as `unverified`",
  }),
  ledgerRecheckAfterMs: setting({
    variable: 'LEDGER_RECHECK_AFTER',
    parse: duration('24h'),
    description:
      'a replay or conflict answered from a ledger entry older than this (since Classroom last confirmed it) first asks Classroom `invitations.get` (`0s`: always)',
  }),
  logRedactEmails: setting({
    variable: 'LOG_REDACT_EMAILS',
    parse: flag,
    description:
      '`true` masks email addresses in log lines (`***@school.example`)',
  }),
  allowedCallers: setting({
    variable: 'ALLOWED_CALLERS',
    parse: list(c => c.toLowerCase(), refuseCaller),
    default: 'unset',
    description:
      'set together with `CALLER_AUDIENCE`: the only identities that may call `/v1/invitations`, as emails (counted only when the token says `email_verified`) or numeric account ids, space- or comma-separated, no wildcards. A verified caller not listed gets `403 PERMISSION_DENIED` (`CALLER_NOT_ALLOWED`)',
  }),
  bodyTimeoutMs: setting({
    variable: 'BODY_TIMEOUT_MS',
    parse: integer(DEFAULT_BODY_TIMEOUT_MS, 100, 120_000, 'milliseconds'),
    description:
      'time for a request body to arrive once its headers are in; after it, `408 DEADLINE_EXCEEDED`',
  }),
  'circuit.failureThreshold': setting({
    variable: 'CIRCUIT_FAILURE_THRESHOLD',
    parse: integer(5, 0, 1000, 'count'),
    description:
      'consecutive failed Classroom calls (5xx, unreachable, timed out; one request makes up to `RETRY_MAX_ATTEMPTS` calls) after which this instance stops calling Classroom and answers `503 UNAVAILABLE` at once; `0` turns the circuit breaker off',
  }),
  'circuit.openMs': setting({
    variable: 'CIRCUIT_OPEN_SECONDS',
    parse: integer(10, 1, 3600, 'seconds'),
    description:
      'how long the circuit stays open before one probe call is let through',
  }),
  'circuit.maxOpenMs': setting({
    variable: 'CIRCUIT_MAX_OPEN_SECONDS',
    parse: integer(60, 1, 3600, 'seconds'),
    description:
      'each failed probe doubles the open interval, up to this (never less than `CIRCUIT_OPEN_SECONDS`)',
  }),
  'refusalAudit.perSecond': setting({
    variable: 'REFUSAL_AUDIT_PER_SECOND',
    parse: integer(5, 1, 1000, 'count'),
    description:
      'refused requests audited one by one per second, per instance and source (token bucket); beyond it they are counted and written as one summary event',
  }),
  'refusalAudit.burst': setting({
    variable: 'REFUSAL_AUDIT_BURST',
    parse: integer(20, 1, 10_000, 'count'),
    description:
      'refused requests audited one by one at once after a quiet spell',
  }),
  'refusalAudit.ttlMs': setting({
    variable: 'REFUSAL_AUDIT_TTL_DAYS',
    parse: integer(30, 1, 3650, 'days'),
    description:
      "audit events of refused requests carry `expireAt` this far ahead (for the audit's TTL policy); decisions carry none and are kept",
  }),
});

/** Variables that matter to a deployment but that the platform or a client library reads, not parseConfig. */
export const PLATFORM_SETTINGS: readonly SettingDoc[] = [
  {
    variable: 'PORT',
    default: '`8080`',
    description: 'port the function listens on (set by Cloud Run)',
    readBy: 'platform',
  },
  {
    variable: 'FIRESTORE_EMULATOR_HOST',
    default: 'unset',
    description:
      '`host:port` of the Firestore emulator (standard variable; set by `npm test` and `npm start`)',
    readBy: 'platform',
  },
];

/** Each setting parseConfig reads, with the `Config` field it lands in. */
export function parsedSettings(): Array<SettingDoc & {lands: string}> {
  return Object.entries(SETTINGS.shape).map(([lands, schema]) => {
    const doc = settingDocs.get(schema);
    if (doc === undefined)
      throw new Error(`${lands}: a setting without documentation`);
    return {...doc, lands};
  });
}

/** Every documented variable, in the order of the table: the platform's first, then parseConfig's. */
export function allSettings(): SettingDoc[] {
  return [...PLATFORM_SETTINGS, ...parsedSettings()];
}
