import 'reflect-metadata';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, KeyObject, randomBytes, sign as signBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { createSecureContext, SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { TlsConfig } from '../config/config';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
/** Leaf certificates live a week and are regenerated after a day: clock skew and long runs both stay inside validity. */
const LEAF_VALIDITY_MS = 7 * DAY;
const LEAF_REUSE_MS = DAY;

/** The CA Tiercel signs intercepted hosts' certificates with. */
export interface CaMaterial {
  certPem: string;
  /** The same certificate, DER. */
  certDer: Buffer;
  /** Where it came from: CA_CERT/CA_KEY, generated now, or generated earlier into DATA_DIR. */
  source: 'configured' | 'generated' | 'reused';
  key: CryptoKey;
  /** The same key for node:crypto's synchronous sign. */
  keyObject: KeyObject;
  signingAlgorithm: SigningAlgorithm;
  cert: x509.X509Certificate;
}

const pem = (label: string, der: ArrayBuffer | Buffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/** A KeyObject as a WebCrypto signing key, with the algorithm certificates are signed with. */
function signingKeyOf(key: KeyObject): { key: CryptoKey; alg: SigningAlgorithm } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : null;
    if (namedCurve === null) throw new Error(`CA_KEY: EC curve ${curve ?? '?'} is not supported (P-256 or P-384)`);
    return { key: key.toCryptoKey({ name: 'ECDSA', namedCurve }, false, ['sign']), alg: { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: key.toCryptoKey(alg, false, ['sign']), alg };
  }
  throw new Error(`CA_KEY: a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign certificates here (EC or RSA)`);
}

async function fromPem(certPem: string, keyPem: string, source: CaMaterial['source']): Promise<CaMaterial> {
  const cert = new x509.X509Certificate(certPem);
  const node = new NodeX509(certPem);
  if (!node.ca) throw new Error('CA_CERT is not a CA certificate (basicConstraints CA:TRUE is missing)');
  const keyObject = createPrivateKey(keyPem);
  if (!node.checkPrivateKey(keyObject)) throw new Error('CA_KEY does not belong to CA_CERT');
  const { key, alg } = signingKeyOf(keyObject);
  return { certPem: cert.toString('pem') + '\n', certDer: Buffer.from(cert.rawData), source, key, keyObject, signingAlgorithm: alg, cert };
}

/** A positive 16-byte serial (RFC 5280 §4.1.2.2: at most 20 octets, non-negative). */
function serialNumber(): ArrayBuffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

function commonName(value: string): asn.Name {
  // Host names and IP literals are printable; anything else was refused before (CONNECT's grammar).
  return new asn.Name([new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn.AttributeValue({ utf8String: value.slice(0, 64) }) })])]);
}

/** One DER tag-length-value. */
function derTlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : n < 0x10000 ? Buffer.of(0x82, n >> 8, n & 0xff) : Buffer.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff);
  return Buffer.concat([Buffer.of(tag), len, body]);
}

/** A new ECDSA P-256 CA, valid ten years. */
async function generateCa(name: string): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${name} interception CA,O=${name}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/**
 * The CA: CA_CERT/CA_KEY when given; otherwise the one generated into DATA_DIR on an earlier
 * start; otherwise a new one, written there (the key with mode 0600, never readable by others).
 */
