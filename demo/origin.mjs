// The demo origin of docker-compose.cache.yml: a small API whose paths cover what a cache
// meets in practice. Run with plain Node (no dependencies): `PORT=8000 node demo/origin.mjs`.
//
//   GET /products/<id>       public, max-age=30, stale-while-revalidate=30, ETag,
//                            Surrogate-Key: product-<id> products      (cacheable, tagged)
//   GET /catalog?page=<n>    public, max-age=60, Surrogate-Key: catalog (cacheable, tagged)
//   GET /static/<name>       public, max-age=3600, immutable             (long-lived)
//   GET /search?q=<text>     no-cache + ETag                             (revalidated every time)
//   GET /users/<id>/cart     private, no-store                           (never stored)
//   GET /slow                max-age=10, answers after 400 ms            (coalescing shows)
//   GET /flaky               max-age=5, stale-if-error=60, 10% 503       (stale-if-error shows)
//   GET /_health             origin liveness (healthcheck)
//   POST /_alerts            Alertmanager's webhook: logs each alert on one line
//
// Every response takes 5-40 ms, like an origin doing some work, so the cache's effect on
// latency shows on the dashboards.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '0.0.0.0';
const started = Date.now();
let served = 0;

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const work = () => delay(5 + Math.random() * 35);

function send(req, res, status, headers, body) {
  const buf = Buffer.from(body);
  const etag = headers.etag;
  if (etag && req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': headers['cache-control'] });
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length, ...headers });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

const tagOf = (s) => `"${createHash('sha1').update(s).digest('hex').slice(0, 16)}"`;

function product(id) {
  // A stable body per id, 1-4 KiB, so each object has a realistic size.
  const padding = 'x'.repeat(1024 + ((id * 7919) % 3072));
  return JSON.stringify({ id, name: `Product ${id}`, price: ((id * 37) % 10000) / 100, description: padding });
}

const server = createServer(async (req, res) => {
  served++;
  const url = new URL(req.url ?? '/', 'http://origin');
  const path = url.pathname;
  try {
    if (path === '/_health') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('ok\n');
      return;
    }
    if (path === '/_alerts' && req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      try {
        const msg = JSON.parse(raw);
        for (const a of msg.alerts ?? []) {
          console.log(`alert ${a.status}: ${a.labels?.alertname} ${a.labels?.severity ?? ''} ${a.annotations?.summary ?? ''}`.trim());
        }
      } catch {
        console.log(`alert webhook: unparsable body (${raw.length} bytes)`);
      }
      res.writeHead(200).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 200, { 'cache-control': 'no-store' }, JSON.stringify({ ok: true, method: req.method }));
      return;
    }
    let m;
    if ((m = /^\/products\/(\d+)$/.exec(path))) {
      await work();
      const id = Number(m[1]);
      const body = product(id);
      send(req, res, 200, { 'cache-control': 'public, max-age=30, stale-while-revalidate=30', etag: tagOf(body), 'surrogate-key': `product-${id} products` }, body);
    } else if (path === '/catalog') {
      await work();
      const page = Number(url.searchParams.get('page') ?? 1);
      const ids = Array.from({ length: 20 }, (_, i) => (page - 1) * 20 + i + 1);
      send(req, res, 200, { 'cache-control': 'public, max-age=60', 'surrogate-key': 'catalog products' }, JSON.stringify({ page, ids }));
    } else if ((m = /^\/static\/([\w.-]+)$/.exec(path))) {
      await work();
      const body = `/* ${m[1]} */\n${'console.log("tiercel demo");\n'.repeat(200)}`;
      send(req, res, 200, { 'content-type': 'text/javascript', 'cache-control': 'public, max-age=3600, immutable', etag: tagOf(body) }, body);
    } else if (path === '/search') {
      await work();
      const q = url.searchParams.get('q') ?? '';
      const body = JSON.stringify({ q, results: [1, 2, 3].map((i) => `result ${i} for ${q}`) });
      send(req, res, 200, { 'cache-control': 'no-cache', etag: tagOf(body) }, body);
    } else if ((m = /^\/users\/(\d+)\/cart$/.exec(path))) {
      await work();
      send(req, res, 200, { 'cache-control': 'private, no-store' }, JSON.stringify({ user: Number(m[1]), items: [] }));
    } else if (path === '/slow') {
      await delay(400);
      send(req, res, 200, { 'cache-control': 'public, max-age=10' }, JSON.stringify({ slow: true, at: new Date().toISOString() }));
    } else if (path === '/flaky') {
      await work();
      if (Math.random() < 0.1) send(req, res, 503, { 'cache-control': 'no-store' }, JSON.stringify({ error: 'try again' }));
      else send(req, res, 200, { 'cache-control': 'public, max-age=5, stale-if-error=60' }, JSON.stringify({ flaky: true, at: Date.now() }));
    } else if (path === '/') {
      send(req, res, 200, { 'cache-control': 'public, max-age=60' }, JSON.stringify({ service: 'tiercel demo origin', uptimeSeconds: Math.round((Date.now() - started) / 1000), served }));
    } else {
      send(req, res, 404, { 'cache-control': 'public, max-age=10' }, JSON.stringify({ error: 'not found', path }));
    }
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err));
  }
});

server.keepAliveTimeout = 65_000;
server.listen(port, host, () => {
  const a = server.address();
  console.log(`demo origin listening on ${a.address}:${a.port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
