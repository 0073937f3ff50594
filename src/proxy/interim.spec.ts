import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardInterim, InterimTarget } from './interim';

function target(headersSent = false): InterimTarget & { written: unknown[] } {
  const written: unknown[] = [];
  return { headersSent, writableEnded: false, written, writeEarlyHints: (h) => void written.push(['103', h]), writeProcessing: () => void written.push(['102']) };
}

describe('forwardInterim (RFC 9110 §15.2)', () => {
  it('writes a 103 with its fields minus hop-by-hop ones', () => {
    const t = target();
    assert.equal(forwardInterim(t, false, 103, { link: '</a>; rel=preload', connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'x-ok': 'y' }), true);
    assert.deepEqual(t.written, [['103', { link: '</a>; rel=preload', 'x-ok': 'y' }]]);
  });

  it('writes a 102', () => {
    const t = target();
    assert.equal(forwardInterim(t, false, 102, {}), true);
    assert.deepEqual(t.written, [['102']]);
  });

  it('on an HTTP/2 stream (no writeProcessing), a 102 is an informational HEADERS frame; none on a destroyed stream', () => {
    const frames: unknown[] = [];
    const h2 = (destroyed: boolean): InterimTarget => ({ headersSent: false, writableEnded: false, writeEarlyHints: () => undefined, stream: { destroyed, additionalHeaders: (h) => void frames.push(h) } });
    assert.equal(forwardInterim(h2(false), false, 102, {}), true);
    assert.deepEqual(frames, [{ ':status': 102 }]);
    assert.equal(forwardInterim(h2(true), false, 102, {}), false);
    const throwing: InterimTarget = { headersSent: false, writableEnded: false, writeEarlyHints: () => undefined, stream: { additionalHeaders: () => { throw new Error('ERR_HTTP2_INVALID_STREAM'); } } };
    assert.equal(forwardInterim(throwing, false, 102, {}), false);
    assert.deepEqual(frames, [{ ':status': 102 }]);
  });

  it('never to an HTTP/1.0 client, nor after the final head, nor 100/101/unknown codes, nor a 103 without Link', () => {
    assert.equal(forwardInterim(target(), true, 103, { link: '</a>' }), false);
    assert.equal(forwardInterim(target(true), false, 103, { link: '</a>' }), false);
    for (const s of [100, 101, 104]) assert.equal(forwardInterim(target(), false, s, { link: '</a>' }), false);
    assert.equal(forwardInterim(target(), false, 103, { 'x-a': 'b' }), false);
  });

  it('a Link node:http refuses loses the hint, nothing else', () => {
    const t: InterimTarget = { headersSent: false, writableEnded: false, writeEarlyHints: () => { throw new TypeError('invalid'); } };
    assert.equal(forwardInterim(t, false, 103, { link: 'bad' }), false);
  });
});
