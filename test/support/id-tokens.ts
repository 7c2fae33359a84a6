// Google-style ID tokens for tests: signed here with a test key that stands in for Google's published signing
// keys (served to the verifier as a CertSource), plus the forgeries an attacker would try.
import {createSign, generateKeyPairSync, KeyObject} from 'node:crypto';
import type {CertSource} from '../../functions/http/caller';

export const AUDIENCE = 'https://invitations-abc-uc.a.run.app';
export const KID = 'test-key-1';

const {privateKey, publicKey} = generateKeyPairSync('rsa', {
  modulusLength: 2048,
});

const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A signed ID token; claims override the defaults (issuer, this audience, issued now, valid 10 minutes). */
export function idToken(
  claims: Record<string, unknown>,
  key: KeyObject = privateKey,
  kid = KID,
): string {
  const now = Math.floor(Date.now() / 1000);
  const signed = `${enc({alg: 'RS256', typ: 'JWT', kid})}.${enc({iss: 'https://accounts.google.com', aud: AUDIENCE, iat: now, exp: now + 600, ...claims})}`;
  return `${signed}.${createSign('RSA-SHA256').update(signed).sign(key).toString('base64url')}`;
}

/** An `alg: none` token with no signature: what the function must never take at its word. */
export function unsignedToken(
  claims: Record<string, unknown>,
  kid?: string,
): string {
  const now = Math.floor(Date.now() / 1000);
  return `${enc({alg: 'none', typ: 'JWT', ...(kid ? {kid} : {})})}.${enc({iss: 'https://accounts.google.com', aud: AUDIENCE, iat: now, exp: now + 600, ...claims})}.`;
}

/** Another RSA key, whose public half the verifier never sees. */
export const strangerKey = (): KeyObject =>
  generateKeyPairSync('rsa', {modulusLength: 2048}).privateKey;

/** The test key set, as Google publishes its own: PEM by key id. */
export const testCerts: CertSource = async () => ({
  [KID]: publicKey.export({type: 'spki', format: 'pem'}).toString(),
});
