// Start-up: the entry parses its configuration when it loads; a bad one is one CRITICAL line, then exit 1.
import {setLogSink, setRedactEmails, Severity} from '../../functions/logs';
import {configOrExit} from '../../functions/startup';

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
const exit = (code: number): never => {
  throw new Exited(code);
};

let lines: {severity: Severity; fields: Record<string, unknown>}[];
beforeEach(() => {
  lines = [];
  setLogSink((line, severity) =>
    lines.push({severity, fields: JSON.parse(line) as Record<string, unknown>}),
  );
});
afterEach(() => {
  setLogSink(undefined);
  setRedactEmails(false);
});

it('a bad configuration is one CRITICAL line naming every bad setting, then exit 1', () => {
  expect(() =>
    configOrExit(
      {
        LEASE_SECONDS: '0',
        WEBHOOK_SECRETS: 'whsec_short',
        ALLOWED_CALLERS: 'sis@district.example',
      },
      exit,
    ),
  ).toThrow(new Exited(1));
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line!.severity).toBe('CRITICAL');
  expect(line!.fields.settings).toEqual([
    'LEASE_SECONDS',
    'WEBHOOK_SECRETS',
    'CALLER_AUDIENCE',
    'ALLOWED_CALLERS',
  ]);
  expect(line!.fields.message).toMatch(
    /^invalid configuration, the instance stops without serving: LEASE_SECONDS, WEBHOOK_SECRETS, CALLER_AUDIENCE, ALLOWED_CALLERS$/,
  );
  expect(line!.fields.problems).toHaveLength(3);
  // A refused secret is described, never quoted.
  expect(JSON.stringify(line!.fields)).not.toContain('whsec_short');
});

it('the addresses it quotes are masked when LOG_REDACT_EMAILS=true', () => {
  expect(() =>
    configOrExit(
      {
        LOG_REDACT_EMAILS: 'true',
        CLASSROOM_SUBJECTS: 'ada@district.example ada@district.example',
      },
      exit,
    ),
  ).toThrow(Exited);
  expect(JSON.stringify(lines)).toContain('***@district.example');
  expect(JSON.stringify(lines)).not.toContain('ada@');
});

it('a good configuration is returned, with nothing logged and no exit', () => {
  const config = configOrExit({LEASE_SECONDS: '5'}, exit);
  expect(config.leaseMs).toBe(5000);
  expect(lines).toEqual([]);
});
