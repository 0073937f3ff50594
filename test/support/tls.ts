import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function tempDir(prefix = 'tiercel-tls-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Pki {
  dir: string;
  /** PEM file of the CA certificate. */
  caCert: string;
  caKey: string;
}

/** A test CA made with openssl (ECDSA P-256). */
export async function makeCa(dir: string, name = 'Test Origin CA'): Promise<Pki> {
  const caKey = join(dir, `${name.replace(/\W/g, '')}.key`);
  const caCert = join(dir, `${name.replace(/\W/g, '')}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert,
    '-subj', `/CN=${name}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { dir, caCert, caKey };
}

/** A leaf for localhost and 127.0.0.1 (or the given subjectAltName list) signed by the CA; returns the cert (chain) and key files. */
export async function makeLeaf(pki: Pki, name: string, subjectAltName = 'DNS:localhost,IP:127.0.0.1'): Promise<{ cert: string; key: string }> {
  const key = join(pki.dir, `${name}.key`);
  const csr = join(pki.dir, `${name}.csr`);
  const cert = join(pki.dir, `${name}.crt`);
  const ext = join(pki.dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

export interface TlsOrigin {
  port: number;
  server: Server;
  seen: string[];
  count(path: string): number;
  close(): Promise<void>;
}

/** A real HTTPS origin on loopback answering every path with a cacheable body naming it. */
export async function startTlsOrigin(files: { cert: string; key: string }, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<TlsOrigin> {
  const seen: string[] = [];
  const server = createHttpsServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (req, res) => {
    seen.push(req.url ?? '');
    if (handler) return handler(req, res);
    const body = `origin says ${req.url}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    seen,
    count: (path) => seen.filter((p) => p === path).length,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The HTTP version curl used (1.1, 2). */
  version: string;
  stderr: string;
}

/** curl with -i; `args` are curl's own. Never throws for an HTTP error status. */
export async function curl(args: string[], timeoutMs = 10_000): Promise<CurlResult> {
  let failed = false;
  const { stdout, stderr } = await run('curl', ['-s', '-S', '-i', '--max-time', String(timeoutMs / 1000), '-w', '\n%{http_version}', ...args], { timeout: timeoutMs + 2000 }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    failed = true;
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  });
  // A failed transfer (a refused certificate) may still have printed the proxy's 200 for CONNECT.
  if (failed) return { status: 0, headers: {}, body: '', version: '', stderr };
  const lastNl = stdout.lastIndexOf('\n');
  const version = stdout.slice(lastNl + 1).trim();
  let text = stdout.slice(0, lastNl);
  // A proxy's "200 Connection Established" comes first with -x: skip to the last response head.
  const heads = [...text.matchAll(/^HTTP\/[\d.]+ \d{3}[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/gm)];
  const last = heads[heads.length - 1];
  if (!last) return { status: 0, headers: {}, body: '', version, stderr };
  const head = last[0];
  text = text.slice(last.index! + head.length);
  const lines = head.split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body: text, version, stderr };
}
