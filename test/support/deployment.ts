// Helpers for the deployment checks (test/deployment): the repository's root, the compose file
// as Compose would see it, and the real programs the checks run.
import { spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { parse } from 'yaml';

/** The checkout (dist/test/support/ -> ../../..). */
export const ROOT = join(__dirname, '../../..');
export const COMPOSE_FILE = join(ROOT, 'docker-compose.cache.yml');
export const ENV_EXAMPLE = join(ROOT, '.env.example');

export const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?message}, ${VAR?message}. Throws like Compose when a required variable is missing.
 */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (whole, dollar, name, op, arg, bare) => {
    if (dollar === '$') return '$';
    if (bare) return env[bare] ?? '';
    const value = env[name as string];
    const unsetOrEmpty = value === undefined || value === '';
    switch (op as string | undefined) {
      case undefined:
        return value ?? '';
      case ':-':
        return unsetOrEmpty ? arg : value!;
      case '-':
        return value === undefined ? arg : value;
      case ':?':
        if (unsetOrEmpty) throw new Error(`${name}: ${arg}`);
        return value!;
      case '?':
        if (value === undefined) throw new Error(`${name}: ${arg}`);
        return value;
      default:
        throw new Error(`unsupported substitution ${whole}`);
    }
  });
}

function deepInterpolate(v: unknown, env: Record<string, string>): unknown {
  if (typeof v === 'string') return interpolate(v, env);
  if (Array.isArray(v)) return v.map((x) => deepInterpolate(x, env));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepInterpolate(x, env)]));
  return v;
}

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string; interval?: string };
  depends_on?: Record<string, { condition: string }> | string[];
  profiles?: string[];
  user?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** The compose file with YAML anchors merged and variables substituted from `env`. */
export function loadCompose(env: Record<string, string> = parseEnvFile(readFileSync(ENV_EXAMPLE, 'utf8'))): ComposeFile {
  const raw = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile & Record<string, unknown>;
  return deepInterpolate(raw, env) as ComposeFile;
}

/** A service's environment as strings. */
export function serviceEnv(s: ComposeService): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A bind mount of a path in the repository (not a named volume). */
  bind: boolean;
  /** The source resolved against the compose file's directory (bind mounts). */
  hostPath: string;
}

export function mounts(s: ComposeService): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    const bind = source.startsWith('.') || source.startsWith('/');
    return { source, target, readOnly: (mode ?? '').split(',').includes('ro'), bind, hostPath: bind ? join(dirname(COMPOSE_FILE), source) : '' };
  });
}

/** The first program of that name on PATH, or null. */
export function which(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * A real npm, as [program, ...args]. Under `npm test`, npm_execpath is the npm that runs the
 * suite; node_modules/.bin/npm is npm 6 (a dependency of http-cache-tests), which cannot read
 * this lockfile, so it is skipped when searching PATH.
 */
export function npmCommand(): string[] {
  const execpath = process.env.npm_execpath;
  if (execpath && /npm-cli\.js$/.test(execpath) && npmMajor(join(dirname(execpath), '..')) >= 7) return [process.execPath, execpath];
  const path = (process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules')).join(delimiter);
  const npm = which('npm', path);
  if (!npm) throw new Error('no npm found on PATH');
  return [npm];
}

function npmMajor(dir: string): number {
  try {
    return Number((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version.split('.')[0]);
  } catch {
    return 0;
  }
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, input: opts.input });
}

/** Runs a command asynchronously (the event loop keeps serving the test's own servers). */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Splits a Compose healthcheck test into a shell command line (CMD-SHELL) or an argv (CMD). */
export function healthcheckCommand(test: string[] | string): { shell: string } | { argv: string[] } {
  if (typeof test === 'string') return { shell: test };
  const [kind, ...rest] = test;
  if (kind === 'CMD-SHELL') return { shell: rest.join(' ') };
  if (kind === 'CMD') return { argv: rest };
  throw new Error(`healthcheck test ${JSON.stringify(test)} is neither CMD nor CMD-SHELL`);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
