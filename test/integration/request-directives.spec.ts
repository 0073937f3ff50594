import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep } from '../support/client';
import { cacheStatus, uniquePath, useReverseProxy } from '../support/fixture';
import type { TestOrigin } from '../support/origin';

/** An origin route that answers `v1`, `v2`… with the given Cache-Control and no Date. */
function versioned(origin: TestOrigin, path: string, cc: string, extra: Record<string, string> = {}): void {
  let n = 0;
  origin.handle(path, (_req, res) => {
    res.sendDate = false;
    n++;
    res.writeHead(200, { 'cache-control': cc, ...extra });
    res.end(`v${n}`);
  });
}

describe('request Cache-Control directives (RFC 9111 §5.2.1)', () => {
  const f = useReverseProxy();

  it('no-cache sends the request to the origin even when a fresh object is stored', async () => {
    const path = uniquePath('req-no-cache');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    const forced = await f.proxy.get(path, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(forced.status, 200);
    assert.equal(forced.body, 'v2');
    assert.match(cacheStatus(forced), /; fwd=request; fwd-status=200; stored/);
    assert.equal(f.origin.count(path), 2);
    // The new response replaced the stored one.
    const hit = await f.proxy.get(path);
    assert.equal(hit.body, 'v2');
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('Pragma: no-cache without Cache-Control counts as no-cache', async () => {
    const path = uniquePath('req-pragma');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    const forced = await f.proxy.get(path, { headers: { pragma: 'no-cache' } });
    assert.equal(forced.body, 'v2');
    assert.equal(f.origin.count(path), 2);
  });

  it('no-store: the response is not stored', async () => {
    const path = uniquePath('req-no-store');
    versioned(f.origin, path, 'max-age=60');
    const first = await f.proxy.get(path, { headers: { 'cache-control': 'no-store' } });
    assert.equal(first.status, 200);
    assert.equal(first.body, 'v1');
    assert.match(cacheStatus(first), /detail=no-store$/);
    const second = await f.proxy.get(path);
    assert.equal(second.body, 'v2');
    assert.match(cacheStatus(second), /fwd=uri-miss; fwd-status=200; stored/);
    assert.equal(f.origin.count(path), 2);
  });

  it('max-age=0 requires a response no older than 0 s: goes to the origin', async () => {
    const path = uniquePath('req-max-age-0');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    await sleep(20);
    const forced = await f.proxy.get(path, { headers: { 'cache-control': 'max-age=0' } });
    assert.equal(forced.status, 200);
    assert.equal(forced.body, 'v2');
    assert.doesNotMatch(cacheStatus(forced), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('max-age larger than the age accepts the stored object', async () => {
    const path = uniquePath('req-max-age-ok');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    const hit = await f.proxy.get(path, { headers: { 'cache-control': 'max-age=30' } });
    assert.equal(hit.body, 'v1');
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(f.origin.count(path), 1);
  });

  it('max-stale accepts a stale object (with a validator) without asking the origin', async () => {
    const path = uniquePath('req-max-stale-etag');
    versioned(f.origin, path, 'max-age=1', { etag: '"st"' });
    await f.proxy.get(path);
    await sleep(1150);
    const stale = await f.proxy.get(path, { headers: { 'cache-control': 'max-stale=60' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'v1');
    assert.match(cacheStatus(stale), /; hit; detail=l1; ttl=-\d+$/);
    assert.equal(f.origin.count(path), 1);
  });

  it('max-stale accepts a stale object (no validator) without asking the origin', async () => {
    const path = uniquePath('req-max-stale');
    // L1 keeps an object without validators for its freshness and stale windows only, so the
    // stale-if-error window is what keeps this one around to be served stale.
    versioned(f.origin, path, 'max-age=1, stale-if-error=60');
    await f.proxy.get(path);
    await sleep(1150);
    const stale = await f.proxy.get(path, { headers: { 'cache-control': 'max-stale=60' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'v1');
    assert.match(cacheStatus(stale), /; hit; detail=l1; ttl=-\d+$/);
    assert.ok(Number(stale.headers.age) >= 1);
    assert.equal(f.origin.count(path), 1);
    // Without max-stale the same request goes to the origin.
    const plain = await f.proxy.get(path);
    assert.equal(plain.body, 'v2');
    assert.equal(f.origin.count(path), 2);
  });

  it('max-stale with a bound smaller than the staleness does not accept it', async () => {
    const path = uniquePath('req-max-stale-short');
    versioned(f.origin, path, 'max-age=1', { etag: '"ms"' });
    await f.proxy.get(path);
    await sleep(1150);
    const r = await f.proxy.get(path, { headers: { 'cache-control': 'max-stale=0' } });
    assert.equal(r.body, 'v2');
    assert.equal(f.origin.count(path), 2);
  });

  it('min-fresh: served when enough freshness remains, otherwise forwarded', async () => {
    const path = uniquePath('req-min-fresh');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    const enough = await f.proxy.get(path, { headers: { 'cache-control': 'min-fresh=30' } });
    assert.equal(enough.body, 'v1');
    assert.match(cacheStatus(enough), /; hit/);
    assert.equal(f.origin.count(path), 1);
    const tooLittle = await f.proxy.get(path, { headers: { 'cache-control': 'min-fresh=120' } });
    assert.equal(tooLittle.status, 200);
    assert.equal(tooLittle.body, 'v2');
    assert.doesNotMatch(cacheStatus(tooLittle), /; hit/);
    assert.equal(f.origin.count(path), 2);
  });

  it('only-if-cached with nothing stored answers 504 without contacting the origin', async () => {
    const path = uniquePath('req-oic-miss');
    versioned(f.origin, path, 'max-age=60');
    const r = await f.proxy.get(path, { headers: { 'cache-control': 'only-if-cached' } });
    assert.equal(r.status, 504);
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(cacheStatus(r), /detail=only-if-cached/);
    assert.equal(f.origin.count(path), 0);
  });

  it('only-if-cached with a fresh object stored is a hit', async () => {
    const path = uniquePath('req-oic-hit');
    versioned(f.origin, path, 'max-age=60');
    await f.proxy.get(path);
    const r = await f.proxy.get(path, { headers: { 'cache-control': 'only-if-cached' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'v1');
    assert.match(cacheStatus(r), /; hit; detail=l1/);
    assert.equal(f.origin.count(path), 1);
  });
});
