import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionTokens, HOP_BY_HOP, isHopByHop, KEPT_IN_304, NOT_UPDATED_BY_304 } from './headers';

describe('hop-by-hop fields (RFC 9110 §7.6.1)', () => {
  it('include the connection-specific fields RFC 9110 names', () => {
    for (const name of ['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade']) {
      assert.ok(HOP_BY_HOP.has(name), name);
      assert.equal(isHopByHop(name, null), true, name);
    }
  });

  it('include the proxy authentication fields, which address only the next hop (RFC 9110 §11.7)', () => {
    assert.equal(isHopByHop('proxy-authenticate', null), true);
    assert.equal(isHopByHop('proxy-authorization', null), true);
  });

  it('exclude end-to-end fields', () => {
    for (const name of ['content-type', 'content-length', 'cache-control', 'etag', 'vary', 'authorization', 'set-cookie', 'date', 'via']) {
      assert.equal(isHopByHop(name, null), false, name);
    }
  });

  it('include the fields a Connection header names', () => {
    const extra = connectionTokens('X-Trace, Foo');
    assert.equal(isHopByHop('x-trace', extra), true);
    assert.equal(isHopByHop('foo', extra), true);
    assert.equal(isHopByHop('bar', extra), false);
  });
});

describe('connectionTokens', () => {
  it('is null without a Connection header or with only close / keep-alive', () => {
    assert.equal(connectionTokens(undefined), null);
    assert.equal(connectionTokens('close'), null);
    assert.equal(connectionTokens('keep-alive'), null);
    assert.equal(connectionTokens('Keep-Alive, Close'), null);
    assert.equal(connectionTokens(' , '), null);
  });

  it('lower-cases and trims the named fields', () => {
    assert.deepEqual(connectionTokens('  X-Foo , close,X-BAR '), new Set(['x-foo', 'x-bar']));
  });

  it('combines repeated header lines', () => {
    assert.deepEqual(connectionTokens(['x-a', 'X-B, close']), new Set(['x-a', 'x-b']));
  });
});

describe('304 handling sets', () => {
  it('never lets a 304 replace Content-Length of the stored body (RFC 9111 §3.2)', () => {
    assert.ok(NOT_UPDATED_BY_304.has('content-length'));
  });

  it('protects the fields that describe the stored body encoding and range (RFC 9111 §3.2)', () => {
    assert.ok(NOT_UPDATED_BY_304.has('content-encoding'));
    assert.ok(NOT_UPDATED_BY_304.has('content-range'));
  });

  it('lets a 304 update the caching metadata (RFC 9111 §4.3.4)', () => {
    for (const name of ['cache-control', 'expires', 'etag', 'date', 'last-modified', 'vary']) assert.equal(NOT_UPDATED_BY_304.has(name), false, name);
  });

  it('keeps in a 304 every field RFC 9110 §15.4.5 requires', () => {
    for (const name of ['content-location', 'date', 'etag', 'vary', 'cache-control', 'expires']) assert.ok(KEPT_IN_304.has(name), name);
  });

  it('leaves representation metadata out of a 304 (RFC 9110 §15.4.5 SHOULD NOT)', () => {
    for (const name of ['content-type', 'content-encoding', 'content-range', 'transfer-encoding']) assert.equal(KEPT_IN_304.has(name), false, name);
  });
});
