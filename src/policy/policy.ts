import type { IncomingHttpHeaders } from 'node:http';
import { parseDuration, parseSize } from '../config/parse';
import { compileGlob, Glob } from '../invalidation/glob';
import type { RuleFreshness } from '../http-cache/store-decision';
import { cookieKeyField, keyTarget, QueryKeyPolicy } from './cache-key';
import { OUTCOMES } from '../proxy/request-record';
import { PolicyDocument, PolicyError, PolicySource, RuleDocument } from './policy-file';


/** One compiled rule: its globs built once per load. */
export interface Rule extends RuleFreshness {
  /** The metric label: the rule's name, or `#N` (1-based position) when unnamed. */
  label: string;
  index: number;
  host: HostMatch | null;
  path: Glob | null;
  methods: ReadonlySet<string> | null;
  header: { name: string; value: Glob | null } | null;
  pass: boolean;
  query: QueryKeyPolicy | null;
  /** Request fields added to the key (lower case). */
  keyHeaders: readonly string[];
  /** Cookies added to the key, by name. */
  keyCookies: readonly string[];
  stripCookies: boolean;
  stripSetCookie: boolean | null;
  maxObjectBytes: number | null;
  /** The synthetic Vary names a stored response gets: the key's headers and cookies. */
  varyExtra: readonly string[];
  /** Requests by outcome (OUTCOMES order), kept by label across reloads (PolicyService). */
  counts: Float64Array;
}

type HostMatch = { exact: string } | { suffix: string };

/** The operator policy in force: served hosts and rules, first match wins. */
export interface Policy {
  /** The file and its hash; null for the built-in default (RFC behaviour, no rules). */
  source: { file: string; hash: string } | null;
  loadedAt: number;
  /** Reverse mode: the only hosts served (lower case, no port; `*.example.com` as a suffix); null: any. */
  hosts: { exact: ReadonlySet<string>; suffixes: readonly string[]; list: readonly string[] } | null;
  rules: readonly Rule[];
  /** Top-level settings from the file, as environment values (the environment overrides them). */
  settings: Readonly<Record<string, string>>;
}

export const DEFAULT_POLICY: Policy = { source: null, loadedAt: 0, hosts: null, rules: [], settings: {} };

/** Builds a Policy from a validated file; semantic errors (a bad duration value) throw a PolicyError. */
export function compilePolicy(src: PolicySource, now: number): Policy {
  const doc = src.document;
  const rules = (doc.rules ?? []).map((r, i) => compileRule(src.file, r, i));
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.label)) throw new PolicyError(`${src.file}: rules[${r.index}].name: ${r.label} is used twice; expected unique rule names`);
    names.add(r.label);
  }
  return {
    source: { file: src.file, hash: src.hash },
    loadedAt: now,
    hosts: doc.hosts === undefined ? null : hostList(doc.hosts),
    rules,
    settings: settingsOf(doc),
  };
}

function hostList(hosts: readonly string[]): NonNullable<Policy['hosts']> {
  const names = hosts.map((h) => hostOf(h.toLowerCase()));
  return { exact: new Set(names.filter((h) => !h.startsWith('*.'))), suffixes: names.filter((h) => h.startsWith('*.')).map((h) => h.slice(1)), list: names };
}

/** Whether the policy serves this host (reverse mode's `hosts`). */
export function servesHost(policy: Policy, host: string): boolean {
  const h = policy.hosts;
  if (h === null || h.exact.has(host)) return true;
  for (const s of h.suffixes) if (host.endsWith(s)) return true;
  return false;
}

function settingsOf(doc: PolicyDocument): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) if (k !== 'hosts' && k !== 'rules') out[k.toUpperCase()] = String(v);
  return out;
}

function compileRule(file: string, r: RuleDocument, index: number): Rule {
  const where = `${file}: rules[${index}]`;
  const duration = (key: string, v: number | string | undefined): number | null => {
    if (v === undefined) return null;
    try {
      return typeof v === 'number' ? Math.round(v * 1000) : parseDuration(key, v);
    } catch {
      throw new PolicyError(`${where}.${key}: expected a duration such as 30s, 5m, 1h, 1d`);
    }
  };
  const statusTtl = r.status_ttl === undefined ? null : new Map(Object.entries(r.status_ttl).map(([s, v]) => [Number(s), duration(`status_ttl.${s}`, v)!]));
  const m = r.match ?? {};
  const host = m.host === undefined ? null : m.host.startsWith('*.') ? { suffix: m.host.slice(1).toLowerCase() } : { exact: m.host.toLowerCase() };
  const methods = m.method === undefined ? null : new Set(Array.isArray(m.method) ? m.method : [m.method]);
  const keyHeaders = (r.key?.headers ?? []).map((h) => h.toLowerCase());
  const keyCookies = r.key?.cookies ?? [];
  const q = r.key?.query;
  let maxObjectBytes: number | null = null;
  if (r.max_object_size !== undefined) maxObjectBytes = typeof r.max_object_size === 'number' ? r.max_object_size : parseSize('max_object_size', r.max_object_size);
  return {
    label: r.name ?? `#${index + 1}`,
    index,
    host,
    path: m.path === undefined ? null : compileGlob(m.path),
    methods,
    header: m.header === undefined ? null : { name: m.header.name.toLowerCase(), value: m.header.value === undefined ? null : compileGlob(m.header.value) },
    ttlMs: duration('ttl', r.ttl),
    override: r.override === true,
    statusTtlMs: statusTtl,
    graceMs: duration('grace', r.grace) ?? 0,
    pass: r.pass === true,
    query: q === undefined ? null : { ignore: (q.ignore ?? []).map(compileGlob), sort: q.sort === true, drop: q.drop === true },
    keyHeaders,
    keyCookies,
    stripCookies: r.strip_cookies === true,
    stripSetCookie: r.strip_set_cookie ?? null,
    maxObjectBytes,
    varyExtra: [...keyHeaders, ...keyCookies.map(cookieKeyField)],
    counts: new Float64Array(OUTCOMES.length),
  };
}

/** The host part of an authority, for matching (`[::1]:8080` → `[::1]`, `a.example:81` → `a.example`). */
export function hostOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon === -1 || authority.endsWith(']') ? authority : authority.slice(0, colon);
}

/** The first rule that matches the request (null: none). `path` is without the query. */
export function matchRule(policy: Policy, host: string, path: string, method: string, headers: IncomingHttpHeaders): Rule | null {
  const rules = policy.rules;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.methods !== null && !r.methods.has(method)) continue;
    if (r.host !== null && ('exact' in r.host ? host !== r.host.exact : !host.endsWith(r.host.suffix))) continue;
    if (r.path !== null && !r.path.matches(path)) continue;
    if (r.header !== null) {
      const v = headers[r.header.name];
      if (v === undefined) continue;
      if (r.header.value !== null && !r.header.value.matches(Array.isArray(v) ? v.join(', ') : v)) continue;
    }
    return r;
  }
  return null;
}

/**
 * A `[https://]host/path?query` key in the form the request path stores it under: the path
 * normalised, the query as the matching rule's key says (invalidation by URL uses this).
 */
export function keyInPolicy(policy: Policy, key: string): string {
  const scheme = key.startsWith('https://') ? 'https://' : '';
  const rest = key.slice(scheme.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return key;
  const host = rest.slice(0, slash);
  const target = rest.slice(slash);
  const q = target.indexOf('?');
  const rule = policy.rules.length === 0 ? null : matchRule(policy, hostOf(host), q === -1 ? target : target.slice(0, q), 'GET', {});
  return scheme + host + keyTarget(target, rule?.query ?? null);
}
