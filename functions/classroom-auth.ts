// Credentials for Classroom, one set per impersonated subject. Production: Application Default Credentials, with
// domain-wide delegation when a subject is set (a key file's JWT carries the subject; metadata-server credentials
// cannot, so the token is minted through the IAM Credentials API: functions/delegation.ts). The local stand-in:
// the same keyless delegation, against the stand-in's own signJwt and token endpoints.
import type * as ClassroomModule from '@googleapis/classroom';
import type {classroom_v1} from '@googleapis/classroom';
import {DelegationRefused, keylessDelegatedClient, Signer} from './delegation';

export const ROSTERS_SCOPE =
  'https://www.googleapis.com/auth/classroom.rosters';

/** The service account the stand-in is told it signs for (it checks nothing). */
const STANDIN_SERVICE_ACCOUNT =
  'classroom-gateway@standin.iam.gserviceaccount.com';

/** What a Classroom client authenticates with, and a way to get (or reuse) its token before a call. */
export interface ClassroomAuth {
  auth: NonNullable<classroom_v1.Options['auth']>;
  token(): Promise<unknown>;
}

function withToken(
  auth: {getAccessToken(): Promise<unknown>} & NonNullable<
    classroom_v1.Options['auth']
  >,
): ClassroomAuth {
  return {auth, token: () => auth.getAccessToken()};
}

/**
 * A subject's token could not be obtained. `refused`: Google answered and said no (delegation revoked, account
 * suspended, scope not granted, the service account may not sign): the subject leaves the rotation for a while.
 * Otherwise (network, 5xx) the call fails and may be retried.
 */
export class SubjectCredentialsError extends Error {
  constructor(
    readonly subject: string,
    readonly refused: boolean,
    override readonly cause: unknown,
  ) {
    super(
      `could not obtain a Classroom token${subject ? ` as ${subject}` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'SubjectCredentialsError';
  }
}

/**
 * Was the token refused by an endpoint that answered (4xx), rather than out of reach? 408 and 429 say "not now"
 * (the token or signJwt endpoint busy or rate-limited), not "never": the subject keeps its place.
 */
export function isRefusal(err: unknown): boolean {
  const status =
    err instanceof DelegationRefused
      ? err.httpStatus
      : (err as {response?: {status?: unknown}} | null)?.response?.status;
  return (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    status !== 408 &&
    status !== 429
  );
}

/** Credentials for production Classroom, as `subject` ('' for the service account itself). */
export async function googleAuth(
  mod: typeof ClassroomModule,
  subject: string,
): Promise<ClassroomAuth> {
  if (!subject)
    return withToken(new mod.auth.GoogleAuth({scopes: [ROSTERS_SCOPE]}));
  const withSubject = new mod.auth.GoogleAuth({
    scopes: [ROSTERS_SCOPE],
    clientOptions: {subject},
  });
  const creds = await withSubject.getCredentials();
  if (creds.private_key) return withToken(withSubject);
  if (!creds.client_email)
    throw new Error(
      'a Classroom subject is set but the credentials name no service account',
    );
  const adc = new mod.auth.GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
  });
  const signer: Signer = {
    request: async opts => (await adc.getClient()).request(opts),
  };
  return withToken(
    keylessDelegatedClient(signer, creds.client_email, subject, [
      ROSTERS_SCOPE,
    ]),
  );
}

/** Credentials for the local stand-in: the production delegation flow against its endpoints (none without a subject). */
export function standInAuth(
  root: string,
  subject: string,
): ClassroomAuth | undefined {
  if (!subject) return undefined;
  const base = new URL(root);
  const signer: Signer = {
    async request<T>(opts: {url: string; method: 'POST'; data: unknown}) {
      const res = await fetch(opts.url, {
        method: opts.method,
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(opts.data),
      });
      if (!res.ok)
        throw new DelegationRefused(
          res.status,
          `signJwt answered ${res.status}`,
        );
      return {data: (await res.json()) as T};
    },
  };
  const client = keylessDelegatedClient(
    signer,
    STANDIN_SERVICE_ACCOUNT,
    subject,
    [ROSTERS_SCOPE],
    {
      signJwt: sa =>
        new URL(
          `/v1/projects/-/serviceAccounts/${encodeURIComponent(sa)}:signJwt`,
          base,
        ).href,
      token: new URL('/token', base).href,
    },
  );
  return withToken(client);
}
