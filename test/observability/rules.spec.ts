// The Prometheus configuration, recording and alerting rules are checked and unit-tested with
// promtool (Debian package `prometheus`), and every alert's runbook_url names a section of
// docs/runbook.md.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { PROM_DIR, requireProgram, ROOT, ymlFiles } from './support';

function promtool(args: string[], cwd = ROOT): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const ruleFiles = ymlFiles(join(PROM_DIR, 'rules'));
const testFiles = ymlFiles(join(PROM_DIR, 'tests'));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

describe('prometheus rules and configuration', () => {
  test('there are rule files and rule tests', () => {
    requireProgram('promtool', 'prometheus');
    assert.deepEqual(ruleFiles.map((f) => basename(f)), ['alerts.yml', 'recording.yml']);
    assert.ok(testFiles.length >= 2, `rule tests in prometheus/tests: ${testFiles.join(', ')}`);
  });

  for (const file of ruleFiles) {
    test(`promtool check rules ${basename(file)}`, () => {
      const r = promtool(['check', 'rules', file]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /SUCCESS: \d+ rules found/);
    });
  }

  for (const file of testFiles) {
    test(`promtool test rules ${basename(file)}`, () => {
      const r = promtool(['test', 'rules', file]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /SUCCESS/);
      assert.doesNotMatch(r.out, /FAILED/);
    });
  }

  test('promtool check config prometheus.yml (rules from a temporary copy of /etc/prometheus/rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiercel-promcfg-'));
    try {
      cpSync(join(PROM_DIR, 'rules'), join(dir, 'rules'), { recursive: true });
      const config = readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8');
      assert.match(config, /\/etc\/prometheus\/rules\/\*\.yml/);
      for (const target of ['tiercel-1:9464', 'tiercel-2:9464', 'redis-exporter:9121', 'alertmanager:9093']) assert.ok(config.includes(target), target);
      writeFileSync(join(dir, 'prometheus.yml'), config.replaceAll('/etc/prometheus/rules/', `${dir}/rules/`));
      const r = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${ruleFiles.length} rule files found`));
      assert.doesNotMatch(r.out, /FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every alert is unit-tested and links to a section of docs/runbook.md', () => {
    const alerts = readFileSync(join(PROM_DIR, 'rules', 'alerts.yml'), 'utf8');
    const names = [...alerts.matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1]!);
    assert.deepEqual(names.sort(), [
      'TiercelHitRatioLow',
      'TiercelInstanceDown',
      'TiercelL2BreakerOpen',
      'TiercelL2Errors',
      'TiercelOriginErrorRate',
      'TiercelRedisMemoryNearMax',
    ]);
    const tests = testFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const name of names) {
      assert.match(tests, new RegExp(`alertname: ${name}\\s*\\n\\s*exp_alerts:\\s*\\n\\s*- exp_labels`), `${name} has a test where it fires`);
    }
    const runbook = anchors(readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8'));
    const urls = [...alerts.matchAll(/runbook_url:\s*(\S+)/g)].map((m) => m[1]!);
    assert.equal(urls.length, names.length, 'one runbook_url per alert');
    for (const url of urls) {
      const m = /^docs\/runbook\.md#(.+)$/.exec(url);
      assert.ok(m, `runbook_url ${url} points into docs/runbook.md`);
      assert.ok(runbook.has(m[1]!), `docs/runbook.md has a section #${m[1]} (have: ${[...runbook].join(' ')})`);
    }
  });
});
