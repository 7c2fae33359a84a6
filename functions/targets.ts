// The function targets this module serves, and which one the Functions Framework was started for (its `--target`
// flag or FUNCTION_TARGET, as the framework itself reads them: Cloud Run functions sets FUNCTION_TARGET).
export const HTTP_TARGET = 'invitations';
export const WORKER_TARGET = 'invitationsWorker';
export const DEAD_LETTER_TARGET = 'invitationsDeadLetter';

const EVENT_TARGETS: ReadonlySet<string> = new Set([
  WORKER_TARGET,
  DEAD_LETTER_TARGET,
]);

/** The target named on the command line or in the environment; the framework's default otherwise. */
export function frameworkTarget(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--target=')) return a.slice('--target='.length);
    if (a === '--target' && argv[i + 1] !== undefined) return argv[i + 1]!;
  }
  return env.FUNCTION_TARGET || 'function';
}

let thisProcess: boolean | undefined;

/**
 * True in a process that serves a CloudEvent target: every request to it must be an event. Read once (the guard
 * asks on every request; the target does not change in a process's life).
 */
export function servesEvents(): boolean {
  thisProcess ??= EVENT_TARGETS.has(frameworkTarget());
  return thisProcess;
}
