import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy, waitFor } from '../support/fixture';
import { startOrigin } from '../support/origin';
import { reverseProxy } from '../support/tiercel';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A URL on loopback where nothing listens. */
async function deadOriginUrl(): Promise<string> {
  const o = await startOrigin();
  const url = o.url;
  await o.close();
  return url;
}

describe('data plane: headers', () => {
  const f = useReverseProxy();

  it('drops hop-by-hop request fields (Connection, Keep-Alive, TE, Upgrade, Proxy-Authorization, fields named in Connection)', async () => {
    const path = uniquePath('hop-req');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('ok');
    });
    const r = await f.proxy.get(path, {
      headers: {
        connection: 'close, X-Hop-Custom',
        'x-hop-custom': 'must not cross',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        upgrade: 'websocket',
        'proxy-authorization': 'Basic c2VjcmV0',
        'x-end-to-end': 'kept',
      },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    const seen = f.origin.requests.at(-1)!;
    assert.equal(seen.url, path);
    assert.equal(seen.headers['x-hop-custom'], undefined);
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers.te, undefined);
    assert.equal(seen.headers.upgrade, undefined);
    assert.equal(seen.headers['proxy-authorization'], undefined);
    assert.doesNotMatch(String(seen.headers.connection ?? ''), /x-hop-custom/i);
    assert.equal(seen.headers['x-end-to-end'], 'kept');
  });

  it('drops hop-by-hop response fields on a miss and on a hit', async () => {
    const path = uniquePath('hop-res');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, {
        'cache-control': 'max-age=60',
        connection: 'X-Origin-Hop',
        'x-origin-hop': 'must not cross',
        'keep-alive': 'timeout=5, max=100',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authenticate': 'Basic realm="origin"',
        'proxy-authorization': 'Basic c2VjcmV0',
        'x-end-to-end': 'kept',
      });
      res.end('hop body');
    });
    const miss = await f.proxy.get(path);
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(miss), /fwd=uri-miss/);
    assert.match(cacheStatus(hit), /; hit/);
    for (const r of [miss, hit]) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hop body');
      assert.equal(r.headers['x-origin-hop'], undefined);
      assert.equal(r.headers['keep-alive'], undefined);
      assert.equal(r.headers.te, undefined);
      assert.equal(r.headers.upgrade, undefined);
      assert.equal(r.headers['proxy-authenticate'], undefined);
      assert.equal(r.headers['proxy-authorization'], undefined);
      assert.doesNotMatch(String(r.headers.connection ?? ''), /x-origin-hop/i);
      assert.equal(r.headers['x-end-to-end'], 'kept');
    }
    assert.equal(f.origin.count(path), 1);
  });

  it('a 304 revalidation does not bring hop-by-hop fields (named in its Connection) into the stored object', async () => {
    const path = uniquePath('hop-304');
    f.origin.handle(path, (req, res) => {
      res.sendDate = false;
      if (req.headers['if-none-match'] === '"h"') {
        res.writeHead(304, { etag: '"h"', 'cache-control': 'max-age=60', connection: 'X-Hop-304', 'x-hop-304': 'must not cross', 'x-end-to-end-304': 'kept' });
        return void res.end();
      }
      res.writeHead(200, { etag: '"h"', 'cache-control': 'max-age=0' });
      res.end('hop 304 body');
    });
    await f.proxy.get(path);
    const revalidated = await f.proxy.get(path);
    assert.match(cacheStatus(revalidated), /fwd-status=304/);
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /; hit/);
    for (const r of [revalidated, hit]) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hop 304 body');
      assert.equal(r.headers['x-end-to-end-304'], 'kept');
      assert.equal(r.headers['x-hop-304'], undefined);
    }
    assert.equal(f.origin.count(path), 2);
  });

  it('adds Via and X-Forwarded-For/-Proto/-Host upstream, and Via to the response', async () => {
    const path = uniquePath('via-xff');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('forwarded');
    });
    const miss = await f.proxy.get(path);
    const seen = f.origin.requests.at(-1)!;
    assert.equal(seen.headers.via, '1.1 tiercel');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${f.proxy.port}`);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.via, '1.1 tiercel');
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(hit.headers.via, '1.1 tiercel');
  });

  it('appends to an existing Via; replaces an untrusted client\'s X-Forwarded-For, -Proto and -Host (TRUSTED_PROXIES is empty)', async () => {
    const path = uniquePath('via-chain');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('chained');
    });
    await f.proxy.get(path, {
      headers: { via: '1.0 corp-proxy', 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.example' },
    });
    const seen = f.origin.requests.at(-1)!;
    assert.equal(seen.headers.via, '1.0 corp-proxy, 1.1 tiercel');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${f.proxy.port}`);
  });

  it('Cache-Status and X-Cache are on every kind of response', async () => {
    const path = uniquePath('status-everywhere');
    f.origin.handle(path, (req, res) => {
      if (req.method === 'POST') return void res.writeHead(400).end('bad');
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"s"' });
      res.end('0123456789');
    });
    const miss = await f.proxy.get(path);
    const hit = await f.proxy.get(path);
    const notModified = await f.proxy.get(path, { headers: { 'if-none-match': '"s"' } });
    const partial = await f.proxy.get(path, { headers: { range: 'bytes=0-1' } });
    const unsatisfiable = await f.proxy.get(path, { headers: { range: 'bytes=50-' } });
    const head = await f.proxy.get(path, { method: 'HEAD' });
    const post = await f.proxy.get(path, { method: 'POST', body: 'x' });
    const onlyIfCached = await f.proxy.get(uniquePath('nothing-here'), { headers: { 'cache-control': 'only-if-cached' } });
    const cases = { miss, hit, notModified, partial, unsatisfiable, head, post, onlyIfCached };
    const expected = { miss: 200, hit: 200, notModified: 304, partial: 206, unsatisfiable: 416, head: 200, post: 400, onlyIfCached: 504 };
    const xcache = { miss: 'MISS', hit: 'HIT', notModified: 'HIT', partial: 'HIT', unsatisfiable: 'HIT', head: 'HIT', post: 'MISS', onlyIfCached: 'MISS' };
    for (const [name, r] of Object.entries(cases)) {
      assert.equal(r.status, expected[name as keyof typeof expected], name);
      assert.match(cacheStatus(r), /^tiercel; (hit|fwd=)/, `${name}: ${cacheStatus(r)}`);
      assert.equal(r.headers['x-cache'], xcache[name as keyof typeof xcache], name);
    }
    assert.equal(f.origin.count(path), 2);
  });
});

