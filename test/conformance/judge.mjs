// Judges a run of the current cache-tests suite the way cache-tests.fyi counts a proxy, and
// judges every published peer's results the same way, for a side-by-side table.
// Usage: node judge.mjs <suite copy> <tiercel results.json>  — prints { summary, table } as JSON.
// The suite's own determineTestResult (test-engine/lib/results.mjs) decides each result, on the
// test's own outcome (as cache-tests.fyi's totals count it, `depends_on` not applied); this file only selects and counts. Counting for a proxy:
// `browser_only` tests are left out; `kind` absent means required; `check` tests are not judged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [suiteDir, resultsPath] = process.argv.slice(2);
const load = async (p) => (await import(pathToFileURL(join(suiteDir, p)).href)).default;
const suites = await load('tests/index.mjs');
const { determineTestResult } = await import(pathToFileURL(join(suiteDir, 'test-engine/lib/results.mjs')).href);
const peers = (await load('results/index.mjs')).filter((p) => p.type !== 'browser');

// determineTestResult's symbol (third element) → a name.
const NAMES = { '✅': 'pass', '⛔️': 'fail', '⚠️': 'optional_fail', Y: 'yes', N: 'no', '🔹': 'setup_fail', '⁉️': 'harness_fail', '⚪️': 'dependency_fail', '↻': 'retry', '-': 'untested' };

function judge(results) {
  const out = {
    required: { total: 0, passed: 0 },
    optimal: { total: 0, passed: 0 },
    check: { total: 0, yes: 0 },
    failingRequired: [],
    failingOptimal: [],
    browserOnlySkipped: 0,
  };
  for (const suite of suites) {
    for (const test of suite.tests) {
      if (test.browser_only === true) { out.browserOnlySkipped++; continue; }
      const kind = test.kind ?? 'required';
      const outcome = NAMES[determineTestResult(suites, test.id, results, false)[2]] ?? 'unknown';
      if (kind === 'check') {
        out.check.total++;
        if (outcome === 'yes') out.check.yes++;
        continue;
      }
      const bucket = out[kind];
      if (bucket === undefined) throw new Error(`unknown test kind ${kind} for ${test.id}`);
      bucket.total++;
      if (outcome === 'pass') { bucket.passed++; continue; }
      const r = results[test.id];
      const detail = Array.isArray(r) ? r.join(': ') : r === undefined ? 'no result' : undefined;
      (kind === 'required' ? out.failingRequired : out.failingOptimal).push({ id: test.id, outcome, detail, ...(test.depends_on ? { dependsOn: test.depends_on } : {}) });
    }
  }
  return out;
}

const tiercel = judge(JSON.parse(readFileSync(resultsPath, 'utf8')));
const rows = [{ name: 'Tiercel', version: 'this build', type: 'rev-proxy', ...tiercel }];
for (const p of peers) {
  rows.push({ name: p.name, file: p.file, version: p.version, type: p.type, ...judge(JSON.parse(readFileSync(join(suiteDir, 'results', p.file), 'utf8'))) });
}
const lines = [
  '| cache | version | type | required passed | optimal passed | checks "yes" |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name === 'Tiercel' ? '**Tiercel**' : r.name} | ${r.version} | ${r.type} | ${r.required.passed} / ${r.required.total} | ${r.optimal.passed} / ${r.optimal.total} | ${r.check.yes} / ${r.check.total} |`),
];
process.stdout.write(JSON.stringify({ summary: tiercel, peers: rows.slice(1).map(({ failingRequired, failingOptimal, ...rest }) => rest), table: lines.join('\n') + '\n' }, null, 2) + '\n');
