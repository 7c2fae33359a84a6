// The webhook-timestamp header's form, checked before the library's own parseInt (which reads any leading number).
import { randomBytes } from 'node:crypto';
import { SignatureVerifier } from '../../functions/webhooks/signature';
import { signedWebhookHeaders } from '../../tools/webhook-headers';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const verifier = new SignatureVerifier([secret]);
const body = '{"type":"enrollments.created"}';

function signedWith(timestamp: (signed: string) => string) {
  const h = signedWebhookHeaders(secret, 'msg_1', new Date(), body);
  return { ...h, 'webhook-timestamp': timestamp(h['webhook-timestamp']!) };
}

it.each([
  ['trailing junk', (ts: string) => `${ts}abc`],
  ['a leading space', (ts: string) => ` ${ts}`],
  ['a trailing space', (ts: string) => `${ts} `],
  ['a plus sign', (ts: string) => `+${ts}`],
  ['a fraction', (ts: string) => `${ts}.5`],
  ['a second value (a repeated header)', (ts: string) => `${ts}, ${ts}`],
  ['exponent notation', (ts: string) => `${Number(ts) / 1e9}e9`],
  ['hex', (ts: string) => `0x${Number(ts).toString(16)}`],
  ['more than 12 digits', (ts: string) => ts.padStart(13, '0')],
  ['a negative number', () => '-1'],
])('a timestamp with %s is refused as INVALID_TIMESTAMP, even with a valid signature', (_name, tweak) => {
  expect(verifier.verify(Buffer.from(body), signedWith((ts) => ts))).toMatchObject({ ok: true });
  expect(verifier.verify(Buffer.from(body), signedWith(tweak))).toMatchObject({ ok: false, reason: 'INVALID_TIMESTAMP' });
});
