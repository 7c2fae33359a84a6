// Domain-wide delegation without a service-account key. On Cloud Run the metadata server's credentials cannot
// carry a subject, so the gateway mints its own delegated token: it asks the IAM Credentials API to sign a JWT
// assertion {iss: the service account, sub: CLASSROOM_SUBJECT, scope, aud: the token endpoint} with the
// service account's Google-managed key, and exchanges it at Google's OAuth token endpoint (RFC 7523 grant).
// Needs roles/iam.serviceAccountTokenCreator for the service account on itself.
import {OAuth2Client} from 'google-auth-library';

export interface DelegationEndpoints {
  signJwt: (serviceAccount: string) => string;
  token: string;
}

export const GOOGLE_DELEGATION_ENDPOINTS: DelegationEndpoints = {
  signJwt: sa =>
    `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${encodeURIComponent(sa)}:signJwt`,
  token: 'https://oauth2.googleapis.com/token',
};

/** What signs: anything that makes authorized requests as the service account (the ADC client). */
export interface Signer {
  request<T>(opts: {
    url: string;
    method: 'POST';
    data: unknown;
  }): Promise<{data: T}>;
}

const ASSERTION_LIFETIME_S = 3600;

/** The token endpoint answered, and said no: the delegation itself is refused (a network failure is not this). */
export class DelegationRefused extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
    this.name = 'DelegationRefused';
  }
}

/**
 * An OAuth2Client whose access tokens act as `subject`. Tokens are minted on first use and refreshed shortly
 * before they expire; concurrent requests share one minting.
 */
export function keylessDelegatedClient(
  signer: Signer,
  serviceAccount: string,
  subject: string,
  scopes: string[],
  endpoints: DelegationEndpoints = GOOGLE_DELEGATION_ENDPOINTS,
  now: () => number = Date.now,
): OAuth2Client {
  const client = new OAuth2Client();
  let minting: Promise<{access_token: string; expiry_date: number}> | undefined;
  const mint = async () => {
    const iat = Math.floor(now() / 1000);
    const payload = {
      iss: serviceAccount,
      sub: subject,
      scope: scopes.join(' '),
      aud: endpoints.token,
      iat,
      exp: iat + ASSERTION_LIFETIME_S,
    };
    const signed = await signer.request<{signedJwt?: string}>({
      url: endpoints.signJwt(serviceAccount),
      method: 'POST',
      data: {payload: JSON.stringify(payload)},
    });
    if (!signed.data.signedJwt)
      throw new Error('signJwt returned no signedJwt');
    const res = await fetch(endpoints.token, {
      method: 'POST',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: signed.data.signedJwt,
      }),
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!res.ok || !body.access_token) {
      // e.g. unauthorized_client: the client id is not authorised for this scope in the Admin console.
      throw new DelegationRefused(
        res.status,
        `delegated token refused: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`.trim(),
      );
    }
    return {
      access_token: body.access_token,
      expiry_date: (iat + (body.expires_in ?? ASSERTION_LIFETIME_S)) * 1000,
    };
  };
  client.refreshHandler = () => {
    minting ??= mint().finally(() => {
      minting = undefined;
    });
    return minting;
  };
  return client;
}
