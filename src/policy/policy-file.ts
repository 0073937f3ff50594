import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Ajv, { ErrorObject } from 'ajv';
import { isMap, isSeq, LineCounter, parseDocument, Node } from 'yaml';
import { POLICY_SCHEMA } from './policy.schema';

/** A policy file that cannot be used: one line naming the file, line, column, key and the accepted form. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** The file as read and validated, before it is compiled. */
export interface PolicySource {
  file: string;
  /** sha256 of the file's bytes, hex. */
  hash: string;
  document: PolicyDocument;
}

export interface RuleDocument {
  name?: string;
  match?: { host?: string; path?: string; method?: string | string[]; header?: { name: string; value?: string } };
  ttl?: number | string;
  override?: boolean;
  status_ttl?: Record<string, number | string>;
  grace?: number | string;
  pass?: boolean;
  key?: { query?: { ignore?: string[]; sort?: boolean; drop?: boolean }; headers?: string[]; cookies?: string[] };
  strip_cookies?: boolean;
  strip_set_cookie?: boolean;
  max_object_size?: number | string;
}

export interface PolicyDocument {
  hosts?: string[];
  rules?: RuleDocument[];
  [setting: string]: unknown;
}

const ajv = new Ajv({ allErrors: false, verbose: true, allowUnionTypes: true, strict: true });
const validate = ajv.compile<PolicyDocument>(POLICY_SCHEMA);

/** Largest file accepted: a policy is a few kilobytes; a huge one is a mistake. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** Reads, parses (YAML 1.2; JSON is YAML) and validates a policy file; throws a PolicyError. */
export function readPolicyFile(file: string): PolicySource {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new PolicyError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (bytes.length > MAX_FILE_BYTES) throw new PolicyError(`${file}: larger than 4 MiB`);
  return { file, hash: createHash('sha256').update(bytes).digest('hex'), document: parsePolicyText(file, bytes.toString('utf8')) };
}

/** Parses and validates policy text; `file` names it in errors. */
export function parsePolicyText(file: string, text: string): PolicyDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => {
    const p = lines.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  const syntax = doc.errors[0];
  if (syntax !== undefined) throw new PolicyError(`${at(syntax.pos[0])}: not valid YAML: ${syntax.message.split('\n')[0]}`);
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (validate(value)) return value;
  const err = pickError(validate.errors ?? []);
  const path = pathOf(err.instancePath);
  let keyPath = path;
  let node: Node | null = nodeAt(doc.contents as Node | null, path);
  let message: string;
  if (err.keyword === 'additionalProperties') {
    const key = (err.params as { additionalProperty: string }).additionalProperty;
    keyPath = [...path, key];
    node = keyNodeAt(doc.contents as Node | null, path, key) ?? node;
    const allowed = Object.keys((err.parentSchema as { properties?: object }).properties ?? {});
    message = `unknown key; accepted: ${path.length === 0 ? 'hosts, rules, or a setting named like its variable (cache_max_age)' : allowed.join(', ')}`;
  } else if (err.keyword === 'propertyNames') {
    const key = (err.params as { propertyName: string }).propertyName;
    keyPath = [...path, key];
    node = keyNodeAt(doc.contents as Node | null, path, key) ?? node;
    message = 'expected a status code such as 404';
  } else if (err.keyword === 'required') {
    message = `missing key ${(err.params as { missingProperty: string }).missingProperty}`;
  } else {
    const description = (err.parentSchema as { description?: string } | undefined)?.description;
    message = `expected ${description ?? describe(err)}`;
  }
  const where = node?.range ? at(node.range[0]) : `${file}:1:1`;
  throw new PolicyError(`${where}: ${keyPath.length === 0 ? '(top level)' : formatPath(keyPath)}: ${message}`);
}

/** The most useful of Ajv's errors: anyOf's own entry carries the accepted form's description. */
function pickError(errors: ErrorObject[]): ErrorObject {
  return errors.find((e) => e.keyword === 'propertyNames') ?? errors.find((e) => e.keyword === 'anyOf') ?? errors[0]!;
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'type': return `a ${(e.params as { type: string }).type}`;
    case 'pattern': return `a value matching ${(e.params as { pattern: string }).pattern}`;
    case 'maxItems': return `at most ${(e.params as { limit: number }).limit} items`;
    case 'minItems': return `at least ${(e.params as { limit: number }).limit} item`;
    case 'maxLength': return `at most ${(e.params as { limit: number }).limit} characters`;
    case 'minLength': return 'a non-empty string';
    case 'minimum': return `a number of at least ${(e.params as { limit: number }).limit}`;
    default: return e.message ?? 'another value';
  }
}

function pathOf(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function nodeAt(root: Node | null, path: (string | number)[]): Node | null {
  let node: Node | null = root;
  for (const p of path) {
    if (isMap(node)) node = (node.items.find((i) => (i.key as { value?: unknown } | null)?.value === p)?.value as Node | null) ?? null;
    else if (isSeq(node) && typeof p === 'number') node = (node.items[p] as Node | undefined) ?? null;
    else return node;
    if (node === null) return null;
  }
  return node;
}

function keyNodeAt(root: Node | null, path: (string | number)[], key: string): Node | null {
  const parent = nodeAt(root, path);
  if (!isMap(parent)) return null;
  return (parent.items.find((i) => (i.key as { value?: unknown } | null)?.value === key)?.key as Node | null) ?? null;
}
