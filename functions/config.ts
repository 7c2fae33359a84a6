// Configuration, parsed once from an injectable environment (tests pass their own; nothing reads process.env later).
import { z } from 'zod';
import type { CircuitSettings } from './circuit';
import { DEFAULT_BODY_TIMEOUT_MS } from './http/body-limits';
import type { RefusalAuditSettings } from './refusal-audit';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from './retry';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Config {
  /** Google Cloud project of the Firestore database; undefined lets the client library discover it. */
  projectId: string | undefined;
  /** Classroom API root; any path is ignored by the client (it always calls /v1/... at the root). */
  classroomRootUrl: string;
  /** True when the root is a plain-http loopback stand-in: no credentials are sent. */
  classroomIsLocal: boolean;
  /** Workspace user impersonated through domain-wide delegation. */
  classroomSubject: string | undefined;
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
  /** Standard Webhooks secrets (`whsec_…`); several during a rotation. Empty: webhooks refused. */
  webhookSecrets: string[];
  /** Prepended to a OneRoster class sourcedId to make the Classroom course alias. */
  courseAliasPrefix: 'd:' | 'p:';
  /** Lower-case email domains invitations may go to; empty: any. */
  allowedEmailDomains: string[];
  /** Enrollments of one delivery processed at once. */
  webhookConcurrency: number;
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

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

const intFrom = (name: string, def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const EnvSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().optional(),
  CLASSROOM_ROOT_URL: z.string().optional(),
  CLASSROOM_SUBJECT: z.string().optional(),
  COLLECTION_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'COLLECTION_PREFIX may hold only letters, digits, _ and -')
    .optional(),
  INFLIGHT_WAIT_MS: intFrom('INFLIGHT_WAIT_MS', 3000, 0, 60_000),
  LEASE_SECONDS: intFrom('LEASE_SECONDS', 60, 1, 3600),
  CLASSROOM_TIMEOUT_MS: intFrom('CLASSROOM_TIMEOUT_MS', 10_000, 100, 120_000),
  REQUEST_DEADLINE_MS: intFrom('REQUEST_DEADLINE_MS', 20_000, 500, 600_000),
  RETRY_MAX_ATTEMPTS: intFrom('RETRY_MAX_ATTEMPTS', DEFAULT_RETRY_POLICY.maxAttempts, 1, 20),
  RETRY_INITIAL_BACKOFF_MS: intFrom('RETRY_INITIAL_BACKOFF_MS', DEFAULT_RETRY_POLICY.initialBackoffMs, 1, 60_000),
  RETRY_MAX_BACKOFF_MS: intFrom('RETRY_MAX_BACKOFF_MS', DEFAULT_RETRY_POLICY.maxBackoffMs, 1, 300_000),
  CIRCUIT_FAILURE_THRESHOLD: intFrom('CIRCUIT_FAILURE_THRESHOLD', 5, 0, 1000),
  CIRCUIT_OPEN_SECONDS: intFrom('CIRCUIT_OPEN_SECONDS', 10, 1, 3600),
  CIRCUIT_MAX_OPEN_SECONDS: intFrom('CIRCUIT_MAX_OPEN_SECONDS', 60, 1, 3600),
  LEDGER_TTL_DAYS: intFrom('LEDGER_TTL_DAYS', 400, 1, 3650),
  IDEMPOTENCY_KEY_TTL_HOURS: intFrom('IDEMPOTENCY_KEY_TTL_HOURS', 24, 1, 24 * 30),
  WEBHOOK_SECRETS: z.string().optional(),
  COURSE_ALIAS_PREFIX: z.enum(['d:', 'p:'], { error: 'COURSE_ALIAS_PREFIX must be d: or p:' }).optional(),
  ALLOWED_EMAIL_DOMAINS: z.string().optional(),
  WEBHOOK_CONCURRENCY: intFrom('WEBHOOK_CONCURRENCY', 8, 1, 64),
  CALLER_AUDIENCE: z.string().optional(),
  ALLOWED_CALLERS: z.string().optional(),
  LEDGER_RECHECK_AFTER: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 24 * 3_600_000;
      const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(v.trim());
      if (!m) {
        ctx.addIssue({ code: 'custom', message: 'LEDGER_RECHECK_AFTER must be a duration such as 30s, 15m, 24h or 7d' });
        return z.NEVER;
      }
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
      return Number(m[1]) * unit;
    }),
  BODY_TIMEOUT_MS: intFrom('BODY_TIMEOUT_MS', DEFAULT_BODY_TIMEOUT_MS, 100, 120_000),
  REFUSAL_AUDIT_TTL_DAYS: intFrom('REFUSAL_AUDIT_TTL_DAYS', 30, 1, 3650),
  REFUSAL_AUDIT_PER_SECOND: intFrom('REFUSAL_AUDIT_PER_SECOND', 5, 1, 1000),
  REFUSAL_AUDIT_BURST: intFrom('REFUSAL_AUDIT_BURST', 20, 1, 10_000),
  LOG_REDACT_EMAILS: z.enum(['true', 'false', ''], { error: 'LOG_REDACT_EMAILS must be true or false' }).optional(),
});