export async function loadCa(cfg: TlsConfig, name: string, log: Logger): Promise<CaMaterial> {
  if (cfg.caCertFile !== null && cfg.caKeyFile !== null) {
    return fromPem(await readFile(cfg.caCertFile, 'utf8'), await readFile(cfg.caKeyFile, 'utf8'), 'configured');
  }
  const certPath = join(cfg.dataDir, 'ca.crt');
  const keyPath = join(cfg.dataDir, 'ca.key');
  const existing = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (existing !== null) return fromPem(existing[0], existing[1], 'reused');
  const made = await generateCa(name);
  await mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  // Written under temporary names and renamed, so a crash never leaves a certificate without its key.
  const tmp = `.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(keyPath + tmp, made.keyPem, { mode: 0o600 });
  await chmod(keyPath + tmp, 0o600);
  await writeFile(certPath + tmp, made.certPem, { mode: 0o644 });
  await rename(keyPath + tmp, keyPath);
  await rename(certPath + tmp, certPath);
  log.warn({ cert: certPath, key: keyPath }, 'generated a new interception CA: clients must trust its certificate (GET /ca.crt on the admin port) and its key must be protected');
  return fromPem(made.certPem, made.keyPem, 'generated');
}

/** The key every leaf shares, its encoded public half, and the extensions that do not depend on the host. */
interface SharedLeafKey {
  publicKey: x509.PublicKey;
  keyPem: string;
  extensions: x509.Extension[];
  /** A leaf made by the library once, as ASN.1: each host's is this with its own serial, validity, name and SAN. */
  template: asn.Certificate;
  /** DER of the signature AlgorithmIdentifier, and the hash node:crypto signs with. */
  signatureAlgorithm: Buffer;
  hash: string;
}

export interface Leaf {
  /** PEM: the leaf, then the CA. */
  cert: string;
  key: string;
  context: SecureContext;
}

/**
 * Leaf certificates for intercepted hosts, signed by the CA on demand and kept in a bounded
 * LRU. A host's certificate is generated once however many handshakes ask for it at the same
 * time: the cache holds the pending Promise, so the second asker awaits the first one's work.
 * Every leaf shares one ECDSA P-256 key made at start (as mitmproxy does): a leaf costs one
 * signature, no key generation.
 */
export class LeafCertificates {
  /** How many leaf certificates were signed (the test of one generation per host reads it). */
  generated = 0;
  private readonly cache: LRUCache<string, Promise<Leaf>>;
  private leafKey: Promise<SharedLeafKey> | null = null;

  constructor(private readonly ca: CaMaterial, max: number) {
    this.cache = new LRUCache({ max, ttl: LEAF_REUSE_MS });
  }

  /** The TLS context for a host name or IP literal. */
  contextFor(host: string): Promise<SecureContext> {
    return this.leafFor(host).then((l) => l.context);
  }

  /** The leaf certificate (with the CA after it) and key for a host name or IP literal, and its TLS context. */
  leafFor(host: string): Promise<Leaf> {
    const name = host.toLowerCase();
    let ctx = this.cache.get(name);
    if (ctx === undefined) {
      ctx = this.make(name);
      this.cache.set(name, ctx);
      // A failure is not remembered: the next handshake tries again.
      ctx.catch(() => {
        if (this.cache.get(name) === ctx) this.cache.delete(name);
      });
    }
    return ctx;
  }

  /** One leaf certificate as PEM (for the benchmark and tests). */
  async certificatePem(host: string): Promise<{ cert: string; key: string }> {
    const leaf = await this.sharedKey();
    return { cert: await this.sign(host, leaf), key: leaf.keyPem };
  }

  private async make(host: string): Promise<Leaf> {
    const leaf = await this.sharedKey();
    const cert = (await this.sign(host, leaf)) + this.ca.certPem;
    return { cert, key: leaf.keyPem, context: createSecureContext({ key: leaf.keyPem, cert, minVersion: 'TLSv1.2' }) };
  }

  /**
   * One leaf: the template's TBSCertificate with this host's serial, validity, subject and SAN,
   * signed with node:crypto's synchronous sign. The library builds and parses a whole
   * certificate per call (about 3 ms each, measured); this is a serialisation and a signature.
   */
  private async sign(host: string, leaf: SharedLeafKey): Promise<string> {
    const bare = host.replace(/^\[|\]$/g, '');
    const ip = isIP(bare) !== 0;
    const now = Date.now();
    const tbs = leaf.template.tbsCertificate;
    tbs.serialNumber = serialNumber();
    tbs.validity = new asn.Validity({ notBefore: new Date(now - DAY), notAfter: new Date(now + LEAF_VALIDITY_MS) });
    tbs.subject = commonName(ip ? bare : host);
    const san = new asn.SubjectAlternativeName([new asn.GeneralName(ip ? { iPAddress: bare } : { dNSName: host })]);
    const extensions = tbs.extensions!;
    const at = extensions.findIndex((e) => e.extnID === asn.id_ce_subjectAltName);
    extensions[at] = new asn.Extension({ extnID: asn.id_ce_subjectAltName, critical: false, extnValue: new OctetString(AsnConvert.serialize(san)) });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const signature = signBytes(leaf.hash, tbsDer, this.ca.keyObject.asymmetricKeyType === 'ec' ? { key: this.ca.keyObject, dsaEncoding: 'der' } : this.ca.keyObject);
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } (RFC 5280 §4.1)
    const der = derTlv(0x30, Buffer.concat([tbsDer, leaf.signatureAlgorithm, derTlv(0x03, Buffer.concat([Buffer.of(0), signature]))]));
    this.generated++;
    return pem('CERTIFICATE', der);
  }

  private sharedKey(): Promise<SharedLeafKey> {
    this.leafKey ??= (async () => {
      const pair = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
      const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert),
      ];
      const publicKey = await x509.PublicKey.create(pair.publicKey);
      const made = await x509.X509CertificateGenerator.create({
        serialNumber: '01',
        subject: 'CN=template.invalid',
        issuer: this.ca.cert.subjectName,
        signingKey: this.ca.key,
        publicKey,
        signingAlgorithm: this.ca.signingAlgorithm,
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'template.invalid' }]), ...extensions],
      });
      const template = AsnConvert.parse(made.rawData, asn.Certificate);
      const signatureAlgorithm = Buffer.from(AsnConvert.serialize(template.signatureAlgorithm));
      const hash = (this.ca.signingAlgorithm as { hash?: string }).hash === 'SHA-384' ? 'sha384' : 'sha256';
      return { publicKey, keyPem, extensions, template, signatureAlgorithm, hash };
    })();
    return this.leafKey;
  }
}
