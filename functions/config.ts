// Configuration, parsed once from an injectable environment (tests pass their own; nothing reads process.env later).
// What each variable means, accepts and defaults to is in functions/config-settings.ts; here are the rules across them.
import type {CircuitSettings} from './circuit';
import {isLocalStandIn, refuseSubject} from './config-parsers';
import {parsedSettings, SETTINGS} from './config-settings';
import type {PacerRates} from './pacer/store';
import type {RefusalAuditSettings} from './refusal-audit';
import {DEFAULT_RETRY_POLICY, RetryPolicy} from './retry';

/** One thing wrong with the configuration: what is wrong, and the variables it concerns. */
export interface ConfigProblem {
  variables: readonly string[];
  message: string;
}

/** Every problem of one configuration at once, so that a single start-up names every bad setting. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: string | readonly ConfigProblem[]) {
    const list =
      typeof problems === 'string'
        ? [{variables: [], message: problems}]
        : problems;
    super(list.map(p => p.message).join('; '));
    this.name = 'ConfigError';
    this.problems = list;
  }

  /** Each variable named by a problem, once, in the order of the problems. */
  get variables(): string[] {
    return [...new Set(this.problems.flatMap(p => p.variables))];
  }
}

/** Every duration is in milliseconds and its name ends in `Ms`, whatever the unit of its variable. */
export interface Config {
  /** Google Cloud project of the Firestore database; undefined lets the client library discover it. */
  projectId: string | undefined;
  /** Classroom API root; any path is ignored by the client (it always calls /v1/... at the root). */
  classroomRootUrl: string;
  /** True when the root is a plain-http loopback stand-in: no credentials are sent. */
  classroomIsLocal: boolean;
  /** CLASSROOM_SUBJECT as set (the one-admin form); `classroomSubjects` is what the gateway uses. */
  classroomSubject: string | undefined;
  /**
   * Workspace users impersonated through domain-wide delegation (CLASSROOM_SUBJECT or CLASSROOM_SUBJECTS), lower
   * case; empty: the service account calls as itself.
   */
  classroomSubjects: string[];
  /** The shared pacer's ceilings (functions/pacer/). */
  pacer: PacerRates;
  /** Prefix for the `invitations` and `audit` collections (isolates tenants or test suites in one database). */
  collectionPrefix: string;
  /** How long a repeat waits for an in-flight first request before answering 409 ABORTED. */
  inflightWaitMs: number;
  /** Lease on an in-flight reservation; after it, another request may take the pair over. */
  leaseMs: number;
  /** Time allowed for one Classroom call. */
  classroomTimeoutMs: number;
  /** Time allowed for a whole request, retries included; the caller gets an answer within it. */
  requestDeadlineMs: number;
  retryPolicy: RetryPolicy;
  /** The per-instance circuit breaker in front of Classroom (functions/circuit.ts). */
  circuit: CircuitSettings;
  /** Ledger entries and idempotency keys carry `expireAt` = now + these (for Firestore TTL policies). */
  ledgerTtlMs: number;
  idempotencyKeyTtlMs: number;
  /** Operations and their results carry `expireAt` = creation + this. */
  operationTtlMs: number;
  /** Pub/Sub topic of operation items. */
  invitationsTopic: string;
  /** Items of an operation per Pub/Sub message. */
  itemsPerMessage: number;
  /** An operation's item answered NOT_FOUND is retried until this long after the operation started (0: off). */
  retryNotFoundForMs: number;
  /** Standard Webhooks secrets (`whsec_…`); several during a rotation. Empty: webhooks refused. */
  webhookSecrets: string[];
  /** Prepended to a OneRoster class sourcedId to make the Classroom course alias. */
  courseAliasPrefix: 'd:' | 'p:';
  /** Lower-case email domains invitations may go to; empty: any. */
  allowedEmailDomains: string[];
  /** Enrollments of one delivery processed at once. */
  webhookConcurrency: number;
  /** A delivery acting on more enrollments than this is taken as an operation (202). */
  webhookInlineMax: number;
  /**
   * Set together with allowedCallers, or neither is: when set, /v1/invitations verifies the caller's Google ID
   * token for this audience in the function. Unset, the function trusts Cloud Run IAM and verifies nothing.
   */
  callerAudience: string | undefined;
  /** The only identities (lower-case verified emails, or numeric subjects) /v1/invitations lets through. */
  allowedCallers: string[];
  /** Mask email addresses in log lines. */
  logRedactEmails: boolean;
  /** A replay older than this asks Classroom whether the invitation still exists. */
  ledgerRecheckAfterMs: number;
  /** Time for a request body to arrive once its headers are in; after it, 408. */
  bodyTimeoutMs: number;
  /** Refused webhook deliveries: audit events per second and burst per instance, and their retention. */
  refusalAudit: RefusalAuditSettings;
}

// Either half alone would look like protection and be none: an allow-list over identities nobody verified
// (any forged token names an allowed email), or a verified audience any Google account can mint tokens for.
export const CALLER_SETTINGS_TOGETHER =
  'CALLER_AUDIENCE and ALLOWED_CALLERS must be set together (the function then verifies callers itself) or both left unset (Cloud Run IAM verifies them)';

