// The deployed source holds only what runs: `.gcloudignore` keeps the stand-in, the tools, the tests and the scripts
// out of the upload, `gcp-build` (what Cloud Build runs on it) compiles functions/ alone, and that tree builds and
// serves on its own. The local build (`npm run build`) still builds every lib/ path a script runs.
import {execFile} from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve, sep} from 'node:path';
import {promisify} from 'node:util';
import {spawnFunction, stopFunction, waitForHealth} from '../tools/instance';
import {PROJECT_ID} from './support/emulator';
import {freePort, ROOT} from './support/processes';

const run = promisify(execFile);
/** The files of the working copy that git does not ignore, tracked or not yet. */
const WORKING_FILES = [
  'ls-files',
  '--cached',
  '--others',
  '--exclude-standard',
];
const TSC = join(ROOT, 'node_modules/.bin/tsc');

const packageJson = JSON.parse(
  readFileSync(join(ROOT, 'package.json'), 'utf8'),
) as {main: string; scripts: Record<string, string>};

/** The tsconfig an npm script compiles with (`tsc -p <file>`). */
function tsconfigOf(script: string): string {
  const m = /\btsc -p (\S+)/.exec(packageJson.scripts[script] ?? '');
  if (!m) throw new Error(`npm run ${script} runs no \`tsc -p\``);
  return m[1]!;
}

/** The source files a tsconfig compiles, relative to the root (as `tsc --showConfig` resolves its globs). */
async function compiledBy(tsconfig: string): Promise<string[]> {
  const {stdout} = await run(
    TSC,
    ['-p', join(ROOT, tsconfig), '--showConfig'],
    {
      cwd: ROOT,
    },
  );
  const files = (JSON.parse(stdout) as {files?: string[]}).files ?? [];
  return files.map(f => relative(ROOT, resolve(ROOT, f)));
}

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap(e =>
    e.isDirectory()
      ? filesUnder(join(dir, e.name), base)
      : [relative(base, join(dir, e.name))],
  );
}

/**
 * What the upload holds, by the .gcloudignore rules (gitignore's syntax, which gcloud borrows): git itself,
 * in a scratch repository whose .gitignore is our .gcloudignore, lists every file of a copy of the tree that its
 * rules let through. The copy holds the working copy's files, plus what git ignores there (builds, installs, logs).
 */
async function uploadOf(scratch: string): Promise<string[]> {
  const {stdout: tracked} = await run('git', WORKING_FILES, {cwd: ROOT});
  const untracked = [
    'lib/functions/index.js',
    'lib/tools/audit.js',
    'lib/standin/server.js',
    'node_modules/zod/package.json',
    '.emulators/pubsub-launcher.sh',
    '.ci/jest-results.json',
    '.ci/node24/node_modules/.bin/node',
    'bench/results/latest.json',
    'coverage/lcov.info',
    'firebase-debug.log',
    'pubsub-debug.log',
  ];
  const tree = join(scratch, 'tree');
  for (const f of [...tracked.split('\n').filter(Boolean), ...untracked]) {
    mkdirSync(dirname(join(tree, f)), {recursive: true});
    writeFileSync(join(tree, f), '');
  }
  await run('git', ['init', '-q'], {cwd: tree});
  cpSync(join(ROOT, '.gcloudignore'), join(tree, '.gitignore'));
  const {stdout} = await run(
    'git',
    ['ls-files', '--others', '--exclude-standard'],
    {cwd: tree},
  );
  return stdout.split('\n').filter(Boolean).sort();
}

let scratch: string;
beforeAll(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'deployed-tree-')));
});
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

it('the upload is package.json, its lockfile, the tsconfigs gcp-build reads and functions/, nothing else', async () => {
  const upload = await uploadOf(scratch);
  const functions = (
    await run('git', [...WORKING_FILES, 'functions'], {cwd: ROOT})
  ).stdout
    .split('\n')
    .filter(Boolean);
  expect(upload).toEqual(
    [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      tsconfigOf('gcp-build'),
      ...functions,
    ].sort(),
  );
  for (const away of [
    'standin/',
    'tools/',
    'test/',
    'scripts/',
    'docs/',
    'lib/',
    'node_modules/',
    '.ci/',
    '.emulators/',
    'bench/',
  ])
    expect({away, uploaded: upload.filter(f => f.startsWith(away))}).toEqual({
      away,
      uploaded: [],
    });
});

