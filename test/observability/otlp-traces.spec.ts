// Traces over OTLP/HTTP (JSON) from a real Tiercel process to an in-test receiver: a miss is a
// SERVER span with a `cache.lookup l1` child and a CLIENT span whose context reached the origin
// as traceparent; a hit is a SERVER span with a `cache.lookup l1` child and nothing else. The
// SERVER span continues the client's trace and is the span the traceresponse header names.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ClientResponse, send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { sleep, startTiercel, stopTiercel } from './support';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
}
interface ExportRequest {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

/** OTLP SpanKind. */
const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;
const INSTANCE_ID = 'otlp-test-1';

/** The JSON encoding may carry ids as hex (the OTLP/JSON spec) or base64; normalise to hex. */
function hex(id: string | undefined): string {
  if (id === undefined || id === '') return '';
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function attr(span: { attributes?: { key: string; value: OtlpValue }[] }, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : (v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue);
}

describe('OTLP traces', () => {
  let receiver: Server;
  const exports: ExportRequest[] = [];
  const contentTypes: string[] = [];
  let origin: TestOrigin;
  let tiercel: TiercelProcess | undefined;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
          contentTypes.push(req.headers['content-type'] ?? '');
          exports.push(JSON.parse(Buffer.concat(chunks).toString()) as ExportRequest);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        } else {
          res.writeHead(404);
          res.end();
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    origin = await startOrigin();
    origin.handle('/traced', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300' });
      res.end('traced body\n');
    });
    tiercel = await startTiercel({
      UPSTREAM_URL: origin.url,
      INSTANCE_ID,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
  });

  after(async () => {
    await stopTiercel(tiercel);
    await origin?.close();
    receiver?.closeAllConnections();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  function spansOf(traceId: string): { span: OtlpSpan; resource: Record<string, unknown>; scope: string }[] {
    const out: { span: OtlpSpan; resource: Record<string, unknown>; scope: string }[] = [];
    for (const e of exports) {
      for (const rs of e.resourceSpans) {
        const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, attr({ attributes: [a] }, a.key)]));
        for (const ss of rs.scopeSpans) for (const span of ss.spans) if (hex(span.traceId) === traceId) out.push({ span, resource, scope: ss.scope.name });
      }
    }
    return out;
  }

  async function tracedRequest(): Promise<{ traceId: string; parentId: string; res: ClientResponse }> {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const res = await send(tiercel!.proxyPort, '/traced', { headers: { traceparent: `00-${traceId}-${parentId}-01` } });
    assert.equal(res.status, 200);
    return { traceId, parentId, res };
  }

  async function waitForSpans(traceId: string, n: number): Promise<ReturnType<typeof spansOf>> {
    for (let i = 0; i < 100; i++) {
      const s = spansOf(traceId);
      if (s.length >= n) {
        await sleep(300); // one more export interval: nothing else may arrive for this trace
        return spansOf(traceId);
      }
      await sleep(50);
    }
    throw new Error(`spans of ${traceId} did not arrive: have ${spansOf(traceId).map((s) => s.span.name).join(', ')}`);
  }

  /** The traceresponse header: 00-<trace id>-<span id>-<flags>. */
  function traceresponse(res: ClientResponse): { traceId: string; spanId: string; flags: string } {
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(res.headers.traceresponse));
    assert.ok(m, `traceresponse: ${res.headers.traceresponse}`);
    return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
  }

