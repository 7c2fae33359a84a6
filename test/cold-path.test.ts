// Cold start discipline: importing the entry module (what a new instance does before serving) loads
// nothing that the first request can load itself, and above all not the whole `googleapis` package. The one
// exception is the configuration (and so zod): it is parsed at import, so that a bad one stops the instance
// before it listens (functions/startup.ts); the first request would load zod anyway.
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

it('importing the entry module parses the configuration and registers the function without loading heavy dependencies', () => {
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
    '@google-cloud/pubsub',
    'standardwebhooks',
  ]) {
    expect({heavy, loaded: packages.has(heavy)}).toEqual({
      heavy,
      loaded: false,
    });
  }
  expect(packages.has('@google-cloud/functions-framework')).toBe(true);
  expect(packages.has('zod')).toBe(true);
  expect(loaded.some(p => p.endsWith('lib/functions/config.js'))).toBe(true);
  expect(loaded.some(p => p.endsWith('lib/functions/runtime.js'))).toBe(false);
});

it('the Classroom client in use is the per-API package, never the whole googleapis', () => {
  const loaded = modulesLoadedBy(
    `require(${JSON.stringify(join(ROOT, 'lib/functions/runtime.js'))}); require('@googleapis/classroom')`,
  );
  const packages = new Set(loaded.map(packageOf));
  expect(packages.has('@googleapis/classroom')).toBe(true);
  expect(packages.has('googleapis')).toBe(false);
});
