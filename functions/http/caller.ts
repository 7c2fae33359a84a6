// Who is calling /v1/invitations. With CALLER_AUDIENCE and ALLOWED_CALLERS set the function verifies the
// Google-signed ID token itself (google-auth-library) and lets only the allowed identities through. With
// neither, Cloud Run IAM is trusted to have verified the token: the function cannot tell, so the caller is
// `unverified` and what the token claims is kept apart, as evidence, never as an identity.
import type {OAuth2Client} from 'google-auth-library';
import {z} from 'zod';
import {CALLER_SETTINGS_TOGETHER, ConfigError} from '../config';
import {ApiError, errorInfo, gatewayError, retryable} from '../errors';
import * as logs from '../log-events';

const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/** The audit's caller whenever the function did not verify the token itself. */
export const UNVERIFIED_CALLER = 'unverified';

const MAX_CLAIM_CHARS = 256;

/** Past this, a request gets 503 rather than waiting on Google's certificate endpoint (gaxios has no timeout). */
const CERT_FETCH_TIMEOUT_MS = 5000;
/** The library has already retried the fetch within the request; give Google a moment before the next. */
const CERT_RETRY_AFTER_SECONDS = 5;

/** Public keys by key id, as Google publishes them for its ID tokens. */
export type CertSource = () => Promise<Record<string, string>>;

const Certificates = z
  .record(z.string(), z.string().min(1))
  .refine(c => Object.keys(c).length > 0, 'no keys');

export type Identification =
  | {caller: string; claimedCaller?: string}
  | {error: ApiError; caller: string; claimedCaller?: string};

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(
    header ?? '',
  );
  return m?.[1];
}

/** One decoded JSON segment of a JWT (0: header, 1: claims), unverified. */
function segment(token: string, i: 0 | 1): Record<string, unknown> | undefined {
  try {
    const claims = JSON.parse(
      Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8'),
    ) as unknown;
    return typeof claims === 'object' && claims !== null
      ? (claims as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// C0, DEL, C1 (terminal escapes), bidirectional overrides (text that displays other than it reads), and
// lone surrogates (not storable as UTF-8).
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex -- control characters are what this matches
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A claimed value made safe to keep and show: printable only, at most 256 UTF-16 units, never a split pair. */
function cleanClaim(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v
    .slice(0, 4 * MAX_CLAIM_CHARS)
    .replace(UNPRINTABLE, '')
    .trim();
  if (s.length > MAX_CLAIM_CHARS)
    s = s.slice(
      0,
      /[\ud800-\udbff]/.test(s[MAX_CLAIM_CHARS - 1]!)
        ? MAX_CLAIM_CHARS - 1
        : MAX_CLAIM_CHARS,
    );
  return s || undefined;
}

/** What the bearer token says about who sent it (email, else subject), unverified; undefined without one. */
export function claimedCaller(
  authorization: string | undefined,
): string | undefined {
  const token = bearer(authorization);
  const claims = token ? segment(token, 1) : undefined;
  return cleanClaim(claims?.email) ?? cleanClaim(claims?.sub);
}

/** The identity in a verified payload: the email only if Google says it is verified, else the subject. */
function verifiedIdentity(
  payload: {email?: string; email_verified?: boolean; sub?: string} | undefined,
): string | undefined {
  if (payload?.email && payload.email_verified === true) return payload.email;
  return payload?.sub || undefined;
}

const unauthenticated = (message: string, reason: string) =>
  gatewayError('UNAUTHENTICATED', message, {details: [errorInfo(reason)]});
const invalidToken = () =>
  unauthenticated(
    'The ID token is not valid for this service.',
    'ID_TOKEN_INVALID',
  );

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms} ms`)),
      ms,
    );
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class CallerVerifier {
  private client: OAuth2Client | undefined;
  private certsInFlight: Promise<Record<string, string>> | undefined;
  private readonly allowed: ReadonlySet<string>;

  constructor(
    private readonly audience: string | undefined,
    allowed: string[],
    private readonly certs?: CertSource,
  ) {
    // parseConfig refuses this already; a verifier built any other way must not half-protect either.
    if ((audience === undefined) !== (allowed.length === 0))
      throw new ConfigError(CALLER_SETTINGS_TOGETHER);
    this.allowed = new Set(allowed.map(c => c.toLowerCase()));
  }

  private oauth(): OAuth2Client {
    if (!this.client) {
      const {OAuth2Client: Client} =
        require('google-auth-library') as typeof import('google-auth-library');
      this.client = new Client();
    }
    return this.client;
  }

  /** Google's current keys. Throws when they cannot be had: a fault on Google's side, never the caller's. */
  private certificates(): Promise<Record<string, string>> {
    // Concurrent first requests share one fetch; the library caches the answer for its max-age.
    this.certsInFlight ??= within(
      this.certs
        ? this.certs()
        : this.oauth()
            .getFederatedSignonCertsAsync()
            .then(r => r.certs),
      CERT_FETCH_TIMEOUT_MS,
    )
      .then((c: unknown) => {
        const parsed = Certificates.safeParse(c);
        if (!parsed.success)
          throw new Error('the key set is not PEM certificates by key id');
        return parsed.data;
      })
      .finally(() => {
        this.certsInFlight = undefined;
      });
    return this.certsInFlight;
  }

  /** The caller's identity, or an ApiError: 401 for a token that fails verification, 403 for one not allowed, 503 when Google's keys are out of reach. */
  async identify(authorization: string | undefined): Promise<Identification> {
    const claimed = claimedCaller(authorization);
    const unverified = {
      caller: UNVERIFIED_CALLER,
      ...(claimed ? {claimedCaller: claimed} : {}),
    };
    if (this.audience === undefined) return unverified;
    const token = bearer(authorization);
    if (!token)
      return {
        ...unverified,
        error: unauthenticated(
          'A Google-signed ID token is required (Authorization: Bearer …).',
          'ID_TOKEN_MISSING',
        ),
      };
    // Google signs ID tokens with RS256 under a key id. Anything else (alg none, HS256, ES256) is refused before
    // any key is fetched or tried, so that it is a 401 even while Google's keys are out of reach.
    const header = segment(token, 0);
    if (header?.alg !== 'RS256' || typeof header.kid !== 'string') {
      return {...unverified, error: invalidToken()};
    }
    let certs: Record<string, string>;
    try {
      certs = await this.certificates();
    } catch (err) {
      logs.certsUnavailable(err);
      return {
        ...unverified,
        error: retryable(
          'UNAVAILABLE',
          'The caller cannot be verified right now. Retry the request.',
          CERT_RETRY_AFTER_SECONDS,
          'ID_TOKEN_CERTS_UNAVAILABLE',
        ),
      };
    }
    let caller: string | undefined;
    try {
      const ticket = await this.oauth().verifySignedJwtWithCertsAsync(
        token,
        certs,
        this.audience,
        GOOGLE_ISSUERS,
      );
      caller = verifiedIdentity(ticket.getPayload());
    } catch {
      // Every failure here is the token's (the keys are in hand). The library's message quotes the token: not logged.
    }
    if (!caller) return {...unverified, error: invalidToken()};
    if (!this.allowed.has(caller.toLowerCase())) {
      return {
        caller,
        error: gatewayError(
          'PERMISSION_DENIED',
          `The caller ${caller} may not use this gateway.`,
          {details: [errorInfo('CALLER_NOT_ALLOWED')]},
        ),
      };
    }
    return {caller};
  }
}
