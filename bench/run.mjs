// `npm run bench`: Tiercel against a bare node:http server, the origin itself, nginx proxy_cache
// and Varnish, all on loopback, measured with wrk in one run. Prints a Markdown table and writes
// bench/results/latest.json (+ latest.md). Every process it starts is killed on exit, error or
// Ctrl-C; a small reaper process kills them even if this script is killed with SIGKILL.
//
// Knobs (environment): BENCH_DURATION (s, default 8), BENCH_WARMUP (s, 1), BENCH_REPS (3),
// BENCH_THREADS (2), BENCH_CONNECTIONS (50), BENCH_C1_DURATION (s, 2), BENCH_NGINX_WORKERS (1),
// BENCH_PIN=1 (servers on CPU 0, wrk on CPU 1; measured: no steadier, so off by default),
// BENCH_SKIP=nginx,varnish, BENCH_OUT (JSON path; a .md with the table goes beside it),
// BENCH_KEEP_TMP=1 (keep the temp dir with the servers' logs and nginx config).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBody, OBJECTS } from './common.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');
const env = process.env;
const num = (name, fallback) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback);
const CFG = {
  duration: Math.max(1, Math.round(num('BENCH_DURATION', 8))),
  warmup: Math.max(1, Math.round(num('BENCH_WARMUP', 1))),
  reps: num('BENCH_REPS', 3),
  threads: num('BENCH_THREADS', 2),
  connections: num('BENCH_CONNECTIONS', 50),
  c1Duration: Math.max(1, Math.round(num('BENCH_C1_DURATION', 2))),
  nginxWorkers: num('BENCH_NGINX_WORKERS', 1),
  pin: env.BENCH_PIN === '1',
  skip: new Set((env.BENCH_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean)),
  out: env.BENCH_OUT || join(BENCH, 'results', 'latest.json'),
};
const BIN = { wrk: '/usr/bin/wrk', nginx: '/usr/sbin/nginx', varnishd: '/usr/sbin/varnishd', taskset: '/usr/bin/taskset' };

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── processes ────────────────────────────────────────────────────────────────────────────────
/** Everything started, each in its own process group (detached), killed by group id. */
const children = [];
let tmp = null;
let reaper = null;

