import { after, before } from 'node:test';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { startOrigin, TestOrigin } from './origin';
import { reverseProxy, TestProxy } from './tiercel';
import type { ClientResponse } from './client';

export interface Fixture {
  origin: TestOrigin;
  proxy: TestProxy;
}

/**
 * Registers before/after hooks in the enclosing describe: one origin and one reverse-mode
 * Tiercel in front of it, with `env`. The returned object is filled in by the before hook.
 */
export function useReverseProxy(env: Record<string, string> = {}): Fixture {
  const f = {} as Fixture;
  before(async () => {
    f.origin = await startOrigin();
    f.proxy = await reverseProxy(f.origin.url, env);
  });
  after(async () => {
    await f.proxy?.close();
    await f.origin?.close();
  });
  return f;
}

let counter = 0;
/** A path no other test uses. */
export function uniquePath(name: string): string {
  return `/${name}-${process.pid}-${++counter}`;
}

/** The Cache-Status value of a response, as one string. */
export function cacheStatus(r: { headers: IncomingHttpHeaders }): string {
  return String(r.headers['cache-status']);
}

/** Requests the origin saw for a path with a given method. */
export function countMethod(origin: TestOrigin, path: string, method: string): number {
  return origin.requests.filter((r) => r.method === method && (r.url === path || r.url.endsWith(`:${origin.port}${path}`))).length;
}

/**
 * A request whose response may be cut short: resolves with what arrived and whether the
 * response ended cleanly (`complete`) instead of rejecting when the connection breaks.
 */
export function sendLenient(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer; complete: boolean; error?: Error }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, headers, agent: false, timeout: 10_000 });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const done = (complete: boolean, error?: Error) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete, error });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.complete));
      res.on('error', (err) => done(false, err));
      res.on('aborted', () => done(false));
      res.on('close', () => done(res.complete));
    });
    req.end();
  });
}

/** Waits until `check` holds, polling every 10 ms, or throws after `ms`. */
export async function waitFor(check: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type { ClientResponse };
