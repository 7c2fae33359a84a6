// The pacer's arithmetic: positions per slot, who gets the next one, and what a rate cut does.
import fc from 'fast-check';
import {
  allocate,
  capacity,
  positionTime,
  PROJECT_SCOPE,
  ScopeSlots,
  SLOT_MS,
} from '../../functions/pacer/schedule';
import {
  currentRate,
  cutAfterThrottle,
  MIN_QPS,
  RECOVERY_SECONDS,
} from '../../functions/pacer/rate';

const scope = (
  rate: number,
  taken: Record<number, number> = {},
): ScopeSlots => ({
  rate,
  taken: new Map(Object.entries(taken).map(([k, v]) => [Number(k), v])),
});
const FIRST = 1_000_000; // a slot index: positions are epoch ms of that second and after
const START = FIRST * SLOT_MS;

describe('positions', () => {
  it('a rate of 19 gives 19 positions per one-second slot, spread evenly across it', () => {
    expect(capacity(19)).toBe(19);
    const times = Array.from({length: 19}, (_, p) =>
      positionTime(FIRST, p, 19),
    );
    expect(times[0]).toBe(START);
    expect(times[18]).toBeLessThan(START + SLOT_MS);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(52);
  });
  it('a fractional rate rounds down, and a slot never has less than one position', () => {
    expect(capacity(9.9)).toBe(9);
    expect(capacity(0.2)).toBe(1);
  });
});

describe('allocate', () => {
  it('takes the earliest free positions of one subject, after those already taken', () => {
    const s = scope(10, {[FIRST]: 3});
    const a = allocate({
      wanted: 4,
      latest: Infinity,
      first: FIRST,
      window: 3,
      subjects: new Map([['a', s]]),
    });
    expect(a.grants.map(g => g.at - START)).toEqual([300, 400, 500, 600]);
    expect(s.taken.get(FIRST)).toBe(7);
    expect(a.changed.get('a')).toEqual(new Set([FIRST]));
    expect(a.frontier.get('a')).toBe(START + 700);
  });

  it('spills into the next slots, and reports the window end when the window is full', () => {
    const s = scope(2, {[FIRST]: 2});
    const a = allocate({
      wanted: 10,
      latest: Infinity,
      first: FIRST,
      window: 3,
      subjects: new Map([['a', s]]),
    });
    expect(a.grants.map(g => g.at - START)).toEqual([1000, 1500, 2000, 2500]);
    expect(a.frontier.get('a')).toBe(START + 3000);
  });

  it('grants nothing later than `latest`, and says where the quota frees up', () => {
    const s = scope(2);
    const a = allocate({
      wanted: 10,
      latest: START + 1200,
      first: FIRST,
      window: 3,
      subjects: new Map([['a', s]]),
    });
    expect(a.grants.map(g => g.at - START)).toEqual([0, 500, 1000]);
    expect(a.frontier.get('a')).toBe(START + 1500);
  });

  it('shares the load of a pool: each position goes to the subject whose next one comes first', () => {
    const subjects = new Map([
      ['a', scope(10)],
      ['b', scope(10)],
    ]);
    const a = allocate({
      wanted: 20,
      latest: Infinity,
      first: FIRST,
      window: 3,
      subjects,
    });
    const perSubject = (s: string) =>
      a.grants.filter(g => g.subject === s).length;
    expect(perSubject('a')).toBe(10);
    expect(perSubject('b')).toBe(10);
    // Two subjects at 10 per second serve 20 calls within the first second.
    expect(Math.max(...a.grants.map(g => g.at))).toBeLessThan(START + SLOT_MS);
  });

  it('a slowed subject gets fewer calls than a healthy one', () => {
    const subjects = new Map([
      ['slow', scope(4)],
      ['fast', scope(16)],
    ]);
    const a = allocate({
      wanted: 20,
      latest: Infinity,
      first: FIRST,
      window: 1,
      subjects,
    });
    expect(a.grants.filter(g => g.subject === 'slow')).toHaveLength(4);
    expect(a.grants.filter(g => g.subject === 'fast')).toHaveLength(16);
  });

  it("with a project limit, no slot holds more calls than the project's capacity, whatever the subjects allow", () => {
    const subjects = new Map([
      ['a', scope(19)],
      ['b', scope(19)],
      ['c', scope(19)],
    ]);
    const project = scope(47);
    const a = allocate({
      wanted: 200,
      latest: Infinity,
      first: FIRST,
      window: 3,
      subjects,
      project,
    });
    expect(a.grants).toHaveLength(141);
    for (let slot = FIRST; slot < FIRST + 3; slot++)
      expect(project.taken.get(slot)).toBe(47);
    expect(a.changed.get(PROJECT_SCOPE)?.size).toBe(3);
  });

  it('never lets a scope pass its capacity in any slot, nor grants past `latest` (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            rate: fc.integer({min: 1, max: 40}),
            taken: fc.array(fc.integer({min: 0, max: 45}), {
              minLength: 3,
              maxLength: 3,
            }),
          }),
          {minLength: 1, maxLength: 4},
        ),
        fc.option(fc.integer({min: 1, max: 60})),
        fc.integer({min: 0, max: 150}),
        fc.integer({min: 0, max: 3500}),
        (specs, projectRate, wanted, latestOffset) => {
          const subjects = new Map(
            specs.map((s, i) => [
              `s${i}`,
              scope(s.rate, {
                [FIRST]: s.taken[0]!,
                [FIRST + 1]: s.taken[1]!,
                [FIRST + 2]: s.taken[2]!,
              }),
            ]),
          );
          const before = new Map(
            [...subjects].map(([k, v]) => [k, new Map(v.taken)]),
          );
          const project = projectRate === null ? undefined : scope(projectRate);
          const latest = START + latestOffset;
          const a = allocate({
            wanted,
            latest,
            first: FIRST,
            window: 3,
            subjects,
            project,
          });
          expect(a.grants.length).toBeLessThanOrEqual(wanted);
          for (const g of a.grants) expect(g.at).toBeLessThanOrEqual(latest);
          for (const [k, s] of subjects) {
            for (let slot = FIRST; slot < FIRST + 3; slot++) {
              const was = before.get(k)!.get(slot) ?? 0;
              const now = s.taken.get(slot) ?? 0;
              const added = a.grants.filter(
                g => g.subject === k && Math.floor(g.at / SLOT_MS) === slot,
              ).length;
              // Positions are taken one by one: what was added is what was granted, and only up to capacity.
              expect(now - was).toBe(added);
              if (added > 0) expect(now).toBeLessThanOrEqual(capacity(s.rate));
            }
          }
          if (project)
            for (let slot = FIRST; slot < FIRST + 3; slot++)
              expect(project.taken.get(slot) ?? 0).toBeLessThanOrEqual(
                capacity(project.rate),
              );
        },
      ),
    );
  });
});

