// The configuration at start-up: parsed when the entry module loads, which the Functions Framework does before it
// listens. A bad one stops the process there (exit 1) with one CRITICAL line naming every bad setting: a new
// revision then never becomes ready, and Cloud Run keeps the previous one serving.
import {Config, ConfigError, parseConfig} from './config';
import * as logs from './log-events';
import {setRedactEmails} from './logs';

export function configOrExit(
  env: Record<string, string | undefined> = process.env,
  exit: (code: number) => never = process.exit,
): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The refused values are quoted in the line; an operator who asked for masked emails gets them masked here too.
    setRedactEmails(env.LOG_REDACT_EMAILS?.trim() === 'true');
    logs.configurationRefused(err);
    // Writes to stdout and stderr are synchronous for files, and pipes on Linux: the line is out before the exit.
    return exit(1);
  }
}
