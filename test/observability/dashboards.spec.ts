// Static checks of the Grafana provisioning and dashboards: fixed uids, the `datasource`
// template variable on every panel and query (no `${DS_…}` import placeholders), the metrics
// each dashboard is meant to show. prometheus-live.spec.ts runs every expression for real.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { allPanels, dashboardTargets, GRAFANA_DIR, loadDashboards } from './support';

const DS = { type: 'prometheus', uid: '${datasource}' };
const dashboards = loadDashboards();

describe('grafana dashboards and provisioning', () => {
  test('two dashboards with fixed uids and titles', () => {
    assert.deepEqual(
      dashboards.map((d) => [d.file, d.json.uid, d.json.title]),
      [
        ['redis.json', 'tiercel-redis', 'Redis'],
        ['tiercel-overview.json', 'tiercel-overview', 'Tiercel overview'],
      ],
    );
  });

  for (const { file, json } of dashboards) {
    test(`${file}: every panel and query uses \${datasource}; no import placeholders`, () => {
      const text = readFileSync(join(GRAFANA_DIR, 'dashboards', file), 'utf8');
      assert.doesNotMatch(text, /\$\{DS_|__inputs|__requires/);
      const vars = json.templating.list;
      assert.deepEqual(
        vars.filter((v) => v.name === 'datasource').map((v) => [v.type, v.query]),
        [['datasource', 'prometheus']],
      );
      for (const v of vars.filter((v) => v.type === 'query')) assert.deepEqual((v as unknown as { datasource: unknown }).datasource, DS, `variable ${v.name}`);
      // An alert list reads the Prometheus rules through the datasource's name, not a query.
      const panels = allPanels(json).filter((p) => p.type !== 'row' && p.type !== 'alertlist');
      for (const p of allPanels(json).filter((x) => x.type === 'alertlist')) {
        assert.equal((p as unknown as { options: { datasource: string } }).options.datasource, 'Prometheus', `panel ${p.title}`);
      }
      assert.ok(panels.length >= 10, `${panels.length} panels`);
      const ids = new Set<number>();
      for (const p of allPanels(json)) {
        const id = (p as unknown as { id: number }).id;
        assert.ok(!ids.has(id), `panel id ${id} is unique`);
        ids.add(id);
      }
      for (const p of panels) {
        assert.deepEqual(p.datasource, DS, `panel ${p.title}`);
        assert.ok((p.targets ?? []).length > 0, `panel ${p.title} has queries`);
        for (const t of p.targets ?? []) {
          assert.deepEqual(t.datasource, DS, `panel ${p.title} ${t.refId}`);
          assert.ok(t.expr.trim().length > 0, `panel ${p.title} ${t.refId} has an expression`);
        }
      }
    });
  }

  test('Tiercel overview shows every family of Tiercel metrics, hit ratio against 70%', () => {
    const d = dashboards.find((x) => x.json.uid === 'tiercel-overview')!.json;
    const exprs = dashboardTargets(d).map((t) => t.expr).join('\n');
    for (const m of [
      'tiercel_requests_total',
      'tiercel_cache_lookup_duration_seconds_bucket',
      'http_server_request_duration_seconds_bucket',
      'tiercel_origin_request_duration_seconds_bucket',
      'tiercel_origin_errors_total',
      'tiercel_response_body_size_bytes_total',
      'tiercel_coalesced_total',
      'process_cpu_time_seconds_total',
      'process_memory_usage_bytes',
      'v8js_memory_heap_used_bytes',
      'nodejs_eventloop_delay_p99_seconds',
      'nodejs_eventloop_utilization_ratio',
      'v8js_gc_duration_seconds_sum',
      'process_unix_file_descriptor_count',
      'tiercel_connections_open',
      'http_server_active_requests',
      'tiercel_l1_size_bytes',
      'tiercel_l1_capacity_bytes',
      'tiercel_l1_entries',
      'tiercel_l1_evictions_total',
      'tiercel_invalidations_total',
      'tiercel_pubsub_messages_total',
      'tiercel_l2_errors_total',
      'tiercel_l2_breaker_open',
      'target_info',
    ]) {
      assert.ok(exprs.includes(m), m);
    }
    for (const q of ['0.5', '0.95', '0.99']) assert.ok(exprs.includes(`histogram_quantile(${q}, sum by (le, tier) (rate(tiercel_cache_lookup_duration_seconds_bucket`), `lookup p${q} per tier`);
    const ratioPanels = allPanels(d).filter((p) => /hit ratio/i.test(p.title) && p.type === 'timeseries');
    assert.ok(ratioPanels.length >= 2);
    for (const p of ratioPanels) {
      const fc = (p as unknown as { fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] }; custom: { thresholdsStyle: { mode: string } } } } }).fieldConfig.defaults;
      assert.ok(fc.thresholds.steps.some((s) => s.value === 0.7), `${p.title}: threshold at 0.7`);
      assert.notEqual(fc.custom.thresholdsStyle.mode, 'off', `${p.title}: threshold drawn`);
    }
  });

  test('Tiercel overview: status codes, Tiercel\'s own 5xx, exemplars on request latency, invalidation annotations, an alert list', () => {
    const d = dashboards.find((x) => x.json.uid === 'tiercel-overview')!.json;
    const panels = allPanels(d);
    const byTitle = (re: RegExp) => panels.filter((p) => re.test(p.title));
    assert.ok(byTitle(/status code/i).some((p) => (p.targets ?? []).some((t) => /sum by \(http_response_status_code\) \(rate\(http_server_request_duration_seconds_count/.test(t.expr))));
    assert.ok(byTitle(/own 5xx/i).some((p) => (p.targets ?? []).some((t) => /tiercel_cache_outcome="error"/.test(t.expr))));
    const latency = panels.flatMap((p) => (p.targets ?? []).filter((t) => t.expr.includes('http_server_request_duration_seconds_bucket')));
    assert.ok(latency.length >= 4);
    for (const t of latency) assert.equal((t as unknown as { exemplar?: boolean }).exemplar, true, `${t.refId} ${t.expr.slice(0, 60)}: exemplars on`);
    const annotations = d.annotations!.list.filter((a) => a.datasource?.type === 'prometheus').map((a) => a.target?.expr ?? '');
    assert.ok(annotations.some((e) => e.includes('tiercel_invalidations_total')), 'invalidations annotated');
    assert.ok(annotations.some((e) => e.includes('tiercel_invalidation_resyncs_total')), 'resyncs annotated');
    assert.equal(panels.filter((p) => p.type === 'alertlist').length, 1);
  });

  test('Redis shows redis_exporter and Tiercel\'s own Redis gauges', () => {
    const d = dashboards.find((x) => x.json.uid === 'tiercel-redis')!.json;
    const exprs = dashboardTargets(d).map((t) => t.expr).join('\n');
    for (const m of [
      'redis_memory_used_bytes',
      'redis_memory_max_bytes',
      'redis_evicted_keys_total',
      'tiercel_redis_memory_used_bytes',
      'tiercel_redis_memory_max_bytes',
      'tiercel_redis_evicted_keys_total',
      'redis_keyspace_hits_total',
      'redis_keyspace_misses_total',
      'redis_commands_processed_total',
      'redis_connected_clients',
      'redis_connected_slaves',
      'redis_master_link_up',
      'redis_instance_info',
    ]) {
      assert.match(exprs, new RegExp(`\\b${m}\\b`), m);
    }
  });

  test('provisioning: Prometheus uid prometheus, Tempo uid tempo, dashboards from /var/lib/grafana/dashboards', () => {
    const ds = readFileSync(join(GRAFANA_DIR, 'provisioning/datasources/datasources.yml'), 'utf8');
    assert.match(ds, /^apiVersion: 1$/m);
    assert.match(ds, /uid: prometheus\n\s+type: prometheus/);
    assert.match(ds, /uid: tempo\n\s+type: tempo/);
    assert.match(ds, /tracesToMetrics:\n\s+datasourceUid: prometheus/);
    assert.match(ds, /serviceMap:\n\s+datasourceUid: prometheus/);
    // Grafana expands $VAR in provisioning files: every literal `$` must be written `$$`.
    for (const line of ds.split('\n').filter((l) => !l.trim().startsWith('#'))) {
      assert.doesNotMatch(line.replaceAll('$$', ''), /\$/, `unescaped $ in: ${line}`);
    }
    const dash = readFileSync(join(GRAFANA_DIR, 'provisioning/dashboards/dashboards.yml'), 'utf8');
    assert.match(dash, /type: file/);
    assert.match(dash, /path: \/var\/lib\/grafana\/dashboards/);
  });
});
