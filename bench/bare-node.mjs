// The ceiling for any Node proxy: a bare node:http server answering /1k and /100k with the same
// body and the same header list Tiercel sends on an L1 hit (captured by run.mjs from a real hit,
// passed as JSON in argv[2]), written the way Tiercel writes a hit: one writeHead, one end.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { announce, exitWithParent, makeBody, OBJECTS } from './common.mjs';

/** { "/1k": ["name", "value", ...], ... } */
const captured = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const routes = new Map();
for (const [path, headers] of Object.entries(captured)) routes.set(path, { headers, body: makeBody(OBJECTS[path].size) });

const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const route = routes.get(req.url);
  if (route === undefined) {
    res.writeHead(404, { 'content-length': '0' });
    return void res.end();
  }
  res.writeHead(200, route.headers);
  res.end(req.method === 'HEAD' ? undefined : route.body);
});
server.listen(0, '127.0.0.1', () => announce(server));
exitWithParent(server);
