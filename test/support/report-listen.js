// Preloaded into a function process by tests (NODE_OPTIONS=--require=…): writes one marker line to stderr whenever
// a server of the process starts to listen, so that a test can tell a process that never listened.
const net = require('node:net');

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  process.stderr.write('report-listen: a server listens\n');
  return listen.apply(this, args);
};