describe('rate cuts (AIMD)', () => {
  const T = 1_700_000_000_000;
  it('without a cut, the ceiling', () => {
    expect(currentRate(19, undefined, T)).toBe(19);
  });
  it('a 429 halves the rate, which climbs back linearly to the ceiling', () => {
    const cut = cutAfterThrottle(19, undefined, T - 100, T)!;
    expect(cut).toEqual({qps: 9.5, at: T});
    expect(currentRate(19, cut, T)).toBe(9.5);
    expect(currentRate(19, cut, T + (RECOVERY_SECONDS * 1000) / 4)).toBeCloseTo(
      14.25,
    );
    expect(currentRate(19, cut, T + (RECOVERY_SECONDS * 1000) / 2)).toBe(19);
    expect(currentRate(19, cut, T + RECOVERY_SECONDS * 1000)).toBe(19);
  });
  it('429s of calls granted before the last cut are one signal: they cut nothing more', () => {
    const cut = cutAfterThrottle(19, undefined, T - 100, T)!;
    expect(cutAfterThrottle(19, cut, T - 50, T + 10)).toBeUndefined();
    expect(cutAfterThrottle(19, cut, T, T + 10)).toBeUndefined();
    // A call granted after the cut that is throttled again: the rate halves again, from where it had climbed.
    const again = cutAfterThrottle(19, cut, T + 5, T + 1000)!;
    expect(again.qps).toBeCloseTo((9.5 + 19 / RECOVERY_SECONDS) / 2);
  });
  it('never below one call per second', () => {
    let cut = cutAfterThrottle(19, undefined, T - 1, T)!;
    for (let i = 1; i < 20; i++)
      cut = cutAfterThrottle(19, cut, cut.at + 1, cut.at + 2)!;
    expect(cut.qps).toBe(MIN_QPS);
  });
});
