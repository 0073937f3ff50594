// A stand-in OTLP/HTTP trace collector for the telemetry-overhead runs: accepts POST
// <prefix>/v1/traces (protobuf, or JSON), answers 200 with an empty body (an empty
// ExportTraceServiceResponse), and counts requests, bytes and spans per prefix, so each traced
// Tiercel gets its own prefix in OTEL_EXPORTER_OTLP_ENDPOINT. GET /__counts returns the counts.
import { createServer } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { announce, exitWithParent } from './common.mjs';

const SUFFIX = '/v1/traces';
const counts = {};

/** Length-delimited fields of one protobuf message (wire type 2), other wire types skipped. */
function* lengthDelimited(buf, start, end) {
  let p = start;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (p < end) {
    const key = varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      yield { field, start: p, end: p + len };
      p += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  if (p !== end) throw new Error('truncated message');
}

/** ExportTraceServiceRequest: resource_spans = 1 → ResourceSpans.scope_spans = 2 → ScopeSpans.spans = 2. */
function countSpansProtobuf(buf) {
  let spans = 0;
  for (const rs of lengthDelimited(buf, 0, buf.length)) {
    if (rs.field !== 1) continue;
    for (const ss of lengthDelimited(buf, rs.start, rs.end)) {
      if (ss.field !== 2) continue;
      for (const sp of lengthDelimited(buf, ss.start, ss.end)) if (sp.field === 2) spans++;
    }
  }
  return spans;
}

function countSpansJson(buf) {
  const body = JSON.parse(buf.toString('utf8'));
  let spans = 0;
  for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
  return spans;
}

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  if (req.method === 'GET' && req.url === '/__counts') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify(counts));
  }
  if (req.method !== 'POST' || !req.url.endsWith(SUFFIX)) {
    res.writeHead(404, { 'content-length': '0' });
    return void res.end();
  }
  const prefix = req.url.slice(0, -SUFFIX.length) || '/';
  const c = (counts[prefix] ??= { requests: 0, bytes: 0, spans: 0, decodeErrors: 0, contentTypes: {} });
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    c.requests++;
    c.bytes += body.length;
    const type = (req.headers['content-type'] ?? '').split(';')[0];
    c.contentTypes[type] = (c.contentTypes[type] ?? 0) + 1;
    try {
      const enc = req.headers['content-encoding'];
      if (enc === 'gzip') body = gunzipSync(body);
      else if (enc === 'deflate') body = inflateSync(body);
      c.spans += type === 'application/json' ? countSpansJson(body) : countSpansProtobuf(body);
    } catch {
      c.decodeErrors++;
    }
    res.writeHead(200, { 'content-type': type || 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
