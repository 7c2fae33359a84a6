// The dry run's quoting: whatever a word holds, bash reads back exactly that word, and a run-time value is expanded
// once, never evaluated.
import {spawnSync} from 'node:child_process';
import {commandLine, quote, word} from '../../tools/deploy-shell';

/** The words bash parses out of `line`, as printf receives them. */
function bashWords(line: string, env: Record<string, string> = {}): string[] {
  const r = spawnSync('bash', ['-c', `printf '%s\\0' ${line}`], {
    env: {PATH: process.env.PATH ?? '', ...env},
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

const HOSTILE = [
  'plain',
  '',
  'with space',
  "it's",
  '"double"',
  '$(touch /tmp/deploy-quote-pwned)',
  '`id`',
  '${HOME}',
  'a\\b',
  '*',
  '~root',
  '!event',
  'semi;colon|pipe&amp',
  'new\nline',
  '--flag=with space',
  "--flag=it's $(id)",
  '--display-name=Classroom invitation gateway',
  'ünïcödé',
  '#comment',
];

describe('shell quoting', () => {
  it('bash reads every word back exactly', () => {
    expect(bashWords(HOSTILE.map(quote).join(' '))).toEqual(HOSTILE);
  });

  it('leaves plain words and flags readable', () => {
    expect(quote('--project=my-project')).toBe('--project=my-project');
    expect(quote('--display-name=Classroom invitation gateway')).toBe(
      "--display-name='Classroom invitation gateway'",
    );
    expect(quote('--database=(default)')).toBe("--database='(default)'");
  });

  it('expands a run-time value once, as data, around literal text that stays literal', () => {
    const w = word(['--member=$(id)`x`"', {ref: 'VALUE'}, '\\end']);
    expect(
      bashWords(w, {VALUE: '$(touch /tmp/deploy-quote-pwned) "q"'}),
    ).toEqual(['--member=$(id)`x`"$(touch /tmp/deploy-quote-pwned) "q"\\end']);
  });

  it('joins a command line word by word', () => {
    expect(
      bashWords(commandLine(['gcloud', 'a b', [{ref: 'V'}]]), {V: 'v w'}),
    ).toEqual(['gcloud', 'a b', 'v w']);
  });
});
