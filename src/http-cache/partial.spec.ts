import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineParts, isWhole, parseContentRange, rangeFromPart, receivedPart, strongValidatorsMatch } from './partial';

const b = (s: string) => Buffer.from(s);

describe('partial content (RFC 9111 §3.3, §3.4)', () => {
  it('parses Content-Range with a known complete length only', () => {
    assert.deepEqual(parseContentRange('bytes 4-9/10'), { start: 4, end: 9, complete: 10 });
    for (const bad of [undefined, 'bytes 4-9/*', 'bytes */10', 'bytes 9-4/10', 'bytes 0-10/10', 'items 0-1/2']) assert.equal(parseContentRange(bad), null, String(bad));
  });

  it('§3.3: a body shorter than its range is an incomplete part from first-byte-pos on; a longer one is nothing', () => {
    assert.deepEqual(receivedPart('bytes 4-9/10', b('01234')), { start: 4, body: b('01234'), complete: 10 });
    assert.equal(receivedPart('bytes 0-1/10', b('012')), null);
    assert.equal(receivedPart('bytes 0-1/10', b('')), null);
  });

  it('§3.3: answers only ranges wholly within the part', () => {
    const p = { start: 4, body: b('01234'), complete: 10 };
    assert.deepEqual(rangeFromPart('bytes=6-8', p), { start: 6, end: 8 });
    assert.equal(rangeFromPart('bytes=6-', p), null); // 6-9: byte 9 is not held
    assert.equal(rangeFromPart('bytes=-1', p), null);
    assert.equal(rangeFromPart('bytes=0-4', p), null);
    assert.equal(rangeFromPart('bytes=20-', p), null);
  });

  it('§3.4: combines overlapping or adjacent parts of one length; a gap or another length does not', () => {
    const a = { start: 0, body: b('01234'), complete: 10 };
    const c = combineParts(a, { start: 5, body: b('56789'), complete: 10 })!;
    assert.equal(c.body.toString(), '0123456789');
    assert.ok(isWhole(c));
    assert.equal(combineParts({ start: 3, body: b('3456'), complete: 10 }, a)!.body.toString(), '0123456');
    assert.equal(combineParts(a, { start: 6, body: b('6789'), complete: 10 }), null);
    assert.equal(combineParts(a, { start: 5, body: b('56789'), complete: 11 }), null);
    assert.ok(!isWhole(a));
  });

  it('§3.4: only the same strong entity tag joins parts', () => {
    assert.ok(strongValidatorsMatch('"a"', '"a"'));
    assert.ok(!strongValidatorsMatch('W/"a"', 'W/"a"'));
    assert.ok(!strongValidatorsMatch(undefined, undefined));
    assert.ok(!strongValidatorsMatch('"a"', '"b"'));
  });
});