describe('data plane: PROXY_VIA=false, PROXY_FORWARDED_HEADERS=false', () => {
  const f = useReverseProxy({ PROXY_VIA: 'false', PROXY_FORWARDED_HEADERS: 'false' });

  it('adds neither Via nor X-Forwarded-*', async () => {
    const path = uniquePath('no-via');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('bare');
    });
    const miss = await f.proxy.get(path);
    const seen = f.origin.requests.at(-1)!;
    assert.equal(seen.headers.via, undefined);
    assert.equal(seen.headers['x-forwarded-for'], undefined);
    assert.equal(seen.headers['x-forwarded-proto'], undefined);
    assert.equal(seen.headers['x-forwarded-host'], undefined);
    const hit = await f.proxy.get(path);
    for (const r of [miss, hit]) {
      assert.equal(r.status, 200);
      assert.equal(r.body, 'bare');
      assert.equal(r.headers.via, undefined);
    }
    assert.match(cacheStatus(hit), /; hit/);
  });

  it('still passes a client Via through unchanged', async () => {
    const path = uniquePath('no-via-passthrough');
    f.origin.handle(path, (_req, res) => void res.writeHead(200, { 'cache-control': 'no-store' }).end('x'));
    await f.proxy.get(path, { headers: { via: '1.0 corp-proxy' } });
    assert.equal(f.origin.requests.at(-1)!.headers.via, '1.0 corp-proxy');
  });
});

