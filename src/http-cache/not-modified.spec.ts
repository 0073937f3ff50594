import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeNotModified } from './not-modified';

describe('304 merge (RFC 9111 §4.3.4)', () => {
  const stored = { 'content-type': 'text/html', 'content-length': '120', 'content-encoding': 'gzip', etag: '"v1"', 'cache-control': 'max-age=10', 'x-old': 'kept' };

  it('replaces the stored fields the 304 carries and keeps the others', () => {
    const merged = mergeNotModified(stored, { etag: '"v1"', 'cache-control': 'max-age=60', date: 'Tue, 01 Dec 2026 10:00:00 GMT', 'x-new': 'added' });
    assert.equal(merged['cache-control'], 'max-age=60');
    assert.equal(merged.date, 'Tue, 01 Dec 2026 10:00:00 GMT');
    assert.equal(merged['x-new'], 'added');
    assert.equal(merged['x-old'], 'kept');
    assert.equal(merged['content-type'], 'text/html');
  });

  it('never lets the 304 change what describes the stored body', () => {
    const merged = mergeNotModified(stored, { 'content-length': '0', 'content-encoding': 'br', 'content-range': 'bytes 0-1/2', 'transfer-encoding': 'chunked' });
    assert.equal(merged['content-length'], '120');
    assert.equal(merged['content-encoding'], 'gzip');
    assert.equal(merged['content-range'], undefined);
    assert.equal(merged['transfer-encoding'], undefined);
  });

  it('drops the 304\'s hop-by-hop fields, those its Connection names, and Set-Cookie', () => {
    const merged = mergeNotModified(stored, { connection: 'x-hop', 'x-hop': 'h', 'keep-alive': 'timeout=5', 'set-cookie': 'session=one-client' });
    assert.equal(merged['x-hop'], undefined);
    assert.equal(merged['keep-alive'], undefined);
    assert.equal(merged.connection, undefined);
    assert.equal(merged['set-cookie'], undefined);
  });

  it('leaves the stored fields object untouched', () => {
    const before = { ...stored };
    mergeNotModified(stored, { 'cache-control': 'no-cache' });
    assert.deepEqual(stored, before);
  });
});
