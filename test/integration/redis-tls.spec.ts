import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { spawnTiercel, TiercelProcess } from '../support/process';
import { freePort, RedisProcess, startRedis } from '../support/redis';

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tiercel-test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

describe('L2 over TLS (REDIS_URL=rediss://)', () => {
  let dir: string;
  let redis: RedisProcess;
  let tlsPort: number;
  let origin: TestOrigin;
  const instances: TiercelProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tiercel-tls-'));
    const certs = makeCertificates(dir);
    tlsPort = await freePort();
    // The plain port stays for the harness's PING; Tiercel only gets the TLS one.
    redis = await startRedis(['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no']);
    origin = await startOrigin();
    origin.handle('/tls-object', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end('shared over TLS');
    });
    for (const id of ['tls-a', 'tls-b']) {
      instances.push(await spawnTiercel({
        UPSTREAM_URL: origin.url,
        REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
        INSTANCE_ID: id,
        // Node trusts the test CA the way a deployment would trust its own.
        NODE_EXTRA_CA_CERTS: certs.ca,
      }));
    }
  });

  after(async () => {
    for (const t of instances) {
      t.child.kill('SIGTERM');
      await t.exited;
    }
    await origin.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares objects between instances through a TLS-only Redis port', async () => {
    const [a, b] = instances as [TiercelProcess, TiercelProcess];
    const host = { host: 'tls.example' };
    const first = await send(a.proxyPort, '/tls-object', { headers: host });
    assert.equal(first.status, 200);
    assert.match(String(first.headers['cache-status']), /fwd=uri-miss; fwd-status=200; stored/);
    let second = await send(b.proxyPort, '/tls-object', { headers: host });
    // The L2 write happens after A's response: give it a moment.
    for (let i = 0; i < 20 && !/detail=l2/.test(String(second.headers['cache-status'])); i++) {
      await new Promise((r) => setTimeout(r, 50));
      second = await send(b.proxyPort, '/tls-object', { headers: { host: 'tls.example' } });
      if (/detail=l1/.test(String(second.headers['cache-status']))) break;
    }
    assert.equal(second.body, 'shared over TLS');
    assert.match(String(second.headers['cache-status']), /hit; detail=l2/);
    assert.equal(origin.count('/tls-object'), 1);
    const ready = JSON.parse((await send(b.adminPort, '/readyz')).body);
    assert.equal(ready.l2, 'ok');
    // The entry really is in that Redis, reached over TLS.
    const keys = execFileSync('redis-cli', ['--tls', '--cacert', join(dir, 'ca.pem'), '-p', String(tlsPort), '--scan', '--pattern', 'tiercel:*'], { encoding: 'utf8' });
    assert.match(keys, /:o:tls\.example\/tls-object/);
  });
});
