// How Firestore reports the outcomes of conditional writes (gRPC canonical codes on the thrown error).
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null
    ? (err as {code?: unknown}).code
    : undefined;
}

/** A create-if-absent found the document already there. */
export function isAlreadyExists(err: unknown): boolean {
  return codeOf(err) === ALREADY_EXISTS;
}

/**
 * A write guarded by `lastUpdateTime` (or an update) found the document changed or gone: another request
 * got there first.
 */
export function isLostRace(err: unknown): boolean {
  const code = codeOf(err);
  return code === FAILED_PRECONDITION || code === NOT_FOUND;
}
