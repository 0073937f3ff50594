// The demo load generator of docker-compose.cache.yml (profile `load`): a steady request rate
// against the load balancer with a Zipf-like popularity over the demo origin's products, so a
// few objects are hot (L1 hits), many are warm (L2 hits on the other instance) and the long
// tail misses. Plain Node, no dependencies.
//
//   TARGET=http://lb:8080  RATE=50 (requests/s)  CONCURRENCY=16  PRODUCTS=2000  ZIPF_S=1.1
//   DURATION=0 (seconds; 0: until stopped)  REQUESTS=0 (stop after this many; 0: no limit)
//   REPORT_EVERY=10 (seconds between summary lines)
//   ADMIN_URLS=http://tiercel-1:9464  ADMIN_TOKEN=…  INVALIDATE_EVERY=60 (seconds; tag purge)
//
// Prints one JSON summary line every REPORT_EVERY seconds and a final one on exit.
import { Agent, request } from 'node:http';

const env = process.env;
const target = new URL(env.TARGET ?? 'http://127.0.0.1:8080');
const rate = Number(env.RATE ?? 50);
const concurrency = Number(env.CONCURRENCY ?? 16);
const products = Number(env.PRODUCTS ?? 2000);
const zipfS = Number(env.ZIPF_S ?? 1.1);
const durationMs = Number(env.DURATION ?? 0) * 1000;
const maxRequests = Number(env.REQUESTS ?? 0);
const reportMs = Number(env.REPORT_EVERY ?? 10) * 1000;
const adminUrls = (env.ADMIN_URLS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const invalidateMs = Number(env.INVALIDATE_EVERY ?? 60) * 1000;

// Zipf(s) over 1..products by inverse transform on the cumulative weights.
const cumulative = new Float64Array(products);
let total = 0;
for (let k = 1; k <= products; k++) cumulative[k - 1] = total += 1 / k ** zipfS;
function zipf() {
  const u = Math.random() * total;
  let lo = 0;
  let hi = products - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/** The request mix: mostly products, then catalog pages, static files and the uncacheable paths. */
function nextPath() {
  const r = Math.random();
  if (r < 0.7) return `/products/${zipf()}`;
  if (r < 0.8) return `/catalog?page=${1 + (zipf() % 10)}`;
  if (r < 0.88) return `/static/app-${1 + (zipf() % 5)}.js`;
  if (r < 0.93) return `/search?q=${['shoes', 'socks', 'hats', 'bags'][Math.floor(Math.random() * 4)]}`;
  if (r < 0.97) return `/users/${Math.floor(Math.random() * 1000)}/cart`;
  if (r < 0.99) return '/flaky';
  return '/slow';
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const stats = { sent: 0, ok: 0, errors: 0, byStatus: {}, byCache: {}, totalMs: 0 };
let window = { n: 0, ms: 0 };
let inFlight = 0;

function once(path) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request({ host: target.hostname, port: target.port || 80, path, agent, timeout: 10_000, headers: { 'accept-encoding': 'gzip' } }, (res) => {
      res.resume();
      res.on('end', () => {
        const ms = performance.now() - started;
        stats.ok++;
        stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
        const cache = String(res.headers['x-cache'] ?? 'none');
        stats.byCache[cache] = (stats.byCache[cache] ?? 0) + 1;
        stats.totalMs += ms;
        window.n++;
        window.ms += ms;
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      stats.errors++;
      resolve();
    });
    req.end();
  });
}

async function invalidateOnce() {
  const tag = `product-${zipf()}`;
  for (const base of adminUrls) {
    try {
      const res = await fetch(new URL('/admin/invalidate', base), {
        method: 'POST',
        headers: { authorization: `Bearer ${env.ADMIN_TOKEN ?? ''}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tags: [tag] }),
        signal: AbortSignal.timeout(5000),
      });
      console.log(JSON.stringify({ invalidated: tag, via: base, status: res.status }));
      return; // one instance suffices: it publishes to the others
    } catch (err) {
      console.log(JSON.stringify({ invalidate: tag, via: base, error: String(err) }));
    }
  }
}

function report(final = false) {
  const line = {
    final: final || undefined,
    sent: stats.sent,
    ok: stats.ok,
    errors: stats.errors,
    byStatus: stats.byStatus,
    byCache: stats.byCache,
    meanMs: window.n ? Math.round((window.ms / window.n) * 10) / 10 : null,
  };
  window = { n: 0, ms: 0 };
  console.log(JSON.stringify(line));
}

const started = Date.now();
let stopping = false;
const done = new Promise((resolve) => {
  const tickMs = 20;
  let credit = 0;
  const timer = setInterval(() => {
    const elapsed = Date.now() - started;
    if (stopping || (durationMs > 0 && elapsed >= durationMs) || (maxRequests > 0 && stats.sent >= maxRequests)) {
      clearInterval(timer);
      resolve();
      return;
    }
    credit += (rate * tickMs) / 1000;
    while (credit >= 1 && inFlight < concurrency && !(maxRequests > 0 && stats.sent >= maxRequests)) {
      credit--;
      stats.sent++;
      inFlight++;
      void once(nextPath()).then(() => inFlight--);
    }
    if (credit > rate) credit = rate; // do not build an unbounded backlog while saturated
  }, tickMs);
});
const reporter = setInterval(() => report(), reportMs);
const invalidator = adminUrls.length > 0 && invalidateMs > 0 ? setInterval(() => void invalidateOnce(), invalidateMs) : null;
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => (stopping = true));

console.log(JSON.stringify({ target: target.href, rate, concurrency, products, zipfS }));
await done;
const deadline = Date.now() + 10_000;
while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
clearInterval(reporter);
if (invalidator) clearInterval(invalidator);
report(true);
agent.destroy();
process.exit(0);
