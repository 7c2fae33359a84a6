// How fast a subject may be called right now: additive increase, multiplicative decrease (AIMD), the way TCP
// shares a link it cannot see. Classroom's quota is shared with other tools and Google may lower it, so the
// configured rate is a ceiling, not a promise: a 429 halves the rate for every instance (the state lives in
// Firestore), and it climbs back linearly. Recovery is computed from the time of the cut, so it costs no writes.

/** A 429 cuts the rate to this fraction of what it was. */
export const DECREASE_FACTOR = 0.5;
/** After a cut, the rate climbs back by the ceiling's worth over this many seconds (half to full in half of it). */
export const RECOVERY_SECONDS = 20;
/** Never below one call per second: a subject is slowed, never shut. */
export const MIN_QPS = 1;

/** The stored state of a cut: the rate it set and when. No state: the ceiling. */
export interface RateCut {
  qps: number;
  /** Epoch ms. */
  at: number;
}

export function currentRate(
  ceiling: number,
  cut: RateCut | undefined,
  now: number,
): number {
  if (!cut) return ceiling;
  const climbed =
    (ceiling * Math.max(0, now - cut.at)) / (RECOVERY_SECONDS * 1000);
  return Math.min(ceiling, cut.qps + climbed);
}

/**
 * The cut a 429 makes, or undefined when the call that was throttled had been granted before the last cut: a
 * burst of 429s from calls already in flight is one signal, not many (each would otherwise halve the rate again).
 */
export function cutAfterThrottle(
  ceiling: number,
  cut: RateCut | undefined,
  grantedAt: number,
  now: number,
): RateCut | undefined {
  if (cut && cut.at >= grantedAt) return undefined;
  return {
    qps: Math.max(MIN_QPS, currentRate(ceiling, cut, now) * DECREASE_FACTOR),
    at: now,
  };
}
