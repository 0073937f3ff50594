import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob } from '../invalidation/glob';
import { cookieValue, keyTarget, normalizePath } from './cache-key';

describe('cache key normal form', () => {
  it('decodes percent-encoded unreserved characters and upper-cases the rest (RFC 3986 §6.2.2)', () => {
    assert.equal(normalizePath('/%6b'), '/k');
    assert.equal(normalizePath('/%7Euser/%2fa%2Fb'), '/~user/%2Fa%2Fb');
    assert.equal(normalizePath('/100%'), '/100%');
    assert.equal(normalizePath('/%zz%41'), '/%zzA');
    assert.equal(normalizePath('/plain'), '/plain');
  });

  it('query: ignored by name or glob, sorted, or dropped', () => {
    const q = { ignore: ['utm_*', 'fbclid'].map(compileGlob), sort: true, drop: false };
    assert.equal(keyTarget('/p?utm_source=x&b=2&a=1', q), '/p?a=1&b=2');
    assert.equal(keyTarget('/p?a=1&b=2', q), '/p?a=1&b=2');
    assert.equal(keyTarget('/p?fbclid=9', q), '/p');
    assert.equal(keyTarget('/p?b&a', { ignore: [], sort: false, drop: false }), '/p?b&a');
    assert.equal(keyTarget('/%70?x=1', { ignore: [], sort: false, drop: true }), '/p');
    assert.equal(keyTarget('/%70?b=1&a=2', null), '/p?b=1&a=2');
  });

  it('reads one cookie', () => {
    assert.equal(cookieValue('a=1; currency=EUR; b=2', 'currency'), 'EUR');
    assert.equal(cookieValue('xcurrency=1', 'currency'), '');
    assert.equal(cookieValue(undefined, 'currency'), '');
  });
});
