import { compileGlob, Glob } from '../invalidation/glob';

/** One TLS_SNI_CERTS entry: the host names it serves (a glob) and its PEM files. */
export interface SniCertFiles {
  /** Lower-case host glob: `*` is any run of characters (`*.example.com`, `api.example.org`). */
  hosts: string;
  certFile: string;
  keyFile: string;
}

const HOST_GLOB = /^[a-z0-9*][a-z0-9*.-]*$/;

/**
 * TLS_SNI_CERTS: comma-separated `<host glob>=<cert file>:<key file>` entries, for instance
 * `*.example.com=/etc/tiercel/example.crt:/etc/tiercel/example.key,api.other.org=/o.crt:/o.key`.
 * Returns the entries in the order written, or the reason the value is refused.
 */
export function parseSniCerts(raw: string): SniCertFiles[] | { error: string } {
  const out: SniCertFiles[] = [];
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) return { error: `"${entry}" is not <host glob>=<cert file>:<key file>` };
    const hosts = entry.slice(0, eq).trim().toLowerCase();
    const files = entry.slice(eq + 1);
    const colon = files.indexOf(':');
    const certFile = colon === -1 ? '' : files.slice(0, colon).trim();
    const keyFile = colon === -1 ? '' : files.slice(colon + 1).trim();
    if (!HOST_GLOB.test(hosts)) return { error: `"${hosts}" is not a host glob (letters, digits, '-', '.', '*')` };
    if (certFile === '' || keyFile === '') return { error: `"${entry}" needs both files: <host glob>=<cert file>:<key file>` };
    if (seen.has(hosts)) return { error: `"${hosts}" is listed twice` };
    seen.add(hosts);
    out.push({ hosts, certFile, keyFile });
  }
  return out;
}

/**
 * Picks the value for a TLS server name (RFC 6066 §3): the first entry, in the order written,
 * whose glob matches the name; undefined when none does or the client sent no name, so the
 * default certificate answers. Host names compare case-insensitively (RFC 4343); a trailing dot
 * is not part of the name.
 */
export function sniChooser<T>(entries: readonly { hosts: string; value: T }[]): (servername: string | undefined) => T | undefined {
  const compiled: { glob: Glob; value: T }[] = entries.map((e) => ({ glob: compileGlob(e.hosts), value: e.value }));
  return (servername) => {
    if (!servername) return undefined;
    let name = servername.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    for (const e of compiled) if (e.glob.matches(name)) return e.value;
    return undefined;
  };
}
