import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { send, sleep } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { runTiercel, spawnTiercel } from '../support/process';

describe('the tiercel process', () => {
  let origin: TestOrigin;

  before(async () => {
    origin = await startOrigin();
    origin.handle('/slow', (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('finished');
      }, 600);
    });
    origin.handle('/hang', () => {
      /* never answers */
    });
  });
  after(() => origin.close());

  for (const [name, value, accepted] of [
    ['CACHE_MAX_AGE', 'soon', /duration/],
    ['PROXY_PORT', '70000', /integer from 0 to 65535/],
    ['UPSTREAM_URL', 'ftp://x', /http:\/\/ or https:\/\/ URL/],
    ['ALLOWED_CLIENTS', '10.0.0.0/33', /CIDR/],
    ['CACHE_SIZE_MB', 'lots', /integer/],
    ['PROXY_VIA', 'maybe', /true or false/],
  ] as const) {
    it(`refuses to start on a bad ${name}, with one line naming variable, value and form`, async () => {
      const r = await runTiercel({ [name]: value });
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.includes(name), lines[0]);
      assert.ok(lines[0]!.includes(JSON.stringify(value)), lines[0]);
      assert.match(lines[0]!, accepted);
    });
  }

  it('on SIGTERM stops accepting, finishes in-flight requests and exits 0', async () => {
    const t = await spawnTiercel({ UPSTREAM_URL: origin.url, SHUTDOWN_TIMEOUT: '5s' });
    const inFlight = send(t.proxyPort, '/slow');
    await sleep(150);
    t.child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body, 'finished');
    const { code } = await t.exited;
    assert.equal(code, 0);
    await assert.rejects(send(t.proxyPort, '/slow', { timeoutMs: 1000 }), /ECONNREFUSED/);
  });

  it('cuts requests still running at SHUTDOWN_TIMEOUT and still exits 0', async () => {
    const t = await spawnTiercel({ UPSTREAM_URL: origin.url, SHUTDOWN_TIMEOUT: '400ms' });
    const inFlight = send(t.proxyPort, '/hang').then(() => 'answered', () => 'cut');
    await sleep(100);
    const started = Date.now();
    t.child.kill('SIGTERM');
    const { code } = await t.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 3000, `exit took ${Date.now() - started} ms`);
    assert.equal(await inFlight, 'cut');
  });

  it('runs with no configuration at all, as a forward proxy', async () => {
    const t = await spawnTiercel({});
    try {
      origin.handle('/fwd', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('via forward mode');
      });
      const a = await send(t.proxyPort, `${origin.url}/fwd`);
      const b = await send(t.proxyPort, `${origin.url}/fwd`);
      assert.equal(a.headers['x-cache'], 'MISS');
      assert.equal(b.headers['x-cache'], 'HIT');
      assert.equal(b.body, 'via forward mode');
      const health = await send(t.adminPort, '/healthz');
      assert.equal(health.status, 200);
    } finally {
      t.child.kill('SIGTERM');
      await t.exited;
    }
  });
});
