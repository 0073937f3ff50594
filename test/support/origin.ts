import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void | Promise<void>;

/** A real HTTP origin on an ephemeral loopback port whose answers each test scripts. */
export interface TestOrigin {
  port: number;
  url: string;
  /** Every request the origin received, in order. */
  requests: SeenRequest[];
  /** Requests seen for one path (query included). */
  count(path?: string): number;
  handle(path: string, handler: OriginHandler): void;
  close(): Promise<void>;
  server: Server;
}

export async function startOrigin(fallback?: OriginHandler): Promise<TestOrigin> {
  const routes = new Map<string, OriginHandler>();
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(seen);
      const path = (req.url ?? '').replace(/^https?:\/\/[^/]+/, '');
      const handler = routes.get(path) ?? routes.get(path.split('?')[0]!) ?? fallback;
      if (!handler) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no route\n');
        return;
      }
      Promise.resolve(handler(req, res, seen)).catch((err) => {
        res.destroy(err as Error);
      });
    });
  });
  server.keepAliveTimeout = 2000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    count: (path?: string) => (path === undefined ? requests.length : requests.filter((r) => r.url === path || r.url.endsWith(`:${port}${path}`)).length),
    handle: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
