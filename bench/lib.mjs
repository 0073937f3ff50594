// Shared by bench/run.mjs and bench/zipf.mjs: starting servers on loopback (each in its own
// process group), finding them, killing every one of them on exit, error, Ctrl-C or SIGKILL of
// the script (a reaper process watches our stdin pipe), plain HTTP checks and CPU accounting.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH, '..');
export const BIN = {
  wrk: '/usr/bin/wrk', nginx: '/usr/sbin/nginx', varnishd: '/usr/sbin/varnishd', taskset: '/usr/bin/taskset',
  redis: '/usr/bin/redis-server',
};
const env = process.env;

let prefix = 'bench';
export const log = (msg) => process.stderr.write(`[${prefix}] ${msg}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── processes ────────────────────────────────────────────────────────────────────────────────
/** Everything started, each in its own process group (detached), killed by group id. */
export const children = [];
let tmp = null;
let reaper = null;
let pinServers = false;

export const tmpDir = () => tmp;

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

export function reaperSay(line) {
  if (reaper && reaper.stdin.writable) reaper.stdin.write(`${line}\n`);
}

/** Temp dir, reaper, signal handlers. `name` prefixes log lines and the temp dir. */
export function setup(name, { pin = false } = {}) {
  prefix = name;
  pinServers = pin;
  tmp = mkdtempSync(join(os.tmpdir(), `tiercel-${name}-`));
  chmodSync(tmp, 0o755); // nginx workers and Varnish's child drop privileges when started as root
  startReaper();
  if (!env.BENCH_KEEP_TMP) reaperSay(`dir ${tmp}`);
  process.on('exit', () => signalAll('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`${sig}: stopping every server`);
      stopAll().finally(() => process.exit(130));
    });
  }
  return tmp;
}

export function start(name, cmd, args, { env: extraEnv = {}, replaceEnv = null, pin = pinServers ? '0' : null, nodeChild = false } = {}) {
  if (pin !== null) {
    args = ['-c', pin, cmd, ...args];
    cmd = BIN.taskset;
  }
  const proc = spawn(cmd, args, {
    detached: true,
    env: { ...(replaceEnv ?? env), ...extraEnv },
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

/** Stops one server (its whole process group) and waits for it to go. */
export async function stopOne(child, timeoutMs = 4000) {
  if (child.exited || child.proc.pid === undefined) return;
  try { process.kill(-child.proc.pid, 'SIGTERM'); } catch { /* gone */ }
  const deadline = Date.now() + timeoutMs;
  while (!child.exited && Date.now() < deadline) await sleep(25);
  if (!child.exited) {
    try { process.kill(-child.proc.pid, 'SIGKILL'); } catch { /* gone */ }
    while (!child.exited) await sleep(25);
  }
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
export const isStopping = () => stopping !== null;
export function stopAll() {
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

/** Runs main(), reports a failure with the logs of servers that died, and always stops everything. */
export function runMain(main) {
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
}

/** Waits for the "LISTENING <port>" line a bench server prints. */
export function listeningPort(child, timeoutMs = 10_000) {
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

export function freePort() {
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
export function get(port, path, method = 'GET', headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false, timeout: 5000 }, (res) => {
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

export const getJson = async (port, path) => JSON.parse((await get(port, path)).body.toString());

export async function waitHttp(child, port, path, timeoutMs = 15_000) {
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

export function tail(path) {
  try { return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; }
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** user + system CPU seconds of every process in a process group (/proc/PID/stat fields 14, 15). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
export function groupCpuSeconds(pgid) {
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

export function machine() {
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
    redis: existsSync(BIN.redis) ? versionOf(BIN.redis, ['--version'])?.replace(/^Redis server v=(\S+).*$/, '$1') : null,
    wrk: versionOf(BIN.wrk, ['-v'])?.replace(/\s*Copyright.*$/, ''),
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    tiercelCommit: git.status === 0 ? `${git.stdout.trim()}${dirty ? '+dirty' : ''}` : null,
  };
}

export function checkNode() {
  if (Number(process.versions.node.split('.')[0]) !== 24) log(`warning: running on Node ${process.version}, Tiercel expects 24 (export PATH=node_modules/.bin:$PATH)`);
  if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js missing: run `npm run build` (npm run bench does)');
}

// ── the servers ──────────────────────────────────────────────────────────────────────────────
export async function startNodeServer(name, script, args = []) {
  const child = start(name, process.execPath, [join(BENCH, script), ...args], { nodeChild: true });
  child.port = await listeningPort(child);
  return child;
}

/**
 * Tiercel on loopback with LOG_LEVEL=silent and `vars` on top. Tiercel's own settings inherited
 * from the caller's environment (CACHE_*, REDIS_*, OTEL_*, ...) are dropped, so a run measures
 * what the bench says it measures.
 */
const TIERCEL_ENV = /^(PROXY_|ADMIN_|UPSTREAM_|CACHE_|REDIS_|OTEL_|METRICS_|SERVER_TIMING|TRACE_RESPONSE|ACCESS_LOG|LOG_LEVEL|INSTANCE_ID|PURGE_|HIT_FOR_PASS|COALESCE_|ALLOWED_CLIENTS|PRESERVE_HOST|TIERCEL_CONFIG|WORKERS)/;
export async function startTiercel(name, originPort, vars = {}, root = ROOT) {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const base = Object.fromEntries(Object.entries(env).filter(([k]) => !TIERCEL_ENV.test(k)));
  const child = start(name, process.execPath, [join(root, 'dist/src/main.js')], {
    replaceEnv: base,
    env: {
      PROXY_PORT: String(proxyPort), ADMIN_PORT: String(adminPort), UPSTREAM_URL: `http://127.0.0.1:${originPort}`, LOG_LEVEL: 'silent',
      INSTANCE_ID: name, ...vars,
    },
  });
  child.port = proxyPort;
  child.adminPort = adminPort;
  child.vars = vars;
  await waitHttp(child, adminPort, '/stats');
  // Several workers: the admin port answers as soon as the first serves; wait for all of them.
  if (vars.WORKERS !== undefined && vars.WORKERS !== '1') await waitHttp(child, adminPort, '/readyz');
  return child;
}