describe('data plane: origin failures', () => {
  it('connection refused → 502 with a short plain body and detail=connect-error', async () => {
    const proxy = await reverseProxy(await deadOriginUrl());
    try {
      const r = await proxy.get(uniquePath('refused'));
      assert.equal(r.status, 502);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      assert.ok(r.body.length > 0 && r.body.length < 200, r.body);
      assert.match(r.body, /Bad Gateway/);
      assert.match(cacheStatus(r), /^tiercel; fwd=uri-miss; detail=connect-error$/);
      assert.equal(r.headers['x-cache'], 'MISS');
    } finally {
      await proxy.close();
    }
  });

  it('an origin that never answers, with UPSTREAM_TIMEOUT=300ms → 504 within about a second, detail=timeout', async () => {
    const origin = await startOrigin();
    const proxy = await reverseProxy(origin.url, { UPSTREAM_TIMEOUT: '300ms' });
    try {
      const path = uniquePath('never');
      origin.handle(path, () => {
        /* never answers */
      });
      const r = await proxy.get(path);
      assert.equal(r.status, 504);
      assert.ok(r.ms < 1200, `took ${r.ms} ms`);
      assert.ok(r.ms >= 250, `took only ${r.ms} ms`);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      assert.match(r.body, /Gateway Timeout/);
      assert.match(cacheStatus(r), /detail=timeout$/);
      assert.equal(origin.count(path), 1);
    } finally {
      await proxy.close();
      await origin.close();
    }
  });

  it('an origin that resets the connection → 502, detail=reset', async () => {
    const origin = await startOrigin();
    const proxy = await reverseProxy(origin.url);
    try {
      const path = uniquePath('reset');
      origin.handle(path, (req) => void req.socket.destroy());
      const r = await proxy.get(path);
      assert.equal(r.status, 502);
      assert.match(r.body, /Bad Gateway/);
      assert.match(cacheStatus(r), /detail=reset$/);
    } finally {
      await proxy.close();
      await origin.close();
    }
  });
});

