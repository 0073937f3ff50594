// `npm run bench`: Tiercel against a bare node:http server, the origin itself, nginx proxy_cache
// and Varnish, all on loopback, measured with wrk in one run; plus Tiercel's L2 hits (a second
// Tiercel whose L1 refuses the object, in front of a redis-server started here) and Tiercel's
// telemetry overhead on L1 hits (telemetry off, metrics only = the default, metrics + traces
// sampled at 1% and at 100%, exported to a local OTLP sink), all in the same interleaved rounds.
// Prints Markdown tables and writes bench/results/latest.json (+ latest.md). Every process it
// starts is killed on exit, error or Ctrl-C; a small reaper process kills them even if this
// script is killed with SIGKILL (bench/lib.mjs). `npm run bench` then runs bench/zipf.mjs.
//
// Knobs (environment): BENCH_DURATION (s, default 6; was 8 before the L2 and telemetry cases
// were added, shortened to keep the default run within ~9 minutes), BENCH_WARMUP (s, 1),
// BENCH_REPS (3), BENCH_THREADS (2), BENCH_CONNECTIONS (50), BENCH_C1_DURATION (s, 2),
// BENCH_NGINX_WORKERS (1), BENCH_PIN=1 (servers on CPU 0, wrk on CPU 1; measured: no steadier,
// so off by default), BENCH_SKIP=nginx,varnish,l2,telemetry, BENCH_OUT (JSON path; a .md with
// the tables goes beside it), BENCH_KEEP_TMP=1 (keep the temp dir with the servers' logs and
// nginx config), BENCH_COMPARE=DIR (another built Tiercel checkout, such as a `git worktree` of
// an earlier commit with `npm run build` done in it: measured as "Tiercel (compare)" beside
// this one in every proxy workload, in the same interleaved rounds). BENCH_POLICY=1 adds a
// Tiercel with a 20-rule TIERCEL_CONFIG file (19 rules that do not match the benchmark's URLs,
// then a catch-all, so every hit tests all 20) to the L1-hit 1 KiB telemetry row: its
// "req/s ÷ metrics only" is the policy's cost on the L1-hit path. BENCH_ONLY=https runs only
// the HTTPS rows (bench/https.mjs: TLS_PORT over HTTP/1.1 and HTTP/2 against nginx with TLS,
// interception's first-connection cost, certificates per second); BENCH_SKIP=https leaves them out.
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeBody, OBJECTS } from './common.mjs';
import { httpsBench } from './https.mjs';
import {
  BENCH, BIN, check, checkNode, children, fmtDelta, fmtMs, fmtRatio, fmtRps, freePort, get, getJson,
  groupCpuSeconds, log, machine, median, reaperSay, runMain, setup, start, startNodeServer, startRedis,
  startTiercel, tmpDir, waitHttp,
} from './lib.mjs';

