// Exemplars: a traced request's trace id on the request-duration histogram, in the OpenMetrics
// format when the scraper asks for it, read back from a real Prometheus with exemplar storage
// through its exemplars API. Traces go to a local OTLP/HTTP endpoint that accepts everything.
import assert from 'node:assert/strict';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { PrometheusProcess, sleep, startPrometheus, startTiercel, stopTiercel } from './support';

const OM = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

interface PromExemplars {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

describe('exemplars on http_server_request_duration_seconds', () => {
  let origin: TestOrigin;
  let sink: Server;
  let t: TiercelProcess | undefined;
  let prom: PrometheusProcess | undefined;
  const traced: string[] = [];

  before(async () => {
    sink = createServer((req, res) => {
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end('ok\n');
    });
    t = await startTiercel({
      UPSTREAM_URL: origin.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'always_on',
    });
    for (let i = 0; i < 3; i++) {
      const r = await send(t.proxyPort, '/ex', { headers: { host: 'ex.test' } });
      const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(String(r.headers.traceresponse));
      assert.ok(m, `traceresponse ${r.headers.traceresponse}`);
      traced.push(m[1]!);
    }
  });

  after(async () => {
    await prom?.stop();
    await stopTiercel(t);
    await origin?.close();
    await new Promise((r) => sink?.close(r));
  });

  test('OpenMetrics when asked: the buckets carry the traced requests as exemplars, and # EOF ends it', async () => {
    const res = await fetch(`http://127.0.0.1:${t!.adminPort}/metrics`, { headers: { accept: OM } });
    assert.match(res.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
    const text = await res.text();
    assert.ok(text.endsWith('# EOF\n'));
    const ex = [...text.matchAll(/^http_server_request_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})",span_id="[0-9a-f]{16}"\} [\d.e-]+ \d+\.\d{3}$/gm)].map((m) => m[1]!);
    assert.ok(ex.length >= 1, text.split('\n').filter((l) => l.startsWith('http_server_request_duration_seconds')).join('\n'));
    for (const id of ex) assert.ok(traced.includes(id), `exemplar ${id} is one of the traced requests`);
    assert.match(text, /^# TYPE tiercel_requests counter$/m);
    assert.match(text, /^tiercel_requests_total\{/m);
    assert.match(text, /^# TYPE http_server_request_duration_seconds histogram\n# UNIT http_server_request_duration_seconds seconds$/m);
    assert.match(text, /^# TYPE target info$/m);
  });

  test('the Prometheus text format by default, without exemplars', async () => {
    const res = await fetch(`http://127.0.0.1:${t!.adminPort}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.doesNotMatch(text, / # \{/);
    assert.doesNotMatch(text, /# EOF/);
  });

  test('a real Prometheus with exemplar storage returns them from its exemplars API', async () => {
    prom = await startPrometheus(() => ({
      global: { scrape_interval: '1s', scrape_timeout: '900ms' },
      scrape_configs: [{ job_name: 'tiercel', static_configs: [{ targets: [`127.0.0.1:${t!.adminPort}`] }] }],
    }), ['--enable-feature=exemplar-storage']);
    const start = Math.floor(Date.now() / 1000) - 600;
    let got: PromExemplars[] = [];
    for (let i = 0; i < 100; i++) {
      // A request traced after Prometheus started: its exemplar is newer than any scrape so far.
      const r = await send(t!.proxyPort, '/ex', { headers: { host: 'ex.test' } });
      traced.push(/^00-([0-9a-f]{32})-/.exec(String(r.headers.traceresponse))![1]!);
      got = await prom.api<PromExemplars[]>(`/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket{job="tiercel"}')}&start=${start}&end=${Math.ceil(Date.now() / 1000) + 60}`);
      if (got.some((s) => s.exemplars.length > 0)) break;
      await sleep(200);
    }
    const all = got.flatMap((s) => s.exemplars.map((e) => ({ ...e, series: s.seriesLabels })));
    assert.ok(all.length >= 1, `no exemplars in Prometheus: ${prom.log()}`);
    for (const e of all) {
      assert.ok(traced.includes(e.labels.trace_id!), `trace_id ${e.labels.trace_id} is a traced request's`);
      assert.match(e.labels.span_id!, /^[0-9a-f]{16}$/);
      assert.equal(e.series.__name__, 'http_server_request_duration_seconds_bucket');
      assert.ok(Number(e.value) > 0 && Number(e.value) < 5);
    }
    // Everything else made it through the OpenMetrics parser too.
    const up = await prom.query('up{job="tiercel"}');
    assert.equal(up[0]?.value[1], '1');
    assert.ok((await prom.query('tiercel_requests_total')).length >= 1);
    assert.ok((await prom.query('target_info{service_name="tiercel"}')).length === 1);
  });
});
