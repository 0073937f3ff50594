// `node bench/callgrind.mjs [DIR ...]`: user-space instructions per request of Tiercel under
// valgrind --tool=callgrind, which counts instructions, not seconds, so the figure repeats on a
// busy machine where timings do not. For each built checkout DIR (default: this one) and each
// workload (an L1 hit of /1k, a pass-through of /pass), Tiercel runs under callgrind in front of
// bench/origin.mjs; WARMUP requests let V8 compile the hot path, then the counters are zeroed
// and WINDOW requests counted, three times; the minimum per request is reported.
// Knobs: CALLGRIND_WARMUP (12000), CALLGRIND_WINDOW (2000), CALLGRIND_WINDOWS (3),
// CALLGRIND_PATHS (/1k,/pass).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
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

async function drive(port, path, n) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let next = 0;
  const one = () => new Promise((res, rej) => {
    request({ host: '127.0.0.1', port, path, agent }, (r) => { r.resume(); r.on('end', res); }).on('error', rej).end();
  });
  await Promise.all(Array.from({ length: 4 }, async () => { while (next++ < n) await one(); }));
  agent.destroy();
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
const results = [];
for (const dir of dirs) {
  for (const path of PATHS) {
    const out = mkdtempSync(join(tmpdir(), 'tiercel-cg-'));
    const [port, adminPort] = [await freePort(), await freePort()];
    const t = spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}/callgrind.out.%p`, process.execPath, join(resolve(dir), 'dist/src/main.js')], {
      env: { PATH: process.env.PATH, UPSTREAM_URL: `http://127.0.0.1:${originPort}`, PROXY_PORT: String(port), ADMIN_PORT: String(adminPort), LOG_LEVEL: 'info', INSTANCE_ID: 'cg' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(t);
    await started(t, /"tiercel started"/);
    await drive(port, path, WARMUP);
    const perRequest = [];
    for (let w = 0; w < WINDOWS; w++) {
      spawnSync('callgrind_control', ['-z', String(t.pid)]);
      await drive(port, path, WINDOW);
      for (const f of readdirSync(out)) rmSync(join(out, f));
      spawnSync('callgrind_control', ['-d', String(t.pid)]);
      perRequest.push(totalIr(out) / WINDOW);
    }
    t.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
    const min = Math.min(...perRequest);
    results.push({ dir, path, instructionsPerRequest: Math.round(min), windows: perRequest.map(Math.round) });
    console.log(`${dir} ${path}: ${Math.round(min / 1000)}k instructions/request (windows: ${perRequest.map((x) => Math.round(x / 1000) + 'k').join(', ')})`);
  }
}
origin.kill('SIGTERM');
console.log(JSON.stringify(results));
process.exit(0);
