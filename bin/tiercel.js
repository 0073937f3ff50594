#!/usr/bin/env node
// `npx tiercel tail` / `npx tiercel stats`: the compiled CLI (npm run build makes it).
let cli;
try {
  cli = require('../dist/src/cli/tiercel-cli.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('tiercel: not built yet: run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
cli.main();
