import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeAcceptEncoding, parseVary, varySelector } from './vary';

describe('parseVary (RFC 9111 §4.1)', () => {
  it('is empty without a header', () => {
    assert.deepEqual(parseVary(undefined), { star: false, names: [] });
    assert.deepEqual(parseVary(''), { star: false, names: [] });
  });

  it('lower-cases, de-duplicates and sorts field names', () => {
    assert.deepEqual(parseVary('Accept-Language, accept-encoding, ACCEPT-LANGUAGE'), { star: false, names: ['accept-encoding', 'accept-language'] });
  });

  it('keys equal lists equally regardless of order', () => {
    assert.deepEqual(parseVary('b, a').names, parseVary('a,b').names);
  });

  it('combines repeated header lines', () => {
    assert.deepEqual(parseVary(['Accept-Language', 'Cookie']).names, ['accept-language', 'cookie']);
  });

  it('recognises * anywhere in the list, including a repeated line', () => {
    assert.equal(parseVary('*').star, true);
    assert.equal(parseVary('accept-language, *').star, true);
    assert.equal(parseVary(['accept-language', ' * ']).star, true);
  });

  it('ignores empty list elements', () => {
    assert.deepEqual(parseVary(' , accept, ,').names, ['accept']);
  });
});

describe('normalizeAcceptEncoding', () => {
  it('prefers br, then gzip, else identity', () => {
    assert.equal(normalizeAcceptEncoding('gzip, deflate, br, zstd'), 'br');
    assert.equal(normalizeAcceptEncoding('br;q=1.0, gzip;q=0.8'), 'br');
    assert.equal(normalizeAcceptEncoding('gzip, deflate'), 'gzip');
    assert.equal(normalizeAcceptEncoding('deflate'), '');
    assert.equal(normalizeAcceptEncoding('identity'), '');
    assert.equal(normalizeAcceptEncoding(''), '');
    assert.equal(normalizeAcceptEncoding(undefined), '');
  });

  it('treats x-gzip as gzip and is case-insensitive (RFC 9110 §8.4.1.3, §12.5.3)', () => {
    assert.equal(normalizeAcceptEncoding('x-gzip'), 'gzip');
    assert.equal(normalizeAcceptEncoding('GZIP'), 'gzip');
    assert.equal(normalizeAcceptEncoding('BR;Q=0.5'), 'br');
  });

  it('never picks a coding refused with q=0', () => {
    assert.equal(normalizeAcceptEncoding('br;q=0, gzip'), 'gzip');
    assert.equal(normalizeAcceptEncoding('br;q=0.000, gzip;q=0'), '');
    assert.equal(normalizeAcceptEncoding('gzip;Q=0'), '');
    assert.equal(normalizeAcceptEncoding('gzip ; q=0'), '');
    assert.equal(normalizeAcceptEncoding('gzip;q=0.001'), 'gzip');
  });

  it('reads * as gzip when gzip is not listed', () => {
    assert.equal(normalizeAcceptEncoding('*'), 'gzip');
    assert.equal(normalizeAcceptEncoding('*;q=0'), '');
    assert.equal(normalizeAcceptEncoding('*;q=0, gzip'), 'gzip');
  });

  it('does not let * re-enable a coding the client refused explicitly (RFC 9110 §12.5.3)', () => {
    // "*" matches only codings not listed elsewhere in the field; gzip;q=0 is listed.
    assert.equal(normalizeAcceptEncoding('gzip;q=0, *'), '');
    assert.equal(normalizeAcceptEncoding('*, gzip;q=0'), '');
    assert.equal(normalizeAcceptEncoding('gzip;q=0, x-gzip;q=0, *'), '');
  });

  it('accepts optional whitespace before the weight (RFC 9110 §12.4.2: weight = OWS ";" OWS "q=" qvalue)', () => {
    assert.equal(normalizeAcceptEncoding('br ;q=1.0'), 'br');
    assert.equal(normalizeAcceptEncoding('gzip ;q=0.5'), 'gzip');
  });

  it('combines repeated header lines', () => {
    assert.equal(normalizeAcceptEncoding(['gzip', 'br']), 'br');
  });
});

describe('varySelector (RFC 9111 §4.1)', () => {
  it('is empty when nothing varies', () => {
    assert.equal(varySelector([], { 'accept-language': 'en' }), '');
  });

  it('differs when a varying field differs', () => {
    assert.notEqual(varySelector(['accept-language'], { 'accept-language': 'en' }), varySelector(['accept-language'], { 'accept-language': 'fr' }));
  });

  it('ignores fields that are not listed', () => {
    assert.equal(
      varySelector(['accept-language'], { 'accept-language': 'en', cookie: 'a=1' }),
      varySelector(['accept-language'], { 'accept-language': 'en', cookie: 'b=2' }),
    );
  });

  it('distinguishes an absent field from an empty one', () => {
    assert.notEqual(varySelector(['x-foo'], {}), varySelector(['x-foo'], { 'x-foo': '' }));
  });

  it('normalises whitespace around commas and runs of spaces (§4.1)', () => {
    const a = varySelector(['accept-language'], { 'accept-language': 'en,  fr' });
    assert.equal(varySelector(['accept-language'], { 'accept-language': ' en ,fr ' }), a);
    assert.equal(varySelector(['accept-language'], { 'accept-language': 'en, fr' }), a);
  });

  it('treats repeated lines like the combined value', () => {
    assert.equal(varySelector(['x-foo'], { 'x-foo': ['a', 'b'] as unknown as string }), varySelector(['x-foo'], { 'x-foo': 'a, b' }));
  });

  it('keeps values case-sensitive (field values are not generally case-insensitive)', () => {
    assert.notEqual(varySelector(['x-foo'], { 'x-foo': 'A' }), varySelector(['x-foo'], { 'x-foo': 'a' }));
  });

  it('does not confuse values across fields', () => {
    assert.notEqual(
      varySelector(['a', 'b'], { a: 'x', b: '' }),
      varySelector(['a', 'b'], { a: '', b: 'x' }),
    );
    assert.notEqual(varySelector(['a', 'b'], { a: 'x' }), varySelector(['a', 'b'], { b: 'x' }));
  });

  it('collapses Accept-Encoding spellings that pick the same coding into one variant', () => {
    const br = varySelector(['accept-encoding'], { 'accept-encoding': 'gzip, deflate, br, zstd' });
    assert.equal(varySelector(['accept-encoding'], { 'accept-encoding': 'br;q=1.0, gzip;q=0.8' }), br);
    assert.notEqual(varySelector(['accept-encoding'], { 'accept-encoding': 'gzip' }), br);
  });

  it('treats absent Accept-Encoding and identity-only as one variant (both forwarded without a coding)', () => {
    assert.equal(varySelector(['accept-encoding'], {}), varySelector(['accept-encoding'], { 'accept-encoding': 'identity' }));
  });
});
