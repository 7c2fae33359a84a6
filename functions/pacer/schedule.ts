// The pacer's arithmetic, pure: time is cut into one-second slots, and a scope (one impersonated subject, or the
// whole project) allowed `rate` calls per second owns `capacity(rate)` positions in each slot, spread evenly
// across it. A lease takes the earliest free positions; the call of a position goes out at that position's time.
// Positions are what instances share through Firestore (functions/pacer/store.ts); this file only counts them.

export const SLOT_MS = 1000;

/** Positions of one slot for a scope allowed `rate` calls per second (at least one: a scope is never shut). */
export function capacity(rate: number): number {
  return Math.max(1, Math.floor((rate * SLOT_MS) / 1000));
}

/** When the call of position `p` of `slot` goes out, positions being spread evenly over the slot. */
export function positionTime(slot: number, p: number, cap: number): number {
  return slot * SLOT_MS + Math.floor((p * SLOT_MS) / cap);
}

export function slotOf(time: number): number {
  return Math.floor(time / SLOT_MS);
}

/** One scope as a lease transaction read it: its current rate and the positions taken in the slots it read. */
export interface ScopeSlots {
  rate: number;
  /** slot index → positions taken (absent: none). */
  taken: Map<number, number>;
}

export interface Allocation {
  /** Granted positions, earliest first: the subject to call as and when. */
  grants: Array<{subject: string; at: number}>;
  /** Slots whose taken count changed, per scope (subjects by name, the project as `project`). */
  changed: Map<string, Set<number>>;
  /**
   * Per subject, the earliest position still free after this allocation (the end of the window when the
   * window is full): where its backlog ends, as far as this transaction could see.
   */
  frontier: Map<string, number>;
}

export const PROJECT_SCOPE = 'project';

/**
 * Takes up to `wanted` positions from the slots `first … first + window - 1`, never one later than `latest`.
 * Each position goes to the subject whose next free position comes first (so a pool shares the load, and a
 * throttled subject, whose rate dropped, gets fewer); with a project scope, a slot also needs a free project
 * position, and the call waits for the later of the two. `taken` maps are updated in place.
 */
export function allocate(opts: {
  wanted: number;
  latest: number;
  first: number;
  window: number;
  subjects: Map<string, ScopeSlots>;
  project?: ScopeSlots;
}): Allocation {
  const {first, window, subjects, project} = opts;
  const end = first + window;
  const windowEnd = end * SLOT_MS;
  const changed = new Map<string, Set<number>>();
  const mark = (scope: string, slot: number) => {
    let s = changed.get(scope);
    if (!s) changed.set(scope, (s = new Set()));
    s.add(slot);
  };
  const taken = (s: ScopeSlots, slot: number) => s.taken.get(slot) ?? 0;
  /** The earliest free position of a subject in the window, joined with the project's in the same slot. */
  const next = (s: ScopeSlots) => {
    const cap = capacity(s.rate);
    const pcap = project ? capacity(project.rate) : 0;
    for (let slot = first; slot < end; slot++) {
      const p = taken(s, slot);
      if (p >= cap) continue;
      const own = positionTime(slot, p, cap);
      if (!project) return {slot, at: own, own};
      const pp = taken(project, slot);
      if (pp >= pcap) continue;
      return {slot, at: Math.max(own, positionTime(slot, pp, pcap)), own};
    }
    return undefined;
  };
  const grants: Allocation['grants'] = [];
  while (grants.length < opts.wanted) {
    let best:
      {subject: string; slot: number; at: number; own: number} | undefined;
    for (const [subject, s] of subjects) {
      const n = next(s);
      // When the project's position decides the time, the least used subject gets it: the load stays spread.
      if (
        n &&
        (!best || n.at < best.at || (n.at === best.at && n.own < best.own))
      )
        best = {subject, ...n};
    }
    if (!best || best.at > opts.latest) break;
    const s = subjects.get(best.subject)!;
    s.taken.set(best.slot, taken(s, best.slot) + 1);
    mark(best.subject, best.slot);
    if (project) {
      project.taken.set(best.slot, taken(project, best.slot) + 1);
      mark(PROJECT_SCOPE, best.slot);
    }
    grants.push({subject: best.subject, at: best.at});
  }
  const frontier = new Map<string, number>();
  for (const [subject, s] of subjects)
    frontier.set(subject, next(s)?.at ?? windowEnd);
  return {grants, changed, frontier};
}
