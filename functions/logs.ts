// Structured log lines for Cloud Logging (one JSON object per line on stdout/stderr).
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export type LogSink = (line: string, severity: Severity) => void;

const defaultSink: LogSink = (line, severity) => {
  if (severity === 'ERROR' || severity === 'WARNING') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
};

let sink: LogSink = defaultSink;

/** Tests capture log lines here. */
export function setLogSink(s: LogSink | undefined): void {
  sink = s ?? defaultSink;
}

export function log(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
  sink(JSON.stringify({ severity, message, ...fields }), severity);
}

export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: { name: err.name, message: err.message, code: (err as { code?: unknown }).code } };
  return { error: String(err) };
}
