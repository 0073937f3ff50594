// `npm run bench:zipf` (and the end of `npm run bench`): the hit-ratio experiment. Two Tiercel
// instances share one Redis (L2); an origin serves 100,000 distinct cacheable objects
// (/obj/<i>, ~1 KiB, max-age=3600); a seeded Zipf workload (s = 0.9) of 1,000,000 requests is
// split between the instances (request j goes to instance j mod 2) by an undici Pool per instance
// (keep-alive, 64 requests in flight each). L1 is sized to hold ~5% of the objects: one entry's
// bytes are measured from /stats l1.bytes, then CACHE_SIZE_MB (integer MiB) is chosen and the
// body size adjusted so that MiB holds 5%. The same workload then runs with L2 off (each instance
// alone, fresh) for comparison. Writes bench/results/zipf.json and zipf.md. Everything on
// loopback; every process started is killed on exit (see lib.mjs).
//
// Knobs (environment): BENCH_ZIPF_OBJECTS (100000), BENCH_ZIPF_REQUESTS (1000000),
// BENCH_ZIPF_S (0.9), BENCH_ZIPF_SEED (20241127), BENCH_ZIPF_CONCURRENCY (64 per instance),
// BENCH_ZIPF_L1_FRACTION (0.05), BENCH_ZIPF_COMPARE=0 (skip the L2-off run),
// BENCH_ZIPF_OUT (JSON path; the .md goes beside it), BENCH_KEEP_TMP=1.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Pool } from 'undici';
import {
  BENCH, check, checkNode, fmtInt, fmtPct, get, getJson, log, machine, redisCommand, runMain, setup, sleep,
  startNodeServer, startRedis, startTiercel, stopOne,
} from './lib.mjs';
import { sharedL1HitCost } from './shared-l1-cost.mjs';

const env = process.env;
const num = (name, fallback) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback);
const CFG = {
  objects: num('BENCH_ZIPF_OBJECTS', 100_000),
  requests: num('BENCH_ZIPF_REQUESTS', 1_000_000),
  s: num('BENCH_ZIPF_S', 0.9),
  seed: num('BENCH_ZIPF_SEED', 20241127),
  concurrency: num('BENCH_ZIPF_CONCURRENCY', 64),
  l1Fraction: num('BENCH_ZIPF_L1_FRACTION', 0.05),
  instances: 2,
  compare: env.BENCH_ZIPF_COMPARE !== '0',
  /** BENCH_ZIPF_WORKERS=0 skips the one-instance phases (WORKERS=1 with the pair's memory, and WORKERS=2). */
  workers: env.BENCH_ZIPF_WORKERS !== '0',
  out: env.BENCH_ZIPF_OUT || join(BENCH, 'results', 'zipf.json'),
};
const MIB = 1024 * 1024;
/** L1 settings of every instance besides CACHE_SIZE_MB: objects are small, TTL is not the limit. */
const L1_VARS = { CACHE_MAX_OBJECT_SIZE: '64k', CACHE_MAX_AGE: '1h' };

// ── the workload ─────────────────────────────────────────────────────────────────────────────
/** mulberry32: a small seeded 32-bit PRNG; two draws make one 53-bit uniform in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  const next32 = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** Object ids drawn from Zipf(s) over `n` ranks (rank 1 → /obj/0): CDF precomputed, binary search. */
function zipfSequence(n, s, count, seed) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  for (let k = 0; k < n; k++) cdf[k] /= sum;
  const rand = prng(seed);
  const seq = new Uint32Array(count);
  for (let j = 0; j < count; j++) {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    seq[j] = lo;
  }
  return { seq, cdf };
}

/** Hits of an LRU holding `capacity` objects over the requests j ≡ part (mod parts) of seq. */
function lruHits(seq, capacity, part, parts) {
  const lru = new Map();
  let hits = 0;
  for (let j = part; j < seq.length; j += parts) {
    const id = seq[j];
    if (lru.has(id)) {
      hits++;
      lru.delete(id);
    } else if (lru.size >= capacity) lru.delete(lru.keys().next().value);
    lru.set(id, true);
  }
  return hits;
}

function distinctOf(seq, n, part = 0, parts = 1) {
  const seen = new Uint8Array(n);
  let d = 0;
  for (let j = part; j < seq.length; j += parts) {
    if (seen[seq[j]] === 0) {
      seen[seq[j]] = 1;
      d++;
    }
  }
  return d;
}