/** A process that kills our process groups if this script dies without cleaning up (its stdin closes). */
function startReaper() {
  const code = `
    const groups = new Set(); let buf = ''; let dir = null;
    const kill = (sig) => { for (const g of groups) { try { process.kill(-g, sig); } catch {} } };
    process.stdin.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1);
      const [op, arg] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
      if (op === 'add') groups.add(Number(arg)); else if (op === 'del') groups.delete(Number(arg)); else if (op === 'dir') dir = arg; } });
    process.stdin.on('end', () => { kill('SIGTERM'); setTimeout(() => { kill('SIGKILL');
      if (dir) setTimeout(() => { require('node:fs').rmSync(dir, { recursive: true, force: true }); process.exit(0); }, 200); else process.exit(0); }, 1500); });
    process.on('SIGINT', () => {}); process.on('SIGTERM', () => {});`;
  reaper = spawn(process.execPath, ['-e', code], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.unref();
}

function reaperSay(line) {
  if (reaper && reaper.stdin.writable) reaper.stdin.write(`${line}\n`);
}

function start(name, cmd, args, { env: extraEnv = {}, pin = CFG.pin ? '0' : null, nodeChild = false } = {}) {
  if (pin !== null) {
    args = ['-c', pin, cmd, ...args];
    cmd = BIN.taskset;
  }
  const proc = spawn(cmd, args, {
    detached: true,
    env: { ...env, ...extraEnv },
    // Node children exit when their stdin closes, so they cannot outlive this script.
    stdio: [nodeChild ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const logFile = createWriteStream(join(tmp, `${name}.log`));
  proc.stdout.pipe(logFile, { end: false });
  proc.stderr.pipe(logFile, { end: false });
  const child = { name, proc, exited: false, logPath: join(tmp, `${name}.log`) };
  proc.on('exit', (code, signal) => {
    child.exited = true;
    child.exit = { code, signal };
    reaperSay(`del ${proc.pid}`);
  });
  proc.on('error', (err) => log(`${name}: ${err.message}`));
  children.push(child);
  if (proc.pid !== undefined) reaperSay(`add ${proc.pid}`);
  return child;
}

function signalAll(sig) {
  for (const c of children) {
    if (!c.exited && c.proc.pid !== undefined) {
      try { process.kill(-c.proc.pid, sig); } catch { /* already gone */ }
    }
  }
}

let stopping = null;
let failed = false;
function stopAll() {
  stopping ??= (async () => {
    signalAll('SIGTERM');
    const deadline = Date.now() + 4000;
    while (children.some((c) => !c.exited) && Date.now() < deadline) await sleep(50);
    signalAll('SIGKILL');
    // Varnish's and nginx's children are in the same group; give the kernel a moment.
    await sleep(100);
    if (tmp && !env.BENCH_KEEP_TMP && !failed) rmSync(tmp, { recursive: true, force: true });
    else if (tmp) log(`servers' logs kept in ${tmp}`);
    if (failed) reaperSay('dir '); // keep the logs
    reaper?.stdin.end();
  })();
  return stopping;
}

process.on('exit', () => signalAll('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping every server`);
    stopAll().finally(() => process.exit(130));
  });
}

/** Waits for the "LISTENING <port>" line a bench server prints. */
function listeningPort(child, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${child.name} did not start in ${timeoutMs} ms`)), timeoutMs);
    child.proc.stdout.on('data', (d) => {
      buf += d;
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    child.proc.once('exit', () => { clearTimeout(t); reject(new Error(`${child.name} exited early; see its log`)); });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ── HTTP checks ──────────────────────────────────────────────────────────────────────────────
function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitHttp(child, port, path, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exited) throw new Error(`${child.name} exited (${JSON.stringify(child.exit)}):\n${tail(child.logPath)}`);
    try {
      const r = await get(port, path);
      // Another program could hold a port freePort() handed out: only a 200 from ours counts.
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return r;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${child.name} not answering on ${port}: ${err.message}\n${tail(child.logPath)}`);
      await sleep(100);
    }
  }
}

function tail(path) {
  try { return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; }
}

async function originCounts(port) {
  return JSON.parse((await get(port, '/__counts')).body.toString());
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** user + system CPU seconds of every process in a process group (/proc/PID/stat fields 14, 15). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

// ── machine ──────────────────────────────────────────────────────────────────────────────────
function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return null;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim())?.trim() ?? null;
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const git = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  // dist/ is built from the work tree: say so when src/ differs from the commit.
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout?.trim();
  return {
    cpu: model,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: existsSync(BIN.nginx) ? versionOf(BIN.nginx, ['-v'])?.replace(/^nginx version:\s*/, '') : null,
    varnish: existsSync(BIN.varnishd) ? versionOf(BIN.varnishd, ['-V'])?.replace(/^varnishd\s*/, '') : null,
    wrk: versionOf(BIN.wrk, ['-v'])?.replace(/\s*Copyright.*$/, ''),
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    tiercelCommit: git.status === 0 ? `${git.stdout.trim()}${dirty ? '+dirty' : ''}` : null,
  };
}

// ── the servers ──────────────────────────────────────────────────────────────────────────────
async function startNodeServer(name, script, args = []) {
  const child = start(name, process.execPath, [join(BENCH, script), ...args], { nodeChild: true });
  child.port = await listeningPort(child);
  return child;
}

async function startTiercel(originPort) {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const child = start('tiercel', process.execPath, [join(ROOT, 'dist/src/main.js')], {
    env: { PROXY_PORT: String(proxyPort), ADMIN_PORT: String(adminPort), UPSTREAM_URL: `http://127.0.0.1:${originPort}`, LOG_LEVEL: 'silent' },
  });
  child.port = proxyPort;
  child.adminPort = adminPort;
  await waitHttp(child, adminPort, '/stats');
  return child;
}

