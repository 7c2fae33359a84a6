// `npm run audit -- --course <id> --user <email> [--since 7d|<ISO>] [--outcome failed,rejected] [--limit 50] [--json|--csv]`
// Answers "why wasn't this student invited?" from the audit trail, newest first. Against the emulator when
// FIRESTORE_EMULATOR_HOST is set, else against GOOGLE_CLOUD_PROJECT with Application Default Credentials.
// The trail holds what unauthenticated requests sent: nothing in it may act on a terminal or a spreadsheet.
import {Firestore, Timestamp} from '@google-cloud/firestore';
import type {Query} from '@google-cloud/firestore';
import {AUDIT_COLLECTION} from '../functions/ledger';
import {noMetadataServerWithEmulators} from './metadata-server';

export interface AuditQuery {
  course?: string;
  user?: string;
  since?: Date;
  outcomes: string[];
  limit: number;
  format: 'table' | 'json' | 'csv';
  project?: string;
  prefix: string;
}

const USAGE = `usage: npm run audit -- [--course <courseId>] [--user <email or id>] [--since <7d|24h|ISO date>]
                        [--outcome <o1,o2>] [--limit <n>] [--json | --csv] [--project <id>] [--prefix <collection prefix>]`;

export function parseArgs(
  argv: string[],
  env: Record<string, string | undefined>,
  now = new Date(),
): AuditQuery {
  const q: AuditQuery = {
    outcomes: [],
    limit: 50,
    format: 'table',
    prefix: env.COLLECTION_PREFIX ?? '',
    project: env.GOOGLE_CLOUD_PROJECT || env.GCLOUD_PROJECT,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--course') q.course = value();
    else if (a === '--user') q.user = value().toLowerCase();
    else if (a === '--since') q.since = parseSince(value(), now);
    else if (a === '--outcome')
      q.outcomes = value()
        .split(',')
        .map(s => s.trim())
        .filter(Boolean);
    else if (a === '--limit')
      q.limit = Math.max(1, Math.min(10_000, Number(value()) || 50));
    else if (a === '--json') q.format = 'json';
    else if (a === '--csv') q.format = 'csv';
    else if (a === '--project') q.project = value();
    else if (a === '--prefix') q.prefix = value();
    else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return q;
}

function parseSince(v: string, now: Date): Date {
  const m = /^(\d+)\s*(m|h|d)$/.exec(v);
  if (m)
    return new Date(
      now.getTime() -
        Number(m[1]) *
          {m: 60_000, h: 3_600_000, d: 86_400_000}[m[2] as 'm' | 'h' | 'd'],
    );
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new Error(`--since takes 7d, 24h, 30m or an ISO date, not ${v}`);
  return d;
}

export type Row = Record<string, string | number | null>;

const COLUMNS = [
  'at',
  'outcome',
  'httpStatus',
  'source',
  'courseId',
  'userId',
  'role',
  'invitationId',
  'upstreamStatus',
  'detail',
  'caller',
  'claimedCaller',
  'requestId',
] as const;

export async function runQuery(db: Firestore, q: AuditQuery): Promise<Row[]> {
  let query: Query = db.collection(q.prefix + AUDIT_COLLECTION);
  if (q.course) query = query.where('courseId', '==', q.course);
  if (q.user) query = query.where('userId', '==', q.user);
  if (q.outcomes.length === 1)
    query = query.where('outcome', '==', q.outcomes[0]);
  else if (q.outcomes.length > 1)
    query = query.where('outcome', 'in', q.outcomes.slice(0, 30));
  if (q.since) query = query.where('at', '>=', Timestamp.fromDate(q.since));
  const snap = await query.orderBy('at', 'desc').limit(q.limit).get();
  return snap.docs.map(d => {
    const e = d.data();
    const detail =
      e.reason ??
      (Array.isArray(e.violations)
        ? `invalid: ${e.violations.join(', ')}`
        : null) ??
      e.upstreamMessage ??
      null;
    return {
      at: e.at instanceof Timestamp ? e.at.toDate().toISOString() : null,
      outcome: e.outcome ?? null,
      httpStatus: e.httpStatus ?? null,
      source: e.source ?? null,
      courseId: e.courseId ?? null,
      userId: e.userId ?? null,
      role: e.role ?? null,
      invitationId: e.invitationId ?? null,
      upstreamStatus: e.upstreamStatus ?? null,
      detail,
      caller: e.caller ?? null,
      claimedCaller: e.claimedCaller ?? null,
      requestId: e.requestId ?? d.id,
    };
  });
}

// C0 (ESC starts every terminal escape), DEL, C1 (U+009B is a one-character CSI), and bidirectional overrides
// (text that displays other than it reads). Shown as \xHH or \u{HHHH}: the reader sees that something was sent.
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex -- control characters are what this matches
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function printable(s: string): string {
  return s.replace(UNPRINTABLE, c => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u{${code.toString(16)}}`;
  });
}

// What spreadsheets read as a formula (OWASP, CSV injection), full-width forms included (Excel in CJK locales).
const FORMULA_START = /^[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/;

/** One CSV cell: real numbers as they are; text printable, defused with a leading ' if a spreadsheet would evaluate it. */
export function csvCell(v: unknown): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  let s = v === null || v === undefined ? '' : printable(String(v));
  if (FORMULA_START.test(s)) s = `'${s}`;
  // `;` too: Excel splits on it in locales where it is the list separator.
  return /[",;]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// JSON.stringify escapes C0 in strings but leaves these raw; outside strings JSON is ASCII, so escaping them
// everywhere keeps the output exact JSON that parses to the same values.
const RAW_IN_JSON =
  /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function safeJson(rows: Row[]): string {
  return JSON.stringify(rows, null, 2).replace(
    RAW_IN_JSON,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function format(rows: Row[], how: AuditQuery['format']): string {
  if (how === 'json') return safeJson(rows);
  if (how === 'csv')
    return [
      COLUMNS.join(','),
      ...rows.map(r => COLUMNS.map(c => csvCell(r[c])).join(',')),
    ].join('\n');
  if (rows.length === 0) return 'No audit events match.';
  // The table shows the columns up to `detail`; who called is in --json and --csv.
  const shown = COLUMNS.slice(0, COLUMNS.indexOf('detail') + 1);
  const cells = rows.map(r =>
    shown.map(c =>
      r[c] === null || r[c] === undefined ? '' : printable(String(r[c])),
    ),
  );
  const widths = shown.map((c, i) =>
    Math.min(60, Math.max(c.length, ...cells.map(row => row[i]!.length))),
  );
  const line = (vals: readonly string[]) =>
    vals
      .map((v, i) => v.slice(0, widths[i]).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(shown),
    line(widths.map(w => '-'.repeat(w))),
    ...cells.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  let q: AuditQuery;
  try {
    q = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
  noMetadataServerWithEmulators();
  const db = new Firestore({...(q.project ? {projectId: q.project} : {})});
  try {
    console.log(format(await runQuery(db, q), q.format));
  } finally {
    await db.terminate();
  }
}

if (require.main === module) {
  main().catch(err => {
    const msg = err instanceof Error ? err.message : String(err);
    // A missing composite index names itself with a link to create it.
    console.error(
      /index/i.test(msg)
        ? `${msg}\n(deploy firestore.indexes.json: npx firebase deploy --only firestore:indexes)`
        : msg,
    );
    process.exit(1);
  });
}
