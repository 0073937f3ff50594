import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/** A port the kernel just handed out on loopback; redis-server cannot bind port 0 itself. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface RedisProcess {
  port: number;
  addr: string;
  child: ChildProcess;
  dir: string;
  /** A client for the test itself (not Tiercel's). */
  client(): Redis;
  stop(): Promise<void>;
  /** Sends a signal (SIGKILL to crash it, SIGSTOP to freeze it, SIGCONT to thaw). */
  signal(sig: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], { encoding: 'utf8' });
    if (r.stdout?.trim() === 'PONG') return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`redis on port ${port} did not answer PING`);
}

/** Starts a real redis-server on a free loopback port, persisting nothing. */
export async function startRedis(extraArgs: string[] = [], opts: { sentinel?: string } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tiercel-redis-'));
  let args: string[];
  if (opts.sentinel !== undefined) {
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\n${opts.sentinel}\n`);
    args = [conf, '--sentinel'];
  } else {
    args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...extraArgs];
  }
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  await waitForPing(port);
  const clients: Redis[] = [];
  return {
    port,
    addr: `127.0.0.1:${port}`,
    child,
    dir,
    client() {
      const c = new Redis({ host: '127.0.0.1', port, protocol: 2, lazyConnect: false, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    signal(sig) {
      child.kill(sig);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SentinelSetup {
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  sentinelAddrs: string;
  stop(): Promise<void>;
}

/** A master, one replica and three sentinels with quorum 2, failing over within a few seconds. */
export async function startSentinelSetup(masterName = 'mymaster'): Promise<SentinelSetup> {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const conf = [
    `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
    `sentinel down-after-milliseconds ${masterName} 1000`,
    `sentinel failover-timeout ${masterName} 5000`,
    `sentinel parallel-syncs ${masterName} 1`,
  ].join('\n');
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) sentinels.push(await startRedis([], { sentinel: conf }));
  // Wait until the replica is in sync and the sentinels see each other.
  const deadline = Date.now() + 15_000;
  const probe = sentinels[0]!.client();
  for (;;) {
    const info = (await probe.call('SENTINEL', 'MASTER', masterName)) as string[];
    const field = (k: string) => Number(info[info.indexOf(k) + 1]);
    if (field('num-slaves') >= 1 && field('num-other-sentinels') >= 2) break;
    if (Date.now() > deadline) throw new Error('sentinels did not discover each other');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    master,
    replica,
    sentinels,
    sentinelAddrs: sentinels.map((s) => s.addr).join(','),
    async stop() {
      for (const p of [...sentinels, replica, master]) await p.stop();
    },
  };
}

export interface RedisClusterSetup {
  nodes: RedisProcess[];
  nodeAddrs: string;
  stop(): Promise<void>;
}

/** A Redis Cluster of three masters (no replicas), slots spread by redis-cli. */
export async function startRedisCluster(): Promise<RedisClusterSetup> {
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
  }
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.addr), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`cluster create failed: ${create.stdout}${create.stderr}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const states = nodes.map((n) => spawnSync('redis-cli', ['-p', String(n.port), 'CLUSTER', 'INFO'], { encoding: 'utf8' }).stdout);
    if (states.every((s) => s.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error('cluster did not reach state ok');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    nodes,
    nodeAddrs: nodes.map((n) => n.addr).join(','),
    async stop() {
      for (const n of nodes) await n.stop();
    },
  };
}