async function startNginx(originPort) {
  const dir = join(tmp, 'nginx');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = `# generated by bench/run.mjs
worker_processes ${CFG.nginxWorkers};
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
  const child = start('nginx', BIN.nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log')]);
  child.port = port;
  child.logPath = join(dir, 'logs/error.log');
  await waitHttp(child, port, '/__counts');
  return child;
}

async function startVarnish(originPort) {
  const dir = join(tmp, 'varnish');
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

// ── statistics and formatting ────────────────────────────────────────────────────────────────
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtRps = (x) => Math.round(x).toLocaleString('en-US');
const fmtMs = (us) => (us / 1000).toFixed(2);
const fmtRatio = (x) => (x === null ? '—' : x.toFixed(2));
const fmtDelta = (ms) => (ms === null ? '—' : `${ms >= 0 ? '+' : ''}${ms.toFixed(2)} ms`);

// ── main ─────────────────────────────────────────────────────────────────────────────────────
async function main() {
  if (!existsSync(BIN.wrk)) throw new Error(`${BIN.wrk} not found: install wrk (apt-get install wrk)`);
  if (Number(process.versions.node.split('.')[0]) !== 24) log(`warning: running on Node ${process.version}, Tiercel expects 24 (export PATH=node_modules/.bin:$PATH)`);
  if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js missing: run `npm run build` (npm run bench does)');
  tmp = mkdtempSync(join(os.tmpdir(), 'tiercel-bench-'));
  chmodSync(tmp, 0o755); // nginx workers and Varnish's child drop privileges when started as root
  startReaper();
  if (!env.BENCH_KEEP_TMP) reaperSay(`dir ${tmp}`);
  const notes = [];
  const mach = machine();
  log(`machine: ${mach.cpu}, ${mach.cores} cores, Node ${mach.node}; temp dir ${tmp}`);

  // Origin and Tiercel.
  const origin = await startNodeServer('origin', 'origin.mjs');
  const tiercel = await startTiercel(origin.port);
  log(`origin :${origin.port}, tiercel :${tiercel.port} (admin :${tiercel.adminPort})`);

  // Tiercel: a miss stores, the next request is an L1 hit; /pass is never stored.
  const hitHeaders = {};
  const checks = {};
  for (const path of ['/1k', '/100k']) {
    const first = await get(tiercel.port, path);
    const second = await get(tiercel.port, path);
    check(first.status === 200 && second.status === 200, `tiercel ${path} answers 200`);
    check(/; hit/.test(second.headers['cache-status'] ?? '') && second.headers['x-cache'] === 'HIT', `tiercel ${path} second request is an L1 hit (cache-status: ${second.headers['cache-status']})`);
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

  const proxies = [['Tiercel', tiercel], ['nginx', nginx], ['Varnish', varnish]].filter(([, c]) => c !== null);
  const loaded = { threads: CFG.threads, connections: CFG.connections, duration: CFG.duration };
  const single = { threads: 1, connections: 1, duration: CFG.c1Duration };
  const workloads = [
    { id: 'l1-1k', label: 'L1 hit, 1 KiB', path: '/1k', load: loaded, hit: true, baseline: 'bare Node', servers: [['bare Node', bare], ...proxies] },
    { id: 'l1-100k', label: 'L1 hit, 100 KiB', path: '/100k', load: loaded, hit: true, baseline: 'bare Node', servers: [['bare Node', bare], ...proxies] },
    { id: 'pass', label: 'pass-through (no-store), 1 KiB', path: '/pass', load: loaded, hit: false, baseline: 'origin direct', servers: [['origin direct', origin], ...proxies] },
    { id: 'pass-c1', label: 'pass-through, 1 connection', path: '/pass', load: single, hit: false, baseline: 'origin direct', servers: [['origin direct', origin], ...proxies] },
  ];
  const cases = workloads.flatMap((w) => w.servers.map(([server, child]) => ({ w, server, child, runs: [] })));
  const perRound = cases.reduce((s, c) => s + c.w.load.duration, 0);
  log(`${cases.length} cases × ${CFG.reps} rounds, ~${Math.round((perRound * CFG.reps + cases.length * CFG.warmup) / 6) / 10} min of wrk`);

  // Warm-up (JIT, caches, upstream connection pools), not recorded.
  for (const c of cases) {
    await runWrk(c.child.port, c.w.path, { ...c.w.load, duration: c.w.load === single ? 1 : CFG.warmup });
  }

  // Rounds: every case once per round, so the cases interleave (ABCD ABCD ABCD) across the noise.
  for (let round = 1; round <= CFG.reps; round++) {
    for (const c of cases) {
      const before = await originCounts(origin.port);
      const statsBefore = c.child === tiercel ? JSON.parse((await get(tiercel.adminPort, '/stats')).body) : null;
      const cpuBefore = groupCpuSeconds(c.child.proc.pid);
      const r = await runWrk(c.child.port, c.w.path, c.w.load);
      const cpuAfter = groupCpuSeconds(c.child.proc.pid);
      const after = await originCounts(origin.port);
      // CPU the server itself spent per response (user + system, all its processes and threads):
      // steadier than req/s on a shared machine, since time taken by other tenants is not counted.
      r.serverCpuSeconds = cpuAfter - cpuBefore;
      r.serverCpuUsPerRequest = (r.serverCpuSeconds * 1e6) / r.requests;
      r.originRequests = after[c.w.path] - before[c.w.path];
      if (statsBefore) {
        const statsAfter = JSON.parse((await get(tiercel.adminPort, '/stats')).body);
        r.tiercelL1Hits = statsAfter.l1Hits - statsBefore.l1Hits;
      }
      c.runs.push(r);
      if (r.errorCount > 0) log(`  warning: ${c.server} ${c.w.id}: wrk errors ${JSON.stringify(r.errors)}`);
      if (c.w.hit && c.child !== bare && r.originRequests > 0) log(`  warning: ${c.server} ${c.w.id}: ${r.originRequests} requests reached the origin during a hit run`);
      log(`round ${round}/${CFG.reps} ${c.w.id.padEnd(7)} ${c.server.padEnd(13)} ${fmtRps(r.rps).padStart(7)} req/s  p50 ${fmtMs(r.latencyUs.p50)} ms  p99 ${fmtMs(r.latencyUs.p99)} ms  cpu ${r.serverCpuUsPerRequest.toFixed(1)} µs/req`);
    }
  }

  // ── summarise ──
  const results = cases.map((c) => ({
    workload: c.w.id,
    label: c.w.label,
    server: c.server,
    path: c.w.path,
    load: c.w.load,
    rps: median(c.runs.map((r) => r.rps)),
    p50Us: median(c.runs.map((r) => r.latencyUs.p50)),
    p99Us: median(c.runs.map((r) => r.latencyUs.p99)),
    cpuUsPerRequest: median(c.runs.map((r) => r.serverCpuUsPerRequest)),
    rpsMin: Math.min(...c.runs.map((r) => r.rps)),
    rpsMax: Math.max(...c.runs.map((r) => r.rps)),
    errors: c.runs.reduce((s, r) => s + r.errorCount, 0),
    originRequestsDuringRuns: c.runs.reduce((s, r) => s + r.originRequests, 0),
    runs: c.runs,
  }));
  const find = (w, s) => results.find((r) => r.workload === w && r.server === s) ?? null;
  for (const r of results) {
    const w = workloads.find((x) => x.id === r.workload);
    const base = find(r.workload, w.baseline);
    r.rpsVsBaseline = base ? r.rps / base.rps : null;
    r.p50MinusBaselineMs = base ? (r.p50Us - base.p50Us) / 1000 : null;
  }

  const names = proxies.map(([n]) => n);
  const ratioRows = [
    ...['l1-1k', 'l1-100k'].map((w) => ({
      metric: `${workloads.find((x) => x.id === w).label}: req/s ÷ bare Node req/s`,
      target: '≥ 0.85', ok: (v) => v >= 0.85, fmt: fmtRatio,
      values: Object.fromEntries(names.map((n) => [n, find(w, n)?.rpsVsBaseline ?? null])),
    })),
    ...['pass', 'pass-c1'].map((w) => ({
      metric: `${workloads.find((x) => x.id === w).label}: p50 − origin-direct p50`,
      target: '≤ 1 ms', ok: (v) => v <= 1, fmt: fmtDelta,
      values: Object.fromEntries(names.map((n) => [n, find(w, n)?.p50MinusBaselineMs ?? null])),
    })),
  ];

  const loadText = `wrk ${CFG.threads} threads / ${CFG.connections} keep-alive connections, ${CFG.duration} s per run (pass-through at 1 connection: 1 thread, ${CFG.c1Duration} s), ${CFG.warmup} s warm-up per case, ${CFG.reps} interleaved rounds, median shown`;
  const md = [];
  md.push(`Machine: ${mach.cpu}, ${mach.cores} cores, ${mach.memoryGiB} GiB, ${mach.kernel}; Node ${mach.node}; nginx ${mach.nginx ?? 'absent'}; Varnish ${mach.varnish ?? 'absent'}; ${mach.wrk}. Tiercel ${mach.tiercelCommit ?? ''}.`);
  md.push('');
  md.push(`Load: ${loadText}. Everything on 127.0.0.1${CFG.pin ? ', servers pinned to CPU 0 and wrk to CPU 1' : ', no CPU pinning'}.`);
  md.push('');
  md.push('| workload | server | req/s | spread | p50 (ms) | p99 (ms) | CPU µs/req | vs baseline |');
  md.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const w = workloads.find((x) => x.id === r.workload);
    const isBase = r.server === w.baseline;
    const vs = isBase ? 'baseline' : w.hit ? `${fmtRatio(r.rpsVsBaseline)}× req/s` : `${fmtDelta(r.p50MinusBaselineMs)} p50`;
    const spread = `±${(((r.rpsMax - r.rpsMin) / 2 / r.rps) * 100).toFixed(0)}%`;
    md.push(`| ${r.label} | ${r.server} | ${fmtRps(r.rps)} | ${spread} | ${fmtMs(r.p50Us)} | ${fmtMs(r.p99Us)} | ${r.cpuUsPerRequest.toFixed(1)} | ${vs}${r.errors ? ` (${r.errors} errors)` : ''} |`);
  }
  md.push('');
  md.push(`| ratio | target | ${names.join(' | ')} |`);
  md.push(`| --- | --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const row of ratioRows) {
    const cells = names.map((n) => {
      const v = row.values[n];
      if (v === null) return '—';
      return n === 'Tiercel' ? `${row.fmt(v)} ${row.ok(v) ? '✅' : '❌'}` : row.fmt(v);
    });
    md.push(`| ${row.metric} | ${row.target} | ${cells.join(' | ')} |`);
  }
  md.push('');
  md.push('spread: half the min–max range of the rounds\' req/s, relative to the median. CPU µs/req: CPU time (user + system) of the server\'s own processes per response, median of the rounds (the origin\'s share is not included). Targets apply to Tiercel; nginx and Varnish are shown for comparison.');
  for (const n of notes) md.push(`Note: ${n}.`);
  const table = md.join('\n');

  const output = {
    generatedAt: new Date().toISOString(),
    machine: mach,
    config: { ...CFG, skip: [...CFG.skip], out: undefined },
    notes,
    checks,
    nginxWorkers: nginx ? CFG.nginxWorkers : null,
    results,
    ratios: ratioRows.map((r) => ({ metric: r.metric, target: r.target, values: r.values, tiercelMeetsTarget: r.values.Tiercel != null ? r.ok(r.values.Tiercel) : null })),
    table,
  };
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, `${JSON.stringify(output, null, 2)}\n`);
  writeFileSync(CFG.out.replace(/\.json$/, '.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n\nResults: ${CFG.out}\n`);
}

const t0 = Date.now();
main()
  .catch((err) => {
    if (stopping) return; // interrupted: the signal handler is already cleaning up
    log(`failed: ${err.stack ?? err}`);
    for (const c of children) {
      if (c.exited && c.name !== 'wrk') log(`${c.name} had exited (${JSON.stringify(c.exit)}); its log ends:\n${tail(c.logPath)}`);
    }
    failed = true;
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    log(`done in ${Math.round((Date.now() - t0) / 1000)} s; all servers stopped`);
  });
