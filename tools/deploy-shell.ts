// A plan as a bash script (`npm run deploy -- --dry-run`): the same commands, in the same order, quoted so that
// they can be read, pasted or saved and run as they are. Values known only at run time are shell variables.
import {FILES_DIR, Plan, Step, Word} from './deploy-plan';

/** Words the shell takes as they are; anything else goes in single quotes. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quote(s: string): string {
  if (PLAIN.test(s)) return s;
  // `--flag='a value'` reads better than `'--flag=a value'` and is the same word.
  const flag = /^(--[a-z0-9-]+=)([^]*)$/.exec(s);
  if (flag) return `${flag[1]}${quote(flag[2]!)}`;
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** A word with run-time values: double quotes, in which only \ " $ ` are special. */
export function word(w: Word): string {
  if (typeof w === 'string') return quote(w);
  return `"${w
    .map(p =>
      typeof p === 'string' ? p.replace(/[\\"$`]/g, '\\$&') : `\${${p.ref}}`,
    )
    .join('')}"`;
}

export function commandLine(argv: Word[]): string {
  return argv.map(word).join(' ');
}

/** Past this width a command is printed one flag per line, so that a reader sees each setting. */
const WIDTH = 110;

/** A command as printed: on one line when it fits, else its positional words, then one flag per continued line. */
function printed(argv: Word[]): string {
  const one = commandLine(argv);
  if (one.length <= WIDTH) return one;
  const first = argv.findIndex(w => {
    const start = typeof w === 'string' ? w : w[0];
    return typeof start === 'string' && start.startsWith('-');
  });
  const head = first < 0 ? argv : argv.slice(0, first);
  const flags = first < 0 ? [] : argv.slice(first);
  const lines = [''];
  for (const w of head.map(word)) {
    const last = lines.length - 1;
    if (lines[last] === '' || lines[last]!.length + w.length < WIDTH)
      lines[last] = lines[last] === '' ? w : `${lines[last]} ${w}`;
    else lines.push(`  ${w}`);
  }
  return [...lines, ...flags.map(f => `  ${word(f)}`)].join(' \\\n');
}

export function toShellScript(plan: Plan): string {
  const out: string[] = [
    '#!/usr/bin/env bash',
    `# \`npm run deploy\`: ${plan.title}.`,
    '# A dry run: nothing was run. Saved and run with bash, this script does the same (it stops at the first failure).',
    'set -euo pipefail',
    `cd ${quote(plan.cwd)}`,
    `${FILES_DIR}="$(mktemp -d)"`,
    `trap 'rm -rf "\${${FILES_DIR}}"' EXIT`,
  ];
  for (const f of plan.files) {
    const end = delimiter(f.content);
    out.push(
      `cat > "\${${FILES_DIR}}/${f.name}" <<'${end}'`,
      f.content.replace(/\n$/, ''),
      end,
    );
  }
  for (const step of plan.steps) out.push(...lines(step));
  return `${out.join('\n')}\n`;
}

function lines(step: Step): string[] {
  switch (step.kind) {
    case 'section':
      return ['', `# ${step.title}`, ...step.notes.map(n => `#   ${n}`)];
    case 'run':
      return [printed(step.argv)];
    case 'ensure':
      return [
        `${commandLine(step.check)} >/dev/null 2>&1 \\\n  || ${commandLine(step.create)}`,
      ];
    case 'capture':
      return [
        `${step.variable}="$(${commandLine(step.argv)})"`,
        `[ -n "\${${step.variable}}" ] || { echo ${quote(`deploy: could not read ${step.what}`)} >&2; exit 1; }`,
      ];
  }
}

/** A here-document delimiter that no line of the content equals. */
function delimiter(content: string): string {
  const lines = new Set(content.split('\n'));
  let end = 'EOF';
  while (lines.has(end)) end += '_';
  return end;
}