export function parseConfig(
  env: Record<string, string | undefined> = process.env,
): Config {
  const settings = parsedSettings();
  // SETTINGS is keyed by where each value lands; messages name the variable it came from.
  const input: Record<string, string | undefined> = {};
  for (const {lands, variable} of settings) input[lands] = env[variable];
  const parsed = SETTINGS.safeParse(input);
  const variableOf = (key: PropertyKey | undefined) =>
    settings.find(s => s.lands === key)?.variable ?? String(key);
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map(i => {
        const variable = variableOf(i.path[0]);
        // Most validators name their variable already; the others get it put first.
        const message = i.message.startsWith(variable)
          ? i.message
          : `${variable}: ${i.message}`;
        return {variables: [variable], message};
      });
  problems.push(...acrossSettings(input));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const s = parsed.data;
  return {
    projectId: s.projectId,
    classroomRootUrl: s.classroomRootUrl,
    classroomIsLocal: isLocalStandIn(new URL(s.classroomRootUrl)),
    classroomSubject: s.classroomSubject,
    classroomSubjects:
      s.classroomSubject !== undefined
        ? [s.classroomSubject.toLowerCase()]
        : s.classroomSubjects,
    pacer: {
      subjectQps: s['pacer.subjectQps'],
      projectQps: s['pacer.projectQps'],
    },
    collectionPrefix: s.collectionPrefix,
    inflightWaitMs: s.inflightWaitMs,
    leaseMs: s.leaseMs,
    classroomTimeoutMs: s.classroomTimeoutMs,
    requestDeadlineMs: s.requestDeadlineMs,
    retryPolicy: {
      maxAttempts: s['retryPolicy.maxAttempts'],
      initialBackoffMs: s['retryPolicy.initialBackoffMs'],
      // A maximum never undercuts its minimum (here and for the circuit): the smaller setting wins.
      maxBackoffMs: Math.max(
        s['retryPolicy.maxBackoffMs'],
        s['retryPolicy.initialBackoffMs'],
      ),
      multiplier: DEFAULT_RETRY_POLICY.multiplier,
    },
    circuit: {
      failureThreshold: s['circuit.failureThreshold'],
      openMs: s['circuit.openMs'],
      maxOpenMs: Math.max(s['circuit.maxOpenMs'], s['circuit.openMs']),
    },
    ledgerTtlMs: s.ledgerTtlMs,
    idempotencyKeyTtlMs: s.idempotencyKeyTtlMs,
    operationTtlMs: s.operationTtlMs,
    retryNotFoundForMs: s.retryNotFoundForMs,
    invitationsTopic: s.invitationsTopic || 'invitation-items',
    itemsPerMessage: s.itemsPerMessage,
    webhookSecrets: s.webhookSecrets,
    courseAliasPrefix: s.courseAliasPrefix,
    allowedEmailDomains: s.allowedEmailDomains,
    webhookConcurrency: s.webhookConcurrency,
    webhookInlineMax: s.webhookInlineMax,
    callerAudience: s.callerAudience,
    allowedCallers: s.allowedCallers,
    logRedactEmails: s.logRedactEmails,
    ledgerRecheckAfterMs: s.ledgerRecheckAfterMs,
    bodyTimeoutMs: s.bodyTimeoutMs,
    refusalAudit: {
      perSecond: s['refusalAudit.perSecond'],
      burst: s['refusalAudit.burst'],
      ttlMs: s['refusalAudit.ttlMs'],
    },
  };
}

/**
 * The rules across settings. Each parses only the settings it reads, so that it is checked even when another
 * setting is bad; a rule whose own settings are bad is left to their messages.
 */
function acrossSettings(
  input: Record<string, string | undefined>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const callers = SETTINGS.pick({
    callerAudience: true,
    allowedCallers: true,
  }).safeParse(input);
  if (
    callers.success &&
    (callers.data.callerAudience === undefined) !==
      (callers.data.allowedCallers.length === 0)
  )
    problems.push({
      variables: ['CALLER_AUDIENCE', 'ALLOWED_CALLERS'],
      message: CALLER_SETTINGS_TOGETHER,
    });
  const subjects = SETTINGS.pick({
    classroomSubject: true,
    classroomSubjects: true,
  }).safeParse(input);
  if (subjects.success)
    problems.push(
      ...subjectProblems(
        subjects.data.classroomSubject,
        subjects.data.classroomSubjects,
      ),
    );
  return problems;
}

/** One admin (CLASSROOM_SUBJECT) or a pool (CLASSROOM_SUBJECTS), never both; each admin once. */
function subjectProblems(
  one: string | undefined,
  pool: string[],
): ConfigProblem[] {
  if (one !== undefined && pool.length > 0)
    return [
      {
        variables: ['CLASSROOM_SUBJECT', 'CLASSROOM_SUBJECTS'],
        message:
          'CLASSROOM_SUBJECT and CLASSROOM_SUBJECTS are both set: set CLASSROOM_SUBJECTS alone for a pool of admins, or CLASSROOM_SUBJECT alone for one',
      },
    ];
  const refused =
    one === undefined ? undefined : refuseSubject(one.toLowerCase());
  if (refused !== undefined)
    return [
      {
        variables: ['CLASSROOM_SUBJECT'],
        message: `CLASSROOM_SUBJECT: ${refused}`,
      },
    ];
  const twice = pool.find((s, i) => pool.indexOf(s) !== i);
  if (twice !== undefined)
    return [
      {
        variables: ['CLASSROOM_SUBJECTS'],
        message: `CLASSROOM_SUBJECTS lists ${twice} twice`,
      },
    ];
  return [];
}
