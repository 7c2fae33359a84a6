// The format of deploy.env, read strictly: `KEY=VALUE` lines, `#` comment lines, blank lines. A value may be wrapped
// in one pair of single or double quotes (taken literally, no escapes); an empty value is the same as no line.
// Anything else is refused with its line number, since a deploy must never guess what a line meant.

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployError';
  }
}

export interface EnvEntry {
  value: string;
  line: number;
}

/** Far above any real deploy.env; a larger file is not one. */
export const MAX_ENV_FILE_BYTES = 64 * 1024;

/** Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: never part of a setting. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

/** Keys in order of appearance; blank values are left out. Throws DeployError listing every bad line. */
export function parseEnvFile(
  text: string,
  file: string,
): Map<string, EnvEntry> {
  if (Buffer.byteLength(text) > MAX_ENV_FILE_BYTES)
    throw new DeployError(
      `${file} is larger than ${MAX_ENV_FILE_BYTES / 1024} KiB: not a deploy.env`,
    );
  const entries = new Map<string, EnvEntry>();
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const at = `${file}:${line}`;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    // Values are never echoed: a misplaced secret must not reach a terminal or a CI log.
    if (CONTROL.test(raw)) {
      problems.push(
        `${at}: a control character (an escape, a carriage return …)`,
      );
      return;
    }
    const m = /^([^=\s]+)\s*=(.*)$/.exec(trimmed);
    if (!m) {
      problems.push(
        /^export\s/.test(trimmed)
          ? `${at}: no "export": write KEY=VALUE`
          : `${at}: not a KEY=VALUE line`,
      );
      return;
    }
    const key = m[1]!;
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
      problems.push(
        `${at}: ${JSON.stringify(key.slice(0, 64))} is not a setting name (capital letters, digits and _)`,
      );
      return;
    }
    const value = unquote(m[2]!.trim());
    if (typeof value !== 'string') {
      problems.push(`${at}: ${key}: ${value.problem}`);
      return;
    }
    const earlier = entries.get(key);
    if (earlier) {
      problems.push(`${at}: ${key} is already set on line ${earlier.line}`);
      return;
    }
    entries.set(key, {value, line});
  });
  if (problems.length > 0) throw new DeployError(problems.join('\n'));
  for (const [key, entry] of entries)
    if (entry.value === '') entries.delete(key);
  return entries;
}

function unquote(v: string): string | {problem: string} {
  const q = v[0];
  if (q === '"' || q === "'") {
    if (v.length < 2 || v.at(-1) !== q || v.slice(1, -1).includes(q))
      return {
        problem: `a value opened with ${q} must be closed by one ${q} at the end of the line`,
      };
    return v.slice(1, -1);
  }
  // `KEY=value # note` would make the note part of the value: say so rather than guess.
  if (/\s#/.test(v))
    return {problem: 'a comment after a value: put comments on their own line'};
  if (/["']/.test(v))
    return {
      problem: 'a quote inside a value: quote the whole value or none of it',
    };
  return v;
}
