// The origin of the hit-ratio experiment (bench/zipf.mjs): /obj/<i> for 0 <= i < COUNT, each a
// distinct cacheable object (max-age=3600, its own ETag) of exactly SIZE bytes whose body starts
// with "/obj/<i> " so the client can tell it got the right one. argv: COUNT SIZE.
// GET /__counts: { requests, distinct, refetches, maxPerObject }; POST /__reset zeroes them.
import { createServer } from 'node:http';
import { announce, exitWithParent, makeBody } from './common.mjs';

const count = Number(process.argv[2]);
const size = Number(process.argv[3]);
if (!(count > 0) || !(size >= 16)) throw new Error('usage: zipf-origin.mjs COUNT SIZE');
const LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT';
const base = makeBody(size);
const perObject = new Uint32Array(count);
let requests = 0;

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const url = req.url;
  if (url.startsWith('/obj/')) {
    const tail = url.slice(5);
    const i = Number(tail);
    if (/^\d+$/.test(tail) && i < count) {
      requests++;
      perObject[i]++;
      const body = Buffer.from(base);
      body.write(`/obj/${i} `, 0, 'latin1');
      res.writeHead(200, [
        'content-type', 'text/plain; charset=utf-8',
        'cache-control', 'max-age=3600',
        'etag', `"obj-${i}"`,
        'last-modified', LAST_MODIFIED,
        'content-length', String(size),
      ]);
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
  } else if (url === '/__counts') {
    let distinct = 0;
    let maxPerObject = 0;
    for (const n of perObject) {
      if (n > 0) distinct++;
      if (n > maxPerObject) maxPerObject = n;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    return void res.end(JSON.stringify({ requests, distinct, refetches: requests - distinct, maxPerObject }));
  } else if (url === '/__reset' && req.method === 'POST') {
    requests = 0;
    perObject.fill(0);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    return void res.end('{}');
  }
  res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
  res.end('not found\n');
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
