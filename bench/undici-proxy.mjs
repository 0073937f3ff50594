// The pass-through ceiling of any Node proxy: a node:http server relaying every request to the
// origin through one undici Pool, dropping the hop-by-hop fields (RFC 9110 §7.6.1) and nothing
// else: no cache, no telemetry, no header rewriting. `node bench/undici-proxy.mjs ORIGIN_PORT`.
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { announce, exitWithParent } from './common.mjs';

const origin = `http://127.0.0.1:${process.argv[2]}`;
const pool = new Pool(origin, { connections: 16, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  pool.stream(
    { path: req.url, method: req.method, headers: forwardable(req.rawHeaders), body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers }) => {
      const out = {};
      for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (err && !res.headersSent) { res.writeHead(502, { 'content-length': '0' }); res.end(); } else if (err) res.destroy();
    },
  );
});
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
