import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardStatus, hitStatus } from './cache-status';

/**
 * A small RFC 8941 parser for one List member with parameters: enough to check that what
 * Tiercel writes is a valid Cache-Status member (RFC 9211 §2) and to read its parameters.
 */
function parseMember(text: string): { name: string; params: Map<string, string | number | true> } {
  const m = /^([A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*)((?:;[ ]*[a-z*][a-z0-9_\-.*]*(?:=[^;]+)?)*)$/.exec(text);
  assert.ok(m, `not a valid sf-item: ${text}`);
  const params = new Map<string, string | number | true>();
  for (const raw of m[2]!.split(';').slice(1)) {
    const p = raw.trimStart();
    const eq = p.indexOf('=');
    const key = eq === -1 ? p : p.slice(0, eq);
    assert.ok(!params.has(key), `duplicate parameter ${key} in ${text}`);
    if (eq === -1) { params.set(key, true); continue; }
    const value = p.slice(eq + 1);
    if (/^-?\d{1,15}$/.test(value)) params.set(key, Number(value));
    else if (/^"(?:[^"\\]|\\["\\])*"$/.test(value)) params.set(key, value.slice(1, -1));
    else {
      assert.match(value, /^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/, `bad bare item ${value} in ${text}`);
      params.set(key, value);
    }
  }
  return { name: m[1]!, params };
}

describe('hitStatus (RFC 9211 §2.1, §2.5, §2.8)', () => {
  it('writes the cache name first, then hit, detail and ttl', () => {
    assert.equal(hitStatus('tiercel', 'l1', 42), 'tiercel; hit; detail=l1; ttl=42');
    const { name, params } = parseMember(hitStatus('tiercel', 'l1', 42));
    assert.equal(name, 'tiercel');
    assert.equal(params.get('hit'), true);
    assert.equal(params.get('detail'), 'l1');
    assert.equal(params.get('ttl'), 42);
    assert.equal(params.has('fwd'), false);
  });

  it('writes a negative ttl for a stale hit (§2.5)', () => {
    assert.equal(parseMember(hitStatus('tiercel', 'l1', -7)).params.get('ttl'), -7);
  });

  it('appends extra parameters', () => {
    const s = hitStatus('edge-1', 'l1', 0, 'key="/a"');
    assert.equal(s, 'edge-1; hit; detail=l1; ttl=0; key="/a"');
    assert.equal(parseMember(s).params.get('key'), '/a');
  });
});

describe('forwardStatus (RFC 9211 §2.2–§2.8)', () => {
  it('writes only fwd when nothing else is known', () => {
    assert.equal(forwardStatus('tiercel', { fwd: 'uri-miss' }), 'tiercel; fwd=uri-miss');
  });

  it('writes every parameter, as a valid sf-item', () => {
    const s = forwardStatus('tiercel', { fwd: 'stale', fwdStatus: 200, stored: true, collapsed: true, ttlSeconds: 60, detail: 'origin-error' });
    assert.equal(s, 'tiercel; fwd=stale; fwd-status=200; stored; collapsed; ttl=60; detail=origin-error');
    const { params } = parseMember(s);
    assert.equal(params.get('fwd'), 'stale');
    assert.equal(params.get('fwd-status'), 200);
    assert.equal(params.get('stored'), true);
    assert.equal(params.get('collapsed'), true);
    assert.equal(params.get('ttl'), 60);
    assert.equal(params.get('detail'), 'origin-error');
    assert.equal(params.has('hit'), false);
  });

  it('omits false booleans and absent values (§2.6, §2.7)', () => {
    const s = forwardStatus('tiercel', { fwd: 'miss', fwdStatus: 500, stored: false, collapsed: false, detail: '' });
    assert.equal(s, 'tiercel; fwd=miss; fwd-status=500');
  });

  it('writes ttl=0', () => {
    assert.equal(parseMember(forwardStatus('tiercel', { fwd: 'miss', ttlSeconds: 0 })).params.get('ttl'), 0);
  });

  it('accepts every fwd reason RFC 9211 §2.2 defines', () => {
    for (const fwd of ['bypass', 'method', 'uri-miss', 'vary-miss', 'miss', 'request', 'stale', 'partial'] as const) {
      assert.equal(parseMember(forwardStatus('tiercel', { fwd })).params.get('fwd'), fwd);
    }
  });
});
