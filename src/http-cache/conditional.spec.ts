import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ifNoneMatchMatches, isConditional, notModified } from './conditional';

const LM = 'Sun, 06 Nov 1994 08:49:37 GMT';
const LM_PLUS_1S = 'Sun, 06 Nov 1994 08:49:38 GMT';
const LM_MINUS_1S = 'Sun, 06 Nov 1994 08:49:36 GMT';

describe('ifNoneMatchMatches (RFC 9110 §13.1.2, weak comparison §8.8.3.2)', () => {
  it('matches an identical strong tag', () => {
    assert.equal(ifNoneMatchMatches('"abc"', '"abc"'), true);
  });

  it('does not match a different tag', () => {
    assert.equal(ifNoneMatchMatches('"abc"', '"abd"'), false);
    assert.equal(ifNoneMatchMatches('"abc"', '"ABC"'), false);
  });

  it('uses weak comparison: W/ on either side is ignored', () => {
    assert.equal(ifNoneMatchMatches('W/"abc"', '"abc"'), true);
    assert.equal(ifNoneMatchMatches('"abc"', 'W/"abc"'), true);
    assert.equal(ifNoneMatchMatches('W/"abc"', 'W/"abc"'), true);
  });

  it('matches any member of a list, with optional whitespace', () => {
    assert.equal(ifNoneMatchMatches('"x", W/"y" ,  "abc"', '"abc"'), true);
    assert.equal(ifNoneMatchMatches('"x","y"', '"abc"'), false);
  });

  it('* matches any stored representation', () => {
    assert.equal(ifNoneMatchMatches('*', '"abc"'), true);
    assert.equal(ifNoneMatchMatches(' * ', undefined), true);
  });

  it('a tag never matches a response without an ETag', () => {
    assert.equal(ifNoneMatchMatches('"abc"', undefined), false);
  });

  it('does not treat W/ as a match for the bare opaque tag without quotes', () => {
    assert.equal(ifNoneMatchMatches('W/"abc"', 'abc'), false);
  });

  it('matches an entity-tag that contains a comma (etagc includes %x2C, RFC 9110 §8.8.3)', () => {
    assert.equal(ifNoneMatchMatches('"a,b"', '"a,b"'), true);
    assert.equal(ifNoneMatchMatches('"x", "a,b"', '"a,b"'), true);
    assert.equal(ifNoneMatchMatches('"a,b"', '"a"'), false);
  });
});

describe('notModified (RFC 9110 §13.2.2)', () => {
  it('is false for an unconditional request', () => {
    assert.equal(notModified({}, '"a"', LM, LM), false);
  });

  it('answers If-None-Match against the stored ETag', () => {
    assert.equal(notModified({ 'if-none-match': '"a"' }, '"a"', LM, LM), true);
    assert.equal(notModified({ 'if-none-match': '"b"' }, '"a"', LM, LM), false);
  });

  it('ignores If-Modified-Since when If-None-Match is present (§13.1.3)', () => {
    assert.equal(notModified({ 'if-none-match': '"b"', 'if-modified-since': LM_PLUS_1S }, '"a"', LM, LM), false);
    assert.equal(notModified({ 'if-none-match': '"a"', 'if-modified-since': LM_MINUS_1S }, '"a"', LM, LM), true);
  });

  it('answers If-Modified-Since: not modified when Last-Modified <= the date (§13.1.3)', () => {
    assert.equal(notModified({ 'if-modified-since': LM }, undefined, LM, undefined), true);
    assert.equal(notModified({ 'if-modified-since': LM_PLUS_1S }, undefined, LM, undefined), true);
    assert.equal(notModified({ 'if-modified-since': LM_MINUS_1S }, undefined, LM, undefined), false);
  });

  it('compares dates, not strings, accepting obsolete forms', () => {
    assert.equal(notModified({ 'if-modified-since': 'Sunday, 06-Nov-94 08:49:37 GMT' }, undefined, LM, undefined), true);
    assert.equal(notModified({ 'if-modified-since': 'Sun Nov  6 08:49:37 1994' }, undefined, LM, undefined), true);
  });

  it('ignores an invalid If-Modified-Since (§13.1.3)', () => {
    assert.equal(notModified({ 'if-modified-since': 'yesterday' }, undefined, LM, undefined), false);
    assert.equal(notModified({ 'if-modified-since': `${LM}, ${LM}` }, undefined, LM, undefined), false);
  });

  it('falls back to the stored Date when there is no Last-Modified (RFC 9111 §4.3.2)', () => {
    assert.equal(notModified({ 'if-modified-since': LM }, undefined, undefined, LM), true);
    assert.equal(notModified({ 'if-modified-since': LM_MINUS_1S }, undefined, undefined, LM), false);
  });

  it('prefers Last-Modified over Date', () => {
    assert.equal(notModified({ 'if-modified-since': LM }, undefined, LM_PLUS_1S, LM), false);
  });

  it('is false with neither Last-Modified nor Date', () => {
    assert.equal(notModified({ 'if-modified-since': LM }, undefined, undefined, undefined), false);
  });
});

describe('isConditional', () => {
  it('is true for If-None-Match or If-Modified-Since', () => {
    assert.equal(isConditional({ 'if-none-match': '"a"' }), true);
    assert.equal(isConditional({ 'if-modified-since': LM }), true);
  });

  it('is false otherwise', () => {
    assert.equal(isConditional({}), false);
    assert.equal(isConditional({ 'if-range': '"a"', range: 'bytes=0-1' }), false);
  });
});