/**
 * One Host for both instances, as behind a balancer: the cache key includes the Host, and each
 * instance's own 127.0.0.1:<port> would give the two instances disjoint keys in the shared L2.
 */
const REQUEST_HEADERS = { host: 'zipf.bench.test' };

// ── the client ───────────────────────────────────────────────────────────────────────────────
/**
 * Sends seq[j] to instances[j % n], `concurrency` requests in flight per instance, each
 * instance's share in sequence order; checks every body and classifies every Cache-Status.
 */
async function drive(instances, seq, bodySize, concurrency = CFG.concurrency) {
  const n = instances.length;
  const per = instances.map((inst, k) => ({
    inst,
    pool: new Pool(`http://127.0.0.1:${inst.port}`, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 }),
    next: k,
    counts: { requests: 0, l1: 0, l2: 0, forwarded: 0, collapsed: 0, other: 0, errors: 0, badBodies: 0 },
    shapes: {},
  }));
  let done = 0;
  const t0 = process.hrtime.bigint();
  const progress = setInterval(() => {
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    log(`  ${fmtInt(done)} / ${fmtInt(seq.length)} requests, ${fmtInt(done / s)} req/s`);
  }, 15_000);
  const worker = async (p) => {
    const c = p.counts;
    for (;;) {
      const j = p.next;
      if (j >= seq.length) return;
      p.next += n;
      const id = seq[j];
      const prefix = `/obj/${id} `;
      try {
        const { statusCode, headers, body } = await p.pool.request({ path: `/obj/${id}`, method: 'GET', headers: REQUEST_HEADERS });
        const buf = Buffer.from(await body.arrayBuffer());
        c.requests++;
        if (statusCode !== 200) { c.errors++; continue; }
        if (buf.length !== bodySize || buf.latin1Slice(0, prefix.length) !== prefix) c.badBodies++;
        const cs = String(headers['cache-status'] ?? '');
        if (cs.includes('; hit; detail=l1')) c.l1++;
        else if (cs.includes('; hit; detail=l2')) c.l2++;
        else if (cs.includes('; fwd=') && cs.includes('; collapsed')) c.collapsed++;
        else if (cs.includes('; fwd=')) c.forwarded++;
        else c.other++;
        const shape = cs.replace(/ttl=-?\d+/, 'ttl=N');
        if (Object.keys(p.shapes).length < 20 || p.shapes[shape]) p.shapes[shape] = (p.shapes[shape] ?? 0) + 1;
      } catch (err) {
        c.requests++;
        c.errors++;
        if (c.errors <= 3) log(`  request /obj/${id} to ${p.inst.name} failed: ${err.message}`);
      }
      done++;
    }
  };
  try {
    await Promise.all(per.flatMap((p) => Array.from({ length: concurrency }, () => worker(p))));
  } finally {
    clearInterval(progress);
    await Promise.all(per.map((p) => p.pool.close()));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, per };
}

// ── sizing L1 ────────────────────────────────────────────────────────────────────────────────
/** Bytes one /obj/<i> entry takes in L1: store `sample` objects spread over the ids, read l1.bytes. */
async function entryBytes(bodySize, sample = 500) {
  const origin = await startNodeServer(`sizing-origin-${bodySize}`, 'zipf-origin.mjs', [String(CFG.objects), String(bodySize)]);
  const t = await startTiercel(`sizing-tiercel-${bodySize}`, origin.port, { CACHE_SIZE_MB: '64', ...L1_VARS });
  try {
    const stride = Math.floor(CFG.objects / sample);
    for (let k = 0; k < sample; k++) {
      const id = k * stride + (k % stride);
      const r = await get(t.port, `/obj/${id}`, 'GET', REQUEST_HEADERS);
      check(r.status === 200 && r.body.length === bodySize, `sizing: /obj/${id} answers 200 with ${bodySize} bytes`);
    }
    await sleep(200);
    const st = await getJson(t.adminPort, '/stats');
    check(st.l1.entries === sample, `sizing: L1 holds the ${sample} objects stored (entries ${st.l1.entries})`);
    return st.l1.bytes / sample;
  } finally {
    await stopOne(t);
    await stopOne(origin);
  }
}