it('gcp-build compiles functions/ alone, and nothing in functions/ reaches outside it', async () => {
  const compiled = await compiledBy(tsconfigOf('gcp-build'));
  expect(compiled.length).toBeGreaterThan(10);
  expect(compiled.filter(f => !f.startsWith(`functions${sep}`))).toEqual([]);
  // Relative imports, requires and dynamic imports in the deployed source stay inside functions/.
  const specifier =
    /(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*|^\s*import\s+)['"](\.[^'"]*)['"]/gm;
  const outside: string[] = [];
  for (const file of filesUnder(join(ROOT, 'functions'))) {
    const path = join(ROOT, 'functions', file);
    for (const m of readFileSync(path, 'utf8').matchAll(specifier)) {
      const target = relative(
        join(ROOT, 'functions'),
        resolve(dirname(path), m[1]!),
      );
      if (target.startsWith('..')) outside.push(`${file} → ${m[1]}`);
    }
  }
  expect(outside).toEqual([]);
});

it('npm run build still builds every lib/ path a script runs; gcp-build builds only the entry of those', async () => {
  const ran = new Set<string>([packageJson.main]);
  for (const command of Object.values(packageJson.scripts))
    for (const m of command.matchAll(/\blib\/\S+\.js\b/g)) ran.add(m[0]);
  const sourceOf = (built: string) =>
    built
      .replace(/^lib\//, '')
      .replace(/\.js$/, '.ts')
      .split('/')
      .join(sep);
  const local = new Set(await compiledBy(tsconfigOf('build')));
  const deployed = new Set(await compiledBy(tsconfigOf('gcp-build')));
  expect(
    [...ran].filter(p => !local.has(sourceOf(p))).map(p => `${p} not built`),
  ).toEqual([]);
  expect([...ran].filter(p => deployed.has(sourceOf(p)))).toEqual([
    packageJson.main,
  ]);
  // The global set-up ran that same build: the paths are there.
  for (const p of ran)
    expect(readFileSync(join(ROOT, p)).length).toBeGreaterThan(0);
});

it('the uploaded tree builds with gcp-build and serves, its entry loading nothing but lib/functions and packages', async () => {
  const upload = await uploadOf(join(scratch, 'for-build'));
  const tree = join(scratch, 'deployed');
  for (const f of upload) cpSync(join(ROOT, f), join(tree, f));
  // Cloud Build installs the dependencies from the lockfile; the ones installed here are the same.
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  await run('npm', ['run', '--silent', 'gcp-build'], {cwd: tree});
  const built = filesUnder(join(tree, 'lib'));
  expect(built.filter(f => !f.startsWith(`functions${sep}`))).toEqual([]);

  // Everything the entry loads, then what it loads on first use (the runtime, the worker's side).
  const entry = join(tree, packageJson.main);
  const {stdout} = await run(
    process.execPath,
    [
      '-e',
      `for (const m of process.argv.slice(1)) require(m);
       process.stdout.write(JSON.stringify(Object.keys(require.cache)));`,
      entry,
      join(tree, 'lib/functions/runtime.js'),
      join(tree, 'lib/functions/operations/worker-entry.js'),
    ],
    {cwd: tree, env: {PATH: process.env.PATH ?? ''}},
  );
  const loaded = JSON.parse(stdout) as string[];
  expect(loaded.length).toBeGreaterThan(50);
  expect(
    loaded.filter(
      p =>
        !p.startsWith(join(tree, 'lib/functions') + sep) &&
        !p.includes(`${sep}node_modules${sep}`),
    ),
  ).toEqual([]);

  const fn = spawnFunction({
    port: await freePort(),
    entry,
    env: {GOOGLE_CLOUD_PROJECT: PROJECT_ID},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await waitForHealth(fn, 20_000);
  } finally {
    await stopFunction(fn);
  }
}, 60_000);
