// Judges a cache-tests run the way cache-tests.fyi does, for a shared (proxy) cache.
// Usage: node classify.mjs <results.json>  — prints the summary as JSON on stdout.
// The suite's own definitions and its determineTestResult decide each result; this file only
// selects the tests that apply to a non-browser cache and counts them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const suiteDir = dirname(createRequire(import.meta.url).resolve('http-cache-tests/package.json'));
const load = async (p) => (await import(join(suiteDir, p))).default;
const suites = [...(await load('tests/index.mjs')), await load('tests/surrogate-control.mjs')];
const { determineTestResult } = await import(join(suiteDir, 'lib/display.mjs'));

const results = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// Required tests of 0.4.5 whose expectation contradicts RFC 9111 §5.1 and which the suite itself
// later reversed (the first seven now expect `cached`) or demoted to an informational `check` (the
// two parameter ones). RFC 9111 §5.1: "a cache encountering a message with a list-based Age field
// value SHOULD use the first member of the field value, discarding subsequent ones. If the field
// value (after discarding additional members ...) is invalid ..., a cache SHOULD ignore the field."
// Tiercel does exactly that, so it serves these from cache. They are reported apart and their
// outcome is pinned: each must fail with `detail`, the trace of the RFC 9111 behaviour; a pass
// would mean Tiercel had drifted from the RFC.
const SUPERSEDED = {
  'age-parse-nonnumeric': 'invalid Age (abc) is ignored, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-negative': 'invalid Age (-7200) is ignored, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-float': 'invalid Age (7200.0) is ignored, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-prefix-twoline': 'first of two Age lines (0) is used, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-dup-0': 'first member of "0, 0" is used, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-dup-0-twoline': 'first of two Age: 0 lines is used, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-dup-old': 'first member of "3600, 3600" is used, still fresh under max-age=10000, RFC 9111 §5.1; upstream now expects cached',
  'age-parse-parameter': 'Age with a parameter (7200;foo=bar) is invalid and ignored, RFC 9111 §5.1; upstream made this a check',
  'age-parse-numeric-parameter': 'Age with a parameter (7200;foo=111) is invalid and ignored, RFC 9111 §5.1; upstream made this a check',
};
const SUPERSEDED_DETAIL = 'Assertion: Response 2 comes from cache';
// determineTestResult's symbol (third element) → a name.
const NAMES = { '✅': 'pass', '⛔️': 'fail', '⚠️': 'optional_fail', Y: 'yes', N: 'no', '🔹': 'setup_fail', '⁉️': 'harness_fail', '⚪️': 'dependency_fail', '↻': 'retry', '-': 'untested' };

const summary = {
  suite: `http-cache-tests ${JSON.parse(readFileSync(join(suiteDir, 'package.json'), 'utf8')).version}`,
  required: { total: 0, passed: 0, failed: 0, setupFailed: 0, dependencyFailed: 0, superseded: 0, failedExcludingSuperseded: 0 },
  optimal: { total: 0, passed: 0, failed: 0, setupFailed: 0, dependencyFailed: 0 },
  check: { total: 0, yes: 0, no: 0, other: 0 },
  failingRequired: [],
  // Each entry: { id, reason, outcome, detail, asPinned } — asPinned false means Tiercel's behaviour changed.
  supersededRequired: [],
  failingOptimal: [],
  dependencyFailedRequired: [],
  dependencyFailedOptimal: [],
  browserOnlySkipped: 0,
};

for (const suite of suites) {
  for (const test of suite.tests) {
    // browser_only tests are not run against a proxy (client/runner.mjs skips them too).
    if (test.browser_only === true) { summary.browserOnlySkipped++; continue; }
    const kind = test.kind ?? 'required';
    const outcome = NAMES[determineTestResult(suites, test.id, results)[2]] ?? 'unknown';
    const detail = Array.isArray(results[test.id]) ? results[test.id].join(': ') : results[test.id] === undefined ? 'no result' : undefined;
    if (kind === 'check') {
      summary.check.total++;
      if (outcome === 'yes') summary.check.yes++;
      else if (outcome === 'no') summary.check.no++;
      else summary.check.other++;
      continue;
    }
    const bucket = summary[kind];
    if (bucket === undefined) throw new Error(`unknown test kind ${kind} for ${test.id}`);
    bucket.total++;
    const entry = { id: test.id, name: test.name, outcome, detail };
    if (outcome === 'pass') bucket.passed++;
    else if (outcome === 'dependency_fail') {
      // A prerequisite (often a `check` the cache is free to answer either way) did not hold:
      // the suite shows these as untestable rather than failed.
      bucket.dependencyFailed++;
      entry.dependsOn = test.depends_on;
      (kind === 'required' ? summary.dependencyFailedRequired : summary.dependencyFailedOptimal).push(entry);
    } else {
      // Failures, setup failures, harness errors, retries and missing results all count against us.
      bucket.failed++;
      if (outcome === 'setup_fail') bucket.setupFailed++;
      (kind === 'required' ? summary.failingRequired : summary.failingOptimal).push(entry);
    }
    if (kind === 'required' && test.id in SUPERSEDED) {
      bucket.superseded++;
      summary.supersededRequired.push({ id: test.id, reason: SUPERSEDED[test.id], outcome, detail, asPinned: outcome === 'fail' && detail === SUPERSEDED_DETAIL });
    }
  }
}
summary.required.failedExcludingSuperseded = summary.failingRequired.filter((e) => !(e.id in SUPERSEDED)).length;
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
