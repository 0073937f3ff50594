// The status page on the admin port, in a real headless Chromium (Debian's `chromium`, driven
// by playwright-core): against a Tiercel process with L2 on a real redis-server, tracing to a
// local OTLP sink, a policy file and steady load from this test, the page shows live numbers
// that agree with /stats, a slow request appears with its trace id, the filter narrows the
// rows, a hostile path stays text, the CSP lets the page run and nothing else, and L2 turns
// degraded when Redis dies; with L2, tracing, metrics and the policy off (forward mode with
// interception) it still runs and says what is off, and offers the CA.
import assert from 'node:assert/strict';
import { Agent, createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { RedisProcess, startRedis } from '../support/redis';
import { requireProgram, ROOT, sleep, startTiercel, stopTiercel } from './support';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots kept by the run (gitignored): test-artifacts/ at the repository root. */
const ARTIFACTS = join(ROOT, 'test-artifacts');
const body = (n: number) => 'x'.repeat(n);

async function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Page errors and CSP refusals: the page must run under its own policy without either. */
function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return problems;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const dataValue = async (page: Page, id: string): Promise<number | null> => {
  const v = await page.getAttribute(`#${id}`, 'data-value');
  return v === null ? null : Number(v);
};

/** Requests on the data port from a few keep-alive connections, paced, until stopped (at most maxMs). */
function startLoad(port: number, next: (n: number) => string, maxMs = 120_000): { stop(): Promise<number> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const end = Date.now() + maxMs;
  let stopped = false;
  let n = 0;
  const get = (path: string) =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.once('end', resolve);
        res.once('error', () => resolve());
      });
      req.once('error', () => resolve());
      req.end();
    });
  const worker = async () => {
    while (!stopped && Date.now() < end) {
      await get(next(n++));
      await sleep(5);
    }
  };
  const workers = Promise.all([worker(), worker(), worker(), worker()]);
  return {
    async stop() {
      stopped = true;
      await workers;
      agent.destroy();
      return n;
    },
  };
}

async function stats(t: TiercelProcess): Promise<Record<string, any>> {
  return (await (await fetch(`http://127.0.0.1:${t.adminPort}/stats`)).json()) as Record<string, any>;
}

