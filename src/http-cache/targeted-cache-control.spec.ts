import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDictionary, parseTargetedField, targetedDirectives, targetList } from './targeted-cache-control';

describe('targeted cache-control fields (RFC 9213)', () => {
  it('the target list is <CACHE_NAME>-Cache-Control, then CDN-Cache-Control', () => {
    assert.deepEqual(targetList('Edge1'), ['edge1-cache-control', 'cdn-cache-control']);
  });

  it('parses a Dictionary strictly (RFC 8941 §4.2.2)', () => {
    assert.deepEqual([...parseDictionary('max-age=60, no-store, a=?0;p=1, b=(1 2)')!], [['max-age', 60], ['no-store', true], ['a', false], ['b', [1, 2]]]);
    for (const bad of ['max-age =60', 'max-age= 60', 'max-age=60,', 'max-age=60, &&&', 'Max-Age=60', 'max-age=60 60']) assert.equal(parseDictionary(bad), null, bad);
  });

  it('delta-seconds directives must be Integers; too large ones are capped at 2^31', () => {
    assert.equal(parseTargetedField('max-age=99999999999')!.maxAge, 2147483648);
    assert.equal(parseTargetedField('max-age="60"'), null);
    assert.equal(parseTargetedField('max-age=60.0'), null);
    assert.equal(parseTargetedField('max-age=-1'), null);
    assert.equal(parseTargetedField(''), null);
    const cc = parseTargetedField('max-age=10, private, extension=foo')!;
    assert.equal(cc.maxAge, 10);
    assert.equal(cc.private, true);
  });

  it('§2.1: the first valid, non-empty field of the target list governs', () => {
    const t = targetList('tiercel');
    assert.equal(targetedDirectives({ 'cdn-cache-control': 'max-age=5', 'tiercel-cache-control': 'max-age=9' }, t)!.cc.maxAge, 9);
    assert.equal(targetedDirectives({ 'cdn-cache-control': 'max-age=5', 'tiercel-cache-control': 'max-age=x' }, t)!.field, 'cdn-cache-control');
    assert.equal(targetedDirectives({ 'cache-control': 'max-age=5' }, t), null);
  });
});
