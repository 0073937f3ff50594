// The ceiling for an HTTP/2 Node server: a 1 KiB answer over TLS, with the node:http2
// compatibility API (req/res, what Tiercel's TLS port uses) or the core API (stream.respond),
// so the bench can say what the compatibility layer costs. Usage: node h2-bare.mjs CERT KEY compat|core
import { createSecureServer } from 'node:http2';
import { readFileSync } from 'node:fs';
import { announce, exitWithParent, makeBody } from './common.mjs';

const [cert, key, mode] = process.argv.slice(2);
const body = makeBody(1024);
const headers = ['content-type', 'text/plain', 'cache-control', 'max-age=3600', 'content-length', '1024', 'age', '0', 'cache-status', 'tiercel; hit; ttl=3600; detail=l1', 'x-cache', 'HIT'];
const server = createSecureServer({ cert: readFileSync(cert), key: readFileSync(key), allowHTTP1: true },
  mode === 'compat' ? (req, res) => { res.writeHead(200, headers); res.end(body); } : undefined);
if (mode === 'core') {
  const h = { ':status': 200 };
  for (let i = 0; i < headers.length; i += 2) h[headers[i]] = headers[i + 1];
  server.on('stream', (stream) => { stream.respond(h); stream.end(body); });
}
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