describe('data plane: streaming', () => {
  const f = useReverseProxy();

  it('a client that disconnects mid-response aborts the upstream request', async () => {
    const path = uniquePath('client-gone');
    let finished = false;
    let closedEarly = false;
    f.origin.handle(path, async (_req, res) => {
      res.on('close', () => {
        if (!finished) closedEarly = true;
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(16 * 1024, 1));
      for (let i = 0; i < 100 && !closedEarly; i++) {
        await sleep(20);
        if (!res.destroyed) res.write(Buffer.alloc(1024, 2));
      }
      finished = true;
      if (!res.destroyed) res.end();
    });
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, agent: false });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
        res.on('error', () => {});
      });
      req.setTimeout(5000, () => reject(new Error('no response')));
      req.end();
    });
    await waitFor(() => closedEarly, 1500, "the origin to see its request's close");
    assert.equal(finished, false);
    assert.equal(f.origin.count(path), 1);
  });

  it('a client that disconnects before the response starts aborts the upstream request', async () => {
    const path = uniquePath('client-gone-early');
    let closedEarly = false;
    let answered = false;
    f.origin.handle(path, async (_req, res) => {
      res.on('close', () => {
        if (!answered) closedEarly = true;
      });
      await sleep(1000);
      answered = true;
      if (!res.destroyed) res.writeHead(200, { 'cache-control': 'no-store' }).end('late');
    });
    const req = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => f.origin.count(path) === 1, 1000, 'the request to reach the origin');
    req.destroy();
    await waitFor(() => closedEarly, 800, "the origin to see its request's close");
    assert.equal(answered, false);
  });

  it('a 5 MB streamed response arrives intact, and again from the cache', async () => {
    const path = uniquePath('five-mb');
    const chunks = Array.from({ length: 80 }, () => randomBytes(64 * 1024));
    const whole = Buffer.concat(chunks);
    f.origin.handle(path, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60' });
      for (const c of chunks) {
        if (!res.write(c)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    });
    const miss = await f.proxy.get(path);
    assert.equal(miss.status, 200);
    assert.equal(miss.raw.length, 5 * 1024 * 1024);
    assert.equal(sha256(miss.raw), sha256(whole));
    assert.match(cacheStatus(miss), /; stored/);
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(hit.headers['content-length'], String(whole.length));
    assert.equal(sha256(hit.raw), sha256(whole));
    assert.equal(f.origin.count(path), 1);
  });

  it('a 1 MB POST body streams to the origin intact', async () => {
    const path = uniquePath('upload');
    const body = randomBytes(768 * 1024).toString('base64'); // 1 MiB of ASCII
    assert.equal(body.length, 1024 * 1024);
    f.origin.handle(path, (_req, res, seen) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${seen.body.length} ${sha256(seen.body)}`);
    });
    const r = await f.proxy.get(path, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, `${body.length} ${sha256(body)}`);
    assert.match(cacheStatus(r), /fwd=method/);
    assert.equal(f.origin.requests.at(-1)!.method, 'POST');
    assert.equal(f.origin.requests.at(-1)!.headers['content-length'], String(body.length));
  });

  it('a chunked POST body streams to the origin intact', async () => {
    const path = uniquePath('upload-chunked');
    const parts = Array.from({ length: 16 }, () => randomBytes(24 * 1024).toString('base64'));
    const body = parts.join('');
    f.origin.handle(path, (_req, res, seen) => {
      res.writeHead(200);
      res.end(`${seen.body.length} ${sha256(seen.body)}`);
    });
    const r = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: f.proxy.port, path, method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
      req.on('error', reject);
      req.on('response', (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (out += c));
        res.on('end', () => resolve(out));
      });
      (async () => {
        for (const p of parts) {
          req.write(p);
          await sleep(1);
        }
        req.end();
      })().catch(reject);
    });
    assert.equal(r, `${body.length} ${sha256(body)}`);
  });
});

describe('data plane: CACHE_X_CACHE_HEADER=false', () => {
  const f = useReverseProxy({ CACHE_X_CACHE_HEADER: 'false' });

  it('no X-Cache on any response; Age and Cache-Status still right on hits', async () => {
    const path = uniquePath('no-xcache');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"n"', 'x-cache': 'FROM-ORIGIN' });
      res.end('abcdef');
    });
    const miss = await f.proxy.get(path);
    const hit = await f.proxy.get(path);
    const notModified = await f.proxy.get(path, { headers: { 'if-none-match': '"n"' } });
    const partial = await f.proxy.get(path, { headers: { range: 'bytes=1-2' } });
    const synthetic = await f.proxy.get(uniquePath('no-xcache-oic'), { headers: { 'cache-control': 'only-if-cached' } });
    for (const r of [miss, hit, notModified, partial, synthetic]) {
      assert.equal(r.headers['x-cache'], undefined, cacheStatus(r));
      assert.match(cacheStatus(r), /^tiercel; /);
    }
    assert.equal(hit.status, 200);
    assert.equal(hit.body, 'abcdef');
    assert.equal(hit.headers.age, '0');
    assert.equal(hit.headers.etag, '"n"');
    assert.match(cacheStatus(hit), /^tiercel; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(notModified.status, 304);
    assert.equal(partial.status, 206);
    assert.equal(partial.body, 'bc');
    assert.equal(synthetic.status, 504);
    assert.equal(f.origin.count(path), 1);
  });
});

describe('data plane: CACHE_NAME', () => {
  const f = useReverseProxy({ CACHE_NAME: 'edge-1' });

  it('names the cache in Cache-Status and Via', async () => {
    const path = uniquePath('named');
    f.origin.handle(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('named');
    });
    const miss = await f.proxy.get(path);
    assert.match(cacheStatus(miss), /^edge-1; fwd=uri-miss; fwd-status=200; stored; ttl=60$/);
    assert.equal(miss.headers.via, '1.1 edge-1');
    assert.equal(f.origin.requests.at(-1)!.headers.via, '1.1 edge-1');
    const hit = await f.proxy.get(path);
    assert.match(cacheStatus(hit), /^edge-1; hit; detail=l1; ttl=(58|59|60)$/);
    assert.equal(hit.headers.via, '1.1 edge-1');
  });
});

