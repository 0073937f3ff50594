// GET /admin/tail and the CLI on it, against a real Tiercel process and origin: the filters
// select what they say, a reader that stops reading is dropped while others keep streaming, and
// `tiercel tail` / `tiercel stats` print what the admin port serves.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import type { TiercelProcess } from '../support/process';
import { ROOT, sleep, startTiercel, stopTiercel } from './support';

const TOKEN = 'tail-token';
const HOST = 'shop.example';
const auth = { authorization: `Bearer ${TOKEN}` };

/** A tail reader collecting parsed lines. */
function openTail(t: TiercelProcess, query: string, headers: Record<string, string> = auth): Promise<{ status: number; body: string; lines: Record<string, unknown>[]; close(): void; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: t.adminPort, path: `/admin/tail${query}`, headers }, (res) => {
      const lines: Record<string, unknown>[] = [];
      let buf = '';
      let body = '';
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      res.on('data', (d: Buffer) => {
        if (res.statusCode !== 200) return void (body += d);
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) !== -1) {
          lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          buf = buf.slice(nl + 1);
        }
      });
      res.once('end', () => undefined);
      // Non-200 answers are short: give the body a moment to arrive.
      const done = () => resolve({ status: res.statusCode ?? 0, get body() { return body; }, lines, close: () => req.destroy(), ended });
      if (res.statusCode === 200) done();
      else res.once('end', done);
    });
    req.once('error', reject);
    req.end();
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function stats(t: TiercelProcess): Promise<{ tail: { listeners: number; dropped: number }; hits: number }> {
  return (await (await fetch(`http://127.0.0.1:${t.adminPort}/stats`)).json()) as { tail: { listeners: number; dropped: number }; hits: number };
}

function runCli(args: string[], env: Record<string, string>): { child: ReturnType<typeof spawn>; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/tiercel.js'), ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.once('exit', (c) => r(c))) };
}

