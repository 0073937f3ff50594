import { request as httpRequest, IncomingHttpHeaders } from 'node:http';

export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  raw: Buffer;
  ms: number;
}

export interface ClientOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/**
 * One HTTP/1.1 request on a fresh connection to a loopback port. `target` is an origin-form
 * path (reverse mode) or an absolute URL (forward mode).
 */
export function send(port: number, target: string, opts: ClientOptions = {}): Promise<ClientResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: target,
      method: opts.method ?? 'GET',
      headers: opts.headers,
      agent: false,
      timeout: opts.timeoutMs ?? 15_000,
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${target} timed out`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString(), raw, ms: performance.now() - started });
      });
    });
    req.end(opts.body);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