/** A throwaway redis-server on loopback: no RDB, no AOF, working dir in the temp dir. */
export async function startRedis(name = 'redis') {
  if (!existsSync(BIN.redis)) throw new Error(`${BIN.redis} not found: install redis-server (apt-get install redis-server)`);
  const port = await freePort();
  const child = start(name, BIN.redis, [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', '--appendonly', 'no',
    '--dir', tmp, '--dbfilename', `${name}.rdb`, '--daemonize', 'no', '--loglevel', 'warning',
  ]);
  child.port = port;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exited) throw new Error(`${name} exited (${JSON.stringify(child.exit)}):\n${tail(child.logPath)}`);
    if ((await redisCommand(port, 'PING').catch(() => '')).startsWith('+PONG')) break;
    if (Date.now() > deadline) throw new Error(`${name} not answering PING on ${port}:\n${tail(child.logPath)}`);
    await sleep(50);
  }
  return child;
}

/** One inline command to Redis, the raw reply (enough for PING, DBSIZE, INFO). */
export function redisCommand(port, command) {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    const t = setTimeout(() => s.destroy(new Error('timeout')), 2000);
    s.on('connect', () => s.write(`${command}\r\n`));
    s.on('data', (d) => {
      buf += d;
      // A bulk reply ($len) is complete once its payload and CRLF are in; anything else ends at CRLF.
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (m ? buf.length >= m[0].length + Number(m[1]) + 2 : buf.endsWith('\r\n')) {
        clearTimeout(t);
        s.end();
        resolve(buf);
      }
    });
    s.on('error', (err) => { clearTimeout(t); reject(err); });
  });
}

// ── statistics and formatting ────────────────────────────────────────────────────────────────
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const fmtRps = (x) => Math.round(x).toLocaleString('en-US');
export const fmtInt = fmtRps;
export const fmtMs = (us) => (us / 1000).toFixed(2);
export const fmtRatio = (x) => (x === null || x === undefined ? '—' : x.toFixed(2));
export const fmtDelta = (ms) => (ms === null ? '—' : `${ms >= 0 ? '+' : ''}${ms.toFixed(2)} ms`);
export const fmtPct = (x, total) => (total > 0 ? `${((x / total) * 100).toFixed(1)}%` : '—');