async function sizeL1() {
  const body0 = 1024;
  const e0 = await entryBytes(body0);
  const overhead = e0 - body0;
  const wanted = CFG.objects * CFG.l1Fraction;
  const mib = Math.max(1, Math.round((wanted * e0) / MIB));
  let bodySize = body0;
  let e = e0;
  let fraction = Math.floor((mib * MIB) / e0) / CFG.objects;
  if (Math.abs(fraction - CFG.l1Fraction) / CFG.l1Fraction > 0.01) {
    // Integer MiB cannot hit the fraction with 1 KiB bodies: size the body so `mib` MiB holds it.
    bodySize = Math.floor((mib * MIB) / wanted - overhead);
    e = await entryBytes(bodySize);
    fraction = Math.floor((mib * MIB) / e) / CFG.objects;
  }
  const sizing = {
    entryBytesAt1KiB: e0, overheadBytes: overhead, cacheSizeMb: mib, bodySize, entryBytes: e,
    objectsThatFit: Math.floor((mib * MIB) / e), fraction,
  };
  log(`L1 sizing: a 1 KiB object takes ${e0.toFixed(1)} B in L1; CACHE_SIZE_MB=${mib} with ${bodySize}-byte bodies (${e.toFixed(1)} B each) holds ${sizing.objectsThatFit} objects = ${(fraction * 100).toFixed(2)}% of ${fmtInt(CFG.objects)}`);
  return sizing;
}

// ── one phase ────────────────────────────────────────────────────────────────────────────────
/**
 * `instances` Tiercels (CFG.instances by default) of `cacheSizeMb` each, `workers` workers each;
 * the total in flight is CFG.concurrency × CFG.instances whatever the number of instances.
 */
