// The whole suite: build, then every *.spec.js under dist/ with node:test.
// Output ends with one line `N passed, N failed`. Pass file filters as arguments to run a subset.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log('build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function specs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...specs(p));
    else if (name.endsWith('.spec.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...specs(join(root, 'dist/src')), ...specs(join(root, 'dist/test'))]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const run = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', `--test-reporter=${join(root, 'scripts/test-reporter.mjs')}`, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(run.status ?? 1);
