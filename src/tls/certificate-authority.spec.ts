import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TlsConfig } from '../config/config';
import { LeafCertificates, loadCa } from './certificate-authority';

const silent = { warn() {}, info() {} } as never;
const cfg = (over: Partial<TlsConfig>): TlsConfig => ({
  port: null, certFile: null, keyFile: null, sniCerts: [], intercept: true, caCertFile: null, caKeyFile: null, dataDir: mkdtempSync(join(tmpdir(), 'tiercel-ca-')),
  interceptExclude: [], leafCacheSize: 10, upstreamCaFile: null, upstreamInsecure: false, ...over,
});

describe('interception certificates', () => {
  test('a generated CA signs leaves that verify for their host name or IP, and are cached per host', async () => {
    const c = cfg({});
    const ca = await loadCa(c, 'tiercel', silent);
    assert.equal(ca.source, 'generated');
    assert.equal(statSync(join(c.dataDir, 'ca.key')).mode & 0o777, 0o600);
    const caCert = new X509Certificate(ca.certPem);
    assert.equal(caCert.ca, true);
    const leaves = new LeafCertificates(ca, 10);
    for (const host of ['www.example.com', '127.0.0.1', '[::1]']) {
      const leaf = await leaves.leafFor(host);
      const cert = new X509Certificate(leaf.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
      assert.equal(cert.verify(caCert.publicKey), true, host);
      assert.equal(cert.checkIssued(caCert), true);
      const bare = host.replace(/^\[|\]$/g, '');
      assert.equal(host.startsWith('www') ? cert.checkHost(host) : cert.checkIP(bare), bare, host);
      assert.equal(cert.ca, false);
      assert.ok(new Date(cert.validTo).getTime() > Date.now() + 6 * 86_400_000);
    }
    const n = leaves.generated;
    await Promise.all([leaves.leafFor('WWW.example.com'), leaves.leafFor('www.example.com')]);
    assert.equal(leaves.generated, n, 'a cached host is not signed again, whatever its case');
    assert.equal((await loadCa(c, 'tiercel', silent)).source, 'reused');
  });

  test('an RSA CA given as CA_CERT/CA_KEY signs leaves too; a key of another certificate is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiercel-rsa-ca-'));
    const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=RSA CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE']);
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'other.key')]);
    const ca = await loadCa(cfg({ caCertFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key') }), 'tiercel', silent);
    assert.equal(ca.source, 'configured');
    const leaf = await new LeafCertificates(ca, 10).leafFor('rsa.example');
    const cert = new X509Certificate(leaf.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
    assert.equal(cert.verify(new X509Certificate(ca.certPem).publicKey), true);
    writeFileSync(join(dir, 'not-a-ca.crt'), leaf.cert);
    await assert.rejects(loadCa(cfg({ caCertFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'other.key') }), 'tiercel', silent), /does not belong/);
    await assert.rejects(loadCa(cfg({ caCertFile: join(dir, 'not-a-ca.crt'), caKeyFile: join(dir, 'ca.key') }), 'tiercel', silent), /not a CA/);
  });
});
