// What the status page costs Tiercel: the CPU time of the Tiercel process per minute with the
// page closed and open in headless Chromium (polling /stats and /admin/recent every 2 s),
// first without load (the admin port's own work), then under the same steady load (closed,
// open, closed again once /admin/recent has stopped watching); what RecentRequests adds to a
// watched request; and the bytes the page moves. One Tiercel with L2 on a throwaway
// redis-server, an origin and a paced load generator in this process (their CPU is not
// counted), all on loopback.
//
//   node scripts/ensure-built.mjs && node bench/status-page.mjs   (PHASE_S=60, RATE=400 by default)
import { createServer, Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { checkNode, getJson, groupCpuSeconds, log, machine, runMain, setup, sleep, startRedis, startTiercel, BENCH } from './lib.mjs';

const PHASE_S = Number(process.env.PHASE_S ?? 60);
const RATE = Number(process.env.RATE ?? 400);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const { chromium } = createRequire(import.meta.url)('playwright-core');

function startOrigin() {
  const body = Buffer.alloc(4096, 'x');
  const server = createServer((req, res) => {
    const cc = req.url.startsWith('/private/') ? 'private' : 'max-age=600';
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': cc, 'content-length': body.length });
    res.end(body);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** RATE requests a second, in 10 ms ticks, over keep-alive connections; stops on stop(). */
function startLoad(port) {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let n = 0;
  let stopped = false;
  const perTick = RATE / 100;
  let owed = 0;
  const one = () => {
    const i = n++;
    const k = i % 20;
    const path = k === 0 ? `/private/${i}` : k < 3 ? `/new/${i}` : `/hot/${i % 200}`;
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => res.resume());
    req.on('error', () => {});
    req.end();
  };
  const timer = setInterval(() => {
    if (stopped) return;
    owed += perTick;
    while (owed >= 1) {
      one();
      owed--;
    }
  }, 10);
  return { stop() { stopped = true; clearInterval(timer); agent.destroy(); }, sent: () => n };
}

async function measure(name, tiercel, seconds) {
  const pid = tiercel.proc.pid;
  const s0 = await getJson(tiercel.adminPort, '/stats');
  const c0 = groupCpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = groupCpuSeconds(pid);
  const t1 = performance.now();
  const s1 = await getJson(tiercel.adminPort, '/stats');
  const minutes = (t1 - t0) / 60_000;
  const r = { phase: name, seconds: (t1 - t0) / 1000, cpuSeconds: c1 - c0, cpuSecondsPerMinute: (c1 - c0) / minutes, requests: s1.requests - s0.requests };
  r.cpuMsPer1kRequests = (r.cpuSeconds * 1000) / (r.requests / 1000);
  log(`${name}: ${r.cpuSecondsPerMinute.toFixed(2)} CPU s/min, ${r.requests} requests, ${r.cpuMsPer1kRequests.toFixed(1)} CPU ms per 1,000 requests`);
  return r;
}

/** The page in a fresh headless Chromium; close() also reports what it moved while open. */
async function openPage(adminPort) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const transfers = [];
  page.on('requestfinished', (req) => void req.sizes().then((s) => transfers.push({ url: new URL(req.url()).pathname, at: performance.now(), bytes: s.responseHeadersSize + s.responseBodySize })));
  await page.goto(`http://127.0.0.1:${adminPort}/`, { waitUntil: 'load' });
  await sleep(5000);
  const firstLoad = transfers.filter((x) => x.url === '/' || x.url.startsWith('/status-page/'));
  const from = performance.now();
  return {
    firstLoad,
    async close() {
      const minutes = (performance.now() - from) / 60_000;
      const polls = transfers.filter((x) => x.at >= from && (x.url === '/stats' || x.url === '/admin/recent'));
      await browser.close();
      return { polls: polls.length, bytesPerMinute: Math.round(polls.reduce((a, x) => a + x.bytes, 0) / minutes), recentBytes: polls.filter((x) => x.url === '/admin/recent').map((x) => x.bytes) };
    },
  };
}

/** What a watched request adds on the data path besides the tail's line: RecentRequests.add, in this process. */
async function observerCost() {
  const { RequestTail } = createRequire(import.meta.url)('../dist/src/telemetry/request-tail.js');
  const { RecentRequests } = createRequire(import.meta.url)('../dist/src/telemetry/recent-requests.js');
  const tail = new RequestTail();
  const recent = new RecentRequests(tail);
  recent.snapshot();
  const line = (i) => ({
    trace_id: undefined, method: 'GET', host: 'shop.example', url: `/hot/${i % 200}`, path: `/hot/${i % 200}`, status: 200,
    outcome: i % 20 === 0 ? 'miss' : 'hit', phase: i % 20 === 0 ? 'miss' : 'hit', tier: i % 20 === 0 ? 'origin' : 'l1', rule: undefined,
    cache_status: i % 20 === 0 ? 'tiercel; fwd=uri-miss; fwd-status=200; detail=private' : 'tiercel; hit; detail=l1; ttl=500',
    duration_ms: (i * 7919) % 1000 / 100, l1_ms: 0.01, l2_ms: undefined, upstream: undefined, upstream_ms: undefined, bytes: 4096,
    client: '127.0.0.1', user_agent: 'bench', aborted: undefined,
  });
  const lines = Array.from({ length: 1000 }, (_, i) => line(i));
  const N = 2_000_000;
  for (let i = 0; i < 200_000; i++) tail.publish(lines[i % 1000]);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) tail.publish(lines[i % 1000]);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  recent.stop();
  return ns;
}

async function main() {
  setup('status-page');
  checkNode();
  const redis = await startRedis();
  const origin = await startOrigin();
  const tiercel = await startTiercel('tiercel', origin.address().port, { REDIS_URL: `redis://127.0.0.1:${redis.port}` });
  log(`phases of ${PHASE_S} s; load phases at ${RATE} req/s`);
  await sleep(5000);
  const results = [];
  // No load: what remains is the admin port's own work for the page.
  results.push(await measure('no load, page closed', tiercel, PHASE_S));
  let page = await openPage(tiercel.adminPort);
  const firstLoad = page.firstLoad;
  results.push(await measure('no load, page open', tiercel, PHASE_S));
  const idleTraffic = await page.close();

  const load = startLoad(tiercel.port);
  log('page closed, load on: waiting 35 s for /admin/recent to stop watching and the caches to fill');
  await sleep(35_000);
  results.push(await measure('load, page closed', tiercel, PHASE_S));
  page = await openPage(tiercel.adminPort);
  results.push(await measure('load, page open', tiercel, PHASE_S));
  const loadTraffic = await page.close();
  log('page closed: waiting 35 s for /admin/recent to stop watching');
  await sleep(35_000);
  results.push(await measure('load, page closed again', tiercel, PHASE_S));
  load.stop();
  origin.closeAllConnections();
  origin.close();
  const nsPerRequest = await observerCost();

  const weight = firstLoad.reduce((a, x) => a + x.bytes, 0);
  const perMin = (name) => results.find((r) => r.phase === name).cpuSecondsPerMinute;
  const out = {
    machine: machine(),
    rate: RATE,
    phaseSeconds: PHASE_S,
    pageWeightBytes: weight,
    pageWeight: firstLoad.map((x) => ({ url: x.url, bytes: x.bytes })),
    whileOpen: { noLoad: idleTraffic, load: loadTraffic },
    phases: results,
    noLoadOpenMinusClosedCpuSecondsPerMinute: perMin('no load, page open') - perMin('no load, page closed'),
    loadOpenMinusClosedCpuSecondsPerMinute: perMin('load, page open') - (perMin('load, page closed') + perMin('load, page closed again')) / 2,
    observerNsPerRequest: nsPerRequest,
  };
  writeFileSync(join(BENCH, 'results/status-page.json'), `${JSON.stringify(out, null, 2)}\n`);
  const m = out.machine;
  const sign = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
  const md = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}; Node ${m.node}; Redis ${m.redis}. Tiercel ${m.tiercelCommit}. Load average at start: ${m.loadavgAtStart.join(', ')}.`,
    '',
    `One Tiercel with L2; CPU time of the Tiercel process from /proc over each ${PHASE_S} s phase, in one run. Load phases: ${RATE} req/s paced (85% L1 hits over 200 objects, 10% new objects, 5% \`private\`). "Page open": the page in headless Chromium, polling /stats and /admin/recent every 2 s.`,
    '',
    '| phase | CPU s per minute | requests | CPU ms per 1,000 requests |',
    '| --- | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.phase} | ${r.cpuSecondsPerMinute.toFixed(3)} | ${r.requests.toLocaleString('en-US')} | ${r.requests > 0 ? r.cpuMsPer1kRequests.toFixed(1) : '—'} |`),
    '',
    `Page open minus closed: ${sign(out.noLoadOpenMinusClosedCpuSecondsPerMinute)} CPU s per minute without load; ${sign(out.loadOpenMinusClosedCpuSecondsPerMinute)} under load (against the mean of the two closed phases).`,
    `RecentRequests on a watched request, besides the tail's line: ${nsPerRequest.toFixed(0)} ns (2,000,000 synthetic lines in the bench process).`,
    `First load: ${weight.toLocaleString('en-US')} bytes (${firstLoad.map((x) => `${x.url} ${x.bytes}`).join(', ')}). While open: ${idleTraffic.bytesPerMinute.toLocaleString('en-US')} bytes per minute of JSON without load, ${loadTraffic.bytesPerMinute.toLocaleString('en-US')} under load (${loadTraffic.polls} responses; /admin/recent up to ${Math.max(...loadTraffic.recentBytes).toLocaleString('en-US')} bytes).`,
    '',
  ].join('\n');
  writeFileSync(join(BENCH, 'results/status-page.md'), md);
  process.stdout.write(md);
}

runMain(main);
