// The Prometheus configuration, recording and alerting rules are checked and unit-tested with
// promtool (Debian package `prometheus`), and every alert's runbook_url names a section of
// docs/runbook.md.
import assert from 'node:assert/strict';
import { parse } from 'yaml';
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

  test('every alert is unit-tested firing and staying quiet, and links to a section of docs/runbook.md by an absolute URL', () => {
    const alerts = readFileSync(join(PROM_DIR, 'rules', 'alerts.yml'), 'utf8');
    const names = [...alerts.matchAll(/^\s*- alert:\s*(\S+)/gm)].map((m) => m[1]!);
    assert.deepEqual(names.sort(), [
      'TiercelHitLatencyHigh',
      'TiercelHitRatioLow',
      'TiercelInstanceDown',
      'TiercelInvalidationResyncs',
      'TiercelL2BreakerOpen',
      'TiercelL2Errors',
      'TiercelOriginErrorRate',
      'TiercelRedisOutOfMemory',
      'TiercelRedisReplicationDown',
      'TiercelRedisSentinelQuorum',
      'TiercelServerErrors',
      'TiercelTargetMissing',
    ]);
    const tests = testFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const name of names) {
      assert.match(tests, new RegExp(`alertname: ${name}\\s*\\n\\s*exp_alerts:\\s*\\n\\s*- exp_labels`), `${name} has a test where it fires`);
      assert.match(tests, new RegExp(`alertname: ${name}\\s*\\n\\s*exp_alerts: \\[\\]`), `${name} has a test where it stays quiet`);
    }
    const runbook = anchors(readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8'));
    const urls = [...alerts.matchAll(/runbook_url:\s*(.+)$/gm)].map((m) => m[1]!.trim());
    assert.equal(urls.length, names.length, 'one runbook_url per alert');
    for (const url of urls) {
      const m = /^'\{\{ \$externalLabels\.runbook_base \}\}#(.+)'$/.exec(url);
      assert.ok(m, `runbook_url ${url} is the runbook_base external label and an anchor`);
      assert.ok(runbook.has(m[1]!), `docs/runbook.md has a section #${m[1]} (have: ${[...runbook].join(' ')})`);
    }
    // The rule tests expand it to an absolute URL, as Prometheus does with its external label.
    for (const u of tests.matchAll(/runbook_url: (\S+)/g)) assert.match(u[1]!, /^https?:\/\/[^/]+\/.*#[a-z0-9-]+$/, u[1]!);
  });

  test('prometheus.yml sets runbook_base to an absolute URL that the compose stack serves', () => {
    const config = parse(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as { global: { external_labels?: Record<string, string> } };
    const base = config.global.external_labels?.runbook_base ?? '';
    assert.match(base, /^https?:\/\/[^/]+\/\S*$/);
    // tiercel-1's admin port as the compose file publishes it, whose /runbook serves docs/runbook.md.
    const compose = readFileSync(join(ROOT, 'docker-compose.cache.yml'), 'utf8');
    const hostPort = new URL(base).port;
    assert.ok(compose.includes(`127.0.0.1:${hostPort}:9464`), `compose publishes an admin port on ${hostPort}`);
    assert.equal(new URL(base).pathname, '/runbook');
  });
});
