// How one environment variable's text becomes a configuration value: the validators the settings registry
// (functions/config-settings.ts) is built from. Every duration leaves here in milliseconds, whatever its variable's unit.
import {z} from 'zod';

/** A validator and what the documentation says about it: the default it applies and the values it accepts. */
export interface Parser<T> {
  /** The schema for one variable (its name goes into the messages). Unset means the default. */
  schema: (variable: string) => z.ZodType<T, string | undefined>;
  /** The default as shown to users, when the parser itself knows it. */
  default?: string;
  /** Unit and range, appended to the description (after `; `) so that the table cannot drift from the validator. */
  accepts?: string;
}

const UNITS = {
  count: {ms: 1, word: ''},
  milliseconds: {ms: 1, word: 'in milliseconds, '},
  seconds: {ms: 1000, word: 'in seconds, '},
  hours: {ms: 3_600_000, word: 'in hours, '},
  days: {ms: 86_400_000, word: 'in days, '},
} as const;

/**
 * An integer between min and max, in the variable's unit; a duration is handed on in milliseconds (the one unit
 * inside `Config`), so `LEASE_SECONDS=60` becomes 60000.
 */
export function integer(
  def: number,
  min: number,
  max: number,
  unit: keyof typeof UNITS,
): Parser<number> {
  const {ms, word} = UNITS[unit];
  return {
    schema: variable =>
      z
        .string()
        .optional()
        .transform((v, ctx) => {
          if (v === undefined || v.trim() === '') return def * ms;
          const n = Number(v);
          if (!Number.isInteger(n) || n < min || n > max) {
            ctx.addIssue({
              code: 'custom',
              message: `${variable} must be an integer between ${min} and ${max}`,
            });
            return z.NEVER;
          }
          return n * ms;
        }),
    default: `\`${def}\``,
    accepts: `${word}${min}–${max}`,
  };
}

const DURATION_UNITS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

/** A duration with its unit (`30s`, `15m`, `24h`, `7d`; a bare number is seconds), in milliseconds. */
export function duration(def: string): Parser<number> {
  const parse = (v: string) => {
    const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(v.trim());
    return m
      ? Number(m[1]) *
          DURATION_UNITS[(m[2] ?? 's') as keyof typeof DURATION_UNITS]
      : undefined;
  };
  const defMs = parse(def);
  if (defMs === undefined)
    throw new Error(`the default duration ${def} does not parse`);
  return {
    schema: variable =>
      z
        .string()
        .optional()
        .transform((v, ctx) => {
          if (v === undefined || v.trim() === '') return defMs;
          const ms = parse(v);
          if (ms === undefined) {
            ctx.addIssue({
              code: 'custom',
              message: `${variable} must be a duration such as 30s, 15m, 24h or 7d`,
            });
            return z.NEVER;
          }
          return ms;
        }),
    default: `\`${def}\``,
    accepts:
      'a number and a unit (`ms`, `s`, `m`, `h` or `d`, as in `30m` or `7d`); a bare number counts as seconds',
  };
}

/** Free text, trimmed; unset or blank is undefined. */
export const text: Parser<string | undefined> = {
  schema: () =>
    z
      .string()
      .optional()
      .transform(v => v?.trim() || undefined),
};

/** `true` or `false`; unset or empty is false. */
export const flag: Parser<boolean> = {
  schema: variable =>
    z
      .enum(['true', 'false', ''], {error: `${variable} must be true or false`})
      .optional()
      .transform(v => v === 'true'),
  default: '`false`',
};

/** One of a few literal values; unset is the first. Empty is not unset here: it is refused, as any other value. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): Parser<T[number]> {
  return {
    schema: variable =>
      z
        .enum(values, {
          error: `${variable} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`,
        })
        .optional()
        .transform((v): T[number] => v ?? values[0]),
    default: `\`${values[0]}\``,
  };
}

/** A space- or comma-separated list; each item mapped, then checked (a message means the item is refused). */
export function list(
  item: (s: string) => string,
  refuse: (item: string) => string | undefined = () => undefined,
): Parser<string[]> {
  return {
    schema: () =>
      z
        .string()
        .optional()
        .transform((v, ctx) => {
          const items = (v ?? '')
            .split(/[\s,]+/)
            .filter(Boolean)
            .map(item);
          for (const i of items) {
            const message = refuse(i);
            if (message !== undefined) {
              ctx.addIssue({code: 'custom', message});
              return z.NEVER;
            }
          }
          return items;
        }),
  };
}

/** Text matching a pattern, taken as is (not trimmed); unset is empty. */
export function matching(pattern: RegExp, message: string): Parser<string> {
  return {
    schema: () =>
      z
        .string()
        .regex(pattern, message)
        .optional()
        .transform(v => v ?? ''),
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** A plain-http loopback URL: the stand-in, which gets no credentials. */
export function isLocalStandIn(url: URL): boolean {
  return (
    url.protocol === 'http:' &&
    (LOOPBACK_HOSTS.has(url.hostname) ||
      /^127\.\d+\.\d+\.\d+$/.test(url.hostname))
  );
}

/** An https URL, or plain http on a loopback address; only its origin is kept (the client calls /v1/… at the root). */
export function apiRoot(def: string): Parser<string> {
  return {
    schema: variable =>
      z
        .string()
        .optional()
        .transform((v, ctx) => {
          const root = v?.trim() || def;
          let url: URL;
          try {
            url = new URL(root);
          } catch {
            ctx.addIssue({
              code: 'custom',
              message: `${variable} is not a URL: ${root}`,
            });
            return z.NEVER;
          }
          if (url.protocol !== 'https:' && !isLocalStandIn(url)) {
            ctx.addIssue({
              code: 'custom',
              message: `${variable} must be https, or plain http on a loopback address`,
            });
            return z.NEVER;
          }
          return url.origin + '/';
        }),
    default: `\`${def}\``,
  };
}

// Standard Webhooks: at least 24 bytes of randomness, base64 after the whsec_ prefix.
export function refuseSecret(s: string): string | undefined {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(s);
  if (!m || Buffer.from(m[1]!, 'base64').length < 24)
    return 'each secret must be whsec_ followed by base64 of at least 24 random bytes';
  return undefined;
}

// A Google account's email (the characters Google allows in one) or its numeric subject: anything else, a wildcard
// above all, would silently match nobody.
export function refuseCaller(c: string): string | undefined {
  if (
    /^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(c) ||
    /^\d{1,64}$/.test(c)
  )
    return undefined;
  return `${JSON.stringify(c.slice(0, 64))} is neither an email address nor a numeric account id (no wildcards)`;
}

/**
 * An admin to impersonate: a plain email address (lower case, at most 254 characters). It also names the pacer's
 * Firestore documents, so nothing that could upset a document id gets through.
 */
export function refuseSubject(s: string): string | undefined {
  return s.length <= 254 &&
    /^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(s)
    ? undefined
    : `${JSON.stringify(s.slice(0, 64))} is not an email address`;
}