  test('a miss: SERVER span, cache.lookup l1 child, CLIENT span whose context reached the origin', async () => {
    const { traceId, parentId, res } = await tracedRequest();
    assert.equal(res.headers['x-cache'], 'MISS');
    const spans = await waitForSpans(traceId, 3);
    assert.ok(contentTypes.every((c) => c.startsWith('application/json')), `OTLP/HTTP JSON: ${contentTypes.join(', ')}`);

    const servers = spans.filter((s) => s.span.kind === SERVER);
    assert.equal(servers.length, 1, `one SERVER span: ${spans.map((s) => `${s.span.name}/${s.span.kind}`).join(', ')}`);
    const server = servers[0]!.span;
    assert.equal(server.name, 'GET');
    assert.equal(hex(server.parentSpanId), parentId, 'the SERVER span continues the client\'s trace');
    assert.equal(attr(server, 'tiercel.cache.outcome'), 'miss');
    assert.equal(String(attr(server, 'http.response.status_code')), '200');

    const lookups = spans.filter((s) => s.span.name === 'cache.lookup l1');
    assert.equal(lookups.length, 1);
    assert.equal(lookups[0]!.span.kind, INTERNAL);
    assert.equal(hex(lookups[0]!.span.parentSpanId), hex(server.spanId));
    assert.equal(attr(lookups[0]!.span, 'tiercel.cache.result'), 'miss');

    const clients = spans.filter((s) => s.span.kind === CLIENT);
    assert.equal(clients.length, 1, 'one CLIENT span (no L2 configured)');
    const client = clients[0]!.span;
    assert.equal(hex(client.parentSpanId), hex(server.spanId));
    assert.equal(attr(client, 'http.request.method'), 'GET');
    assert.equal(String(attr(client, 'http.response.status_code')), '200');

    // The origin saw the CLIENT span's context.
    const seen = origin.requests.filter((r) => r.url.endsWith('/traced'));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers.traceparent, `00-${traceId}-${hex(client.spanId)}-01`);

    // traceresponse names the SERVER span; Server-Timing has the tiers and the origin.
    const tr = traceresponse(res);
    assert.deepEqual([tr.traceId, tr.spanId, tr.flags], [traceId, hex(server.spanId), '01']);
    assert.match(String(res.headers['server-timing']), /^l1;dur=[\d.]+, origin;dur=[\d.]+$/);

    for (const s of spans) {
      assert.equal(s.scope, 'tiercel');
      assert.equal(s.resource['service.name'], 'tiercel');
      assert.equal(s.resource['service.instance.id'], INSTANCE_ID);
    }
  });

  test('a hit: SERVER span with a cache.lookup l1 child and no CLIENT span', async () => {
    const before = origin.requests.length;
    const { traceId, parentId, res } = await tracedRequest();
    assert.equal(res.headers['x-cache'], 'HIT');
    assert.equal(origin.requests.length, before, 'the hit did not reach the origin');
    const spans = await waitForSpans(traceId, 2);
    assert.deepEqual(spans.map((s) => [s.span.name, s.span.kind]).sort(), [
      ['GET', SERVER],
      ['cache.lookup l1', INTERNAL],
    ]);
    const server = spans.find((s) => s.span.kind === SERVER)!.span;
    const lookup = spans.find((s) => s.span.name === 'cache.lookup l1')!.span;
    assert.equal(hex(server.parentSpanId), parentId);
    assert.equal(hex(lookup.parentSpanId), hex(server.spanId));
    assert.equal(attr(lookup, 'tiercel.cache.result'), 'hit');
    assert.equal(attr(server, 'tiercel.cache.outcome'), 'hit');
    assert.equal(attr(server, 'tiercel.cache.tier'), 'l1');
    const tr = traceresponse(res);
    assert.deepEqual([tr.traceId, tr.spanId], [traceId, hex(server.spanId)]);
    assert.match(String(res.headers['server-timing']), /^l1;dur=[\d.]+$/);
    for (const s of spans) {
      assert.equal(s.resource['service.name'], 'tiercel');
      assert.equal(s.resource['service.instance.id'], INSTANCE_ID);
    }
  });

  test('without a client traceparent the SERVER span starts a sampled trace of its own', async () => {
    const res = await send(tiercel!.proxyPort, '/traced');
    const tr = traceresponse(res);
    assert.equal(tr.flags, '01');
    const spans = await waitForSpans(tr.traceId, 2);
    const server = spans.find((s) => s.span.kind === SERVER)!.span;
    assert.equal(hex(server.spanId), tr.spanId);
    assert.equal(hex(server.parentSpanId), '', 'a root span');
  });
});
