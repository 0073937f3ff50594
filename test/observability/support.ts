// Helpers for the observability tests: Prometheus, promtool and redis_exporter as real
// processes, the Prometheus text format, and the expressions in the Grafana dashboards.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, TiercelProcess } from '../support/process';
import { freePort } from '../support/redis';

/** The repository root (this file runs from dist/test/observability/). */
export const ROOT = join(__dirname, '../../..');
export const PROM_DIR = join(ROOT, 'prometheus');
export const GRAFANA_DIR = join(ROOT, 'grafana');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** Fails with the Debian package to install when a system program is missing (.ci/run installs them). */
export function requireProgram(name: string, pkg: string): void {
  if (!hasProgram(name)) throw new Error(`${name} is not installed: apt-get install ${pkg} (.ci/run installs it)`);
}

export function ymlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopTiercel(t: TiercelProcess | undefined): Promise<void> {
  if (t === undefined) return;
  await stopChild(t.child);
}

/**
 * Runs Tiercel as its own process (dist/src/main.js), like test/support/process.ts
 * spawnTiercel, but never leaves it behind: killed when it fails to start, and with SIGKILL
 * when the test process exits. LOG_LEVEL must let the `tiercel started` info line through.
 */
export async function startTiercel(env: Record<string, string>): Promise<TiercelProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, PROXY_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  try {
    const ports = await new Promise<{ proxyPort: number; adminPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tiercel did not start within 15 s: ${err}${out.slice(-2000)}`)), 15_000);
      child.stdout!.on('data', (d) => {
        out += d;
        // Keep only the start line's neighbourhood: an access log can be long.
        if (out.length > 1_000_000) out = out.slice(-100_000);
        for (const line of out.split('\n')) {
          if (!line.includes('"tiercel started"')) continue;
          const j = JSON.parse(line) as { proxyPort: number; adminPort: number };
          clearTimeout(timer);
          resolve({ proxyPort: j.proxyPort, adminPort: j.adminPort });
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`tiercel exited early: ${err}`));
      });
    });
    return { child, ...ports, stdout: () => out, stderr: () => err, exited };
  } catch (e) {
    await stopChild(child, 1000);
    throw e;
  }
}

async function waitHttp(url: string, timeoutMs: number, what: string, child?: ChildProcess, log?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (child && child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${log?.() ?? ''}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready at ${url} after ${timeoutMs} ms: ${log?.() ?? ''}`);
    await sleep(100);
  }
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusProcess {
  url: string;
  dir: string;
  /** An instant query; throws on a query error. */
  query(expr: string): Promise<PromSample[]>;
  /** GET an API path (`/api/v1/...`) and return its `data`. */
  api<T = unknown>(path: string): Promise<T>;
  /** SIGHUP: re-read the configuration and rule files. */
  reload(): void;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on a free loopback port, its configuration (written as JSON, which is YAML)
 * and its TSDB in a temporary directory.
 */
export async function startPrometheus(config: (dir: string) => object, flags: string[] = []): Promise<PrometheusProcess> {
  requireProgram('prometheus', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'tiercel-prometheus-'));
  const port = await freePort();
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config(dir), null, 2));
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      '--storage.tsdb.retention.time=1h',
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHttp(`${url}/-/ready`, 20_000, 'prometheus', child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  async function api<T>(path: string): Promise<T> {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  }
  return {
    url,
    dir,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as PromSample[];
    },
    reload: () => void child.kill('SIGHUP'),
    log: () => log,
    stop,
  };
}

export interface ExporterProcess {
  port: number;
  addr: string;
  stop(): Promise<void>;
}

/** redis_exporter (Debian: prometheus-redis-exporter), used through its multi-target /scrape endpoint. */
export async function startRedisExporter(): Promise<ExporterProcess> {
  const port = await freePort();
  const child = spawn('prometheus-redis-exporter', ['-web.listen-address', `127.0.0.1:${port}`, '-redis.addr', ''], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const stop = () => stopChild(child);
  try {
    await waitHttp(`http://127.0.0.1:${port}/`, 10_000, 'redis_exporter', child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, addr: `127.0.0.1:${port}`, stop };
}

// ---------------------------------------------------------------- Prometheus text format

export interface Family {
  name: string;
  type: string;
  /** From `# UNIT`, '' without one. */
  unit: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

/** Families by name, from `# TYPE` lines; each sample goes to the family whose name prefixes it. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const units = new Map<string, string>();
  let current: Family | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      current = { name: name!, type: type!, unit: units.get(name!) ?? '', samples: [] };
      families.set(current.name, current);
      continue;
    }
    if (line.startsWith('# UNIT ')) {
      const [, , name, unit] = line.split(' ');
      units.set(name!, unit ?? '');
      const f = families.get(name!);
      if (f) f.unit = unit ?? '';
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const name = m[1]!;
    if (current === null || !name.startsWith(current.name)) throw new Error(`sample ${name} outside its family`);
    current.samples.push({ name, labels: parseLabels(m[3] ?? ''), value: Number(m[4]) });
  }
  return families;
}

// ---------------------------------------------------------------- Grafana dashboards

export interface DashboardTarget {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
  annotations?: { list: { name: string; datasource?: { type: string; uid: string }; target?: { expr?: string; refId?: string } }[] };
}

export interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

export function loadDashboards(): { file: string; json: Dashboard }[] {
  const dir = join(GRAFANA_DIR, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard }));
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

export function dashboardTargets(d: Dashboard): DashboardTarget[] {
  return allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: d.title, panel: p.title, refId: t.refId, expr: t.expr })));
}

/** Prometheus annotation queries (their expression ends in a comparison: an event when it holds). */
export function annotationTargets(d: Dashboard): DashboardTarget[] {
  return (d.annotations?.list ?? [])
    .filter((a) => a.datasource?.type === 'prometheus' && typeof a.target?.expr === 'string')
    .map((a) => ({ dashboard: d.title, panel: `annotation ${a.name}`, refId: a.target!.refId ?? a.name, expr: a.target!.expr! }));
}

/** Replaces `$name` and `${name}` (Grafana's variable syntax) with concrete values. */
export function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in values)) throw new Error(`no value for ${whole} in ${expr}`);
    return values[name]!;
  });
}

/**
 * An alert expression with every comparison turned into a `bool` comparison, so it returns a
 * sample (0 or 1) wherever its operands exist: "does every series and join in this rule have
 * data", independently of whether the alert's condition holds right now. Label matchers and
 * strings are left alone.
 */
export function boolComparisons(expr: string): string {
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '{') {
      // a label matcher block, quoted values included
      let j = i + 1;
      while (j < expr.length && expr[j] !== '}') {
        if (expr[j] === '"') {
          j++;
          while (j < expr.length && expr[j] !== '"') j += expr[j] === '\\' ? 2 : 1;
        }
        j++;
      }
      out += expr.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== '"') j += expr[j] === '\\' ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const two = expr.slice(i, i + 2);
    const op = ['==', '!=', '>=', '<='].includes(two) ? two : c === '>' || c === '<' ? c : null;
    if (op !== null) {
      out += op;
      i += op.length;
      if (!/^\s*bool\b/.test(expr.slice(i))) out += ' bool';
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
