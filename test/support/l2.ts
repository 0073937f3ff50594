import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, connect, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { TestOrigin } from './origin';
import { reverseProxy, TestProxy } from './tiercel';
import type { ClientResponse } from './client';

/**
 * The Host every L2 test sends: in reverse mode the cache key is Host + path, so two instances
 * share an object only when clients send them the same Host.
 */
export const HOST = 'api.example.com';
export const ON_HOST = { headers: { host: HOST } };
export const TOKEN = 'l2-test-token';

/** The documented L2 key of a URL: `<prefix>{<first 12 of base64url sha1>}:o:<host/path>`. */
export function l2Key(primaryKey: string, prefix = 'tiercel:'): string {
  const tag = createHash('sha1').update(primaryKey).digest('base64url').slice(0, 12);
  return `${prefix}{${tag}}:o:${primaryKey}`;
}

/** The L2 key of a path requested with HOST. */
export function keyOf(path: string): string {
  return l2Key(HOST + path);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls an async condition every 20 ms until it holds; throws after `ms`. Resolves to the time it took. */
export async function eventually(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Waits until the URL's L2 hash holds at least `fields` fields (stores reach L2 in the background). */
export async function waitForL2(redis: Redis | Cluster, path: string, fields = 1, ms = 3000): Promise<void> {
  await eventually(async () => (await redis.hlen(keyOf(path))) >= fields, ms, `L2 entry for ${path}`);
}

/** Two reverse-mode instances, `a` and `b`, in front of one origin and sharing an L2. */
export async function twoInstances(origin: TestOrigin, env: Record<string, string>): Promise<{ a: TestProxy; b: TestProxy }> {
  // Distinct INSTANCE_IDs: an instance ignores invalidation messages that carry its own id.
  const a = await reverseProxy(origin.url, { ADMIN_TOKEN: TOKEN, ...env, INSTANCE_ID: 'inst-a' });
  const b = await reverseProxy(origin.url, { ADMIN_TOKEN: TOKEN, ...env, INSTANCE_ID: 'inst-b' });
  return { a, b };
}

/** POST /admin/invalidate with the test token (or the given Authorization). */
export function invalidate(p: TestProxy, body: unknown, authorization: string | null = `Bearer ${TOKEN}`): Promise<ClientResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== null) headers.authorization = authorization;
  return p.admin('/admin/invalidate', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export function cacheStatus(r: ClientResponse): string {
  return String(r.headers['cache-status']);
}

/** Asserts a response is a hit from the given tier, with `tiercel; hit; detail=<tier>; ttl=<n>`; returns ttl. */
export function assertHit(r: ClientResponse, tier: 'l1' | 'l2', body?: string): number {
  assert.equal(r.status, 200);
  const m = /^tiercel; hit; detail=(l1|l2); ttl=(-?\d+)$/.exec(cacheStatus(r));
  assert.ok(m, `expected a ${tier} hit, got Cache-Status: ${cacheStatus(r)}`);
  assert.equal(m[1], tier, `expected detail=${tier}, got Cache-Status: ${cacheStatus(r)}`);
  if (body !== undefined) assert.equal(r.body, body);
  return Number(m[2]);
}

/** Asserts a response came from the origin (a miss), with the body given. */
export function assertMiss(r: ClientResponse, body?: string): void {
  assert.equal(r.status, 200);
  assert.match(cacheStatus(r), /^tiercel; fwd=(uri-miss|vary-miss|miss)/, `expected a miss, got Cache-Status: ${cacheStatus(r)}`);
  if (body !== undefined) assert.equal(r.body, body);
}

/** A route answering `<path> v<n>` (n counts the origin's answers) with the given headers. */
export function versioned(origin: TestOrigin, path: string, headers: Record<string, string> = { 'cache-control': 'max-age=60' }, delayMs = 0): void {
  let n = 0;
  origin.handle(path, (_req, res) => {
    const v = ++n;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', ...headers });
      res.end(`${path} v${v}`);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
}

/**
 * A TCP relay in front of a Redis: lets a test cut one instance off (every relayed connection
 * destroyed, new ones refused) and restore it on the same port.
 */
export interface Relay {
  port: number;
  addr: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Delays every chunk, both ways, by `ms` (0: none), as a slow network link would. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  let port = 0;
  let delayMs = 0;
  const relay = (from: Socket, to: Socket) =>
    from.on('data', (chunk: Buffer) => {
      if (delayMs === 0) to.write(chunk);
      else setTimeout(() => to.writable && to.write(chunk), delayMs);
    });
  const makeServer = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      relay(client, upstream);
      relay(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  let server: Server | null = makeServer();
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const stop = async () => {
    const s = server;
    server = null;
    if (s === null) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const sock of sockets) sock.destroy();
    await closed;
  };
  return {
    port,
    addr: `127.0.0.1:${port}`,
    cut: stop,
    delay(ms: number) {
      delayMs = ms;
    },
    async restore() {
      if (server !== null) return;
      const s = makeServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
    },
    close: stop,
  };
}
