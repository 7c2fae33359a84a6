// `npm run docs:config`: rewrites the environment table of docs/configuration.md from functions/config-settings.ts.
// The unit test test/unit/config-table.test.ts fails whenever the two differ.
import {readFileSync, writeFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {withConfigTable} from '../functions/config-table';

const file = resolve(__dirname, '../../docs/configuration.md');
const before = readFileSync(file, 'utf8');
const after = withConfigTable(before);
if (after === before) {
  process.stdout.write(
    'docs/configuration.md: the configuration table is up to date\n',
  );
} else {
  writeFileSync(file, after);
  process.stdout.write(
    'docs/configuration.md: the configuration table was regenerated\n',
  );
}
