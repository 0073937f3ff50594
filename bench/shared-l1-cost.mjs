// What an L1 hit would cost if the L1 were one store shared by the workers (a SharedArrayBuffer
// store, or a memory-mapped one such as lmdb): the object lives as bytes outside each worker's
// heap, so every hit copies its bytes out and rebuilds the headers, where a worker's own L1
// hands back the object it holds. Measured here on the 1 KiB object of the throughput rows
// with Tiercel's own code: MemoryTier.get (a per-worker L1 hit), and the read a shared store
// needs at the least (copy out of a SharedArrayBuffer + the entry's JSON header parsed, no
// locking, no hash probe in shared memory), with and without Tiercel's L2 validation. A model,
// not a shared store: it bounds from below what such a store adds to each hit.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';

const require = createRequire(import.meta.url);

export function sharedL1HitCost({ bodySize = 1024, iterations = 300_000 } = {}) {
  const { MemoryTier } = require(join(ROOT, 'dist/src/cache/memory.tier.js'));
  const { decodeEntry, encodeEntry } = require(join(ROOT, 'dist/src/cache/entry-codec.js'));
  const { deliverySlots } = require(join(ROOT, 'dist/src/cache/cached-response.js'));
  const slots = deliverySlots({ xCache: true, serverTiming: true });
  const body = Buffer.alloc(bodySize, 0x61);
  const now = Date.now();
  const h = ['content-type', 'application/octet-stream', 'cache-control', 'max-age=3600', 'etag', '"bench-1k"', 'last-modified', new Date(now - 3600e3).toUTCString(), 'date', new Date(now).toUTCString(), 'via', '1.1 tiercel', 'content-length', String(bodySize)];
  const meta = JSON.stringify({ s: 200, h, e: '"bench-1k"', d: new Date(now).toUTCString(), rq: now, rs: now, ia: 0, lt: 3600e3, swr: 0, sie: 0, nc: 0, fs: 0, v: [], t: [] });
  const metaBuf = Buffer.from(meta);
  const prefix = Buffer.alloc(12);
  prefix.write('TC', 0, 'latin1');
  prefix[2] = 1;
  prefix[3] = 1;
  prefix.writeUInt32BE(metaBuf.length, 4);
  const encoded = Buffer.concat([prefix, metaBuf, body]);
  const entry = decodeEntry(encoded, slots);
  if (entry === null) throw new Error('the model entry does not decode');
  const bytes = encodeEntry(entry, slots);
  const sab = new SharedArrayBuffer(bytes.length);
  const shared = new Uint8Array(sab);
  shared.set(bytes);

  const l1 = new MemoryTier(64 * 1024 * 1024, 1024 * 1024, 300_000);
  l1.set('bench/1k', '', entry, 3600e3);

  const time = (fn) => {
    for (let i = 0; i < 20_000; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    return Number(process.hrtime.bigint() - t0) / iterations;
  };
  let sink = 0;
  const own = time(() => { sink += l1.get('bench/1k', '').status; });
  // Out of shared memory into this worker's heap: one memcpy (Buffer.from on a typed array copies element by element).
  const copyOut = () => {
    const b = Buffer.allocUnsafe(shared.length);
    b.set(shared);
    return b;
  };
  const copyOnly = time(() => { sink += copyOut()[3]; });
  const copyAndParse = time(() => {
    const b = copyOut();
    const n = b.readUInt32BE(4);
    const m = JSON.parse(b.toString('utf8', 12, 12 + n));
    sink += m.s + b.subarray(12 + n).length + m.h.concat(slots).length;
  });
  const copyAndDecode = time(() => { sink += decodeEntry(copyOut(), slots).status; });
  if (sink === 0) throw new Error('unreachable');
  return { bodySize, entryBytes: bytes.length, iterations, ownL1GetNs: own, sharedCopyNs: copyOnly, sharedCopyParseNs: copyAndParse, sharedCopyDecodeNs: copyAndDecode };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(sharedL1HitCost());
