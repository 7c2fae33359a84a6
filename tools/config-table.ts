// `npm run docs:config`: rewrites the generated tables of the documentation: the environment table of
// docs/configuration.md from functions/config-settings.ts (test/unit/config-table.test.ts fails whenever they differ),
// and the table of deploy.env's settings in docs/deployment.md from tools/deploy-settings.ts (test/deploy.test.ts).
import {readFileSync, writeFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {withConfigTable} from '../functions/config-table';
import {withDeployTable} from './deploy-table';

for (const [doc, table, regenerate] of [
  ['docs/configuration.md', 'the configuration table', withConfigTable],
  ['docs/deployment.md', "the table of deploy.env's settings", withDeployTable],
] as const) {
  const file = resolve(__dirname, '../..', doc);
  const before = readFileSync(file, 'utf8');
  const after = regenerate(before);
  if (after === before) {
    process.stdout.write(`${doc}: ${table} is up to date\n`);
  } else {
    writeFileSync(file, after);
    process.stdout.write(`${doc}: ${table} was regenerated\n`);
  }
}
