// config/redis.conf, config/sentinel.conf and their start scripts, run by real redis-server
// processes on free loopback ports. Only what must differ outside the compose network is
// changed: the data directory and port (extra arguments after the file, as the script allows),
// and in the Sentinel template the master's hostname and the ports.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { freePort } from '../support/redis';
import { healthcheckCommand, loadCompose, parseEnvFile, read, ROOT, runAsync, ENV_EXAMPLE, serviceEnv, waitFor } from '../support/deployment';

const PASSWORD = parseEnvFile(readFileSync(ENV_EXAMPLE, 'utf8')).REDIS_PASSWORD!;
const compose = loadCompose();

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs one of the config/ start scripts with sh, as the containers do. */
function startScript(script: string, env: Record<string, string>, args: string[], port: number): Started {
  const child = spawn('sh', [join(ROOT, 'config', script), ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => (children.delete(child), r(code))));
  return { child, port, output: () => out, exited };
}

async function stop(s: Started | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await s.exited;
  clearTimeout(timer);
}

function client(port: number, password?: string): Redis {
  const c = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => {});
  return c;
}

async function ping(port: number, password?: string): Promise<boolean> {
  const c = client(port, password);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } finally {
    c.disconnect();
  }
}

const configGet = async (c: Redis, key: string): Promise<string> => ((await c.config('GET', key)) as string[])[1]!;

/** Runs a compose healthcheck (CMD-SHELL) with its port replaced, in the given environment. */
async function healthcheck(service: string, fromPort: number, toPort: number, env: Record<string, string>): Promise<number | null> {
  const hc = healthcheckCommand(compose.services[service]!.healthcheck!.test);
  assert.ok('shell' in hc, `${service}'s healthcheck is a shell command`);
  const cmd = hc.shell.replace(`-p ${fromPort}`, `-p ${toPort}`);
  assert.notEqual(cmd, hc.shell, `${service}'s healthcheck names port ${fromPort}`);
  return (await runAsync('sh', ['-c', cmd], { env: { PATH: process.env.PATH, ...env }, timeoutMs: 10_000 })).code;
}

describe('config/redis.conf in a real redis-server (through config/redis-start.sh)', () => {
  let dir: string;
  let master: Started | undefined;
  let replica: Started | undefined;
  const masterEnv = () => ({ REDIS_TEMPLATE: join(ROOT, 'config/redis.conf'), REDIS_DIR: join(dir, 'master'), REDIS_PASSWORD: PASSWORD, REDIS_ANNOUNCE_HOSTNAME: '127.0.0.1' });
  // Loopback and a free port; no 5 s wait for more replicas before a diskless sync.
  const local = (_d: string, port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--repl-diskless-sync-delay', '0'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercel-redisconf-'));
    mkdirSync(join(dir, 'master'));
    const port = await freePort();
    master = startScript('redis-start.sh', masterEnv(), local(join(dir, 'master'), port), port);
    await waitFor(`redis from config/redis.conf on ${port} (${master.output()})`, () => ping(port, PASSWORD), 10_000);
  });
  after(async () => {
    await stop(replica);
    await stop(master);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, with AOF and RDB persistence, maxmemory and allkeys-lru', async () => {
    const c = client(master!.port, PASSWORD);
    try {
      await c.connect();
      assert.equal(await configGet(c, 'appendonly'), 'yes');
      assert.equal(await configGet(c, 'appendfsync'), 'everysec');
      assert.equal(await configGet(c, 'maxmemory-policy'), 'allkeys-lru');
      assert.equal(await configGet(c, 'maxmemory'), String(256 * 1024 * 1024));
      const save = await configGet(c, 'save');
      assert.notEqual(save.trim(), '', 'RDB snapshots are on');
      assert.match(save, /^3600 1 300 100 60 10000$/);
      assert.equal(await configGet(c, 'lazyfree-lazy-eviction'), 'yes');
    } finally {
      c.disconnect();
    }
  });

  it('requires the password from REDIS_PASSWORD, written to a 0600 copy of the file, not to the command line', async () => {
    const anon = await runAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(master!.port), 'GET', 'x'], { env: { PATH: process.env.PATH }, timeoutMs: 5000 });
    assert.match(anon.stdout + anon.stderr, /NOAUTH/);
    const copy = join(dir, 'master', 'redis.conf');
    assert.equal(statSync(copy).mode & 0o777, 0o600);
    assert.match(readFileSync(copy, 'utf8'), new RegExp(`^requirepass ${PASSWORD}$`, 'm'));
    assert.ok(!master!.child.spawnargs.join(' ').includes(PASSWORD));
  });

  it("answers the compose file's healthcheck (redis-cli with REDISCLI_AUTH)", async () => {
    assert.equal(await healthcheck('redis-master', 6379, master!.port, { REDISCLI_AUTH: PASSWORD }), 0);
    assert.notEqual(await healthcheck('redis-master', 6379, master!.port, { REDISCLI_AUTH: 'wrong' }), 0, 'a wrong password fails the healthcheck');
  });

  it('comes back with its data after a restart (persistence), from the copy made at first start', async () => {
    const port = master!.port;
    let c = client(port, PASSWORD);
    await c.connect();
    await c.set('tiercel:deploy-check', 'kept');
    c.disconnect();
    await stop(master); // SIGTERM: Redis writes its RDB and closes the AOF
    assert.ok(readdirSync(join(dir, 'master')).some((f) => f === 'appendonlydir' || f.endsWith('.aof')), 'an AOF was written');
    assert.ok(existsSync(join(dir, 'master', 'dump.rdb')), 'an RDB snapshot was written');
    master = startScript('redis-start.sh', masterEnv(), local(join(dir, 'master'), port), port);
    await waitFor('the restarted redis', () => ping(port, PASSWORD), 10_000);
    c = client(port, PASSWORD);
    try {
      await c.connect();
      assert.equal(await c.get('tiercel:deploy-check'), 'kept');
    } finally {
      c.disconnect();
    }
  });

  it('runs a replica that authenticates to the master with masterauth (REDIS_REPLICAOF)', async () => {
    const replicaEnv = serviceEnv(compose.services['redis-replica']!);
    assert.equal(replicaEnv.REDIS_REPLICAOF, 'redis-master 6379');
    mkdirSync(join(dir, 'replica'));
    const port = await freePort();
    replica = startScript(
      'redis-start.sh',
      { ...masterEnv(), REDIS_DIR: join(dir, 'replica'), REDIS_REPLICAOF: replicaEnv.REDIS_REPLICAOF!.replace('redis-master 6379', `127.0.0.1 ${master!.port}`) },
      local(join(dir, 'replica'), port),
      port,
    );
    await waitFor('the replica', () => ping(port, PASSWORD), 10_000);
    const c = client(port, PASSWORD);
    try {
      await c.connect();
      await waitFor('replication link up', async () => /master_link_status:up/.test(await c.info('replication')), 10_000);
      assert.equal(await c.get('tiercel:deploy-check'), 'kept');
    } finally {
      c.disconnect();
    }
  });
});

