// The refusal audit limiter on its own: a fake clock and an in-memory writer stand in for time and the
// audit collection (the emulator test in refusal-audit.emulator.test.ts runs it for real).
import type {AuditEvent} from '../../functions/audit';
import {boundedId} from '../../functions/audit';
import {parseConfig} from '../../functions/config';
import {setLogSink, Severity} from '../../functions/logs';
import {RefusalAudit, TokenBucket} from '../../functions/refusal-audit';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

function refusal(i: number, reason = 'BAD_SIGNATURE'): AuditEvent {
  return {
    requestId: `r${i}`,
    source: 'webhook',
    caller: 'unverified',
    courseId: null,
    userId: null,
    role: null,
    pairKey: null,
    outcome: 'rejected',
    httpStatus: 401,
    upstreamStatus: reason,
  };
}

function setUp(settings = {perSecond: 5, burst: 20, ttlMs: 30 * DAY}) {
  let clock = 1_000_000;
  const written: AuditEvent[] = [];
  const audit = new RefusalAudit(
    'webhook',
    settings,
    async events => void written.push(...events),
    () => clock,
  );
  return {
    audit,
    written,
    advance: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

const total = (events: AuditEvent[]) =>
  events.reduce((sum, e) => sum + (e.suppressedCount ?? 1), 0);

let lines: {line: string; severity: Severity}[] = [];
beforeEach(() => {
  lines = [];
  setLogSink((line, severity) => lines.push({line, severity}));
});
afterAll(() => setLogSink(() => undefined));

describe('refusal audit events', () => {
  it('within the burst every refusal is written one by one, with expireAt = now + the TTL', async () => {
    const {audit, written, now} = setUp();
    for (let i = 0; i < 20; i++)
      expect(await audit.record(refusal(i))).toBe('written');
    expect(written).toHaveLength(20);
    for (const e of written)
      expect(e.expireAt).toEqual(new Date(now() + 30 * DAY));
  });

  it('beyond the burst refusals are counted; the first to find room writes one summary with the count, itself included', async () => {
    const {audit, written, advance} = setUp();
    for (let i = 0; i < 20; i++) await audit.record(refusal(i));
    for (let i = 20; i < 120; i++)
      expect(
        await audit.record(
          refusal(i, i % 2 ? 'BAD_SIGNATURE' : 'MISSING_HEADERS'),
        ),
      ).toBe('counted');
    expect(written).toHaveLength(20);
    advance(200); // one token at 5/s
    expect(await audit.record(refusal(120))).toBe('summarized');
    expect(written).toHaveLength(21);
    expect(written[20]).toMatchObject({
      requestId: 'r120',
      outcome: 'rejected',
      suppressedCount: 101,
      suppressedByKind: {'401 BAD_SIGNATURE': 51, '401 MISSING_HEADERS': 50},
      expireAt: expect.any(Date),
    });
    expect(written[20]!.reason).toMatch(
      /^101 refused requests were counted, not audited one by one/,
    );
    await audit.close();
  });

  it('a flood of 2,000 refusals over 1.5 s writes at most burst + rate × duration documents, and every refusal is counted', async () => {
    const {audit, written, advance} = setUp();
    for (let i = 0; i < 2000; i++) {
      await audit.record(refusal(i));
      advance(0.75); // 2,000 in 1.5 s
    }
    await audit.close();
    expect(written.length).toBeLessThanOrEqual(20 + 8 + 1);
    expect(total(written)).toBe(2000);
  });

  it('while refusals are counted, one WARNING line a second at most', async () => {
    const {audit, advance} = setUp();
    for (let i = 0; i < 3000; i++) {
      await audit.record(refusal(i));
      advance(1); // 3 s
    }
    const warnings = lines.filter(
      l =>
        l.severity === 'WARNING' && l.line.includes('refusal audit rate limit'),
    );
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.length).toBeLessThanOrEqual(3);
    await audit.close();
  });

  it('counts left when the flood stops are written by themselves once the bucket has room', async () => {
    const {audit, written, advance} = setUp({
      perSecond: 50,
      burst: 1,
      ttlMs: DAY,
    });
    await audit.record(refusal(0));
    for (let i = 1; i <= 10; i++) await audit.record(refusal(i));
    expect(written).toHaveLength(1);
    advance(1000);
    await sleep(60); // the timer was set for one token at 50/s: 20 ms
    expect(written).toHaveLength(2);
    expect(written[1]).toMatchObject({
      suppressedCount: 10,
      caller: 'refusal-summary',
      source: 'webhook',
    });
    await audit.close();
    expect(written).toHaveLength(2);
  });

  it('a failing audit store never makes a refusal throw; the log keeps the count', async () => {
    const audit = new RefusalAudit(
      'webhook',
      {perSecond: 1, burst: 1, ttlMs: DAY},
      async () => {
        throw new Error('firestore down');
      },
    );
    await expect(audit.record(refusal(0))).resolves.toBe('written');
    await audit.record(refusal(1));
    await audit.close();
    const errors = lines
      .filter(l => l.severity === 'ERROR')
      .map(l => JSON.parse(l.line) as Record<string, unknown>);
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatchObject({suppressedCount: 1});
  });
});

describe('token bucket', () => {
  it('starts full, refills at its rate, never beyond its capacity, and says when the next token comes', () => {
    let clock = 0;
    const b = new TokenBucket(5, 2, () => clock);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    expect(b.msUntilToken()).toBe(200);
    clock += 10_000;
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    clock -= 5_000; // a clock stepped back gives nothing and takes nothing
    expect(b.take()).toBe(false);
  });
});

describe('sender-chosen ids in the audit', () => {
  it.each([
    ['msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', 64, 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'],
    ['x'.repeat(64), 64, 'x'.repeat(64)],
    ['x'.repeat(65), 64, 'sha256:'],
    ['x'.repeat(250), 256, 'x'.repeat(250)],
    ['with space', 64, 'sha256:'],
    ['caf\u00e9', 64, 'sha256:'],
  ])('%p (max %p) is kept as %p…', (id, max, kept) => {
    const v = boundedId(id, max)!;
    if (kept === 'sha256:') expect(v).toMatch(/^sha256:[0-9a-f]{16}$/);
    else expect(v).toBe(kept);
  });

  it('an absent or empty id stays absent', () => {
    expect(boundedId(undefined, 64)).toBeUndefined();
    expect(boundedId('', 64)).toBeUndefined();
  });
});

describe('settings', () => {
  it('default to 5 events a second, a burst of 20, kept 30 days', () => {
    expect(parseConfig({}).refusalAudit).toEqual({
      perSecond: 5,
      burst: 20,
      ttlMs: 30 * DAY,
    });
  });

  it('are read from REFUSAL_AUDIT_PER_SECOND, REFUSAL_AUDIT_BURST and REFUSAL_AUDIT_TTL_DAYS', () => {
    const c = parseConfig({
      REFUSAL_AUDIT_PER_SECOND: '2',
      REFUSAL_AUDIT_BURST: '100',
      REFUSAL_AUDIT_TTL_DAYS: '7',
    });
    expect(c.refusalAudit).toEqual({perSecond: 2, burst: 100, ttlMs: 7 * DAY});
  });

  it.each([
    ['REFUSAL_AUDIT_PER_SECOND', '0'],
    ['REFUSAL_AUDIT_BURST', '1.5'],
    ['REFUSAL_AUDIT_TTL_DAYS', 'forever'],
  ])('refuse %s=%s with a clear message', (name, value) => {
    expect(() => parseConfig({[name]: value})).toThrow(new RegExp(name));
  });
});