/** A space- or comma-separated list. */
const list = (v: string | undefined) => (v ?? '').split(/[\s,]+/).filter(Boolean);

function parseSecrets(v: string | undefined): string[] {
  const secrets = list(v);
  for (const s of secrets) {
    const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(s);
    // Standard Webhooks: at least 24 bytes of randomness, base64 after the whsec_ prefix.
    if (!m || Buffer.from(m[1]!, 'base64').length < 24) {
      throw new ConfigError('WEBHOOK_SECRETS: each secret must be whsec_ followed by base64 of at least 24 random bytes');
    }
  }
  return secrets;
}

// Either half alone would look like protection and be none: an allow-list over identities nobody verified
// (any forged token names an allowed email), or a verified audience any Google account can mint tokens for.
export const CALLER_SETTINGS_TOGETHER =
  'CALLER_AUDIENCE and ALLOWED_CALLERS must be set together (the function then verifies callers itself) or both left unset (Cloud Run IAM verifies them)';

function parseCallers(audience: string | undefined, allowedCallers: string | undefined): { callerAudience: string | undefined; allowedCallers: string[] } {
  const callerAudience = audience?.trim() || undefined;
  const allowed = list(allowedCallers).map((c) => c.toLowerCase());
  for (const c of allowed) {
    // A Google account's email (the characters Google allows in one) or its numeric subject: anything else,
    // a wildcard above all, would silently match nobody.
    if (!/^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(c) && !/^\d{1,64}$/.test(c)) {
      throw new ConfigError(`ALLOWED_CALLERS: ${JSON.stringify(c.slice(0, 64))} is neither an email address nor a numeric account id (no wildcards)`);
    }
  }
  if ((callerAudience === undefined) !== (allowed.length === 0)) throw new ConfigError(CALLER_SETTINGS_TOGETHER);
  return { callerAudience, allowedCallers: allowed };
}

export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const e = parsed.data;
  const root = e.CLASSROOM_ROOT_URL?.trim() || 'https://classroom.googleapis.com/';
  let url: URL;
  try {
    url = new URL(root);
  } catch {
    throw new ConfigError(`CLASSROOM_ROOT_URL is not a URL: ${root}`);
  }
  const classroomIsLocal = url.protocol === 'http:' && isLoopback(url.hostname);
  if (url.protocol !== 'https:' && !classroomIsLocal) {
    throw new ConfigError('CLASSROOM_ROOT_URL must be https, or plain http on a loopback address');
  }
  return {
    projectId: e.GOOGLE_CLOUD_PROJECT?.trim() || undefined,
    classroomRootUrl: url.origin + '/',
    classroomIsLocal,
    classroomSubject: e.CLASSROOM_SUBJECT?.trim() || undefined,
    collectionPrefix: e.COLLECTION_PREFIX ?? '',
    inflightWaitMs: e.INFLIGHT_WAIT_MS,
    leaseMs: e.LEASE_SECONDS * 1000,
    classroomTimeoutMs: e.CLASSROOM_TIMEOUT_MS,
    requestDeadlineMs: e.REQUEST_DEADLINE_MS,
    retryPolicy: {
      maxAttempts: e.RETRY_MAX_ATTEMPTS,
      initialBackoffMs: e.RETRY_INITIAL_BACKOFF_MS,
      maxBackoffMs: Math.max(e.RETRY_MAX_BACKOFF_MS, e.RETRY_INITIAL_BACKOFF_MS),
      multiplier: DEFAULT_RETRY_POLICY.multiplier,
    },
    circuit: {
      failureThreshold: e.CIRCUIT_FAILURE_THRESHOLD,
      openMs: e.CIRCUIT_OPEN_SECONDS * 1000,
      maxOpenMs: Math.max(e.CIRCUIT_MAX_OPEN_SECONDS, e.CIRCUIT_OPEN_SECONDS) * 1000,
    },
    ledgerTtlMs: e.LEDGER_TTL_DAYS * 86_400_000,
    idempotencyKeyTtlMs: e.IDEMPOTENCY_KEY_TTL_HOURS * 3_600_000,
    webhookSecrets: parseSecrets(e.WEBHOOK_SECRETS),
    courseAliasPrefix: e.COURSE_ALIAS_PREFIX ?? 'd:',
    allowedEmailDomains: list(e.ALLOWED_EMAIL_DOMAINS).map((d) => d.toLowerCase().replace(/^@/, '')),
    webhookConcurrency: e.WEBHOOK_CONCURRENCY,
    ...parseCallers(e.CALLER_AUDIENCE, e.ALLOWED_CALLERS),
    logRedactEmails: e.LOG_REDACT_EMAILS === 'true',
    ledgerRecheckAfterMs: e.LEDGER_RECHECK_AFTER,
    bodyTimeoutMs: e.BODY_TIMEOUT_MS,
    refusalAudit: {
      perSecond: e.REFUSAL_AUDIT_PER_SECOND,
      burst: e.REFUSAL_AUDIT_BURST,
      ttlMs: e.REFUSAL_AUDIT_TTL_DAYS * 86_400_000,
    },
  };
}
