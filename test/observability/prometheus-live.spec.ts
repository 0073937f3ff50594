// A real Prometheus (1 s scrapes and rule evaluations) scraping two real Tiercel processes that
// share a real Redis (a master and a replica), under generated load from an in-test origin.
// Through Prometheus's HTTP API:
//  - every expression of every dashboard panel (template variables and $__rate_interval /
//    $__range replaced with concrete values) returns data with at least one number;
//  - every recording rule returns data and its series is recorded; every alert rule, with its
//    comparisons made `bool`, returns data (every series and join it uses exists);
//  - a copy of TiercelHitRatioLow with `for: 2s` and a 10 s window stays inactive while the load
//    repeats cached URLs, and goes pending or firing once it switches to unique uncacheable URLs.
// Redis-exporter panels: when prometheus-redis-exporter is installed (.ci/run installs it) it
// scrapes both Redis servers through its /scrape endpoint and those panels are checked too;
// without it they are skipped (the memory and eviction panels also have Tiercel's own gauges,
// which are always checked).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { RedisProcess, startRedis } from '../support/redis';
import {
  annotationTargets,
  boolComparisons,
  dashboardTargets,
  ExporterProcess,
  hasProgram,
  loadDashboards,
  PROM_DIR,
  PrometheusProcess,
  PromSample,
  sleep,
  startPrometheus,
  startRedisExporter,
  startTiercel,
  stopTiercel,
  substitute,
} from './support';

const HOST = 'api.example.com';
const TOKEN = 'live-test-token';
const CACHED_URLS = 20;
const TEST_GROUP = 'tiercel-live-test';
const HAS_EXPORTER = hasProgram('prometheus-redis-exporter');

interface Rule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  duration?: number;
  state?: 'inactive' | 'pending' | 'firing';
  health: string;
  lastError?: string;
  lastEvaluation: string;
}
interface RuleGroup {
  name: string;
  file: string;
  rules: Rule[];
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(port: number, path: string, method = 'GET'): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers: { host: HOST }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(method === 'POST' ? 'x' : undefined);
  });
}

/** One CONNECT tunnel to the origin with one request inside; settles (never rejects) within 2 s. */
function tunnelOnce(proxyPort: number, originPort: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: proxyPort });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 2000);
    let seen = '';
    let sentInside = false;
    s.on('error', done);
    s.on('close', done);
    s.setEncoding('latin1');
    s.on('data', (chunk: string) => {
      seen += chunk;
      if (!sentInside && seen.includes('\r\n\r\n')) {
        sentInside = true;
        seen = '';
        s.write(`GET /c/0 HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
      }
    });
    s.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`);
  });
}

/** Readable list of failures: one line each. */
function report(failures: string[]): string {
  return `${failures.length} expression(s) without data:\n  ${failures.join('\n  ')}`;
}

function hasNumber(samples: PromSample[]): boolean {
  return samples.some((s) => !Number.isNaN(Number(s.value[1])));
}

