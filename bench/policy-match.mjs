// The policy's cost per request on the L1-hit path, in CPU time and in isolation: what recv does
// with BENCH_POLICY's 20-rule file (served-hosts check, first match over 19 rules that miss and a
// catch-all, the key, the rule's counter) against what it does without a policy file. Run after
// a build: `node bench/policy-match.mjs`. wrk figures on a shared machine swing by tens of
// percent; this one does not.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const DIST = new URL('../dist/src', import.meta.url).pathname;
const { compilePolicy, matchRule, hostOf, servesHost } = require(join(DIST, 'policy/policy.js'));
const { parsePolicyText } = require(join(DIST, 'policy/policy-file.js'));
const { keyTarget } = require(join(DIST, 'policy/cache-key.js'));
const rules = [];
for (let i = 1; i <= 19; i++) rules.push(`  - name: r${i}`, `    match: { host: "*.site${i}.example", path: "/section${i}/*" }`, '    ttl: 5m', '    grace: 1h', '    key: { query: { ignore: ["utm_*"], sort: true } }');
rules.push('  - name: everything', '    match: { path: "/*" }');
const text = ['hosts: ["127.0.0.1", localhost, "*.example"]', 'rules:', ...rules, ''].join('\n');
const p = compilePolicy({ file: 'x', hash: 'h', document: parsePolicyText('x', text) }, 0);
const headers = { host: '127.0.0.1:8080', 'user-agent': 'wrk' };
let sink = 0;
function once(authority, path) {
  if (!servesHost(p, hostOf(authority))) return;
  const q = path.indexOf('?');
  const r = matchRule(p, hostOf(authority), q === -1 ? path : path.slice(0, q), 'GET', headers);
  const key = authority + keyTarget(path, r?.query ?? null);
  r.counts[0]++;
  sink += key.length;
}
function none(authority, path) { sink += (authority + keyTarget(path, null)).length; }
for (const [name, f] of [['20 rules', once], ['no policy', none], ['20 rules', once], ['no policy', none], ['20 rules', once], ['no policy', none]]) {
  const N = 2_000_000;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f('127.0.0.1:8080', '/1k');
  console.log(name, (Number(process.hrtime.bigint() - t) / N).toFixed(1), 'ns/request');
}
