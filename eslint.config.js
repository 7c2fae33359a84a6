// Lint: Google's TypeScript style (gts), as Google Cloud's Node libraries use it. `npm run lint`, `npm run fix`.
const ignores = ['lib/', 'node_modules/', 'bench/results/', '.emulators/', 'coverage/'];

module.exports = [{ignores}, ...require('gts')];