const env = process.env;
const num = (name, fallback) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback);
const CFG = {
  duration: Math.max(1, Math.round(num('BENCH_DURATION', 6))),
  warmup: Math.max(1, Math.round(num('BENCH_WARMUP', 1))),
  reps: num('BENCH_REPS', 3),
  threads: num('BENCH_THREADS', 2),
  connections: num('BENCH_CONNECTIONS', 50),
  c1Duration: Math.max(1, Math.round(num('BENCH_C1_DURATION', 2))),
  nginxWorkers: num('BENCH_NGINX_WORKERS', 1),
  pin: env.BENCH_PIN === '1',
  skip: new Set((env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
  /** BENCH_ONLY=https: only the HTTPS rows (bench/https.mjs), written to results/https.json by default. */
  only: env.BENCH_ONLY ?? '',
  out: env.BENCH_OUT || join(BENCH, 'results', env.BENCH_ONLY === 'https' ? 'https.json' : 'latest.json'),
};

/** The telemetry variants of the L1-hit 1 KiB case; the default one is the main Tiercel itself. */
const TELEMETRY = [
  { id: 'off', label: 'telemetry off (OTEL_SDK_DISABLED=true)', vars: { OTEL_SDK_DISABLED: 'true' } },
  { id: 'metrics', label: 'metrics only (default) = "Tiercel" above', vars: null },
  { id: 'traces-1pct', label: 'metrics + traces sampled at 1%', sample: 0.01 },
  { id: 'traces-100pct', label: 'metrics + traces sampled at 100%', sample: 1 },
  // A listener whose filter no request passes: what an idle `tiercel tail` costs every request.
  { id: 'tail', label: 'metrics + /admin/tail connected, filtering everything out', vars: { ADMIN_TOKEN: 'bench-tail' }, tail: '/admin/tail?status=100' },
];
if (env.BENCH_POLICY === '1') TELEMETRY.push({ id: 'policy-20', label: 'metrics only + a 20-rule policy file (BENCH_POLICY=1)', policy: true });
const TELEMETRY_TARGET = { id: 'traces-1pct', min: 0.9 };

/** 19 rules the benchmark's URLs do not match, then a catch-all: each request tests all 20. */
function twentyRulePolicy() {
  const rules = [];
  for (let i = 1; i <= 19; i++) {
    rules.push(`  - name: r${i}`, `    match: { host: "*.site${i}.example", path: "/section${i}/*" }`, '    ttl: 5m', '    grace: 1h', '    key: { query: { ignore: ["utm_*"], sort: true } }');
  }
  rules.push('  - name: everything', '    match: { path: "/*" }');
  const file = join(tmpDir(), 'policy-20.yaml');
  writeFileSync(file, ['hosts: ["127.0.0.1", localhost, "*.example"]', 'rules:', ...rules, ''].join('\n'));
  return file;
}
const L2_TARGET = 0.5;

async function startNginx(originPort, workers = CFG.nginxWorkers) {
  const dir = join(tmpDir(), workers === CFG.nginxWorkers ? 'nginx' : `nginx-${workers}w`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = `# generated by bench/run.mjs
worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  # Debian's nginx.conf also sets tcp_nopush on; with sendfile on loopback that stalls 100 KiB
  # keep-alive responses on delayed ACKs (~40 ms each, 1.4k req/s), so nginx's own default (off) is kept.
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=60m use_temp_path=off;
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = start(workers === CFG.nginxWorkers ? 'nginx' : `nginx-${workers}w`, BIN.nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log')]);
  child.port = port;
  child.logPath = join(dir, 'logs/error.log');
  await waitHttp(child, port, '/__counts');
  return child;
}

async function startVarnish(originPort) {
  const dir = join(tmpDir(), 'varnish');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  // -b: the built-in default VCL with this one backend; -T on loopback only.
  const child = start('varnish', BIN.varnishd, [
    '-F', '-n', dir, '-a', `127.0.0.1:${port}`, '-b', `127.0.0.1:${originPort}`,
    '-s', 'malloc,256m', '-T', '127.0.0.1:0',
  ]);
  child.port = port;
  await waitHttp(child, port, '/__counts', 30_000);
  return child;
}

// ── wrk ──────────────────────────────────────────────────────────────────────────────────────
function runWrk(port, path, { threads, connections, duration }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${duration}s`, '--timeout', '5s',
    '-s', join(BENCH, 'wrk-report.lua'), `http://127.0.0.1:${port}${path}`];
  const cmd = CFG.pin ? BIN.taskset : BIN.wrk;
  const argv = CFG.pin ? ['-c', '1', BIN.wrk, ...args] : args;
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = { name: 'wrk', proc, exited: false };
    children.push(child);
    reaperSay(`add ${proc.pid}`);
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      child.exited = true;
      children.splice(children.indexOf(child), 1);
      reaperSay(`del ${proc.pid}`);
      const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (exit ${code}):\n${out}`));
      const r = JSON.parse(line.slice('BENCHJSON '.length));
      r.rps = r.requests / (r.durationUs / 1e6);
      r.errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
      resolve(r);
    });
  });
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────
const tiercelLike = (c) => c.adminPort !== undefined;
/** Resident memory of a process, MiB (recorded per run for Tiercel, to spot growth across rounds). */
const rssMiB = (pid) => {
  try { return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024); } catch { return null; }
};
const stats = (c) => getJson(c.adminPort, '/stats');

async function main() {
  if (!existsSync(BIN.wrk)) throw new Error(`${BIN.wrk} not found: install wrk (apt-get install wrk)`);
  checkNode();
  const tmp = setup('bench', { pin: CFG.pin });
  const notes = [];
  const mach = machine();
  log(`machine: ${mach.cpu}, ${mach.cores} cores, Node ${mach.node}; temp dir ${tmp}; Tiercel ${mach.tiercelCommit}`);

  // Origin and Tiercel (default settings: metrics on, traces off).
  const origin = await startNodeServer('origin', 'origin.mjs');
  if (CFG.only === 'https') {
    if (!existsSync(BIN.nginx)) notes.push(`nginx not found at ${BIN.nginx}`);
    const h = await httpsBench(CFG, origin);
    const table = [`Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.kernel}; Node ${mach.node}; nginx ${mach.nginx ?? 'absent'}; ${mach.wrk}. Tiercel ${mach.tiercelCommit ?? ''}. Load average at start: ${mach.loadavgAtStart.join(', ')}.`, ...h.md, ...notes.map((n) => `Note: ${n}.`)].join('\n');
    mkdirSync(dirname(CFG.out), { recursive: true });
    writeFileSync(CFG.out, `${JSON.stringify({ generatedAt: new Date().toISOString(), machine: mach, config: { ...CFG, skip: [...CFG.skip], out: undefined }, https: h, table }, null, 2)}\n`);
    writeFileSync(CFG.out.replace(/\.json$/, '.md'), `${table}\n`);
    process.stdout.write(`\n${table}\n\nResults: ${CFG.out}\n`);
    return;
  }
  const tiercel = await startTiercel('tiercel', origin.port);
  log(`origin :${origin.port}, tiercel :${tiercel.port} (admin :${tiercel.adminPort})`);

  // Tiercel: a miss stores, the next request is an L1 hit; /pass is never stored.
  const hitHeaders = {};
  const checks = {};
  for (const path of ['/1k', '/100k']) {
    const first = await get(tiercel.port, path);
    const second = await get(tiercel.port, path);
    check(first.status === 200 && second.status === 200, `tiercel ${path} answers 200`);
    check(/; hit; detail=l1/.test(second.headers['cache-status'] ?? '') && second.headers['x-cache'] === 'HIT', `tiercel ${path} second request is an L1 hit (cache-status: ${second.headers['cache-status']})`);
    check(second.body.equals(makeBody(OBJECTS[path].size)), `tiercel ${path} body intact`);
    checks[`tiercel ${path}`] = { 'cache-status': second.headers['cache-status'], 'x-cache': second.headers['x-cache'] };
    const raw = [];
    for (let i = 0; i < second.rawHeaders.length; i += 2) {
      const name = second.rawHeaders[i].toLowerCase();
      if (name === 'connection' || name === 'keep-alive') continue; // node:http adds these itself
      raw.push(second.rawHeaders[i], second.rawHeaders[i + 1]);
    }
    hitHeaders[path] = raw;
  }
  for (let i = 0; i < 2; i++) {
    const p = await get(tiercel.port, '/pass');
    check(p.status === 200 && !/; hit/.test(p.headers['cache-status'] ?? '') && /fwd=/.test(p.headers['cache-status'] ?? ''), `tiercel /pass is forwarded (cache-status: ${p.headers['cache-status']})`);
    checks['tiercel /pass'] = { 'cache-status': p.headers['cache-status'], 'x-cache': p.headers['x-cache'] };
  }

  // Bare node:http with Tiercel's exact hit headers.
  const headersFile = join(tmp, 'hit-headers.json');
  writeFileSync(headersFile, JSON.stringify(hitHeaders));
  const bare = await startNodeServer('bare-node', 'bare-node.mjs', [headersFile]);
  for (const path of ['/1k', '/100k']) {
    const r = await get(bare.port, path);
    check(r.status === 200 && r.body.equals(makeBody(OBJECTS[path].size)), `bare-node ${path} body`);
  }
  log(`bare-node :${bare.port} with Tiercel's hit headers (${hitHeaders['/1k'].length / 2} fields)`);

  // L2: a second Tiercel whose L1 refuses the 1 KiB object (CACHE_MAX_OBJECT_SIZE=1024 is less
  // than its entry: body + headers + overhead), so every hit is read from Redis.
  let redis = null;
  let tiercelL2 = null;
  if (CFG.skip.has('l2')) notes.push('L2 case skipped (BENCH_SKIP)');
  else {
    redis = await startRedis('redis');
    tiercelL2 = await startTiercel('tiercel-l2', origin.port, {
      REDIS_ENABLED: 'true', REDIS_ADDR: `127.0.0.1:${redis.port}`, REDIS_MAX_OBJECT_SIZE: '1m', CACHE_MAX_OBJECT_SIZE: '1024',
    });
    const first = await get(tiercelL2.port, '/1k');
    const second = await get(tiercelL2.port, '/1k');
    const st = await stats(tiercelL2);
    check(first.status === 200 && /fwd=/.test(first.headers['cache-status'] ?? ''), `tiercel-l2 /1k first request is a miss (cache-status: ${first.headers['cache-status']})`);
    check(/; hit; detail=l2/.test(second.headers['cache-status'] ?? '') && second.body.equals(makeBody(1024)), `tiercel-l2 /1k second request is an L2 hit (cache-status: ${second.headers['cache-status']})`);
    check(st.l2Hits === 1 && st.l1.entries === 0 && st.l2?.writes === 1, `tiercel-l2: one L2 hit, nothing in L1, one L2 write (${JSON.stringify({ l2Hits: st.l2Hits, l1: st.l1, l2: st.l2 })})`);
    checks['tiercel-l2 /1k'] = { 'cache-status': second.headers['cache-status'], 'x-cache': second.headers['x-cache'], l1Entries: st.l1.entries };
    log(`redis :${redis.port}; tiercel-l2 :${tiercelL2.port} (CACHE_MAX_OBJECT_SIZE=1024: L1 refuses, L2 serves)`);
  }

  // Telemetry variants of Tiercel, the traced ones exporting to a local OTLP sink.
  let sink = null;
  const telemetry = []; // { ...TELEMETRY entry, child }
  if (CFG.skip.has('telemetry')) notes.push('telemetry cases skipped (BENCH_SKIP)');
  else {
    sink = await startNodeServer('otlp-sink', 'otlp-sink.mjs');
    for (const t of TELEMETRY) {
      if (t.vars === null) { telemetry.push({ ...t, child: tiercel }); continue; }
      const vars = t.policy ? { TIERCEL_CONFIG: twentyRulePolicy() } : t.sample === undefined ? t.vars : {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}/${t.id}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: String(t.sample),
      };
      const child = await startTiercel(`tiercel-${t.id}`, origin.port, vars);
      if (t.tail) {
        const res = await new Promise((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: child.adminPort, path: t.tail, headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}` } }, resolve);
          req.once('error', reject);
          req.end();
        });
        check(res.statusCode === 200, `tiercel-${t.id}: ${t.tail} answered ${res.statusCode}`);
        res.resume(); // held open for the whole run; the process's exit closes it
      }
      await get(child.port, '/1k');
      const r = await get(child.port, '/1k');
      check(/; hit; detail=l1/.test(r.headers['cache-status'] ?? ''), `tiercel-${t.id} /1k second request is an L1 hit (cache-status: ${r.headers['cache-status']})`);
      telemetry.push({ ...t, vars, child });
    }
    // Metrics are served on the admin port unless telemetry is off.
    for (const t of telemetry) {
      const m = await get(t.child.adminPort, '/metrics');
      const wantMetrics = t.id !== 'off';
      check((m.status === 200) === wantMetrics, `tiercel ${t.id}: /metrics ${wantMetrics ? 'served' : 'off'} (status ${m.status})`);
      checks[`tiercel telemetry ${t.id}`] = { metrics: m.status, vars: t.vars ?? 'defaults' };
    }
    log(`otlp sink :${sink.port}; telemetry variants: ${telemetry.map((t) => `${t.id} :${t.child.port}`).join(', ')}`);
  }

  // nginx.
  let nginx = null;
  if (CFG.skip.has('nginx')) notes.push('nginx skipped (BENCH_SKIP)');
  else if (!existsSync(BIN.nginx)) notes.push(`nginx skipped: ${BIN.nginx} not found`);
  else {
    nginx = await startNginx(origin.port);
    for (const path of ['/1k', '/100k']) {
      await get(nginx.port, path);
      const r = await get(nginx.port, path);
      check(r.headers['x-cache-status'] === 'HIT' && r.body.equals(makeBody(OBJECTS[path].size)), `nginx ${path} second request is a HIT (x-cache-status: ${r.headers['x-cache-status']})`);
      checks[`nginx ${path}`] = { 'x-cache-status': r.headers['x-cache-status'] };
    }
    await get(nginx.port, '/pass');
    const p = await get(nginx.port, '/pass');
    check(p.status === 200 && p.headers['x-cache-status'] !== 'HIT', `nginx /pass not cached (x-cache-status: ${p.headers['x-cache-status']})`);
    checks['nginx /pass'] = { 'x-cache-status': p.headers['x-cache-status'] };
    log(`nginx :${nginx.port} (${CFG.nginxWorkers} worker(s), proxy_cache, upstream keepalive)`);
  }

  // Varnish.
  let varnish = null;
  if (CFG.skip.has('varnish')) notes.push('Varnish skipped (BENCH_SKIP)');
  else if (!existsSync(BIN.varnishd)) notes.push(`Varnish skipped: ${BIN.varnishd} not found`);
  else {
    varnish = await startVarnish(origin.port);
    // X-Varnish carries two ids on a hit (this request's and the one that stored the object).
    const isHit = (r) => /^\d+ \d+$/.test(r.headers['x-varnish'] ?? '');
    for (const path of ['/1k', '/100k']) {
      await get(varnish.port, path);
      const r = await get(varnish.port, path);
      check(isHit(r) && r.body.equals(makeBody(OBJECTS[path].size)), `varnish ${path} second request is a hit (x-varnish: ${r.headers['x-varnish']}, age: ${r.headers.age})`);
      checks[`varnish ${path}`] = { 'x-varnish': r.headers['x-varnish'], age: r.headers.age };
    }
    await get(varnish.port, '/pass');
    const p = await get(varnish.port, '/pass');
    check(p.status === 200 && !isHit(p), `varnish /pass not cached (x-varnish: ${p.headers['x-varnish']})`);
    checks['varnish /pass'] = { 'x-varnish': p.headers['x-varnish'], age: p.headers.age };
    log(`varnish :${varnish.port} (default VCL, -s malloc)`);
  }

  // Several workers: Tiercel with WORKERS=2 and nginx with worker_processes 2, beside the
  // one-worker Tiercel and nginx above, on the same L1-hit 1 KiB load.
  let tiercelW2 = null;
  let nginxW2 = null;
  if (CFG.skip.has('workers')) notes.push('WORKERS=2 and nginx 2-worker rows skipped (BENCH_SKIP)');
  else {
    tiercelW2 = await startTiercel('tiercel-w2', origin.port, { WORKERS: '2' });
    // Both workers' L1 must hold the objects before timing: requests on fresh connections until
    // each worker has them (a worker's first request for one finds it in the other's L1).
    for (let i = 0; i < 50; i++) {
      const st = await stats(tiercelW2);
      if (st.workers.list.every((w) => w.l1.entries >= 2)) break;
      for (const path of ['/1k', '/100k']) await get(tiercelW2.port, path);
    }
    const st = await stats(tiercelW2);
    check(st.workers.serving === 2 && st.workers.list.every((w) => w.l1.entries >= 2), `tiercel-w2: two workers, each holding /1k and /100k in its L1 (${JSON.stringify(st.workers.list.map((w) => w.l1))})`);
    for (const path of ['/1k', '/100k']) {
      const r = await get(tiercelW2.port, path);
      check(/; hit; detail=l1/.test(r.headers['cache-status'] ?? '') && r.body.equals(makeBody(OBJECTS[path].size)), `tiercel-w2 ${path} is an L1 hit (cache-status: ${r.headers['cache-status']})`);
    }
    checks['tiercel-w2'] = { workers: st.workers.list.map((w) => ({ pid: w.pid, l1: w.l1 })), l1Peers: st.l1Peers };
    log(`tiercel-w2 :${tiercelW2.port} (WORKERS=2, pids ${st.workers.list.map((w) => w.pid).join(', ')})`);
    if (nginx !== null) {
      nginxW2 = await startNginx(origin.port, 2);
      for (const path of ['/1k', '/100k']) {
        for (let i = 0; i < 4; i++) await get(nginxW2.port, path);
        const r = await get(nginxW2.port, path);
        check(r.headers['x-cache-status'] === 'HIT', `nginx-2w ${path} is a HIT (x-cache-status: ${r.headers['x-cache-status']})`);
      }
      log(`nginx-2w :${nginxW2.port} (worker_processes 2)`);
    }
  }

  let compare = null;
  if (env.BENCH_COMPARE) {
    compare = await startTiercel('tiercel-compare', origin.port, {}, env.BENCH_COMPARE);
    for (const path of ['/1k', '/100k']) {
      await get(compare.port, path);
      const second = await get(compare.port, path);
      check(/; hit; detail=l1/.test(second.headers['cache-status'] ?? ''), `tiercel-compare ${path} second request is an L1 hit`);
    }
    log(`tiercel-compare :${compare.port} from ${env.BENCH_COMPARE}`);
  }
  const proxies = [['Tiercel', tiercel], ['Tiercel (compare)', compare], ['nginx', nginx], ['Varnish', varnish]].filter(([, c]) => c !== null);
  const loaded = { threads: CFG.threads, connections: CFG.connections, duration: CFG.duration };
  const single = { threads: 1, connections: 1, duration: CFG.c1Duration };
  // Display order. `baseline` names the case each row is compared with: a server of the same
  // workload, or { workload, server } elsewhere.
  const workloads = [
    { id: 'l1-1k', label: 'L1 hit, 1 KiB', path: '/1k', load: loaded, hit: true, baseline: 'bare Node', servers: [['bare Node', bare], ...proxies] },
    ...(tiercelL2 ? [{ id: 'l2-1k', label: 'L2 hit, 1 KiB', path: '/1k', load: loaded, hit: true, l2: true, baseline: { workload: 'l1-1k', server: 'Tiercel' }, servers: [['Tiercel L2 (L1 refuses)', tiercelL2]] }] : []),
    ...(telemetry.length ? [{
      id: 'tel-1k', label: 'L1 hit, 1 KiB, Tiercel telemetry', path: '/1k', load: loaded, hit: true, telemetry: true, baseline: `Tiercel, ${TELEMETRY[0].label}`,
      servers: telemetry.filter((t) => t.child !== tiercel).map((t) => [`Tiercel, ${t.label}`, t.child, t]),
    }] : []),
    ...(tiercelW2 ? [{
      id: 'workers-1k', label: 'L1 hit, 1 KiB, 2 workers', path: '/1k', load: loaded, hit: true, baseline: { workload: 'l1-1k', server: 'Tiercel' },
      // Each row against the same server with one worker.
      baselineOf: { 'Tiercel, WORKERS=2': { workload: 'l1-1k', server: 'Tiercel' }, 'nginx, 2 workers': { workload: 'l1-1k', server: 'nginx' } },
      servers: [['Tiercel, WORKERS=2', tiercelW2], ...(nginxW2 ? [['nginx, 2 workers', nginxW2]] : [])],
    }] : []),
    { id: 'l1-100k', label: 'L1 hit, 100 KiB', path: '/100k', load: loaded, hit: true, baseline: 'bare Node', servers: [['bare Node', bare], ...proxies] },
    { id: 'pass', label: 'pass-through (no-store), 1 KiB', path: '/pass', load: loaded, hit: false, baseline: 'origin direct', servers: [['origin direct', origin], ...proxies] },
    { id: 'pass-c1', label: 'pass-through, 1 connection', path: '/pass', load: single, hit: false, baseline: 'origin direct', servers: [['origin direct', origin], ...proxies] },
  ];
  const byId = Object.fromEntries(workloads.map((w) => [w.id, w]));
  const casesOf = (w) => w.servers.map(([server, child, tel]) => ({ w, server, child, tel, runs: [] }));
  const cases = workloads.flatMap(casesOf);
  // Run order within a round: bare Node, then Tiercel's 1 KiB variants (default, telemetry off,
  // 1%, 100%, L2) back to back, so the ratios between them see the same machine; then the rest.
  // The variants' order rotates by one each round, so no variant always follows the same one.
  const bareFirst = cases.filter((c) => c.w.id === 'l1-1k' && c.child === bare);
  const variants = [
    ...cases.filter((c) => c.w.id === 'l1-1k' && c.child === tiercel),
    ...cases.filter((c) => c.w.id === 'tel-1k'),
    ...cases.filter((c) => c.w.id === 'l2-1k'),
  ];
  const rest = cases.filter((c) => !bareFirst.includes(c) && !variants.includes(c));
  // Within each other workload the servers rotate by one each round too: a server that always
  // ran right after another (say, Tiercel after the origin had just served 50 connections
  // directly) would always inherit that one's aftermath. Seen with a fixed order: the proxy right
  // after "origin direct" counted 1.34× the CPU per pass-through request of the one after it,
  // two builds that callgrind put within 9% of each other.
  const rotate = (list, k) => (list.length === 0 ? list : [...list.slice(k % list.length), ...list.slice(0, k % list.length)]);
  const restOf = (round) => workloads.flatMap((w) => rotate(rest.filter((c) => c.w === w), round - 1));
  const orderOf = (round) => {
    const k = (round - 1) % variants.length;
    return [...bareFirst, ...variants.slice(k), ...variants.slice(0, k), ...restOf(round)];
  };
  const runOrder = orderOf(1);
  const perRound = cases.reduce((s, c) => s + c.w.load.duration, 0);
  log(`${cases.length} cases × ${CFG.reps} rounds, ~${Math.round((perRound * CFG.reps + cases.length * CFG.warmup) / 6) / 10} min of wrk; round 1 order: ${runOrder.map((c) => `${c.w.id}/${c.server}`).join(', ')} (Tiercel's 1 KiB variants rotate each round)`);

  // Warm-up (JIT, caches, upstream connection pools), not recorded.
  for (const c of runOrder) {
    await runWrk(c.child.port, c.w.path, { ...c.w.load, duration: c.w.load === single ? 1 : CFG.warmup });
  }

  const runChecks = [];
  // Rounds: every case once per round, so the cases interleave (ABCD ABCD ABCD) across the noise.
  for (let round = 1; round <= CFG.reps; round++) {
    for (const c of orderOf(round)) {
      const before = await getJson(origin.port, '/__counts');
      const statsBefore = tiercelLike(c.child) ? await stats(c.child) : null;
      const sinkBefore = c.tel?.sample !== undefined ? (await getJson(sink.port, '/__counts'))[`/${c.tel.id}`] ?? { requests: 0, bytes: 0, spans: 0 } : null;
      const cpuBefore = groupCpuSeconds(c.child.proc.pid);
      const redisCpuBefore = c.w.l2 ? groupCpuSeconds(redis.proc.pid) : 0;
      const r = await runWrk(c.child.port, c.w.path, c.w.load);
      const cpuAfter = groupCpuSeconds(c.child.proc.pid);
      const redisCpuAfter = c.w.l2 ? groupCpuSeconds(redis.proc.pid) : 0;
      const after = await getJson(origin.port, '/__counts');
      // CPU the server itself spent per response (user + system, all its processes and threads):
      // steadier than req/s on a shared machine, since time taken by other tenants is not counted.
      r.serverCpuSeconds = cpuAfter - cpuBefore;
      r.serverCpuUsPerRequest = (r.serverCpuSeconds * 1e6) / r.requests;
      r.originRequests = after[c.w.path] - before[c.w.path];
      if (statsBefore) {
        r.serverRssMiB = rssMiB(c.child.proc.pid);
        const statsAfter = await stats(c.child);
        r.tiercelL1Hits = statsAfter.l1Hits - statsBefore.l1Hits;
        r.tiercelL2Hits = statsAfter.l2Hits - statsBefore.l2Hits;
        r.tiercelMisses = statsAfter.misses - statsBefore.misses;
        // wrk counts the responses it read; up to one request per connection can be answered
        // after it stopped reading, so the server's count may exceed wrk's by that much.
        const served = c.w.l2 ? r.tiercelL2Hits : r.tiercelL1Hits;
        const other = c.w.l2 ? r.tiercelL1Hits : r.tiercelL2Hits;
        const ok = c.w.hit && served >= r.requests && served <= r.requests + c.w.load.connections && other === 0 && r.tiercelMisses === 0 && r.originRequests === 0;
        if (c.w.hit) runChecks.push({ round, workload: c.w.id, server: c.server, ok, wrkRequests: r.requests, l1Hits: r.tiercelL1Hits, l2Hits: r.tiercelL2Hits, misses: r.tiercelMisses, originRequests: r.originRequests });
        if (c.w.hit && !ok) log(`  warning: ${c.server} ${c.w.id}: wrk ${r.requests} requests, /stats l1Hits +${r.tiercelL1Hits}, l2Hits +${r.tiercelL2Hits}, misses +${r.tiercelMisses}, origin +${r.originRequests}`);
      }
      if (c.w.l2) {
        r.redisCpuSeconds = redisCpuAfter - redisCpuBefore;
        r.redisCpuUsPerRequest = (r.redisCpuSeconds * 1e6) / r.requests;
      }
      if (sinkBefore) {
        const s = (await getJson(sink.port, '/__counts'))[`/${c.tel.id}`] ?? { requests: 0, bytes: 0, spans: 0 };
        r.otlp = { posts: s.requests - sinkBefore.requests, bytes: s.bytes - sinkBefore.bytes, spans: s.spans - sinkBefore.spans };
      }
      c.runs.push(r);
      if (r.errorCount > 0) log(`  warning: ${c.server} ${c.w.id}: wrk errors ${JSON.stringify(r.errors)}`);
      if (c.w.hit && c.child !== bare && r.originRequests > 0) log(`  warning: ${c.server} ${c.w.id}: ${r.originRequests} requests reached the origin during a hit run`);
      log(`round ${round}/${CFG.reps} ${c.w.id.padEnd(7)} ${c.server.padEnd(13)} ${fmtRps(r.rps).padStart(7)} req/s  p50 ${fmtMs(r.latencyUs.p50)} ms  p99 ${fmtMs(r.latencyUs.p99)} ms  cpu ${r.serverCpuUsPerRequest.toFixed(1)} µs/req${r.serverRssMiB ? `  rss ${r.serverRssMiB} MiB` : ''}${r.redisCpuUsPerRequest !== undefined ? ` (+${r.redisCpuUsPerRequest.toFixed(1)} redis)` : ''}${r.otlp ? `  otlp +${r.otlp.spans} spans` : ''}`);
    }
  }
  const sinkTotals = sink ? await getJson(sink.port, '/__counts') : null;

  // ── summarise ──
  const results = cases.map((c) => ({
    workload: c.w.id,
    label: c.w.label,
    server: c.server,
    path: c.w.path,
    load: c.w.load,
    env: c.child.vars ?? undefined,
    rps: median(c.runs.map((r) => r.rps)),
    p50Us: median(c.runs.map((r) => r.latencyUs.p50)),
    p99Us: median(c.runs.map((r) => r.latencyUs.p99)),
    cpuUsPerRequest: median(c.runs.map((r) => r.serverCpuUsPerRequest)),
    redisCpuUsPerRequest: c.w.l2 ? median(c.runs.map((r) => r.redisCpuUsPerRequest)) : undefined,
    rpsMin: Math.min(...c.runs.map((r) => r.rps)),
    rpsMax: Math.max(...c.runs.map((r) => r.rps)),
    errors: c.runs.reduce((s, r) => s + r.errorCount, 0),
    originRequestsDuringRuns: c.runs.reduce((s, r) => s + r.originRequests, 0),
    otlp: c.tel?.sample !== undefined ? { sample: c.tel.sample, ...sinkTotals[`/${c.tel.id}`], requestsServedInRuns: c.runs.reduce((s, r) => s + r.requests, 0) } : undefined,
    runs: c.runs,
  }));
  const find = (w, s) => results.find((r) => r.workload === w && r.server === s) ?? null;
  for (const r of results) {
    const w = byId[r.workload];
    const b = w.baselineOf?.[r.server] ?? w.baseline;
    const base = typeof b === 'string' ? find(r.workload, b) : find(b.workload, b.server);
    r.baseline = base ? `${base.label} / ${base.server}` : null;
    r.rpsVsBaseline = base ? r.rps / base.rps : null;
    r.p50MinusBaselineMs = base ? (r.p50Us - base.p50Us) / 1000 : null;
    // The same ratio per round (both cases ran within a minute of each other), for the noise.
    r.rpsVsBaselinePerRound = base ? r.runs.map((x, i) => x.rps / base.runs[i].rps) : null;
  }

  // Telemetry: the default Tiercel's L1-hit 1 KiB row is the "metrics only" variant.
  const telRows = telemetry.map((t) => {
    const row = t.child === tiercel ? find('l1-1k', 'Tiercel') : results.find((r) => r.workload === 'tel-1k' && r.server.endsWith(t.label));
    return { ...t, row };
  });
  const telOff = telRows.find((t) => t.id === 'off')?.row ?? null;
  const telDefault = telRows.find((t) => t.id === 'metrics')?.row ?? null;
  for (const t of telRows) {
    t.rpsVsDefault = telDefault ? t.row.rps / telDefault.rps : null;
    t.rpsVsOff = telOff ? t.row.rps / telOff.rps : null;
    t.rpsVsOffPerRound = telOff ? t.row.runs.map((x, i) => x.rps / telOff.runs[i].rps) : null;
    t.cpuVsOff = telOff ? t.row.cpuUsPerRequest / telOff.cpuUsPerRequest : null;
  }
  const telTarget = telRows.find((t) => t.id === TELEMETRY_TARGET.id);
  // The traced variants must have exported spans (all requests each served: warm-up and checks too).
  for (const t of telRows) {
    const st = await stats(t.child);
    t.requestsServed = st.hits + st.misses;
    if (t.sample === undefined) continue;
    t.spansPerRequest = (t.row.otlp?.spans ?? 0) / t.requestsServed;
    if (!(t.row.otlp?.spans > 0) || t.row.otlp.decodeErrors !== 0) {
      log(`  warning: tiercel ${t.id}: no spans reached the OTLP sink (${JSON.stringify(t.row.otlp)})`);
      notes.push(`tiercel ${t.id} exported no spans ❌ (${JSON.stringify(t.row.otlp)})`);
    }
  }

  const names = proxies.map(([n]) => n);
  const l2Row = results.find((r) => r.workload === 'l2-1k') ?? null;
  const ratioRows = [
    ...['l1-1k', 'l1-100k'].map((w) => ({
      metric: `${byId[w].label}: req/s ÷ bare Node req/s`,
      target: '≥ 0.85', ok: (v) => v >= 0.85, fmt: fmtRatio,
      values: Object.fromEntries(names.map((n) => [n, find(w, n)?.rpsVsBaseline ?? null])),
    })),
    ...(l2Row ? [{
      metric: 'L2 hit, 1 KiB: req/s ÷ Tiercel L1-hit 1 KiB req/s',
      target: `≥ ${L2_TARGET}`, ok: (v) => v >= L2_TARGET, fmt: fmtRatio,
      values: { Tiercel: l2Row.rpsVsBaseline },
    }] : []),
    ...(telTarget && telOff ? [{
      metric: 'L1 hit, 1 KiB, metrics + 1% traces: req/s ÷ telemetry-off req/s',
      target: `≥ ${TELEMETRY_TARGET.min.toFixed(2)}`, ok: (v) => v >= TELEMETRY_TARGET.min, fmt: fmtRatio,
      values: { Tiercel: telTarget.rpsVsOff },
    }] : []),
    ...['pass', 'pass-c1'].map((w) => ({
      metric: `${byId[w].label}: p50 − origin-direct p50`,
      target: '≤ 1 ms', ok: (v) => v <= 1, fmt: fmtDelta,
      values: Object.fromEntries(names.map((n) => [n, find(w, n)?.p50MinusBaselineMs ?? null])),
    })),
  ];

  const loadText = `wrk ${CFG.threads} threads / ${CFG.connections} keep-alive connections, ${CFG.duration} s per run (pass-through at 1 connection: 1 thread, ${CFG.c1Duration} s), ${CFG.warmup} s warm-up per case, ${CFG.reps} interleaved rounds, median shown`;
  const spread = (r) => `±${(((r.rpsMax - r.rpsMin) / 2 / r.rps) * 100).toFixed(0)}%`;
  const md = [];
  md.push(`Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.memoryGiB} GiB, ${mach.kernel}; Node ${mach.node}; nginx ${mach.nginx ?? 'absent'}; Varnish ${mach.varnish ?? 'absent'}; Redis ${mach.redis ?? 'absent'}; ${mach.wrk}. Tiercel ${mach.tiercelCommit ?? ''}. Load average at start: ${mach.loadavgAtStart.join(', ')}.`);
  md.push('');
  md.push(`Load: ${loadText}. Everything on 127.0.0.1${CFG.pin ? ', servers pinned to CPU 0 and wrk to CPU 1' : ', no CPU pinning'}.`);
  md.push('');
  md.push('| workload | server | req/s | spread | p50 (ms) | p99 (ms) | CPU µs/req | vs baseline |');
  md.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results.filter((x) => x.workload !== 'tel-1k')) {
    const w = byId[r.workload];
    const isBase = r.server === w.baseline;
    const vs = isBase ? 'baseline' : w.baselineOf ? `${fmtRatio(r.rpsVsBaseline)}× req/s of 1 worker` : w.l2 ? `${fmtRatio(r.rpsVsBaseline)}× Tiercel L1 req/s` : w.hit ? `${fmtRatio(r.rpsVsBaseline)}× req/s` : `${fmtDelta(r.p50MinusBaselineMs)} p50`;
    const cpu = r.redisCpuUsPerRequest !== undefined ? `${r.cpuUsPerRequest.toFixed(1)} + ${r.redisCpuUsPerRequest.toFixed(1)} Redis` : r.cpuUsPerRequest.toFixed(1);
    md.push(`| ${r.label} | ${r.server} | ${fmtRps(r.rps)} | ${spread(r)} | ${fmtMs(r.p50Us)} | ${fmtMs(r.p99Us)} | ${cpu} | ${vs}${r.errors ? ` (${r.errors} errors)` : ''} |`);
  }
  md.push('');
  md.push(`| ratio | target | ${names.join(' | ')} |`);
  md.push(`| --- | --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const row of ratioRows) {
    const cells = names.map((n) => {
      const v = row.values[n];
      if (v === null || v === undefined) return '—';
      return n === 'Tiercel' ? `${row.fmt(v)} ${row.ok(v) ? '✅' : '❌'}` : row.fmt(v);
    });
    md.push(`| ${row.metric} | ${row.target} | ${cells.join(' | ')} |`);
  }
  md.push('');
  md.push('spread: half the min–max range of the rounds\' req/s, relative to the median. CPU µs/req: CPU time (user + system) of the server\'s own processes per response, median of the rounds (the origin\'s share is not included; for the L2 row, Redis\'s share is shown after the +). Targets apply to Tiercel; nginx and Varnish are shown for comparison.');
  md.push('"Tiercel" is Tiercel with its default telemetry: metrics on (Prometheus on the admin port), traces off. "Tiercel L2 (L1 refuses)" is a second Tiercel with REDIS_ENABLED=true against a redis-server started by the bench (`--save \'\' --appendonly no`), CACHE_MAX_OBJECT_SIZE=1024 so that L1 refuses the 1 KiB object\'s entry and every hit comes from Redis (REDIS_MAX_OBJECT_SIZE=1m).');
  const l2Checks = runChecks.filter((x) => x.workload === 'l2-1k');
  if (l2Checks.length) {
    const bad = l2Checks.filter((x) => !x.ok);
    md.push(`L2 runs checked: its /stats l2Hits grew by wrk's request count (up to one in-flight request per connection more) with no L1 hits or misses, and the origin saw nothing, in ${l2Checks.length - bad.length} of ${l2Checks.length} runs${bad.length ? ` ❌ (${bad.map((x) => `round ${x.round}: wrk ${x.wrkRequests}, l2Hits +${x.l2Hits}, l1Hits +${x.l1Hits}, misses +${x.misses}, origin +${x.originRequests}`).join('; ')})` : ' ✅'}; its second request before timing said \`${checks['tiercel-l2 /1k']['cache-status']}\`.`);
  }
  for (const n of notes) md.push(`Note: ${n}.`);

  // Workers: the same L1-hit 1 KiB load on one and two workers of Tiercel and of nginx.
  const workerRows = [
    ['Tiercel', 1, find('l1-1k', 'Tiercel')], ['Tiercel', 2, find('workers-1k', 'Tiercel, WORKERS=2')],
    ['nginx', 1, find('l1-1k', 'nginx')], ['nginx', 2, find('workers-1k', 'nginx, 2 workers')],
  ].filter(([, , r]) => r !== null).map(([server, workers, r]) => {
    const one = find('l1-1k', server);
    return { server, workers, rps: r.rps, cpuUsPerRequest: r.cpuUsPerRequest, p50Us: r.p50Us, p99Us: r.p99Us, rpsVsOne: r.rps / one.rps, cpuVsOne: r.cpuUsPerRequest / one.cpuUsPerRequest, rpsVsOnePerRound: r.runs.map((x, i) => x.rps / one.runs[i].rps), spread: spread(r) };
  });
  if (workerRows.some((x) => x.workers === 2)) {
    md.push('');
    md.push(`Workers, L1 hit of 1 KiB (same load and rounds; wrk runs on the same ${mach.cores} cores as the server):`);
    md.push('');
    md.push('| server | workers | req/s | spread | p50 (ms) | p99 (ms) | CPU µs/req | req/s ÷ 1 worker | per round | CPU/req ÷ 1 worker |');
    md.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const x of workerRows) {
      md.push(`| ${x.server} | ${x.workers} | ${fmtRps(x.rps)} | ${x.spread} | ${fmtMs(x.p50Us)} | ${fmtMs(x.p99Us)} | ${x.cpuUsPerRequest.toFixed(1)} | ${x.workers === 1 ? 'baseline' : fmtRatio(x.rpsVsOne)} | ${x.workers === 1 ? '' : x.rpsVsOnePerRound.map(fmtRatio).join(' / ')} | ${x.workers === 1 ? 'baseline' : fmtRatio(x.cpuVsOne)} |`);
    }
    md.push('');
    md.push('Tiercel WORKERS=2: one primary (supervision, the admin port) and two workers bound to the data port with SO_REUSEPORT, each with half of CACHE_SIZE_MB, both holding the object in their own L1 before timing (no IPC on an L1 hit). nginx: `worker_processes 2`, otherwise the configuration above. CPU µs/req counts every process of the server (Tiercel\'s primary included).');
  }

  if (telRows.length) {
    md.push('');
    md.push(`Telemetry overhead, L1 hit of 1 KiB (same load and rounds; the four Tiercel processes ran back to back within each round, their order rotated by one each round):`);
    md.push('');
    md.push('| Tiercel telemetry | req/s | spread | p50 (ms) | p99 (ms) | CPU µs/req | req/s ÷ telemetry off | per round | CPU ÷ telemetry off | req/s ÷ metrics only | spans exported (OTLP POSTs, MB) |');
    md.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const t of telRows) {
      const r = t.row;
      const ratio = t.id === 'off' ? 'baseline' : `${fmtRatio(t.rpsVsOff)}${t.id === TELEMETRY_TARGET.id ? ` ${t.rpsVsOff >= TELEMETRY_TARGET.min ? '✅' : '❌'}` : ''}`;
      const perRound = t.id === 'off' ? '' : t.rpsVsOffPerRound.map(fmtRatio).join(' / ');
      const otlp = r.otlp ? `${fmtRps(r.otlp.spans)} (${fmtRps(r.otlp.requests)}, ${(r.otlp.bytes / 1e6).toFixed(1)})` : '—';
      md.push(`| ${t.label} | ${fmtRps(r.rps)} | ${spread(r)} | ${fmtMs(r.p50Us)} | ${fmtMs(r.p99Us)} | ${r.cpuUsPerRequest.toFixed(1)} | ${ratio} | ${perRound} | ${t.id === 'off' ? 'baseline' : fmtRatio(t.cpuVsOff)} | ${t.id === 'metrics' ? '' : fmtRatio(t.rpsVsDefault)} | ${otlp} |`);
    }
    md.push('');
    const traced = telRows.filter((t) => t.sample !== undefined);
    md.push(`Target: metrics + 1% traces keeps ≥ ${TELEMETRY_TARGET.min.toFixed(2)}× the req/s of telemetry off. Traced variants: OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP sink run by the bench (node:http, POST …/v1/traces answered 200 with an empty body, protobuf decoded to count spans), OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.01 or 1; SDK batch-processor defaults. Spans received by the sink over the whole run: ${traced.map((t) => `${t.id} ${fmtRps(t.row.otlp?.spans ?? 0)} for the ${fmtRps(t.requestsServed)} requests that instance served, warm-up included (${t.spansPerRequest.toFixed(4)} per request)`).join('; ')}. The per-round column is each round's req/s ratio, both cases measured back to back.`);
  }
  let https = null;
  if (CFG.skip.has('https')) md.push('Note: HTTPS rows skipped (BENCH_SKIP).');
  else {
    https = await httpsBench(CFG, origin);
    md.push(...https.md);
  }
  const table = md.join('\n');

  const output = {
    https,
    generatedAt: new Date().toISOString(),
    machine: mach,
    config: { ...CFG, skip: [...CFG.skip], out: undefined },
    notes,
    checks,
    runChecks,
    nginxWorkers: nginx ? CFG.nginxWorkers : null,
    workers: workerRows,
    results,
    ratios: ratioRows.map((r) => ({ metric: r.metric, target: r.target, values: r.values, tiercelMeetsTarget: r.values.Tiercel != null ? r.ok(r.values.Tiercel) : null })),
    telemetry: telRows.map((t) => ({ id: t.id, label: t.label, env: t.vars ?? 'defaults', rps: t.row.rps, p50Us: t.row.p50Us, p99Us: t.row.p99Us, cpuUsPerRequest: t.row.cpuUsPerRequest, rpsVsOff: t.rpsVsOff, rpsVsOffPerRound: t.rpsVsOffPerRound, rpsVsDefault: t.rpsVsDefault, cpuVsOff: t.cpuVsOff, otlp: t.row.otlp, requestsServed: t.requestsServed, spansPerRequest: t.spansPerRequest })),
    otlpSink: sinkTotals,
    table,
  };
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, `${JSON.stringify(output, null, 2)}\n`);
  writeFileSync(CFG.out.replace(/\.json$/, '.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n\nResults: ${CFG.out}\n`);
}

runMain(main);