describe('the status page, with L2, tracing, a policy and load', () => {
  let origin: TestOrigin;
  let redis: RedisProcess;
  let sink: Server;
  let t: TiercelProcess | undefined;
  let browser: Browser | undefined;
  let dir: string;

  before(async () => {
    requireProgram('chromium', 'chromium');
    requireProgram('redis-server', 'redis-server');
    dir = mkdtempSync(join(tmpdir(), 'tiercel-status-'));
    origin = await startOrigin((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/slow-page/')) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
          res.end('slow\n');
        }, 700);
        return;
      }
      if (url.startsWith('/private/')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'private' });
        return void res.end('mine\n');
      }
      // /hot/ and /warm/ objects are 20 kB: the hot ones fit L1 (1 MiB), the warm ones do not and come from L2.
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end(body(url.startsWith('/new/') ? 512 : 20_000));
    });
    redis = await startRedis();
    // An OTLP/HTTP receiver that takes every export: the spans themselves are otlp-traces.spec's business.
    sink = createServer((req, res) => {
      req.resume();
      req.once('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'rules:\n  - name: hot-objects\n    match: { path: "/hot/*" }\n    ttl: 10m\n  - name: private-pass\n    match: { path: "/private/*" }\n    pass: true\n');
    t = await startTiercel({
      UPSTREAM_URL: origin.url,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      CACHE_SIZE_MB: '1',
      CACHE_MAX_OBJECT_SIZE: '100k',
      TIERCEL_CONFIG: policy,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'always_on',
      ADMIN_TOKEN: 'status-token',
      INSTANCE_ID: 'status-1',
      LOG_LEVEL: 'info',
    });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await stopTiercel(t);
    await origin?.close();
    await redis?.stop();
    await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the admin port names no framework and sends its security headers; the page gets a CSP of its own', async () => {
    for (const path of ['/', '/stats', '/admin/recent', '/no-such-thing', '/status-page/status.js']) {
      const res = await fetch(`http://127.0.0.1:${t!.adminPort}${path}`);
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-powered-by'), null, path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
    }
    const page = await fetch(`http://127.0.0.1:${t!.adminPort}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no other origin');
    assert.match(csp, /connect-src 'self'(;|$)/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/i, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//i, 'nothing from another origin');
    // The JSON endpoints may load nothing at all.
    assert.match((await fetch(`http://127.0.0.1:${t!.adminPort}/stats`)).headers.get('content-security-policy') ?? '', /^default-src 'none'/);
    assert.equal((await fetch(`http://127.0.0.1:${t!.adminPort}/status-page/nope.js`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${t!.adminPort}/status-page/index.html`)).status, 404);
    // Nothing on the page changes state: no form, no POST.
    assert.doesNotMatch(html, /<form|method=/i);
  });

  test('shows live numbers that agree with /stats, a slow request with its trace id, and filters', async () => {
    // Per 50 requests: 6 new objects (misses), 1 private (a rule's pass), 22 of 20 hot objects
    // (L1 hits), 21 of 150 warm ones (L1 cannot hold them all: L2 hits).
    const load = startLoad(t!.proxyPort, (n) => {
      const k = n % 50;
      if (k === 0) return `/private/${n}`;
      if (k < 7) return `/new/${n}`;
      if (k < 29) return `/hot/${n % 20}`;
      return `/warm/${(n * 7) % 150}`;
    });
    const context = await browser!.newContext({ viewport: { width: 1360, height: 1000 } });
    try {
      const page = await context.newPage();
      const problems = watchConsole(page);
      // The first load's bytes, from the browser's own network events.
      const loads: { url: string; bytes: number }[] = [];
      page.on('requestfinished', (req) => {
        void req.sizes().then((s) => loads.push({ url: req.url().replace(/^http:\/\/[^/]+/, ''), bytes: s.responseHeadersSize + s.responseBodySize }));
      });
      await page.goto(`http://127.0.0.1:${t!.adminPort}/`, { waitUntil: 'load' });
      await until('the first numbers', async () => (await dataValue(page, 'hit-ratio-total')) !== null && (await page.textContent('#live-text'))?.startsWith('live'));
      await until('the first polls', async () => loads.some((l) => l.url === '/stats') && loads.some((l) => l.url === '/admin/recent'));
      const assets = loads.filter((l) => l.url === '/' || l.url.startsWith('/status-page/'));
      assert.deepEqual(assets.map((l) => l.url).sort(), ['/', '/status-page/status.css', '/status-page/status.js']);
      const weight = assets.reduce((a, l) => a + l.bytes, 0);
      const poll = loads.filter((l) => l.url === '/stats' || l.url === '/admin/recent');
      console.log(`[measured] status page first load: ${weight} bytes in ${assets.length} responses (${assets.map((l) => `${l.url} ${l.bytes}`).join(', ')}); first poll: ${poll.map((l) => `${l.url} ${l.bytes}`).join(', ')}`);
      assert.ok(weight < 64 * 1024, `the page weighs ${weight} bytes`);

      // Live: rates need two samples, and the ratio a few.
      await until('a live request rate', async () => ((await dataValue(page, 'rps')) ?? 0) > 0);
      await until('L2 hits in the live ratio', async () => ((await dataValue(page, 'hit-ratio-l2')) ?? 0) > 0, 30_000);

      // The slow request, traced: its trace id is in traceresponse.
      const path = `/slow-page/${Date.now()}`;
      const slow = await fetch(`http://127.0.0.1:${t!.proxyPort}${path}`);
      assert.equal(slow.status, 200);
      await slow.text();
      const traceId = /^00-([0-9a-f]{32})-/.exec(slow.headers.get('traceresponse') ?? '')?.[1];
      assert.ok(traceId, `traceresponse: ${slow.headers.get('traceresponse')}`);
      const row = await until('the slow request among the slowest', () => page.$(`#slowest tbody tr[data-trace-id="${traceId}"]`));
      const cells = await row.$$eval('td', (tds) => tds.map((td) => td.textContent ?? ''));
      assert.ok(cells.some((c) => c.includes(path)), cells.join(' | '));
      assert.ok(cells.includes(traceId!), cells.join(' | '));
      assert.ok(Number(cells[1]) >= 700, `duration ${cells[1]}`);
      // The same request is not stored, and says why.
      const notStored = await until('the slow request among the not stored', () => page.$(`#uncacheable tbody tr[data-trace-id="${traceId}"]`));
      assert.equal(await notStored.$eval('td.reason', (td) => td.textContent), 'no-store');
      // The rule's pass is there with its reason too.
      await until('a pass by rule', async () => (await page.$$eval('#uncacheable tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''))).some((s) => s.includes('/private/') && s.includes('rule')));

      // The filter narrows every table to what matches.
      assert.ok((await page.$$('#slowest tbody tr[data-trace-id]')).length > 1, 'more than the slow request before filtering');
      await page.fill('#filter', path);
      const filtered = await page.$$eval('#slowest tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      assert.ok(filtered.length >= 1 && filtered.every((s) => s.includes(path)), filtered.join('\n'));
      await page.fill('#filter', traceId!);
      assert.deepEqual(await page.$$eval('#uncacheable tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-trace-id'))), [traceId]);
      await page.fill('#filter', '');

      // The live 10 s hit ratio against one the test computes from two /stats readings
      // around the page's: the same definition (hits over hits and misses).
      const a = await stats(t!);
      await sleep(10_000);
      const b = await stats(t!);
      const live = (await dataValue(page, 'hit-ratio'))!;
      const own = (b.hits - a.hits) / (b.hits + b.misses - a.hits - a.misses);
      assert.ok(Math.abs(live - own) < 0.1, `page ${live}, from /stats ${own}`);
      assert.ok(live > 0.7 && live < 1, `the mix is about 85% hits: ${live}`);
      const l1 = (await dataValue(page, 'hit-ratio-l1'))!;
      const l2 = (await dataValue(page, 'hit-ratio-l2'))!;
      assert.ok(l1 > 0 && l2 > 0 && Math.abs(l1 + l2 - live) < 0.011, `L1 ${l1} + L2 ${l2} = ${live}`);
      // The 70% objective is drawn across the ratio chart (y of 0.7 on a 140-high chart).
      const objective = await page.$eval('#chart-ratio line.objective', (l) => Number(l.getAttribute('y1')));
      assert.ok(Math.abs(objective - (140 - 2 - 0.7 * 136)) < 0.5, `objective at y=${objective}`);
      assert.ok((await page.$$('#chart-ratio path.series')).length >= 3, 'all, L1 and L2 lines');

      // The tiers, the bus, the policy, the instance.
      assert.equal(await page.textContent('#l2-state'), 'ok');
      assert.equal(await page.textContent('#bus-state'), 'ok');
      await until('Redis memory', async () => ((await dataValue(page, 'l2-memory')) ?? 0) > 0);
      assert.equal(await page.textContent('#instance-id'), 'status-1');
      assert.ok(((await dataValue(page, 'l1-entries')) ?? 0) > 0);
      const policyText = (await page.textContent('#policy')) ?? '';
      const sp = b.policy as { hash: string };
      assert.ok(policyText.includes('hot-objects, private-pass') && policyText.includes(sp.hash.slice(0, 16)), policyText);
      assert.equal(await page.isHidden('#ca-panel'), true, 'no CA without interception');
      await until('an origin wait', async () => (await dataValue(page, 'origin-latency')) !== null);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });

      // A path from a hostile client is shown as text: markup in it is never parsed.
      const hostile = `/slow-page/<img/src=x/onerror=document.title='owned'>${Date.now()}`;
      const hostileDone = new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: t!.proxyPort, path: hostile }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
        });
        req.once('error', reject);
        req.end();
      });
      assert.equal(await hostileDone, 200);
      await until('the hostile path among the slowest', async () => ((await page.textContent('#slowest tbody')) ?? '').includes(hostile));
      assert.equal((await page.$$('main img')).length, 0, 'no element made from a path');
      assert.doesNotMatch(await page.title(), /owned/);

      // Stopped load: the page's figure since start is /stats' own.
      await load.stop();
      // A response's record can be counted just after its last byte reached the client.
      let final = await stats(t!);
      await until('the counters to settle', async () => {
        await sleep(300);
        const again = await stats(t!);
        const settled = again.requests === final.requests;
        final = again;
        return settled;
      });
      await until('the page to read the final counters', async () => (await dataValue(page, 'hit-ratio-total')) === final.hitRate);
      assert.equal(await page.textContent('#hit-ratio-total'), `${(final.hitRate * 100).toFixed(1)}%`);
      assert.deepEqual(problems, []);
    } finally {
      await load.stop();
      await context.close();
    }
  });

  test('says L2 is degraded once Redis is gone', async () => {
    const page = await browser!.newPage();
    try {
      const problems = watchConsole(page);
      await page.goto(`http://127.0.0.1:${t!.adminPort}/`);
      await until('L2 ok', async () => (await page.textContent('#l2-state')) === 'ok');
      redis.signal('SIGKILL');
      await until('/stats to say degraded', async () => (await stats(t!)).l2?.state === 'degraded');
      await until('the page to say degraded', async () => (await page.textContent('#l2-state')) === 'degraded');
      assert.equal(await page.getAttribute('#l2-state', 'class'), 'badge warn');
      assert.notEqual(await page.textContent('#l2-connection'), 'ready');
      // A request still works (from L1 and the origin), and the page keeps polling.
      assert.equal((await fetch(`http://127.0.0.1:${t!.proxyPort}/hot/1`)).status, 200);
      assert.match((await page.textContent('#live-text')) ?? '', /^live/);
      // No page error while L2 is away.
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});

describe('the status page with L2, tracing, metrics and the policy off (forward mode, interception on)', () => {
  let t: TiercelProcess | undefined;
  let browser: Browser | undefined;
  let origin: TestOrigin;
  let dir: string;

  before(async () => {
    requireProgram('chromium', 'chromium');
    dir = mkdtempSync(join(tmpdir(), 'tiercel-status-off-'));
    origin = await startOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end('ok\n');
    });
    t = await startTiercel({ INTERCEPT: 'true', DATA_DIR: join(dir, 'data'), METRICS_ENABLED: 'false', INSTANCE_ID: 'status-off' });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await stopTiercel(t);
    await origin?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('runs, says what is off, and links the CA certificate', async () => {
    const page = await browser!.newPage();
    const problems = watchConsole(page);
    await page.goto(`http://127.0.0.1:${t!.adminPort}/`);
    await until('the first numbers', async () => (await dataValue(page, 'hit-ratio-total')) !== null);
    // A forward-proxied request, so the recent lists have a line without a trace id.
    const res = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: t!.proxyPort, path: `${origin.url}/thing`, headers: { host: `127.0.0.1:${origin.port}` } }, (r) => {
        r.resume();
        r.once('end', () => resolve(r.statusCode ?? 0));
      });
      req.once('error', reject);
      req.end();
    });
    assert.equal(res, 200);
    await until('the request among the slowest', async () => ((await page.textContent('#slowest tbody')) ?? '').includes('/thing'));
    assert.match((await page.textContent('#slowest tbody')) ?? '', /—/, 'no trace id');
    assert.match((await page.textContent('#recent-note')) ?? '', /tracing is off/);
    assert.equal(await page.textContent('#l2-state'), 'disabled');
    assert.equal(await page.isHidden('#l2-details'), true);
    assert.equal(await page.textContent('#bus-state'), 'disabled');
    assert.equal(await page.textContent('#origin-latency'), 'n/a');
    assert.match((await page.textContent('#policy')) ?? '', /No policy file/);
    assert.match((await page.textContent('#instance-mode')) ?? '', /forward proxy/);
    assert.equal(await page.isVisible('#ca-panel'), true);
    const href = await page.getAttribute('#ca-link', 'href');
    const ca = await fetch(new URL(href!, `http://127.0.0.1:${t!.adminPort}/`));
    assert.equal(ca.status, 200);
    assert.match(await ca.text(), /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
