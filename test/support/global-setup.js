// Builds lib/ once before any test: the multi-process and cold-path tests run the compiled entry in child
// processes, as the Functions Framework runs it in production.
const {execFileSync} = require('node:child_process');
const {join, resolve} = require('node:path');

module.exports = async function globalSetup() {
  const root = resolve(__dirname, '../..');
  execFileSync(
    join(root, 'node_modules/.bin/tsc'),
    ['-p', join(root, 'tsconfig.tools.json')],
    {cwd: root, stdio: 'inherit'},
  );
};
