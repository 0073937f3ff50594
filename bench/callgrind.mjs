// `node bench/callgrind.mjs [DIR ...]`: user-space instructions per request of Tiercel under
// valgrind --tool=callgrind, which counts instructions, not seconds, so the figure repeats on a
// busy machine where timings do not. For each built checkout DIR (default: this one) and each
// workload (an L1 hit of /1k, a pass-through of /pass), Tiercel runs under callgrind in front of
// bench/origin.mjs; WARMUP requests let V8 compile the hot path, then the counters are zeroed
// and WINDOW requests counted, three times; the minimum per request is reported.
// The ceilings run under the same counting: a bare node:http server sending the header list of a
// real Tiercel hit (the L1-hit ceiling) and a minimal undici proxy (the pass-through ceiling);
// CALLGRIND_BASELINES=0 leaves them out. Each line reports the minimum, the median and the spread
// between windows ((max - min) / min), since a window that caught a GC or a late compile is high.
// Knobs: CALLGRIND_WARMUP (12000), CALLGRIND_WINDOW (2000), CALLGRIND_WINDOWS (3),
// CALLGRIND_PATHS (/1k,/pass), CALLGRIND_KEEP (a folder for the last window's profiles).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const HERE = new URL('.', import.meta.url).pathname;
const WARMUP = Number(process.env.CALLGRIND_WARMUP ?? 12000);
const WINDOW = Number(process.env.CALLGRIND_WINDOW ?? 2000);
const WINDOWS = Number(process.env.CALLGRIND_WINDOWS ?? 3);
const PATHS = (process.env.CALLGRIND_PATHS ?? '/1k,/pass').split(',');
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : [join(HERE, '..')];
const BASELINES = process.env.CALLGRIND_BASELINES !== '0';
const KEEP = process.env.CALLGRIND_KEEP;
const children = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function started(child, pattern) {
  return new Promise((res, rej) => {
    let out = '';
    const on = (d) => { out += d; const m = pattern.exec(out); if (m) res(m); };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (code) => rej(new Error(`exited ${code}: ${out.slice(-500)}`)));
  });
}

/** A port the kernel just handed out on loopback: no guessing, so parallel runs do not collide. */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer().once('error', rej).listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/**
 * n requests over 4 keep-alive connections. The connections are kept for the whole target (warm-up
 * and every window): new sockets change object shapes and make V8 deoptimise and compile again,
 * which would count compilation, not requests.
 */
async function drive(port, path, n, agent) {
  let next = 0;
  const one = () => new Promise((res, rej) => {
    request({ host: '127.0.0.1', port, path, agent }, (r) => { r.resume(); r.on('end', res); }).on('error', rej).end();
  });
  await Promise.all(Array.from({ length: 4 }, async () => { while (next++ < n) await one(); }));
}

function totalIr(dir) {
  let ir = 0;
  for (const f of readdirSync(dir).filter((f) => f.startsWith('callgrind.out'))) {
    const m = /^summary:\s+(\d+)/m.exec(readFileSync(join(dir, f), 'utf8')) ?? /^totals:\s+(\d+)/m.exec(readFileSync(join(dir, f), 'utf8'));
    if (m) ir += Number(m[1]);
  }
  return ir;
}

const origin = spawn(process.execPath, [join(HERE, 'origin.mjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
children.push(origin);
const originPort = Number((await started(origin, /LISTENING (\d+)/))[1]);

function tiercelTarget(dir, path) {
  return async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    return {
      port,
      args: [process.execPath, join(resolve(dir), 'dist/src/main.js')],
      env: { PATH: process.env.PATH, UPSTREAM_URL: `http://127.0.0.1:${originPort}`, PROXY_PORT: String(port), ADMIN_PORT: String(adminPort), LOG_LEVEL: 'info', INSTANCE_ID: 'cg' },
      ready: /"tiercel started"/,
    };
  };
}

/** The header list of a real L1 hit of `path` from the first checkout, for the bare server. */
async function hitHeaders(dir, path) {
  const t = await tiercelTarget(dir, path)();
  const child = spawn(t.args[0], t.args.slice(1), { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await started(child, t.ready);
  const get = () => new Promise((res, rej) => request({ host: '127.0.0.1', port: t.port, path }, (r) => { r.resume(); r.on('end', () => res(r.rawHeaders)); }).on('error', rej).end());
  await get();
  const raw = await get();
  child.kill('SIGKILL');
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!/^(connection|keep-alive)$/i.test(raw[i])) out.push(raw[i], raw[i + 1]);
  return out;
}

function scriptTarget(script, extraArgs) {
  return async () => ({ args: [process.execPath, join(HERE, script), ...extraArgs], env: { PATH: process.env.PATH }, ready: /LISTENING (\d+)/ });
}

const targets = [];
for (const dir of dirs) for (const path of PATHS) targets.push({ name: dir, path, make: tiercelTarget(dir, path) });
if (BASELINES) {
  const work = mkdtempSync(join(tmpdir(), 'tiercel-cg-headers-'));
  const file = join(work, 'hit-headers.json');
  writeFileSync(file, JSON.stringify({ '/1k': await hitHeaders(dirs[0], '/1k') }));
  if (PATHS.includes('/1k')) targets.push({ name: 'bare-node', path: '/1k', make: scriptTarget('bare-node.mjs', [file]) });
  if (PATHS.includes('/pass')) targets.push({ name: 'undici-proxy', path: '/pass', make: scriptTarget('undici-proxy.mjs', [String(originPort)]) });
}

const results = [];
for (const { name, path, make } of targets) {
  const out = mkdtempSync(join(tmpdir(), 'tiercel-cg-'));
  const spec = await make();
  const t = spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}/callgrind.out.%p`, ...spec.args], {
    env: spec.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(t);
  const m = await started(t, spec.ready);
  const port = spec.port ?? Number(m[1]);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  await drive(port, path, WARMUP, agent);
  const perRequest = [];
  for (let w = 0; w < WINDOWS; w++) {
    spawnSync('callgrind_control', ['-z', String(t.pid)]);
    await drive(port, path, WINDOW, agent);
    for (const f of readdirSync(out)) rmSync(join(out, f));
    spawnSync('callgrind_control', ['-d', String(t.pid)]);
    perRequest.push(totalIr(out) / WINDOW);
    // CALLGRIND_KEEP=DIR keeps each target's last window, for callgrind_annotate.
    if (KEEP && w === WINDOWS - 1) for (const f of readdirSync(out)) copyFileSync(join(out, f), join(KEEP, `${name.replace(/\W+/g, '_')}${path.replace(/\W+/g, '_')}.${f}`));
  }
  agent.destroy();
  t.kill('SIGKILL');
  rmSync(out, { recursive: true, force: true });
  const sorted = [...perRequest].sort((a, b) => a - b);
  const min = sorted[0];
  const median = sorted[Math.floor(sorted.length / 2)];
  const spread = (sorted[sorted.length - 1] - min) / min;
  results.push({ name, path, instructionsPerRequest: Math.round(min), median: Math.round(median), spread: Number(spread.toFixed(3)), windows: perRequest.map(Math.round) });
  console.log(`${name} ${path}: ${Math.round(min / 1000)}k instructions/request, median ${Math.round(median / 1000)}k, spread ${(spread * 100).toFixed(0)}% (windows: ${perRequest.map((x) => Math.round(x / 1000) + 'k').join(', ')})`);
}
origin.kill('SIGTERM');
console.log(JSON.stringify(results));
process.exit(0);
