// Cold start discipline: importing the entry module (what a new instance does before serving) loads
// nothing that the first request can load itself, and above all not the whole `googleapis` package.
import {execFileSync} from 'node:child_process';
import {join} from 'node:path';
import {ROOT} from './support/processes';

function modulesLoadedBy(script: string): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `${script}; process.stdout.write(JSON.stringify(Object.keys(require.cache)))`,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as string[];
}

const packageOf = (path: string) =>
  /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];

it('importing the entry module registers the function without loading heavy dependencies', () => {
  const loaded = modulesLoadedBy(
    `require(${JSON.stringify(join(ROOT, 'lib/functions/index.js'))})`,
  );
  const packages = new Set(loaded.map(packageOf).filter(Boolean));
  for (const heavy of [
    'googleapis',
    '@googleapis/classroom',
    'googleapis-common',
    '@google-cloud/firestore',
    'google-gax',
    'google-auth-library',
    '@grpc/grpc-js',
    'zod',
    'standardwebhooks',
  ]) {
    expect({heavy, loaded: packages.has(heavy)}).toEqual({
      heavy,
      loaded: false,
    });
  }
  expect(packages.has('@google-cloud/functions-framework')).toBe(true);
});

it('the Classroom client in use is the per-API package, never the whole googleapis', () => {
  const loaded = modulesLoadedBy(
    `require(${JSON.stringify(join(ROOT, 'lib/functions/runtime.js'))}); require('@googleapis/classroom')`,
  );
  const packages = new Set(loaded.map(packageOf));
  expect(packages.has('@googleapis/classroom')).toBe(true);
  expect(packages.has('googleapis')).toBe(false);
});
