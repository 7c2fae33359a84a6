// `npm run deploy [-- --dry-run] [--settings=PATH]`: deploys everything the gateway runs on, from one settings file
// (deploy.env; a commented example is deploy.env.example). The settings are checked whole before anything happens;
// --dry-run prints the exact commands as a bash script and runs nothing. docs/deployment.md explains each step.
// (Not `--env-file`: Node 20 takes that flag for itself even after the script's name, and exits when the file is missing.)
import {readFileSync, statSync} from 'node:fs';
import {resolve} from 'node:path';
import {DeployError, MAX_ENV_FILE_BYTES, parseEnvFile} from './deploy-env-file';
import {buildPlan, Plan} from './deploy-plan';
import {runPlan} from './deploy-runner';
import {readDeploySettings} from './deploy-settings';
import {toShellScript} from './deploy-shell';

const USAGE =
  'usage: npm run deploy [-- --dry-run] [--settings=PATH]   (PATH: deploy.env by default)';

export interface DeployArgs {
  dryRun: boolean;
  /** The settings file. */
  envFile: string;
}

export function parseArgs(argv: string[]): DeployArgs {
  const args: DeployArgs = {dryRun: false, envFile: 'deploy.env'};
  for (const a of argv) {
    if (a === '--dry-run') args.dryRun = true;
    else if (a.startsWith('--settings='))
      args.envFile = a.slice('--settings='.length);
    else if (a === '--help' || a === '-h') throw new DeployError(USAGE);
    else
      throw new DeployError(
        `unknown argument ${JSON.stringify(a.slice(0, 80))}\n${USAGE}`,
      );
  }
  if (args.envFile === '')
    throw new DeployError(`--settings needs a path\n${USAGE}`);
  return args;
}

/** The repository: lib/tools/deploy.js is two levels under it. */
const ROOT = resolve(__dirname, '../..');

export function planFrom(args: DeployArgs): Plan {
  const path = resolve(args.envFile);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new DeployError(
      `no ${args.envFile}: copy deploy.env.example to deploy.env and fill it in (docs/deployment.md)`,
    );
  }
  if (size > MAX_ENV_FILE_BYTES)
    throw new DeployError(
      `${args.envFile} is larger than ${MAX_ENV_FILE_BYTES / 1024} KiB: not a deploy.env`,
    );
  const settings = readDeploySettings(
    parseEnvFile(readFileSync(path, 'utf8'), args.envFile),
    args.envFile,
  );
  return buildPlan(settings, {
    root: ROOT,
    envFile: args.envFile,
    indexes: readFileSync(resolve(ROOT, 'firestore.indexes.json'), 'utf8'),
    rules: readFileSync(resolve(ROOT, 'firestore.rules'), 'utf8'),
  });
}

async function main(): Promise<number> {
  let args: DeployArgs;
  let plan: Plan;
  try {
    args = parseArgs(process.argv.slice(2));
    plan = planFrom(args);
  } catch (err) {
    if (!(err instanceof DeployError)) throw err;
    process.stderr.write(`deploy: nothing was run.\n${err.message}\n`);
    return 2;
  }
  if (args.dryRun) {
    process.stdout.write(toShellScript(plan));
    return 0;
  }
  return runPlan(plan);
}

if (require.main === module)
  main().then(
    code => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `deploy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
