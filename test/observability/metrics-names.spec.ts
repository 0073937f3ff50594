// Pins the metric families and label names Tiercel exposes on /metrics, as the dashboards and
// alerts use them: the OpenTelemetry Prometheus exporter's naming rules (`_total` on counters,
// no unit suffix, dots to underscores) must not change silently. Two real Tiercel processes
// share a real Redis; the traffic covers a miss, an L1 hit, an L2 hit from the second instance,
// a pass, an origin failure and an invalidation heard over Pub/Sub.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { RedisProcess, startRedis } from '../support/redis';
import { Family, parseExposition, ROOT, sleep, startTiercel, stopTiercel } from './support';

const HOST = 'api.example.com';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TOKEN = 'metrics-names-token';
const SCOPE = 'otel_scope_name';
const SCOPE_VERSION = 'otel_scope_version';

/** family → [type, unit (`# UNIT`, the name's suffix), label names except `le`]. otel_scope_name/_version are the exporter's instrumentation-scope labels. */
const EXPECTED: Record<string, [string, string, string[]]> = {
  target_info: ['gauge', '', []],
  // Tiercel's own
  tiercel_build_info: ['gauge', '', ['version', 'nodejs_version', SCOPE]],
  tiercel_requests_total: ['counter', '', ['tier', 'outcome', SCOPE]],
  tiercel_cache_lookup_duration_seconds: ['histogram', 'seconds', ['tier', 'result', SCOPE]],
  http_server_request_duration_seconds: ['histogram', 'seconds', ['http_request_method', 'http_response_status_code', 'url_scheme', 'tiercel_cache_outcome', SCOPE]],
  http_server_active_requests: ['gauge', '', ['url_scheme', SCOPE]],
  tiercel_connections_open: ['gauge', '', [SCOPE]],
  tiercel_origin_request_duration_seconds: ['histogram', 'seconds', ['http_response_status_code', SCOPE]],
  tiercel_origin_errors_total: ['counter', '', ['reason', SCOPE]],
  tiercel_response_body_size_bytes_total: ['counter', 'bytes', ['tier', SCOPE]],
  tiercel_coalesced_total: ['counter', '', [SCOPE]],
  tiercel_fills_total: ['counter', '', ['purpose', 'result', SCOPE]],
  tiercel_l1_entries: ['gauge', '', [SCOPE]],
  tiercel_l1_size_bytes: ['gauge', 'bytes', [SCOPE]],
  tiercel_l1_capacity_bytes: ['gauge', 'bytes', [SCOPE]],
  tiercel_l1_evictions_total: ['counter', '', [SCOPE]],
  tiercel_l2_errors_total: ['counter', '', [SCOPE]],
  tiercel_l2_breaker_open: ['gauge', '', [SCOPE]],
  tiercel_invalidations_total: ['counter', '', ['kind', 'source', SCOPE]],
  tiercel_pubsub_messages_total: ['counter', '', ['direction', SCOPE]],
  tiercel_invalidation_resyncs_total: ['counter', '', ['reason', SCOPE]],
  tiercel_redis_memory_used_bytes: ['gauge', 'bytes', [SCOPE]],
  tiercel_redis_memory_max_bytes: ['gauge', 'bytes', [SCOPE]],
  tiercel_redis_evicted_keys_total: ['counter', '', [SCOPE]],
  // the process (instrumentation-host-metrics, and /proc for descriptors)
  process_cpu_time_seconds_total: ['counter', 'seconds', ['cpu_mode', SCOPE, SCOPE_VERSION]],
  process_cpu_utilization_ratio: ['gauge', 'ratio', ['cpu_mode', SCOPE, SCOPE_VERSION]],
  process_memory_usage_bytes: ['gauge', 'bytes', [SCOPE, SCOPE_VERSION]],
  process_unix_file_descriptor_count: ['gauge', '', [SCOPE]],
  // the Node.js runtime (instrumentation-runtime-node)
  nodejs_eventloop_utilization_ratio: ['gauge', 'ratio', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_time_seconds_total: ['counter', 'seconds', ['nodejs_eventloop_state', SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_min_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_max_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_mean_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_stddev_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_p50_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_p90_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  nodejs_eventloop_delay_p99_seconds: ['gauge', 'seconds', [SCOPE, SCOPE_VERSION]],
  // Start-up allocates far more than the young generation holds: a scavenge has always run by the first scrape.
  v8js_gc_duration_seconds: ['histogram', 'seconds', ['v8js_gc_type', SCOPE, SCOPE_VERSION]],
  v8js_memory_heap_used_bytes: ['gauge', 'bytes', ['v8js_heap_space_name', SCOPE, SCOPE_VERSION]],
  v8js_memory_heap_space_size_bytes: ['gauge', 'bytes', ['v8js_heap_space_name', SCOPE, SCOPE_VERSION]],
  v8js_memory_heap_space_available_size_bytes: ['gauge', 'bytes', ['v8js_heap_space_name', SCOPE, SCOPE_VERSION]],
  v8js_memory_heap_space_physical_size_bytes: ['gauge', 'bytes', ['v8js_heap_space_name', SCOPE, SCOPE_VERSION]],
  v8js_resource_active: ['gauge', '', ['v8js_resource_type', SCOPE, SCOPE_VERSION]],
};

/** The closed sets some labels draw from. */
const VALUES: Record<string, RegExp> = {
  tier: /^(l1|l2|origin|none)$/,
  outcome: /^(hit|stale|revalidated|miss|bypass|error)$/,
  tiercel_cache_outcome: /^(hit|stale|revalidated|miss|bypass|error)$/,
  kind: /^(urls|pattern|tags|all)$/,
  source: /^(admin|purge|unsafe-method)$/,
  direction: /^(sent|received)$/,
  purpose: /^(miss|revalidate|refresh|pass)$/,
  result: /^(hit|miss|stored|revalidated|not-stored|incomplete|failed|abandoned)$/,
  http_request_method: /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|PURGE|_OTHER)$/,
  http_response_status_code: /^[1-5]\d\d$/,
  url_scheme: /^https?$/,
  reason: /^[a-z][a-z0-9_-]*$/,
  le: /^(\+Inf|\d+(\.\d+)?(e[-+]?\d+)?)$/,
  otel_scope_name: /^(tiercel|@opentelemetry\/instrumentation-runtime-node|@opentelemetry\/instrumentation-host-metrics)$/,
  otel_scope_version: /^\d+\.\d+\.\d+$/,
  version: /^(\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?|unknown)$/,
  nodejs_version: /^v\d+\.\d+\.\d+$/,
  cpu_mode: /^(user|system)$/,
  nodejs_eventloop_state: /^(active|idle)$/,
  v8js_gc_type: /^(major|minor|incremental|weakcb)$/,
  v8js_heap_space_name: /^[a-z_]+$/,
  v8js_resource_type: /^[A-Za-z]+$/,
};

/** The keys of a JSON object's top level, in the order written, duplicates kept. */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && json[j + 1] === ':') keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

function labelNames(f: Family): string[] {
  const names = new Set<string>();
  for (const s of f.samples) for (const k of Object.keys(s.labels)) if (k !== 'le') names.add(k);
  return [...names].sort();
}

function value(f: Family | undefined, name: string, labels: Record<string, string>): number | undefined {
  return f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(t: TiercelProcess): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${t.adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parseExposition(await res.text());
}

describe('metric names on /metrics', () => {
  let redis: RedisProcess;
  let origin: TestOrigin;
  let t1: TiercelProcess | undefined;
  let t2: TiercelProcess | undefined;
  let m1: Map<string, Family>;
  let m2: Map<string, Family>;

  before(async () => {
    redis = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    origin = await startOrigin();
    origin.handle('/obj-cached-7f3', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300', 'surrogate-key': 'catalog' });
      res.end('cached body\n');
    });
    origin.handle('/obj-write-7f3', (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end('created\n');
    });
    origin.handle('/obj-hangup-7f3', (req) => void req.socket.destroy());
    const env = (id: string) => ({
      UPSTREAM_URL: origin.url,
      REDIS_ENABLED: 'true',
      REDIS_ADDR: redis.addr,
      INSTANCE_ID: id,
      ADMIN_TOKEN: TOKEN,
      ACCESS_LOG: 'true',
    });
    t1 = await startTiercel(env('names-1'));
    t2 = await startTiercel(env('names-2'));
    const on = { headers: { host: HOST, 'user-agent': 'names-test/1' } };

    assert.equal((await send(t1.proxyPort, '/obj-cached-7f3', on)).headers['x-cache'], 'MISS'); // miss, stored in L1 and L2
    assert.equal((await send(t1.proxyPort, '/obj-cached-7f3', on)).headers['x-cache'], 'HIT'); // L1 hit
    // The L2 write is in the background: wait for the object in Redis, then the second instance
    // (empty L1, same Host so the same key) finds it there.
    const probe = redis.client();
    for (let i = 0; ; i++) {
      const keys = await probe.keys('tiercel:*');
      if (keys.some((k) => k.endsWith(`:o:${HOST}/obj-cached-7f3`))) break;
      if (i > 200) throw new Error(`the L2 write never landed: ${keys.join(' ')}`);
      await sleep(20);
    }
    const l2 = await send(t2.proxyPort, '/obj-cached-7f3', on);
    assert.match(String(l2.headers['cache-status']), /hit; detail=l2/);
    const pass = await send(t1.proxyPort, '/obj-write-7f3', { ...on, method: 'POST', body: 'x' }); // pass (bypass)
    assert.equal(pass.status, 201);
    const failed = await send(t1.proxyPort, '/obj-hangup-7f3', on); // origin failure
    assert.ok(failed.status >= 500, `origin reset answered ${failed.status}`);
    const inv = await fetch(`http://127.0.0.1:${t1.adminPort}/admin/invalidate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ urls: [`http://${HOST}/obj-cached-7f3`] }),
    });
    assert.equal(inv.status, 200, await inv.text());
    // Wait until the second instance heard the invalidation over Pub/Sub.
    for (let i = 0; ; i++) {
      m2 = await scrape(t2);
      if ((value(m2.get('tiercel_pubsub_messages_total'), 'tiercel_pubsub_messages_total', { direction: 'received' }) ?? 0) >= 1) break;
      if (i > 100) throw new Error('instance 2 never received the invalidation');
      await sleep(30);
    }
    m1 = await scrape(t1);
  });

  after(async () => {
    await Promise.all([stopTiercel(t1), stopTiercel(t2)]);
    await origin?.close();
    await redis?.stop();
  });

  test('exactly the pinned metric families, types and label names', () => {
    const got = Object.fromEntries([...m1.values()].map((f) => [f.name, [f.type, f.unit, f.name === 'target_info' ? [] : labelNames(f)]]));
    const want = Object.fromEntries(Object.entries(EXPECTED).map(([n, [type, unit, labels]]) => [n, [type, unit, [...labels].sort()]]));
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), 'the families');
    for (const name of Object.keys(want)) assert.deepEqual(got[name], want[name], name);
  });

  test('counters end in _total; histograms have _bucket (with le), _sum and _count; a unit is the name\'s suffix, in base units', () => {
    for (const f of m1.values()) {
      if (f.unit !== '') assert.match(f.name, new RegExp(`_${f.unit}(_total)?$`), `${f.name}: ends with its unit ${f.unit}`);
      assert.match(f.unit, /^(|seconds|bytes|ratio)$/, `${f.name}: base units only`);
      assert.doesNotMatch(f.name, /_(milliseconds|microseconds|kilobytes|kibibytes|percent)(_total)?$/, f.name);
      if (f.type === 'counter') {
        assert.match(f.name, /_total$/, f.name);
        for (const s of f.samples) assert.equal(s.name, f.name);
      } else if (f.type === 'histogram') {
        const kinds = new Set(f.samples.map((s) => s.name.slice(f.name.length)));
        assert.deepEqual([...kinds].sort(), ['_bucket', '_count', '_sum'], f.name);
        for (const s of f.samples) assert.equal('le' in s.labels, s.name.endsWith('_bucket'), `${s.name} le`);
      } else {
        assert.equal(f.type, 'gauge', f.name);
        for (const s of f.samples) assert.equal(s.name, f.name);
      }
    }
  });

  test('the traffic shows up under the documented label values', () => {
    const req1 = m1.get('tiercel_requests_total');
    const req2 = m2.get('tiercel_requests_total');
    assert.ok((value(req1, 'tiercel_requests_total', { tier: 'origin', outcome: 'miss' }) ?? 0) >= 1, 'miss');
    assert.ok((value(req1, 'tiercel_requests_total', { tier: 'l1', outcome: 'hit' }) ?? 0) >= 1, 'L1 hit');
    assert.ok((value(req1, 'tiercel_requests_total', { outcome: 'bypass' }) ?? 0) >= 1, 'pass');
    assert.ok((value(req1, 'tiercel_requests_total', { outcome: 'error' }) ?? 0) >= 1, 'origin failure');
    assert.ok((value(req2, 'tiercel_requests_total', { tier: 'l2', outcome: 'hit' }) ?? 0) >= 1, 'L2 hit on the second instance');
    const lookups2 = m2.get('tiercel_cache_lookup_duration_seconds');
    assert.ok((value(lookups2, 'tiercel_cache_lookup_duration_seconds_count', { tier: 'l2', result: 'hit' }) ?? 0) >= 1, 'L2 lookup hit timed');
    assert.ok((value(m1.get('tiercel_cache_lookup_duration_seconds'), 'tiercel_cache_lookup_duration_seconds_count', { tier: 'l1', result: 'miss' }) ?? 0) >= 1);
    assert.ok((value(m1.get('http_server_request_duration_seconds'), 'http_server_request_duration_seconds_count', { http_request_method: 'POST', tiercel_cache_outcome: 'bypass' }) ?? 0) >= 1);
    assert.ok((value(m1.get('tiercel_origin_request_duration_seconds'), 'tiercel_origin_request_duration_seconds_count', { http_response_status_code: '200' }) ?? 0) >= 1);
    assert.ok([...(m1.get('tiercel_origin_errors_total')?.samples ?? [])].some((s) => s.value >= 1), 'origin error by reason');
    // The admin API's invalidation and the POST's RFC 9111 §4.4 one are told apart by source.
    assert.equal(value(m1.get('tiercel_invalidations_total'), 'tiercel_invalidations_total', { kind: 'urls', source: 'admin' }), 1);
    assert.equal(value(m1.get('tiercel_invalidations_total'), 'tiercel_invalidations_total', { kind: 'urls', source: 'unsafe-method' }), 1);
    assert.equal(value(m1.get('tiercel_invalidations_total'), 'tiercel_invalidations_total', { kind: 'urls', source: 'purge' }), 0);
    assert.ok((value(m1.get('tiercel_pubsub_messages_total'), 'tiercel_pubsub_messages_total', { direction: 'sent' }) ?? 0) >= 1);
    assert.ok((value(m1.get('tiercel_response_body_size_bytes_total'), 'tiercel_response_body_size_bytes_total', { tier: 'l1' }) ?? 0) > 0, 'bytes from L1');
    assert.ok((value(m1.get('tiercel_l1_capacity_bytes'), 'tiercel_l1_capacity_bytes', {}) ?? 0) > 0);
    assert.equal(value(m1.get('tiercel_fills_total'), 'tiercel_fills_total', { purpose: 'miss', result: 'stored' }), 1);
    assert.equal(value(m1.get('tiercel_fills_total'), 'tiercel_fills_total', { purpose: 'pass', result: 'not-stored' }), 1);
    assert.equal(value(m1.get('tiercel_fills_total'), 'tiercel_fills_total', { purpose: 'miss', result: 'failed' }), 1);
    assert.equal(value(m1.get('tiercel_l2_breaker_open'), 'tiercel_l2_breaker_open', {}), 0);
    assert.equal(value(m1.get('tiercel_redis_memory_max_bytes'), 'tiercel_redis_memory_max_bytes', {}), 64 * 1024 * 1024);
    assert.ok((value(m1.get('tiercel_redis_memory_used_bytes'), 'tiercel_redis_memory_used_bytes', {}) ?? 0) > 0);
  });

  test('/stats is computed from the same counters as /metrics', async () => {
    const stats = await (await fetch(`http://127.0.0.1:${t1!.adminPort}/stats`)).json() as Record<string, number>;
    const now = await scrape(t1!);
    const sum = (name: string, labels: (l: Record<string, string>) => boolean) =>
      (now.get(name)?.samples ?? []).filter((x) => x.name === name && labels(x.labels)).reduce((n, x) => n + x.value, 0);
    assert.equal(stats.hits, sum('tiercel_requests_total', (l) => l.outcome === 'hit' || l.outcome === 'stale'));
    assert.equal(stats.l1Hits, sum('tiercel_requests_total', (l) => l.tier === 'l1' && (l.outcome === 'hit' || l.outcome === 'stale')));
    assert.equal(stats.stores, sum('tiercel_fills_total', (l) => l.result === 'stored'));
    assert.equal(stats.upstreamErrors, sum('tiercel_origin_errors_total', () => true));
    assert.equal(stats.coalesced, sum('tiercel_coalesced_total', () => true));
    // Every pass counts, whatever sent it there: the POST here.
    assert.equal(stats.passes, sum('tiercel_fills_total', (l) => l.purpose === 'pass'));
  });

  test('target_info names the service and INSTANCE_ID', () => {
    for (const [m, id] of [[m1, 'names-1'], [m2, 'names-2']] as const) {
      const s = m.get('target_info')!.samples;
      assert.equal(s.length, 1);
      assert.equal(s[0]!.labels.service_name, 'tiercel');
      assert.equal(s[0]!.labels.service_instance_id, id);
      assert.equal(s[0]!.labels.service_version, VERSION, 'service.version in target_info');
      const build = m.get('tiercel_build_info')!.samples;
      assert.deepEqual(build.map((b) => [b.labels.version, b.labels.nodejs_version, b.value]), [[VERSION, process.version, 1]]);
    }
  });

  test('runtime and connection gauges carry live values', () => {
    const v = (name: string, labels: Record<string, string> = {}) => value(m1.get(name), name, labels);
    assert.ok((v('process_memory_usage_bytes') ?? 0) > 10 * 1024 * 1024, 'RSS of a running Node');
    assert.ok((v('process_unix_file_descriptor_count') ?? 0) >= 3, 'stdio at least');
    assert.ok((value(m1.get('v8js_gc_duration_seconds'), 'v8js_gc_duration_seconds_count', { v8js_gc_type: 'minor' }) ?? 0) >= 1, 'a scavenge during start-up');
    assert.ok((v('nodejs_eventloop_delay_max_seconds') ?? -1) >= 0);
    // The sends above closed their connections; the scrape is on the admin port, not counted.
    assert.equal(v('tiercel_connections_open'), 0);
    assert.equal(v('http_server_active_requests', { url_scheme: 'http' }), 0);
  });

  test('log lines: ISO time, level names, one key each, trace fields only with a trace, the access-log fields', () => {
    const lines = t1!.stdout().split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length >= 5, t1!.stdout());
    for (const l of lines) {
      const j = JSON.parse(l) as Record<string, unknown>;
      // JSON.parse keeps the last of two equal keys silently: count the keys as written.
      const keys = topLevelKeys(l);
      assert.deepEqual(keys, [...new Set(keys)], `no duplicate key: ${l}`);
      assert.match(String(j.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, l);
      assert.match(String(j.level), /^(trace|debug|info|warn|error|fatal)$/, l);
      assert.equal('trace_id' in j || 'span_id' in j, false, `no trace without tracing: ${l}`);
      assert.doesNotMatch(l, /Accessing resource attributes before async attributes settled/);
    }
    const access = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((j) => j.msg === 'access');
    const miss = access.find((a) => a.path === '/obj-cached-7f3' && a.outcome === 'miss')!;
    assert.ok(miss, 'the miss is logged');
    assert.equal(miss.upstream, origin.url.replace(/\/$/, ''));
    assert.equal(typeof miss.upstream_ms, 'number');
    assert.equal(miss.bytes, 'cached body\n'.length);
    assert.equal(miss.user_agent, 'names-test/1');
    const hit = access.find((a) => a.path === '/obj-cached-7f3' && a.outcome === 'hit' && a.tier === 'l1')!;
    assert.ok(hit, 'the L1 hit is logged');
    assert.equal(hit.upstream, undefined, 'a hit went to no origin');
    assert.equal(typeof hit.l1_ms, 'number');
  });

  test('no label value is a URL, a path or a cache key', () => {
    for (const m of [m1, m2]) {
      for (const f of m.values()) {
        if (f.name === 'target_info') continue; // resource attributes: process command line and paths, by design
        for (const s of f.samples) {
          for (const [k, v] of Object.entries(s.labels)) {
            const where = `${s.name}{${k}="${v}"}`;
            assert.ok(VALUES[k], `${where}: label ${k} has a documented value set`);
            assert.match(v, VALUES[k]!, where);
            // The scope names are fixed package names, not request data.
            if (k !== SCOPE) assert.doesNotMatch(v, /[/?#&=:]|7f3|obj-|example\.com|tiercel:/, where);
          }
        }
      }
    }
  });
});
