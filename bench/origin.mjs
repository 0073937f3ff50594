// The origin behind Tiercel, nginx and Varnish (and the direct-origin baseline): node:http,
// /1k and /100k cacheable for an hour, /pass no-store. GET /__counts returns requests per path.
import { createServer } from 'node:http';
import { announce, exitWithParent, makeBody, OBJECTS } from './common.mjs';

const LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT';
const routes = new Map();
const counts = {};
for (const [path, o] of Object.entries(OBJECTS)) {
  const body = makeBody(o.size);
  counts[path] = 0;
  routes.set(path, {
    body,
    headers: [
      'content-type', 'text/plain; charset=utf-8',
      'cache-control', o.cacheControl,
      'etag', `"${path.slice(1)}-v1"`,
      'last-modified', LAST_MODIFIED,
      'content-length', String(body.length),
    ],
  });
}

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const path = req.url;
  const route = routes.get(path);
  if (route !== undefined) {
    counts[path]++;
    res.writeHead(200, route.headers);
    res.end(req.method === 'HEAD' ? undefined : route.body);
  } else if (path === '/__counts') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(counts));
  } else {
    res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('not found\n');
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
