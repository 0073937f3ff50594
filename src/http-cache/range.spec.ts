import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ifRangeMatches, parseRange } from './range';

describe('parseRange (RFC 9110 §14.1.2)', () => {
  it('reads first-last', () => {
    assert.deepEqual(parseRange('bytes=0-4', 10), { start: 0, end: 4 });
    assert.deepEqual(parseRange('bytes=9-9', 10), { start: 9, end: 9 });
  });

  it('reads first- as the remainder', () => {
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=0-', 10), { start: 0, end: 9 });
  });

  it('clamps a last-pos at or beyond the length to the last byte', () => {
    assert.deepEqual(parseRange('bytes=5-9', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  });

  it('reads a suffix range, the whole body when the suffix is longer', () => {
    assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRange('bytes=-10', 10), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=-20', 10), { start: 0, end: 9 });
  });

  it('treats the range unit case-insensitively and tolerates surrounding whitespace', () => {
    assert.deepEqual(parseRange('Bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(parseRange('  bytes=1-2  ', 10), { start: 1, end: 2 });
  });

  it('is unsatisfiable when first-pos is at or past the length (§14.1.1)', () => {
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=10-20', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  });

  it('is unsatisfiable for a zero suffix-length (§14.1.1)', () => {
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  });

  it('ignores an invalid range: last-pos before first-pos (§14.1.1)', () => {
    assert.equal(parseRange('bytes=5-2', 10), null);
  });

  it('ignores syntactically bad values', () => {
    for (const h of ['bytes=', 'bytes=-', 'bytes=a-b', 'bytes 0-1', '0-1', 'bytes=1-2-3', 'bytes=-1-2']) {
      assert.equal(parseRange(h, 10), null, h);
    }
  });

  it('answers multiple ranges and other units with the full response (null)', () => {
    assert.equal(parseRange('bytes=0-1,3-4', 10), null);
    assert.equal(parseRange('items=0-1', 10), null);
  });

  it('never yields a range whose end is before its start', () => {
    // A zero-length body has no byte to send: bytes 0--1/0 is not a valid Content-Range (§14.4).
    for (const [h, len] of [['bytes=-5', 0], ['bytes=-1', 0], ['bytes=0-0', 0], ['bytes=3-', 3]] as const) {
      const r = parseRange(h, len);
      if (r !== null && r !== 'unsatisfiable') assert.ok(r.end >= r.start && r.end < len, `${h} on ${len} bytes gave ${JSON.stringify(r)}`);
    }
  });
});

describe('ifRangeMatches (RFC 9110 §13.1.5)', () => {
  const LM = 'Sun, 06 Nov 1994 08:49:37 GMT';

  it('applies the range when there is no If-Range', () => {
    assert.equal(ifRangeMatches(undefined, undefined, undefined), true);
  });

  it('matches an identical strong entity-tag', () => {
    assert.equal(ifRangeMatches('"v1"', '"v1"', LM), true);
    assert.equal(ifRangeMatches(' "v1" ', '"v1"', LM), true);
  });

  it('does not match a different entity-tag', () => {
    assert.equal(ifRangeMatches('"v2"', '"v1"', LM), false);
  });

  it('uses strong comparison: a weak tag on either side never matches', () => {
    assert.equal(ifRangeMatches('W/"v1"', 'W/"v1"', LM), false);
    assert.equal(ifRangeMatches('"v1"', 'W/"v1"', LM), false);
    assert.equal(ifRangeMatches('W/"v1"', '"v1"', LM), false);
  });

  it('does not match an entity-tag when nothing is stored', () => {
    assert.equal(ifRangeMatches('"v1"', undefined, LM), false);
  });

  it('matches a date equal to Last-Modified', () => {
    assert.equal(ifRangeMatches(LM, '"v1"', LM), true);
  });

  it('does not match a different date, even a later one', () => {
    assert.equal(ifRangeMatches('Sun, 06 Nov 1994 08:49:38 GMT', '"v1"', LM), false);
    assert.equal(ifRangeMatches('Sun, 06 Nov 1994 08:49:36 GMT', '"v1"', LM), false);
  });

  it('does not match a date without Last-Modified, nor an invalid value', () => {
    assert.equal(ifRangeMatches(LM, '"v1"', undefined), false);
    assert.equal(ifRangeMatches('yesterday', '"v1"', LM), false);
  });
});