async function phase(label, { origin, redis, sizing, seq, instances: count = CFG.instances, cacheSizeMb = sizing.cacheSizeMb, workers = 1, id = redis ? 'l2' : 'l1only' }) {
  await get(origin.port, '/__reset', 'POST');
  const vars = { CACHE_SIZE_MB: String(cacheSizeMb), WORKERS: String(workers), ...L1_VARS };
  if (redis) Object.assign(vars, { REDIS_ENABLED: 'true', REDIS_ADDR: `127.0.0.1:${redis.port}`, REDIS_MAX_OBJECT_SIZE: '1m' });
  else vars.REDIS_ENABLED = 'false';
  const names = Array.from({ length: count }, (_, k) => (count === 1 ? id : `${id}-${'AB'[k] ?? k}`));
  const instances = [];
  for (const name of names) instances.push(await startTiercel(name, origin.port, vars));
  const concurrency = (CFG.concurrency * CFG.instances) / count;
  try {
    for (const t of instances) {
      const st = await getJson(t.adminPort, '/stats');
      check(st.l1.capacityBytes === cacheSizeMb * MIB && (redis ? st.l2?.connection === 'ready' : st.l2 === null) && (workers === 1 || st.workers?.serving === workers), `${t.name}: L1 of ${cacheSizeMb} MiB over ${workers} worker(s), L2 ${redis ? 'connected' : 'off'} (${JSON.stringify({ l1: st.l1, l2: st.l2, workers: st.workers?.serving })})`);
    }
    log(`${label}: ${instances.map((t) => `${t.name} :${t.port}`).join(', ')}; ${fmtInt(seq.length)} requests, ${concurrency} in flight per instance`);
    const before = await Promise.all(instances.map((t) => getJson(t.adminPort, '/stats')));
    const run = await drive(instances, seq, sizing.bodySize, concurrency);
    await sleep(200);
    const after = await Promise.all(instances.map((t) => getJson(t.adminPort, '/stats')));
    const originCounts = await getJson(origin.port, '/__counts');
    const rows = run.per.map((p, k) => {
      const d = (f) => f(after[k]) - f(before[k]);
      return {
        instance: p.inst.name,
        requests: p.counts.requests,
        l1Hits: d((s) => s.l1Hits),
        /** Of the L1 hits, those found in another worker's L1 (WORKERS>1). */
        peerHits: d((s) => s.l1Peers?.hits ?? 0),
        l2Hits: d((s) => s.l2Hits),
        misses: d((s) => s.misses),
        collapsed: p.counts.collapsed,
        originFetches: p.counts.forwarded,
        client: p.counts,
        cacheStatus: p.shapes,
        l1: after[k].l1,
        l2: after[k].l2,
      };
    });
    const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
    const total = {
      instance: 'total',
      requests: sum((r) => r.requests), l1Hits: sum((r) => r.l1Hits), peerHits: sum((r) => r.peerHits), l2Hits: sum((r) => r.l2Hits), misses: sum((r) => r.misses),
      collapsed: sum((r) => r.collapsed), originFetches: originCounts.requests,
    };
    let consistent = true;
    for (const r of rows) {
      if (r.l1Hits !== r.client.l1 || r.l2Hits !== r.client.l2 || r.l1Hits + r.l2Hits + r.misses !== r.requests) consistent = false;
      check(r.client.errors === 0 && r.client.badBodies === 0, `${r.instance}: no errors, every body the object asked for (${JSON.stringify(r.client)})`);
      if (r.l1Hits !== r.client.l1 || r.l2Hits !== r.client.l2) log(`  warning: ${r.instance}: /stats says ${r.l1Hits} L1 / ${r.l2Hits} L2 hits, Cache-Status says ${r.client.l1} / ${r.client.l2}`);
      if (r.l1Hits + r.l2Hits + r.misses !== r.requests) log(`  warning: ${r.instance}: /stats hits + misses = ${r.l1Hits + r.l2Hits + r.misses}, client sent ${r.requests}`);
    }
    if (sum((r) => r.originFetches) !== originCounts.requests) consistent = false;
    if (sum((r) => r.originFetches) !== originCounts.requests) log(`  warning: responses forwarded per Cache-Status ${sum((r) => r.originFetches)}, origin counted ${originCounts.requests}`);
    const redisInfo = redis ? {
      keys: Number(/(\d+)/.exec(await redisCommand(redis.port, 'DBSIZE'))?.[1]),
      usedMemory: Number(/used_memory:(\d+)/.exec(await redisCommand(redis.port, 'INFO memory'))?.[1]),
    } : null;
    log(`${label}: ${run.seconds.toFixed(1)} s (${fmtInt(seq.length / run.seconds)} req/s); L1 ${fmtPct(total.l1Hits, total.requests)}, L2 ${fmtPct(total.l2Hits, total.requests)}, misses ${fmtPct(total.misses, total.requests)}, origin ${fmtInt(originCounts.requests)} (${originCounts.distinct} distinct objects)`);
    return { label, id, instances: count, workers, cacheSizeMb, l2: Boolean(redis), consistent, seconds: run.seconds, rps: seq.length / run.seconds, rows, total, origin: originCounts, redis: redisInfo };
  } finally {
    for (const t of instances) await stopOne(t);
  }
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────
async function main() {
  checkNode();
  setup('zipf');
  const mach = machine();
  log(`machine: ${mach.cpu}, ${mach.cores} cores, Node ${mach.node}; Tiercel ${mach.tiercelCommit}`);

  const t0 = Date.now();
  const { seq, cdf } = zipfSequence(CFG.objects, CFG.s, CFG.requests, CFG.seed);
  const sizing = await sizeL1();
  const fit = sizing.objectsThatFit;
  const model = {
    distinctObjects: distinctOf(seq, CFG.objects),
    distinctPerInstance: Array.from({ length: CFG.instances }, (_, k) => distinctOf(seq, CFG.objects, k, CFG.instances)),
    /** Share of requests for the `fit` most popular objects: what a perfect (LFU-oracle) L1 of that size would hit. */
    topFitMass: cdf[fit - 1],
    /** Hits of an exact LRU of `fit` objects over each instance's share of the sequence. */
    lruHitsPerInstance: Array.from({ length: CFG.instances }, (_, k) => lruHits(seq, fit, k, CFG.instances)),
    /** Hits of one exact LRU of the pair's memory (2 × `fit` objects) over the whole sequence: a shared L1. */
    lruHitsOneOfTwice: lruHits(seq, fit * CFG.instances, 0, 1),
  };
  log(`workload: ${fmtInt(CFG.requests)} requests over ${fmtInt(CFG.objects)} objects, Zipf s=${CFG.s}, seed ${CFG.seed}; ${fmtInt(model.distinctObjects)} distinct; top ${fit} objects get ${(model.topFitMass * 100).toFixed(1)}% of requests; an exact LRU of ${fit} per instance hits ${fmtPct(model.lruHitsPerInstance.reduce((a, b) => a + b, 0), CFG.requests)} (${((Date.now() - t0) / 1000).toFixed(1)} s incl. sizing)`);

  const origin = await startNodeServer('zipf-origin', 'zipf-origin.mjs', [String(CFG.objects), String(sizing.bodySize)]);
  const phases = [];
  const redis = await startRedis('redis');
  phases.push(await phase('L1 + shared L2', { origin, redis, sizing, seq }));
  await stopOne(redis);
  if (CFG.compare) phases.push(await phase('L1 only', { origin, redis: null, sizing, seq }));
  // One instance with the pair's memory: one L1 for every request (what a single L1 shared by
  // all workers would hit), then the same memory split over two workers that ask each other.
  const twice = sizing.cacheSizeMb * CFG.instances;
  if (CFG.workers) {
    phases.push(await phase(`WORKERS=1, L1 ${twice} MiB`, { origin, redis: null, sizing, seq, instances: 1, cacheSizeMb: twice, workers: 1, id: 'one-l1' }));
    phases.push(await phase(`WORKERS=2, L1 ${twice} MiB split`, { origin, redis: null, sizing, seq, instances: 1, cacheSizeMb: twice, workers: 2, id: 'workers-2' }));
  }

  // ── report ──
  const md = [];
  md.push(`Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.memoryGiB} GiB, ${mach.kernel}; Node ${mach.node}; Redis ${mach.redis}. Tiercel ${mach.tiercelCommit ?? ''}.`);
  md.push('');
  md.push(`Workload: ${fmtInt(CFG.requests)} GET requests, Zipf s = ${CFG.s} over ${fmtInt(CFG.objects)} distinct cacheable objects (/obj/<i>, ${sizing.bodySize}-byte bodies, max-age=3600), PRNG seed ${CFG.seed}; request j goes to instance j mod ${CFG.instances}, all with the same Host (${REQUEST_HEADERS.host}, as behind a balancer: the Host is part of the cache key); undici Pool per instance, ${CFG.concurrency} keep-alive requests in flight each; every instance starts cold. ${fmtInt(model.distinctObjects)} distinct objects are requested (the fewest origin fetches any cache could make).`);
  md.push('');
  md.push(`L1 per instance: CACHE_SIZE_MB=${sizing.cacheSizeMb} (CACHE_MAX_AGE=1h so TTL is not the limit). One entry measured from /stats l1.bytes: ${sizing.entryBytesAt1KiB.toFixed(1)} B for a 1 KiB body${sizing.bodySize !== 1024 ? `; bodies set to ${sizing.bodySize} B so that ${sizing.cacheSizeMb} MiB holds the target` : ''} → ${sizing.entryBytes.toFixed(1)} B per entry, ${fmtInt(fit)} objects = **${(sizing.fraction * 100).toFixed(2)}%** of the objects. For reference: the ${fmtInt(fit)} most popular objects draw ${(model.topFitMass * 100).toFixed(1)}% of requests, and an exact LRU of ${fmtInt(fit)} entries per instance would hit ${fmtPct(model.lruHitsPerInstance.reduce((a, b) => a + b, 0), CFG.requests)}.`);
  md.push('');
  md.push('| setup | instance | requests | L1 hits | L2 hits | misses | of which collapsed | origin fetches | time | req/s |');
  md.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const ph of phases) {
    for (const r of [...ph.rows, ph.total]) {
      const isTotal = r.instance === 'total';
      const b = (s) => (isTotal ? `**${s}**` : s);
      const cell = (x) => b(`${fmtInt(x)} (${fmtPct(x, r.requests)})`);
      md.push(`| ${ph.label} | ${b(isTotal ? 'total' : r.instance)} | ${b(fmtInt(r.requests))} | ${cell(r.l1Hits)} | ${ph.l2 ? cell(r.l2Hits) : '—'} | ${cell(r.misses)} | ${fmtInt(r.collapsed)} | ${isTotal ? b(`${fmtInt(r.originFetches)} (${fmtPct(r.originFetches, r.requests)})`) : `${fmtInt(r.originFetches)} (${fmtPct(r.originFetches, r.requests)})`} | ${isTotal ? `${ph.seconds.toFixed(0)} s` : ''} | ${isTotal ? fmtInt(ph.rps) : ''} |`);
    }
  }
  md.push('');
  const consistent = phases.every((ph) => ph.consistent);
  md.push(`L1 hits, L2 hits and misses: each instance's /stats counters over the run (${consistent ? 'they match the Cache-Status of every response, and the forwarded ones add up to the origin\'s count' : '❌ they do NOT all match the Cache-Status the client saw or the origin\'s count: see zipf.json'}).`);
  md.push('Misses are requests not answered from the instance\'s cache tiers; "collapsed" ones among them were answered from a concurrent fetch (coalescing in the instance, or another instance\'s fill waited for in L2) rather than fetching. Origin fetches: per instance, responses whose Cache-Status says forwarded and not collapsed; total, the count kept by the origin itself.');
  for (const ph of phases) {
    const o = ph.origin;
    md.push(`${ph.label}: the origin served ${fmtInt(o.requests)} requests for ${fmtInt(o.distinct)} distinct objects (${fmtInt(o.refetches)} refetches, at most ${o.maxPerObject} for one object)${ph.redis ? `; Redis held ${fmtInt(ph.redis.keys)} keys, ${(ph.redis.usedMemory / MIB).toFixed(0)} MiB` : ''}.`);
  }
  if (!CFG.compare) md.push('The L1-only comparison was skipped (BENCH_ZIPF_COMPARE=0).');
  const byId = Object.fromEntries(phases.map((ph) => [ph.id, ph]));
  const designs = [
    ['one L1 for all requests: WORKERS=1 with the memory of both (what one L1 shared by the workers, e.g. lmdb or a SharedArrayBuffer store, would hit)', byId['one-l1']],
    ['an L1 per worker with the memory divided, the other worker\'s L1 asked before L2 or the origin: WORKERS=2 (Tiercel)', byId['workers-2']],
    ['an L1 per worker with the memory divided, not shared: two separate processes, L2 off ("L1 only" above)', byId.l1only],
  ].filter(([, ph]) => ph !== undefined);
  if (designs.length > 1) {
    md.push('');
    md.push(`Sharing L1 between workers, at equal total memory (${twice} MiB of L1 = ${fmtInt(fit * CFG.instances)} objects, ${((fit * CFG.instances / CFG.objects) * 100).toFixed(1)}% of them; same workload, L2 off, ${CFG.concurrency * CFG.instances} requests in flight in total; an exact LRU of ${fmtInt(fit * CFG.instances)} objects over the whole sequence would hit ${fmtPct(model.lruHitsOneOfTwice, CFG.requests)}):`);
    md.push('');
    md.push('| L1 design | L1 hit ratio | of which from the other worker\'s L1 | origin fetches | req/s |');
    md.push('| --- | ---: | ---: | ---: | ---: |');
    for (const [name, ph] of designs) {
      const t = ph.total;
      md.push(`| ${name} | ${fmtPct(t.l1Hits, t.requests)} | ${ph.workers > 1 ? `${fmtInt(t.peerHits)} (${fmtPct(t.peerHits, t.requests)})` : '—'} | ${fmtInt(t.originFetches)} | ${fmtInt(ph.rps)} |`);
    }
    md.push('');
    md.push('req/s here is the whole mix (misses included) on a machine shared by the client, the origin and every Tiercel process; WORKERS=2 pays one IPC round trip through the primary on each L1 miss of a worker. L1-hit throughput is in the throughput table (WORKERS=1 and 2 rows).');
  }
  const hitCost = sharedL1HitCost({ bodySize: sizing.bodySize });
  md.push('');
  md.push(`L1-hit cost of a shared store, modelled with Tiercel's own code on a ${sizing.bodySize}-byte object (${hitCost.entryBytes} bytes encoded; ${fmtInt(hitCost.iterations)} iterations each): a worker's own L1 hit (MemoryTier.get) takes ${hitCost.ownL1GetNs.toFixed(0)} ns; the least a store outside the worker's heap adds to every hit, copying the entry out of a SharedArrayBuffer, takes ${hitCost.sharedCopyNs.toFixed(0)} ns, and rebuilding the object from it (its JSON header parsed) ${hitCost.sharedCopyParseNs.toFixed(0)} ns (${hitCost.sharedCopyDecodeNs.toFixed(0)} ns with the L2 decoder's validation). No locking or shared hash probe is counted: a real shared store costs more.`);
  const table = md.join('\n');

  const output = {
    generatedAt: new Date().toISOString(),
    machine: mach,
    config: { ...CFG, out: undefined, l1Vars: L1_VARS },
    sizing,
    model,
    phases,
    sharedL1HitCost: hitCost,
    table,
  };
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, `${JSON.stringify(output, null, 2)}\n`);
  writeFileSync(CFG.out.replace(/\.json$/, '.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n\nResults: ${CFG.out}\n`);
}

runMain(main);
