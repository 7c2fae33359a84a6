// deploy.env is read strictly: what a line means is never guessed, and a refused value is never echoed.
import {DeployError, parseEnvFile} from '../../tools/deploy-env-file';

const read = (text: string) =>
  Object.fromEntries(
    [...parseEnvFile(text, 'deploy.env')].map(([k, e]) => [k, e.value]),
  );
const refusal = (text: string) => {
  try {
    parseEnvFile(text, 'deploy.env');
  } catch (err) {
    expect(err).toBeInstanceOf(DeployError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('deploy.env', () => {
  it('takes KEY=VALUE lines, comments, blank lines, CRLF and a byte-order mark', () => {
    expect(
      read(
        '\uFEFF# a comment\r\n\r\nPROJECT=p-1\r\n  REGION = us-central1  \r\n',
      ),
    ).toEqual({PROJECT: 'p-1', REGION: 'us-central1'});
  });

  it('takes a quoted value literally, and an empty value as no line', () => {
    expect(read('A="x y"\nB=\'$(id) "q"\'\nC=\nD=""\nE=a=b')).toEqual({
      A: 'x y',
      B: '$(id) "q"',
      E: 'a=b',
    });
  });

  it.each([
    ['lower-case key', 'project=x', '1: "project" is not a setting name'],
    ['no =', 'PROJECT', '1: not a KEY=VALUE line'],
    ['export', 'export PROJECT=x', '1: no "export"'],
    ['twice', 'A=1\nA=2', '2: A is already set on line 1'],
    ['comment after a value', 'A=1 # one', '1: A: a comment after a value'],
    ['quote inside', "A=it's", '1: A: a quote inside a value'],
    ['unclosed quote', 'A="open', '1: A: a value opened with " must be closed'],
    ['an escape sequence', 'A=\x1b[31mred', '1: a control character'],
    ['a lone carriage return', 'A=x\ry', '1: a control character'],
    ['a line separator', 'A=x\u2028y', '1: a control character'],
  ])('refuses %s, naming the line', (_, text, message) => {
    expect(refusal(text)).toContain(`deploy.env:${message}`);
  });

  it('lists every bad line at once and never echoes a value', () => {
    const message = refusal(
      'A=whsec_abc # x\nB=whsec_def\x07\nC=1\nC=whsec_ghi\nD="whsec_jkl',
    );
    expect(message.split('\n')).toHaveLength(4);
    expect(message).not.toContain('whsec_');
  });

  it('refuses a file larger than 64 KiB', () => {
    expect(refusal(`A=${'x'.repeat(70_000)}`)).toContain('larger than 64 KiB');
  });
});