describe('Prometheus scraping Tiercel under load', () => {
  let master: RedisProcess;
  let replica: RedisProcess;
  let origin: TestOrigin;
  let t1: TiercelProcess | undefined;
  let t2: TiercelProcess | undefined;
  /** A forward-mode instance whose CONNECT tunnels feed the tunnel panels. */
  let t3: TiercelProcess | undefined;
  let tunneller: NodeJS.Timeout | undefined;
  let exporter: ExporterProcess | undefined;
  let prom: PrometheusProcess | undefined;
  let mode: 'cached' | 'unique' | 'stop' = 'cached';
  let loops: Promise<void>[] = [];
  let invalidator: NodeJS.Timeout | undefined;
  const sent = { cached: 0, unique: 0 };
  let vars: Record<string, string>;

  before(async () => {
    master = await startRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port), '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const body = Buffer.alloc(2048, 'x');
    origin = await startOrigin((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/c/')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300', 'surrogate-key': 'live' });
        res.end(body);
      } else if (path.startsWith('/u/')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(body);
      } else if (path === '/w') {
        res.writeHead(201, { 'content-type': 'text/plain' });
        res.end('ok');
      } else if (path === '/boom') {
        req.socket.destroy();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    // A catch-all rule that changes nothing: the dashboard's per-rule panels have data.
    const policy = join(mkdtempSync(join(tmpdir(), 'tiercel-live-')), 'policy.yaml');
    writeFileSync(policy, 'rules:\n  - name: everything\n');
    const env = (id: string) => ({ UPSTREAM_URL: origin.url, REDIS_ENABLED: 'true', REDIS_ADDR: master.addr, INSTANCE_ID: id, ADMIN_TOKEN: TOKEN, TIERCEL_CONFIG: policy });
    t1 = await startTiercel(env('live-1'));
    t2 = await startTiercel(env('live-2'));
    t3 = await startTiercel({ INSTANCE_ID: 'live-forward', CONNECT_PORTS: String(origin.port), ADMIN_TOKEN: TOKEN });
    if (HAS_EXPORTER) exporter = await startRedisExporter();

    // Warm both instances before Prometheus starts: the first misses fall outside every window.
    for (let i = 0; i < CACHED_URLS; i++) await get(t1.proxyPort, `/c/${i}`);
    await sleep(200); // background L2 writes
    for (let i = 0; i < CACHED_URLS; i++) await get(t2.proxyPort, `/c/${i}`);

    const tiercelTargets = [`127.0.0.1:${t1.adminPort}`, `127.0.0.1:${t2.adminPort}`, `127.0.0.1:${t3.adminPort}`];
    const redisTargets = [`redis://${master.addr}`, `redis://${replica.addr}`];
    prom = await startPrometheus((dir) => {
      cpSync(join(PROM_DIR, 'rules'), join(dir, 'rules'), { recursive: true });
      const scrape: object[] = [{ job_name: 'tiercel', static_configs: [{ targets: tiercelTargets }] }];
      if (exporter) {
        scrape.push({
          job_name: 'redis',
          metrics_path: '/scrape',
          static_configs: [{ targets: redisTargets }],
          relabel_configs: [
            { source_labels: ['__address__'], target_label: '__param_target' },
            { source_labels: ['__param_target'], target_label: 'instance' },
            { target_label: '__address__', replacement: exporter.addr },
          ],
        });
      }
      return {
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules', '*.yml')],
        scrape_configs: scrape,
      };
    });
    vars = {
      datasource: 'prometheus',
      job: 'tiercel',
      instance: tiercelTargets.join('|'),
      redis_instance: redisTargets.join('|'),
      __rate_interval: '10s',
      __interval: '2s',
      __range: '1m',
    };

    // The load: four workers alternating between the instances. Cached mode repeats 20 URLs
    // (plus a POST now and then, and an origin that hangs up); unique mode asks for URLs never
    // seen before, answered no-store.
    let seq = 0;
    const worker = async (w: number) => {
      for (let n = 0; mode !== 'stop'; n++) {
        const port = (n + w) % 2 === 0 ? t1!.proxyPort : t2!.proxyPort;
        if (mode === 'cached') {
          sent.cached++;
          if (n % 40 === 7) await get(port, '/w', 'POST');
          else if (n % 150 === 11) await get(port, '/boom');
          else await get(port, `/c/${(n * 7 + w) % CACHED_URLS}`);
        } else {
          sent.unique++;
          await get(port, `/u/${seq++}`);
        }
        await sleep(4);
      }
    };
    loops = [0, 1, 2, 3].map(worker);
    // Invalidations by URL and pattern, one object each, alternating instances: Pub/Sub traffic
    // and a few L2 lookups, hardly any dent in the hit ratio.
    let tick = 0;
    invalidator = setInterval(() => {
      const admin = tick++ % 2 === 0 ? t1!.adminPort : t2!.adminPort;
      const bodyJson = tick % 2 === 0 ? { urls: [`http://${HOST}/c/0`] } : { pattern: `${HOST}/c/1` };
      void fetch(`http://127.0.0.1:${admin}/admin/invalidate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(bodyJson),
        signal: AbortSignal.timeout(2000),
      }).catch(() => {});
    }, 1500);
    // A blind CONNECT tunnel through the forward instance to the origin every 300 ms, one GET
    // inside each: the tunnel counters, bytes and durations have data.
    tunneller = setInterval(() => void tunnelOnce(t3!.proxyPort, origin.port), 300);
  });

  after(async () => {
    mode = 'stop';
    if (invalidator) clearInterval(invalidator);
    if (tunneller) clearInterval(tunneller);
    await Promise.all(loops);
    agent.destroy();
    await prom?.stop();
    await exporter?.stop();
    await Promise.all([stopTiercel(t1), stopTiercel(t2), stopTiercel(t3)]);
    await origin?.close();
    await replica?.stop();
    await master?.stop();
  });

  async function rules(): Promise<RuleGroup[]> {
    return (await prom!.api<{ groups: RuleGroup[] }>('/api/v1/rules')).groups;
  }

  async function testRule(): Promise<Rule | undefined> {
    return (await rules()).find((g) => g.name === TEST_GROUP)?.rules[0];
  }

  async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
      try {
        const v = await probe();
        if (v !== undefined && v !== false) return v;
        last = v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})\n${prom?.log().slice(-2000)}`);
      await sleep(250);
    }
  }

  test('a test copy of TiercelHitRatioLow (for: 2s, 10 s window) is loaded next to the real rules', async () => {
    const groups = await rules();
    assert.deepEqual(groups.map((g) => g.name).sort(), ['tiercel-alerts', 'tiercel-cache']);
    const real = groups.flatMap((g) => g.rules).find((r) => r.name === 'TiercelHitRatioLow')!;
    assert.ok(real, 'TiercelHitRatioLow loaded from alerts.yml');
    assert.ok(real.query.includes('[10m]'), real.query);
    const copy = {
      groups: [{ name: TEST_GROUP, rules: [{ alert: 'TiercelHitRatioLow', expr: real.query.replaceAll('[10m]', '[10s]'), for: '2s', labels: { severity: 'test' } }] }],
    };
    writeFileSync(join(prom!.dir, 'rules', 'zz-live-test.yml'), JSON.stringify(copy, null, 2));
    prom!.reload();
    const rule = await until('the test rule to be evaluated', 15_000, async () => {
      const r = await testRule();
      return r && r.lastEvaluation && !r.lastEvaluation.startsWith('0001') ? r : undefined;
    });
    assert.equal(rule.health, 'ok', rule.lastError);
    assert.equal(rule.duration, 2);
  });

  test('the test alert is inactive while the load repeats cached URLs', async () => {
    const ratioExpr = `sum(rate(tiercel_requests_total{job="tiercel", outcome=~"hit|stale"}[10s])) / sum(rate(tiercel_requests_total{job="tiercel", outcome=~"hit|stale|revalidated|miss"}[10s]))`;
    const ratio = await until('a high hit ratio over 10 s', 30_000, async () => {
      const [s] = await prom!.query(ratioExpr);
      const v = s ? Number(s.value[1]) : NaN;
      return v > 0.9 ? v : undefined;
    });
    // Inactive because the ratio is high, not because there is no data yet: evaluated after the
    // ratio was seen, and its expression with `bool` comparisons says 0 (condition false).
    const seen = Date.now();
    const rule = await until('the test alert to be evaluated after the ratio was seen', 20_000, async () => {
      const r = await testRule();
      return r && Date.parse(r.lastEvaluation) > seen + 1000 ? r : undefined;
    });
    assert.equal(rule.health, 'ok', rule.lastError);
    assert.equal(rule.state, 'inactive');
    const cond = await prom!.query(boolComparisons(rule.query));
    assert.deepEqual(cond.map((s) => [s.metric.job, s.value[1]]), [['tiercel', '0']]);
    console.log(`[measured] live hit ratio ${(ratio * 100).toFixed(1)}% over 10 s with repeated cached URLs: TiercelHitRatioLow (test copy) inactive`);
    // The recording rules have caught up, and the overall ratio agrees.
    const rec = await until('tiercel:hit_ratio:rate5m to be recorded', 10_000, async () => (await prom!.query('tiercel:hit_ratio:rate5m{job="tiercel"}'))[0]);
    assert.ok(Number(rec.value[1]) > 0.7, `tiercel:hit_ratio:rate5m = ${rec.value[1]}`);
  });

  test('every Tiercel dashboard expression returns data', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const { json } of loadDashboards()) {
      for (const t of dashboardTargets(json)) {
        if (/\bredis_[a-z_]+/.test(t.expr)) continue; // redis_exporter series: the next test
        const expr = substitute(t.expr, vars);
        checked++;
        try {
          const r = await prom!.query(expr);
          if (!hasNumber(r)) failures.push(`${t.dashboard} / ${t.panel} / ${t.refId}: ${r.length ? 'only NaN' : 'empty'}: ${expr.replace(/\s+/g, ' ')}`);
        } catch (err) {
          failures.push(`${t.dashboard} / ${t.panel} / ${t.refId}: ${(err as Error).message}`);
        }
      }
    }
    assert.deepEqual(failures, [], report(failures));
    assert.ok(checked >= 40, `${checked} expressions checked`);
    console.log(`[measured] ${checked} dashboard expressions returned data from live Tiercel metrics`);
  });

  test('every annotation query has its series (the comparison made a bool one, as for alerts)', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const { json } of loadDashboards()) {
      for (const t of annotationTargets(json)) {
        const expr = boolComparisons(substitute(t.expr, vars));
        checked++;
        const r = await prom!.query(expr).catch((err: Error) => err);
        if (r instanceof Error) failures.push(`${t.dashboard} / ${t.panel}: ${r.message}`);
        else if (r.length === 0) failures.push(`${t.dashboard} / ${t.panel}: empty: ${expr}`);
      }
    }
    assert.deepEqual(failures, [], report(failures));
    assert.ok(checked >= 2, `${checked} annotation queries checked`);
  });

  test('every redis_exporter dashboard expression returns data', { skip: HAS_EXPORTER ? false : 'prometheus-redis-exporter is not installed' }, async () => {
    await until('redis_exporter scrapes of both servers', 10_000, async () => (await prom!.query('count(redis_up == 1) == 2')).length > 0);
    await until('the replica\'s master link', 10_000, async () => (await prom!.query('redis_master_link_up == 1')).length > 0);
    const failures: string[] = [];
    let checked = 0;
    for (const { json } of loadDashboards()) {
      for (const t of dashboardTargets(json)) {
        if (!/\bredis_[a-z_]+/.test(t.expr)) continue;
        const expr = substitute(t.expr, vars);
        checked++;
        const r = await prom!.query(expr).catch((err: Error) => err);
        if (r instanceof Error) failures.push(`${t.dashboard} / ${t.panel} / ${t.refId}: ${r.message}`);
        else if (!hasNumber(r)) failures.push(`${t.dashboard} / ${t.panel} / ${t.refId}: ${r.length ? 'only NaN' : 'empty'}: ${expr.replace(/\s+/g, ' ')}`);
      }
    }
    assert.deepEqual(failures, [], report(failures));
    assert.ok(checked >= 10, `${checked} expressions checked`);
    const roles = (await prom!.query('max by (instance, role) (redis_instance_info)')).map((s) => s.metric.role).sort();
    assert.deepEqual(roles, ['master', 'slave']);
  });

  test('every template variable query finds values', async () => {
    const failures: string[] = [];
    for (const { json } of loadDashboards()) {
      for (const v of json.templating.list.filter((x) => x.type === 'query')) {
        const q = (v.query as { query?: string } | undefined)?.query ?? '';
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
        assert.ok(m, `${json.title} $${v.name}: ${q}`);
        const selector = substitute(m[1]!, vars);
        if (/^redis_/.test(selector) && !exporter) continue;
        const values = await prom!.api<string[]>(`/api/v1/label/${m[2]}/values?match[]=${encodeURIComponent(selector)}`);
        if (values.length === 0) failures.push(`${json.title} $${v.name}: ${q}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  /** Alerts whose series this setup cannot have; their expressions must still parse and evaluate. */
  const NO_DATA_HERE: Record<string, string> = {
    TiercelRedisOutOfMemory: 'redis_errors_total{err="OOM"} appears only once Redis answered an OOM',
    TiercelRedisSentinelQuorum: 'no Sentinel here',
    TiercelTargetMissing: 'absent() is empty while tiercel targets exist (checked below)',
  };

  test('every recording rule and every alert rule expression returns data', async () => {
    const groups = (await rules()).filter((g) => g.name !== TEST_GROUP);
    const failures: string[] = [];
    let recording = 0;
    let alerting = 0;
    for (const g of groups) {
      for (const r of g.rules) {
        if (r.health !== 'ok') failures.push(`${r.name}: health ${r.health} ${r.lastError ?? ''}`);
        const expr = r.type === 'alerting' ? boolComparisons(r.query) : r.query;
        if (r.type === 'alerting') alerting++;
        else recording++;
        const res = await prom!.query(expr).catch((err: Error) => err);
        if (res instanceof Error) failures.push(`${r.name}: ${res.message}: ${expr}`);
        else if (res.length === 0 && !(r.name in NO_DATA_HERE)) failures.push(`${r.name}: empty: ${expr}`);
        else if (res.length > 0 && r.name === 'TiercelTargetMissing') failures.push(`${r.name}: absent() with tiercel targets present`);
        if (r.type === 'recording') {
          const stored = await prom!.query(r.name);
          if (stored.length === 0) failures.push(`${r.name}: no recorded series`);
        }
      }
    }
    assert.deepEqual(failures, [], report(failures));
    assert.deepEqual([recording, alerting], [7, 12]);
  });

  test('the test alert goes pending (or firing) once the load switches to unique uncacheable URLs', async () => {
    const switched = Date.now();
    const before = sent.unique;
    mode = 'unique';
    const rule = await until('the test alert to go pending or firing', 40_000, async () => {
      const r = await testRule();
      return r?.state === 'pending' || r?.state === 'firing' ? r : undefined;
    });
    const took = ((Date.now() - switched) / 1000).toFixed(1);
    assert.ok(sent.unique > before);
    const alerts = await prom!.query('ALERTS{alertname="TiercelHitRatioLow", severity="test"}');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.metric.job, 'tiercel');
    assert.match(alerts[0]!.metric.alertstate!, /^(pending|firing)$/);
    const firing = await until('the test alert to fire after for: 2s', 10_000, async () => ((await testRule())?.state === 'firing' ? true : undefined)).catch(() => false);
    console.log(`[measured] after switching to unique no-store URLs TiercelHitRatioLow (test copy) went ${rule.state} in ${took} s${firing ? ', then firing' : ''}`);
  });
});
