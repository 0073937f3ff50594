import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from '../http-cache/cache-control';
import { createCachedResponse, deliverySlots } from './cached-response';
import { decodeEntry, encodeEntry } from './entry-codec';
import { varyIndex } from './vary-index';

const slots = deliverySlots({ xCache: true, serverTiming: false });
const T = 1_700_000_000_000;
const obj = createCachedResponse(
  {
    status: 200,
    fields: { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'max-age=60, stale-if-error=30', date: new Date(T).toUTCString(), 'surrogate-key': 'a b' },
    body: Buffer.from('hello'),
    cc: parseCacheControl('max-age=60, stale-if-error=30'),
    freshness: { lifetimeMs: 60_000, source: 'max-age' },
    varyNames: ['accept-language'],
    tags: ['a', 'b'],
    requestTime: T - 5,
    responseTime: T,
  },
  { via: '1.1 tiercel', slots, stripSetCookie: false, stripTags: true },
);

describe('L2 entry format', () => {
  it('round-trips a response: headers, body, times, windows, Vary and tags', () => {
    const back = decodeEntry(encodeEntry(obj, slots), slots);
    assert.ok(back !== null && back.kind === 'response');
    assert.deepEqual(back.headers, obj.headers);
    assert.equal(back.body.toString(), 'hello');
    for (const k of ['status', 'etag', 'requestTime', 'responseTime', 'initialAgeMs', 'lifetimeMs', 'staleIfErrorMs', 'noCache', 'forbidStale', 'size'] as const) {
      assert.deepEqual(back[k], obj[k], k);
    }
    assert.deepEqual(back.varyNames, ['accept-language']);
    assert.deepEqual(back.tags, ['a', 'b']);
  });

  it('round-trips a stored part (206) and refuses one whose Content-Range does not name its body', () => {
    const part = (range: string | undefined) => createCachedResponse(
      { status: 206, fields: { ...(range === undefined ? {} : { 'content-range': range }), etag: '"p"' }, body: Buffer.from('01234'), cc: parseCacheControl('max-age=60'), freshness: { lifetimeMs: 60_000, source: 'max-age' }, varyNames: [], tags: [], requestTime: T, responseTime: T },
      { via: null, slots, stripSetCookie: false, stripTags: true },
    );
    const back = decodeEntry(encodeEntry(part('bytes 3-7/10'), slots), slots);
    assert.ok(back !== null && back.kind === 'response' && back.status === 206);
    assert.equal(back.body.toString(), '01234');
    for (const bad of ['bytes 3-8/10', 'bytes 3-6/10', 'bytes 3-7/*', undefined]) {
      assert.equal(decodeEntry(encodeEntry(part(bad), slots), slots), null, String(bad));
    }
  });

  it('round-trips a Vary index', () => {
    const back = decodeEntry(encodeEntry(varyIndex(['accept', 'accept-language']), slots), slots);
    assert.ok(back !== null && back.kind === 'vary');
    assert.deepEqual(back.names, ['accept', 'accept-language']);
  });

  it('refuses an entry whose body is shorter or longer than its Content-Length', () => {
    const good = encodeEntry(obj, slots);
    assert.equal(decodeEntry(good.subarray(0, good.length - 1), slots), null);
    assert.equal(decodeEntry(Buffer.concat([good, Buffer.from('x')]), slots), null);
  });

  it('refuses an entry of another version or magic', () => {
    const good = encodeEntry(obj, slots);
    const v2 = Buffer.from(good);
    v2[2] = 2;
    assert.equal(decodeEntry(v2, slots), null);
    const magic = Buffer.from(good);
    magic[0] = 0x58;
    assert.equal(decodeEntry(magic, slots), null);
  });

  it('refuses a header length that runs past the entry', () => {
    const bad = Buffer.from(encodeEntry(obj, slots));
    bad.writeUInt32BE(bad.length, 4);
    assert.equal(decodeEntry(bad, slots), null);
  });
});
