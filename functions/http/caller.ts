// Who is calling /v1/invitations. Behind Cloud Run IAM the Google-signed ID token has already been
// verified before the function runs, so by default its claims are only read, for the audit. With
// CALLER_AUDIENCE set the function verifies the token itself too (defence in depth, google-auth-library),
// and ALLOWED_CALLERS limits which identities may call.
import type { OAuth2Client } from 'google-auth-library';
import { ApiError, errorInfo, gatewayError } from '../errors';

const GOOGLE_ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/** Public keys by key id, as Google publishes them for its ID tokens. */
export type CertSource = () => Promise<Record<string, string>>;

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(header ?? '');
  return m?.[1];
}

function claimsOf(token: string): Record<string, unknown> | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as unknown;
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function identity(claims: Record<string, unknown> | undefined): string | undefined {
  const id = typeof claims?.email === 'string' ? claims.email : typeof claims?.sub === 'string' ? claims.sub : undefined;
  return id?.slice(0, 256);
}

/** The token's identity without verifying it (Cloud Run IAM did), or `anonymous`. */
export function callerFromAuthorization(header: string | undefined): string {
  const token = bearer(header);
  return (token && identity(claimsOf(token))) || 'anonymous';
}

const unauthenticated = (message: string, reason: string) => gatewayError('UNAUTHENTICATED', message, { details: [errorInfo(reason)] });

export class CallerVerifier {
  private client: OAuth2Client | undefined;

  constructor(
    private readonly audience: string | undefined,
    private readonly allowed: string[],
    private readonly certs?: CertSource,
  ) {}

  get enforcing(): boolean {
    return this.audience !== undefined || this.allowed.length > 0;
  }

  private async oauth(): Promise<OAuth2Client> {
    if (!this.client) {
      const { OAuth2Client: Client } = require('google-auth-library') as typeof import('google-auth-library');
      this.client = new Client();
    }
    return this.client;
  }

  /** The caller's identity, or an ApiError (401/403) when the policy refuses the request. */
  async identify(authorization: string | undefined): Promise<{ caller: string } | { error: ApiError; caller: string }> {
    const token = bearer(authorization);
    let caller = callerFromAuthorization(authorization);
    if (this.audience !== undefined) {
      if (!token) return { error: unauthenticated('A Google-signed ID token is required (Authorization: Bearer …).', 'ID_TOKEN_MISSING'), caller };
      try {
        const client = await this.oauth();
        const certs = this.certs ? await this.certs() : (await client.getFederatedSignonCertsAsync()).certs;
        const ticket = await client.verifySignedJwtWithCertsAsync(token, certs, this.audience, GOOGLE_ISSUERS);
        const payload = ticket.getPayload();
        caller = payload?.email && payload.email_verified !== false ? payload.email : (payload?.sub ?? 'anonymous');
      } catch {
        return { error: unauthenticated('The ID token is not valid for this service.', 'ID_TOKEN_INVALID'), caller };
      }
    }
    if (this.allowed.length > 0 && !this.allowed.includes(caller.toLowerCase())) {
      return {
        error: gatewayError('PERMISSION_DENIED', `The caller ${caller} may not create invitations through this gateway.`, {
          details: [errorInfo('CALLER_NOT_ALLOWED')],
        }),
        caller,
      };
    }
    return { caller };
  }
}
