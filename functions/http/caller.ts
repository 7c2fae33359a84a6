// Who is calling: the identity in the Google-signed ID token that Cloud Run IAM has already verified
// before the request reaches the function. Read here only to record it in the audit.
export function callerFromAuthorization(header: string | undefined): string {
  const m = /^Bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/.exec(header ?? '');
  if (!m) return 'anonymous';
  try {
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const id = typeof claims.email === 'string' ? claims.email : typeof claims.sub === 'string' ? claims.sub : undefined;
    return id ? id.slice(0, 256) : 'anonymous';
  } catch {
    return 'anonymous';
  }
}
