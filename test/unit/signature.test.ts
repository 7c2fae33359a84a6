// Webhook signatures: the timestamp's form, the clock, and the HMAC in node:crypto agreeing with the standardwebhooks library.
import {randomBytes} from 'node:crypto';
import {SignatureVerifier} from '../../functions/webhooks/signature';
import {signedWebhookHeaders} from '../../tools/webhook-headers';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const verifier = new SignatureVerifier([secret]);
const body = '{"type":"enrollments.created"}';

function signedWith(timestamp: (signed: string) => string) {
  const h = signedWebhookHeaders(secret, 'msg_1', new Date(), body);
  return {...h, 'webhook-timestamp': timestamp(h['webhook-timestamp']!)};
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
])(
  'a timestamp with %s is refused as INVALID_TIMESTAMP, even with a valid signature',
  (_name, tweak) => {
    expect(
      verifier.verify(
        Buffer.from(body),
        signedWith(ts => ts),
      ),
    ).toMatchObject({ok: true});
    expect(verifier.verify(Buffer.from(body), signedWith(tweak))).toMatchObject(
      {ok: false, reason: 'INVALID_TIMESTAMP'},
    );
  },
);

describe('the HMAC in node:crypto agrees with the standardwebhooks library', () => {
  const fc = require('fast-check') as typeof import('fast-check');
  it('for any id and body the library signs, and for none it did not', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.string({maxLength: 300}),
        (id, text) => {
          const h = signedWebhookHeaders(secret, id, new Date(), text);
          expect(verifier.verify(Buffer.from(text), h)).toMatchObject({
            ok: true,
            webhookId: id,
          });
          expect(verifier.verify(Buffer.from(text + ' '), h)).toMatchObject({
            ok: false,
            reason: 'BAD_SIGNATURE',
          });
        },
      ),
      {numRuns: 200},
    );
  });

  it('any signature of a rotation may match; v1a and malformed entries are skipped, not fatal', () => {
    const h = signedWithTs();
    const other = signedWebhookHeaders(
      `whsec_${randomBytes(32).toString('base64')}`,
      'msg_1',
      new Date(),
      body,
    )['webhook-signature'];
    const header = `v1a,abc ${other} v1,%%% ${h['webhook-signature']}`;
    expect(
      verifier.verify(Buffer.from(body), {...h, 'webhook-signature': header}),
    ).toMatchObject({ok: true});
  });

  it('a stale or future timestamp is refused before any signature is computed', () => {
    const late = new SignatureVerifier(
      [secret],
      () => Math.floor(Date.now() / 1000) + 301,
    );
    const early = new SignatureVerifier(
      [secret],
      () => Math.floor(Date.now() / 1000) - 301,
    );
    expect(late.verify(Buffer.from(body), signedWithTs())).toMatchObject({
      ok: false,
      reason: 'STALE_TIMESTAMP',
    });
    expect(early.verify(Buffer.from(body), signedWithTs())).toMatchObject({
      ok: false,
      reason: 'FUTURE_TIMESTAMP',
    });
  });

  it('bytes that are not valid UTF-8 are verified as received, not as a decoded string', () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]); // "{", two invalid bytes, "}"
    const decoded = bytes.toString('utf8'); // what a string-based verifier would sign over: U+FFFD twice
    const h = signedWebhookHeaders(secret, 'msg_2', new Date(), decoded);
    expect(verifier.verify(bytes, h)).toMatchObject({
      ok: false,
      reason: 'BAD_SIGNATURE',
    });
    expect(verifier.verify(Buffer.from(decoded), h)).toMatchObject({ok: true});
  });
});

function signedWithTs() {
  return signedWebhookHeaders(secret, 'msg_1', new Date(), body);
}