describe('GET /admin/tail', () => {
  let origin: TestOrigin;
  let t: TiercelProcess | undefined;

  before(async () => {
    origin = await startOrigin((req, res) => {
      if (req.url!.startsWith('/boom')) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        return void res.end('down\n');
      }
      if (req.url!.startsWith('/slow')) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
          res.end('slow\n');
        }, 120);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end('ok\n');
    });
    t = await startTiercel({ UPSTREAM_URL: origin.url, ADMIN_TOKEN: TOKEN, INSTANCE_ID: 'tail-1' });
  });

  after(async () => {
    await stopTiercel(t);
    await origin?.close();
  });

  test('the admin port serves the runbook the alerts link to', async () => {
    const res = await fetch(`http://127.0.0.1:${t!.adminPort}/runbook`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/markdown/);
    assert.equal(await res.text(), readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8'));
  });

  test('refuses a missing or wrong token, and an unknown or malformed filter', async () => {
    assert.equal((await openTail(t!, '', {})).status, 401);
    assert.equal((await openTail(t!, '', { authorization: 'Bearer nope' })).status, 401);
    for (const q of ['?statsu=5xx', '?status=600', '?status=599-500', '?outcome=hit,nearly', '?min_ms=-1', '?min_ms=abc', '?path=', '?status=5xx&status=4xx']) {
      const r = await openTail(t!, q);
      assert.equal(r.status, 400, `${q}: ${r.body}`);
    }
    assert.equal((await stats(t!)).tail.listeners, 0);
  });

  test('streams one line per finished request that passes every filter', async () => {
    await until('no listeners', async () => (await stats(t!)).tail.listeners === 0);
    const errors = await openTail(t!, '?status=5xx&path=/boom*');
    const slow = await openTail(t!, `?min_ms=100&host=*.EXAMPLE`);
    const hits = await openTail(t!, '?outcome=hit&path=/page-*');
    try {
      await until('three listeners', async () => (await stats(t!)).tail.listeners === 3);
      const on = { headers: { host: HOST, 'user-agent': 'tail-test/1' } };
      assert.equal((await send(t!.proxyPort, '/page-1', on)).status, 200); // miss
      assert.equal((await send(t!.proxyPort, '/page-1?x=1', on)).status, 200); // miss (another key)
      assert.equal((await send(t!.proxyPort, '/page-1', on)).status, 200); // hit
      assert.equal((await send(t!.proxyPort, '/boom-1', on)).status, 503);
      assert.equal((await send(t!.proxyPort, '/slow-1', { headers: { host: 'other.test' } })).status, 200);
      assert.equal((await send(t!.proxyPort, '/slow-2', on)).status, 200);
      await until('the lines', () => errors.lines.length >= 1 && slow.lines.some((l) => l.path === '/slow-2') && hits.lines.length >= 1);
      await sleep(100);
      assert.deepEqual(errors.lines.map((l) => [l.path, l.status]), [['/boom-1', 503]]);
      // min_ms and the host glob (case-insensitive): the 120 ms origin on this host, never the
      // other host's; on a loaded machine a miss of this host may take 100 ms too.
      for (const l of slow.lines) {
        assert.equal(l.host, HOST, `${String(l.path)}: host glob`);
        assert.ok((l.duration_ms as number) >= 100, `${String(l.path)}: ${String(l.duration_ms)} ms`);
      }
      assert.ok(!slow.lines.some((l) => l.path === '/slow-1'), 'the other host is filtered out');
      assert.deepEqual(hits.lines.map((l) => [l.url, l.outcome, l.tier]), [['/page-1', 'hit', 'l1']]);
      const e = errors.lines[0]!;
      assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(e.method, 'GET');
      assert.equal(e.host, HOST);
      assert.equal(e.outcome, 'miss');
      assert.equal(e.tier, 'origin');
      assert.equal(e.upstream, origin.url.replace(/\/$/, ''));
      assert.equal(typeof e.upstream_ms, 'number');
      assert.equal(typeof e.duration_ms, 'number');
      assert.equal(e.bytes, 'down\n'.length);
      assert.equal(e.user_agent, 'tail-test/1');
      assert.match(String(e.cache_status), /fwd=uri-miss; fwd-status=503/);
    } finally {
      for (const r of [errors, slow, hits]) r.close();
    }
    await until('no listeners', async () => (await stats(t!)).tail.listeners === 0);
  });

  test('a reader that stops reading is dropped under load; a reader that keeps up gets every line', async () => {
    await until('no listeners', async () => (await stats(t!)).tail.listeners === 0);
    const before = (await stats(t!)).tail.dropped;
    // Long paths make long lines: the reader's kernel buffers fill within a few hundred requests.
    const long = `/big-${'x'.repeat(6000)}`;
    const fast = await openTail(t!, '?path=/big-*');
    const slowSocket: Socket = connect(t!.adminPort, '127.0.0.1');
    try {
      let head = '';
      await new Promise<void>((resolve) => {
        slowSocket.on('data', (d) => {
          head += d.toString('latin1');
          if (head.includes('\r\n\r\n')) {
            slowSocket.pause(); // and never reads again
            resolve();
          }
        });
        slowSocket.write(`GET /admin/tail HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`);
      });
      assert.match(head, /^HTTP\/1.1 200/);
      await until('two listeners', async () => (await stats(t!)).tail.listeners === 2);
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      let sent = 0;
      let dropped = false;
      const deadline = Date.now() + 30_000;
      const worker = async () => {
        while (!dropped && Date.now() < deadline && sent < 20_000) {
          sent++;
          const status = await new Promise<number>((resolve, reject) => {
            const r = request({ host: '127.0.0.1', port: t!.proxyPort, path: `${long}?n=${sent % 8}`, headers: { host: HOST }, agent }, (res) => {
              res.resume();
              res.once('end', () => resolve(res.statusCode ?? 0));
            });
            r.once('error', reject);
            r.end();
          });
          assert.equal(status, 200);
        }
      };
      const watcher = (async () => {
        while (!dropped && Date.now() < deadline) {
          if ((await stats(t!)).tail.dropped > before) dropped = true;
          else await sleep(50);
        }
      })();
      await Promise.all([...Array.from({ length: 16 }, worker), watcher]);
      agent.destroy();
      assert.ok(dropped, `the stalled reader was never dropped after ${sent} requests`);
      await until('the fast reader has every line', () => fast.lines.length === sent, 15_000);
      const s = await stats(t!);
      assert.equal(s.tail.listeners, 1, 'only the fast reader is left');
      assert.equal(s.tail.dropped, before + 1);
    } finally {
      fast.close();
      slowSocket.destroy();
    }
  });

  test('`tiercel tail` prints the filtered stream, `tiercel stats` the counters', async () => {
    await until('no listeners', async () => (await stats(t!)).tail.listeners === 0);
    const env = { ADMIN_PORT: String(t!.adminPort), ADMIN_TOKEN: TOKEN };
    const tailCli = runCli(['tail', '--json', '--status', '503'], env);
    try {
      await until('the CLI listening', async () => (await stats(t!)).tail.listeners === 1);
      await send(t!.proxyPort, '/page-2', { headers: { host: HOST } });
      await send(t!.proxyPort, '/boom-cli', { headers: { host: HOST } });
      await until('the CLI line', () => tailCli.out().includes('\n'));
      const lines = tailCli.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines.map((l) => l.path), ['/boom-cli']);
    } finally {
      tailCli.child.kill();
      await tailCli.exited;
    }
    const human = runCli(['tail', '--path', '/page-3'], env);
    try {
      await until('the CLI listening', async () => (await stats(t!)).tail.listeners === 1);
      await send(t!.proxyPort, '/page-3', { headers: { host: HOST } });
      await until('the CLI line', () => human.out().includes('\n'));
      assert.match(human.out(), /^\S+Z 200 miss\/origin +[\d.]+ms GET shop\.example\/page-3 3B upstream=[\d.]+ms\n$/);
    } finally {
      human.child.kill();
      await human.exited;
    }
    const bad = runCli(['tail'], { ADMIN_PORT: String(t!.adminPort) });
    assert.equal(await bad.exited, 1);
    assert.match(bad.err(), /401/);
    const st = runCli(['stats', '--once'], env);
    assert.equal(await st.exited, 0, st.err());
    const hits = (await stats(t!)).hits;
    assert.match(st.out(), /^hit rate \d+\.\d%/);
    assert.match(st.out(), new RegExp(`^hits +${hits} +Responses served from a cache tier$`, 'm'));
  });
});
