// Runs a plan: its files into a fresh private directory, then each command as an argument vector (never through a
// shell, so no value in deploy.env is ever interpreted), in order, stopping at the first that fails.
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {FILES_DIR, Plan, Word} from './deploy-plan';
import {commandLine} from './deploy-shell';

/** More than any value a capture reads; a command printing more is not answering the question asked. */
const MAX_CAPTURE_BYTES = 64 * 1024;

export interface RunOutput {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

interface Exit {
  /** The exit status, or undefined when the command could not start or was killed. */
  code: number | undefined;
  why?: string;
  stdout: string;
}

/** Resolves to the exit status of the deployment: 0, or that of the command that failed. */
export async function runPlan(
  plan: Plan,
  io: RunOutput = {out: process.stdout, err: process.stderr},
): Promise<number> {
  const filesDir = mkdtempSync(join(tmpdir(), 'classroom-gateway-deploy-'));
  const vars = new Map<string, string>([[FILES_DIR, filesDir]]);
  // Ctrl-C reaches the command that runs (same process group); the deploy then stops with its status and cleans up.
  const ignoreInterrupt = () => {};
  process.on('SIGINT', ignoreInterrupt);
  try {
    for (const f of plan.files)
      writeFileSync(join(filesDir, f.name), f.content, {mode: 0o600});
    const resolve = (argv: Word[]) =>
      argv.map(w =>
        typeof w === 'string'
          ? w
          : w
              .map(p => {
                if (typeof p === 'string') return p;
                const v = vars.get(p.ref);
                if (v === undefined)
                  throw new Error(`${p.ref} is used before it is set`);
                return v;
              })
              .join(''),
      );
    const failed = (argv: string[], e: Exit) => {
      io.err.write(
        `\ndeploy: stopped: ${e.why ?? `exit status ${e.code}`} from\n  ${commandLine(argv)}\n` +
          'Nothing after it ran. Fix the cause and run `npm run deploy` again: every step can run twice.\n',
      );
      return e.code !== undefined && e.code > 0 && e.code < 256 ? e.code : 1;
    };
    for (const step of plan.steps) {
      if (step.kind === 'section') {
        io.out.write(`\n# ${step.title}\n`);
        continue;
      }
      if (step.kind === 'ensure') {
        const check = resolve(step.check);
        const present = await execute(check, 'quiet', io);
        if (present.code === 0) {
          io.out.write(`= ${commandLine(check)} (exists)\n`);
          continue;
        }
        const create = resolve(step.create);
        io.out.write(`+ ${commandLine(create)}\n`);
        const made = await execute(create, 'shown', io);
        if (made.code !== 0) return failed(create, made);
        continue;
      }
      const argv = resolve(step.argv);
      io.out.write(`+ ${commandLine(argv)}\n`);
      if (step.kind === 'run') {
        const e = await execute(argv, 'shown', io);
        if (e.code !== 0) return failed(argv, e);
        continue;
      }
      const e = await execute(argv, 'capture', io);
      if (e.code !== 0) return failed(argv, e);
      const value = e.stdout.trim();
      if (!step.pattern.test(value))
        return failed(argv, {
          code: 1,
          why:
            value === ''
              ? `no value for ${step.what}`
              : `an unexpected value for ${step.what} (${JSON.stringify(value.slice(0, 80))})`,
          stdout: '',
        });
      vars.set(step.variable, value);
      io.out.write(`  ${step.variable}=${value}\n`);
    }
    io.out.write('\ndeploy: done\n');
    return 0;
  } finally {
    process.off('SIGINT', ignoreInterrupt);
    rmSync(filesDir, {recursive: true, force: true});
  }
}

/**
 * `quiet`: only the status matters; `capture`: stdout is read, stderr shown; `shown`: the user sees it all. Never
 * any input: a command that would prompt fails instead of waiting (they all run with --quiet or --non-interactive).
 */
function execute(
  argv: string[],
  mode: 'quiet' | 'capture' | 'shown',
  io: RunOutput,
): Promise<Exit> {
  return new Promise(resolve => {
    const [command, ...args] = argv;
    const child = spawn(command!, args, {
      shell: false,
      stdio: mode === 'quiet' ? 'ignore' : ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let overflow = false;
    if (mode === 'capture')
      child.stdout?.on('data', (chunk: Buffer) => {
        if (stdout.length + chunk.length > MAX_CAPTURE_BYTES) overflow = true;
        else stdout += chunk.toString('utf8');
      });
    // Through the deploy's own streams rather than the terminal's descriptors, so that what a command says lands in
    // order with the deploy's lines wherever the output goes.
    if (mode === 'shown')
      child.stdout?.on('data', (chunk: Buffer) => io.out.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => io.err.write(chunk));
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        code: err.code === 'ENOENT' ? 127 : undefined,
        why:
          err.code === 'ENOENT'
            ? `${command} is not installed or not on PATH`
            : `${command} could not start (${err.message})`,
        stdout: '',
      }),
    );
    child.on('close', (code, signal) =>
      resolve(
        overflow
          ? {
              code: undefined,
              why: `more than ${MAX_CAPTURE_BYTES} bytes of output`,
              stdout: '',
            }
          : signal !== null
            ? {code: undefined, why: `killed by ${signal}`, stdout}
            : {code: code ?? undefined, stdout},
      ),
    );
  });
}
