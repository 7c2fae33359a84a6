// The environment table in docs/configuration.md is generated from the settings registry: these tests keep the
// table, the registry and what parseConfig really reads from drifting apart.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {parseConfig} from '../../functions/config';
import {allSettings, parsedSettings} from '../../functions/config-settings';
import {withConfigTable} from '../../functions/config-table';

const DOC = join(__dirname, '../../docs/configuration.md');

/** The variables parseConfig looks up, whatever the registry says: an env that records every read. */
function variablesRead(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy<Record<string, string | undefined>>(
    {},
    {
      get: (_target, key) => {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    },
  );
  parseConfig(env);
  return read;
}

/** The value at a `group.field` path of the parsed configuration, and whether that field exists at all. */
function at(config: object, path: string): {exists: boolean; value: unknown} {
  let v: unknown = config;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object' || !(k in v))
      return {exists: false, value: undefined};
    v = (v as Record<string, unknown>)[k];
  }
  return {exists: true, value: v};
}

describe('the configuration table', () => {
  it('in docs/configuration.md is the one the registry generates', () => {
    const doc = readFileSync(DOC, 'utf8');
    const generated = withConfigTable(doc);
    if (generated !== doc) {
      const line = doc
        .split('\n')
        .findIndex((l, i) => l !== generated.split('\n')[i]);
      throw new Error(
        `docs/configuration.md differs from functions/config-settings.ts from line ${line + 1}: run \`npm run docs:config\``,
      );
    }
  });

  it('has a row for every variable parseConfig reads, and no row for one nobody reads', () => {
    const rows = [
      ...readFileSync(DOC, 'utf8').matchAll(/^\| `([A-Z0-9_]+)` \|/gm),
    ].map(m => m[1]);
    const read = variablesRead();
    expect([...read].filter(v => !rows.includes(v))).toEqual([]);
    const platform = allSettings()
      .filter(s => s.readBy === 'platform')
      .map(s => s.variable);
    expect(
      rows.filter(
        v => v !== undefined && !read.has(v) && !platform.includes(v),
      ),
    ).toEqual([]);
  });

  it('every setting has a default and a one-line description, and lands in a field of Config', () => {
    const defaults = parseConfig({});
    for (const s of allSettings()) {
      expect({
        variable: s.variable,
        described: /^\S[^\n]{10,}$/.test(s.description),
        defaulted: s.default.trim() !== '',
      }).toEqual({variable: s.variable, described: true, defaulted: true});
    }
    for (const s of parsedSettings())
      expect({
        variable: s.variable,
        lands: s.lands,
        exists: at(defaults, s.lands).exists,
      }).toEqual({variable: s.variable, lands: s.lands, exists: true});
  });

  it('a default shown as a value is the default parseConfig applies', () => {
    const defaults = parseConfig({});
    for (const s of parsedSettings()) {
      const shown = /^`(.*)`$/.exec(s.default)?.[1];
      if (shown !== undefined)
        expect({
          variable: s.variable,
          config: parseConfig({[s.variable]: shown}),
        }).toEqual({variable: s.variable, config: defaults});
    }
  });

  it('a duration in any unit lands in milliseconds, in a field whose name ends in Ms', () => {
    const unit: Record<string, number> = {
      MS: 1,
      SECONDS: 1000,
      HOURS: 3_600_000,
      DAYS: 86_400_000,
      AFTER: 1000 /* a bare number is seconds */,
    };
    const durations = parsedSettings().filter(s =>
      /_(MS|SECONDS|HOURS|DAYS)$|^LEDGER_RECHECK_AFTER$/.test(s.variable),
    );
    expect(durations.length).toBeGreaterThanOrEqual(13);
    for (const s of durations) {
      const ms = 600 * unit[/_([A-Z]+)$/.exec(s.variable)![1]!]!;
      expect({
        variable: s.variable,
        lands: /Ms$/.test(s.lands),
        value: at(parseConfig({[s.variable]: '600'}), s.lands).value,
      }).toEqual({variable: s.variable, lands: true, value: ms});
    }
  });
});