describe('config/sentinel.conf in three real Sentinels (through config/sentinel-start.sh)', () => {
  let dir: string;
  let master: Started | undefined;
  const sentinels: Started[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercel-sentinel-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'master'));
    const masterPort = await freePort();
    master = startScript(
      'redis-start.sh',
      { REDIS_TEMPLATE: join(ROOT, 'config/redis.conf'), REDIS_DIR: join(dir, 'master'), REDIS_PASSWORD: PASSWORD },
      ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      masterPort,
    );
    await waitFor('the master', () => ping(masterPort, PASSWORD), 10_000);

    const conf = read('config/sentinel.conf');
    for (let i = 1; i <= 3; i++) {
      const port = await freePort();
      const sdir = join(dir, `sentinel-${i}`);
      mkdirSync(sdir);
      // The local run's only changes: the master's hostname and the ports, and loopback only.
      const local = conf
        .replace(/^port 26379$/m, `port ${port}`)
        .replace(/^(sentinel monitor mymaster) redis-master 6379 /m, `$1 127.0.0.1 ${masterPort} `)
        .concat(`\nbind 127.0.0.1\n`);
      assert.notEqual(local, conf);
      writeFileSync(join(dir, `template-${i}.conf`), local);
      sentinels.push(
        startScript('sentinel-start.sh', { SENTINEL_TEMPLATE: join(dir, `template-${i}.conf`), SENTINEL_DIR: sdir, REDIS_PASSWORD: PASSWORD, SENTINEL_ANNOUNCE_HOSTNAME: '127.0.0.1' }, [], port),
      );
    }
    for (const s of sentinels) await waitFor(`sentinel on ${s.port} (${s.output()})`, () => ping(s.port), 10_000);
  });
  after(async () => {
    for (const s of sentinels) await stop(s);
    await stop(master);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps hostname resolution ahead of `sentinel monitor`, which names the master by hostname', () => {
    const lines = read('config/sentinel.conf').split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^sentinel resolve-hostnames yes$/) >= 0 && at(/^sentinel resolve-hostnames yes$/) < at(/^sentinel monitor /));
    assert.ok(at(/^sentinel announce-hostnames yes$/) >= 0 && at(/^sentinel announce-hostnames yes$/) < at(/^sentinel monitor /));
    assert.match(lines[at(/^sentinel monitor /)]!, /^sentinel monitor mymaster redis-master 6379 2$/);
  });

  it('starts, and SENTINEL MASTER mymaster answers with quorum 2 for a reachable, authenticated master', async () => {
    const c = client(sentinels[0]!.port);
    try {
      await c.connect();
      const info = await waitFor('the sentinel to reach the master', async () => {
        const raw = (await c.call('SENTINEL', 'MASTER', 'mymaster')) as string[];
        const m = Object.fromEntries(raw.flatMap((v, i) => (i % 2 === 0 ? [[v, raw[i + 1]]] : [])));
        return m.flags === 'master' && Number(m['last-ok-ping-reply']) < 2000 ? m : null;
      }, 10_000);
      assert.equal(info.quorum, '2');
      assert.equal(info.ip, '127.0.0.1');
      assert.equal(info.port, String(master!.port));
      assert.equal(await c.call('SENTINEL', 'CONFIG', 'GET', 'resolve-hostnames').then((r) => (r as string[])[1]), 'yes');
      assert.equal(await c.call('SENTINEL', 'CONFIG', 'GET', 'announce-hostnames').then((r) => (r as string[])[1]), 'yes');
    } finally {
      c.disconnect();
    }
    const written = readFileSync(join(dir, 'sentinel-1', 'sentinel.conf'), 'utf8');
    assert.match(written, new RegExp(`sentinel auth-pass mymaster ${PASSWORD}`), 'the start script added the password');
  });

  it("passes the compose file's sentinel healthcheck (ckquorum) once the three see each other", async () => {
    await waitFor('ckquorum OK', async () => (await healthcheck('sentinel-1', 26379, sentinels[0]!.port, {})) === 0, 20_000, 250);
    for (const s of sentinels) assert.equal(await healthcheck('sentinel-1', 26379, s.port, {}), 0);
  });
});
