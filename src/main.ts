// The entry point: checks the Node.js version before anything that needs Node 24 is loaded, so
// an older Node fails with one line instead of a TypeError from deep inside a dependency.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`tiercel: Node.js 24 or later is needed, this is ${process.version} (the project's own Node: npx node, or npm start)\n`);
  process.exit(1);
}
require('./server');
