// The stand-in's side of keyless domain-wide delegation (functions/delegation.ts): IAM Credentials' signJwt, the
// OAuth token endpoint's JWT-bearer grant, and the subject a Classroom call's bearer token names.
// Not a security boundary: the JWTs are unsigned and only `sub` is read (no aud, iat or exp checks).
import type {ReservedError} from './reserved';

/** An answer of a token endpoint: status and JSON body. */
export interface TokenAnswer {
  status: number;
  body: unknown;
}

export const SIGN_JWT_PATH =
  /^\/v1\/projects\/-\/serviceAccounts\/([^/]+):signJwt$/;
export const TOKEN_PATH = '/token';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ACCESS_TOKEN_SECONDS = 3600;

const TOKEN_PREFIX = 'standin.';
const B64URL = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = Buffer.from('standin').toString('base64url');
const JWT_HEADER = Buffer.from(
  JSON.stringify({alg: 'RS256', typ: 'JWT', kid: 'standin'}),
).toString('base64url');

export const UNAUTHENTICATED: ReservedError = {
  httpStatus: 401,
  status: 'UNAUTHENTICATED',
  message:
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
};

const UNAUTHORIZED_CLIENT = {
  error: 'unauthorized_client',
  error_description:
    'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
};

export const accessTokenFor = (subject: string): string =>
  TOKEN_PREFIX + Buffer.from(subject).toString('base64url');

/** Strict base64url to UTF-8: undefined unless the text is exactly what encoding the result gives back. */
function fromB64url(text: string): string | undefined {
  if (!B64URL.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  return Buffer.from(decoded).toString('base64url') === text
    ? decoded
    : undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const badRequest = (message: string): TokenAnswer => ({
  status: 400,
  body: {error: {code: 400, message, status: 'INVALID_ARGUMENT'}},
});

const invalidGrant = (description: string): TokenAnswer => ({
  status: 400,
  body: {error: 'invalid_grant', error_description: description},
});

export interface Exchanges {
  /** Token exchanges asked for this subject, refused ones included. */
  exchanges: number;
  /** Of those, refused because the subject is revoked. */
  refused: number;
}

/** Revoked subjects and the token exchanges seen per subject. Subjects are compared exactly as written. */
export class Delegation {
  private readonly revoked = new Set<string>();
  private readonly counts = new Map<string, Exchanges>();

  revoke(subject: string): void {
    this.revoked.add(subject);
  }

  restore(subject: string): void {
    this.revoked.delete(subject);
  }

  revokedSubjects(): string[] {
    return [...this.revoked];
  }

  exchanges(): Record<string, Exchanges> {
    return Object.fromEntries(
      [...this.counts].map(([s, c]) => [s, {...c}] as const),
    );
  }

  reset(): void {
    this.revoked.clear();
    this.counts.clear();
  }

  /** IAM Credentials' signJwt: the claims as given, under a header, with a signature that signs nothing. */
  signJwt(serviceAccount: string | undefined, body: string): TokenAnswer {
    if (!serviceAccount) return badRequest('Invalid service account name.');
    const request = parseObject(body);
    if (!request) return badRequest('Invalid JSON payload received.');
    if (typeof request.payload !== 'string' || !parseObject(request.payload))
      return badRequest('payload must be a JSON object of JWT claims.');
    const payload = Buffer.from(request.payload).toString('base64url');
    return {
      status: 200,
      body: {
        keyId: 'standin',
        signedJwt: `${JWT_HEADER}.${payload}.${SIGNATURE}`,
      },
    };
  }

  /** The OAuth token endpoint's JWT-bearer grant (RFC 7523), answered in OAuth's error shape. */
  token(form: string): TokenAnswer {
    const params = new URLSearchParams(form);
    if (params.get('grant_type') !== JWT_BEARER)
      return invalidGrant(`grant_type must be ${JWT_BEARER}.`);
    const parts = (params.get('assertion') ?? '').split('.');
    const claims = parts.length === 3 ? fromB64url(parts[1]!) : undefined;
    const sub = claims === undefined ? undefined : parseObject(claims)?.sub;
    if (typeof sub !== 'string' || !sub)
      return invalidGrant(
        'Invalid JWT: the assertion must be a JWT whose claims name a subject (sub).',
      );
    const counts = this.counts.get(sub) ?? {exchanges: 0, refused: 0};
    this.counts.set(sub, counts);
    counts.exchanges++;
    if (this.revoked.has(sub)) {
      counts.refused++;
      return {status: 401, body: UNAUTHORIZED_CLIENT};
    }
    return {
      status: 200,
      body: {
        access_token: accessTokenFor(sub),
        token_type: 'Bearer',
        expires_in: ACCESS_TOKEN_SECONDS,
      },
    };
  }

  /**
   * The subject a Classroom call acts as: "" without an Authorization header (anonymous, as callers of the
   * stand-in have always been), undefined for a credential the stand-in did not mint (answered 401).
   * A token minted before its subject was revoked stays valid, as Google's do until they expire.
   */
  subjectOf(authorization: string | undefined): string | undefined {
    if (authorization === undefined) return '';
    const m = /^([A-Za-z]+) +standin\.(\S+)$/.exec(authorization.trim());
    // The scheme is case-insensitive (RFC 9110); the token is not.
    if (!m || m[1]!.toLowerCase() !== 'bearer') return undefined;
    return fromB64url(m[2]!) || undefined;
  }
}
