// `tiercel tail` and `tiercel stats`: the admin port from a terminal, like varnishlog and
// varnishstat. Plain node: no Nest, no SDK, so it starts instantly next to a running proxy.
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';

const USAGE = `usage:
  tiercel tail  [--admin URL] [--token T] [--outcome hit,miss,...] [--status 5xx|500-599|503]
                [--min-ms N] [--host GLOB] [--path GLOB] [--json]
  tiercel stats [--admin URL] [--interval SECONDS] [--once]

--admin defaults to http://127.0.0.1:$ADMIN_PORT (9464); --token to $ADMIN_TOKEN.
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: Record<string, string | undefined>;
}

function adminUrl(v: string | undefined, env: CliIo['env']): URL {
  return new URL(v ?? `http://127.0.0.1:${env.ADMIN_PORT || '9464'}`);
}

function get(url: URL, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, resolve);
    req.once('error', reject);
    req.end();
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of res) s += chunk;
  return s;
}

/** One tail line for people: time, status, outcome/tier, duration, method, host and path, upstream time. */
export function formatTailLine(l: Record<string, unknown>, now = new Date()): string {
  const dur = typeof l.duration_ms === 'number' ? `${l.duration_ms.toFixed(1)}ms` : '-';
  const up = typeof l.upstream_ms === 'number' ? ` upstream=${l.upstream_ms.toFixed(1)}ms` : '';
  const trace = typeof l.trace_id === 'string' ? ` trace=${l.trace_id}` : '';
  const t = typeof l.time === 'string' ? l.time : now.toISOString();
  return `${t} ${String(l.status)} ${String(l.outcome)}/${String(l.tier)} ${dur.padStart(9)} ${String(l.method)} ${String(l.host ?? '-')}${String(l.url ?? '')} ${String(l.bytes)}B${up}${trace}`;
}

async function tail(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      admin: { type: 'string' }, token: { type: 'string' }, outcome: { type: 'string' }, status: { type: 'string' },
      'min-ms': { type: 'string' }, host: { type: 'string' }, path: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const url = adminUrl(values.admin, io.env);
  url.pathname = '/admin/tail';
  for (const [k, q] of [['outcome', 'outcome'], ['status', 'status'], ['min-ms', 'min_ms'], ['host', 'host'], ['path', 'path']] as const) {
    const v = values[k];
    if (typeof v === 'string') url.searchParams.set(q, v);
  }
  const token = values.token ?? io.env.ADMIN_TOKEN;
  const res = await get(url, token ? { authorization: `Bearer ${token}` } : {});
  if (res.statusCode !== 200) {
    io.err(`tiercel tail: ${res.statusCode} ${(await text(res)).trim()}\n`);
    return 1;
  }
  let buf = '';
  for await (const chunk of res) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (values.json) io.out(line + '\n');
      else io.out(formatTailLine(JSON.parse(line) as Record<string, unknown>) + '\n');
    }
  }
  io.err('tiercel tail: the stream ended (Tiercel stopped, or this reader fell behind and was dropped)\n');
  return 2;
}

/** The /stats counters that rise with traffic, with what they count, as varnishstat lists them. */
const COUNTERS: [string, string][] = [
  ['hits', 'Responses served from a cache tier'],
  ['l1Hits', 'Hits served from L1 (memory)'],
  ['l2Hits', 'Hits served from L2 (Redis)'],
  ['misses', 'Looked up, fetched from the origin'],
  ['passes', 'Fetched without the cache'],
  ['coalesced', 'Served from another request\'s fetch'],
  ['revalidations', 'Stored objects confirmed by a 304'],
  ['staleServed', 'Stale objects served by the rules'],
  ['stores', 'Objects stored'],
  ['upstreamErrors', 'Origin requests that failed'],
  ['originRetries', 'Origin requests retried on a fresh connection'],
  ['backgroundRefreshes', 'stale-while-revalidate refreshes'],
  ['l2Errors', 'Redis calls that failed or timed out'],
  ['invalidations', 'Invalidations started here'],
  ['invalidationsReceived', 'Invalidations heard over Pub/Sub'],
];

export function formatStats(now: Record<string, unknown>, before: Record<string, unknown> | null, seconds: number): string {
  const num = (o: Record<string, unknown> | null, k: string) => (o && typeof o[k] === 'number' ? (o[k] as number) : 0);
  const l1 = (now.l1 ?? {}) as Record<string, number>;
  const lines = [
    `hit rate ${(num(now, 'hitRate') * 100).toFixed(1)}%   L1 ${l1.entries ?? 0} entries, ${((l1.bytes ?? 0) / 1048576).toFixed(1)} of ${((l1.capacityBytes ?? 0) / 1048576).toFixed(1)} MiB   connections ${num(now, 'openConnections')}   active requests ${num(now, 'activeRequests')}   fetches ${num(now, 'inFlightFetches')}`,
    `${'NAME'.padEnd(24)}${'CURRENT'.padStart(14)}${'CHANGE/s'.padStart(12)}  DESCRIPTION`,
  ];
  for (const [k, d] of COUNTERS) {
    const rate = before === null ? '' : ((num(now, k) - num(before, k)) / seconds).toFixed(1);
    lines.push(`${k.padEnd(24)}${String(num(now, k)).padStart(14)}${rate.padStart(12)}  ${d}`);
  }
  return lines.join('\n') + '\n';
}

async function stats(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { admin: { type: 'string' }, interval: { type: 'string' }, once: { type: 'boolean' } } });
  const url = adminUrl(values.admin, io.env);
  url.pathname = '/stats';
  const interval = Number(values.interval ?? '1');
  if (!Number.isFinite(interval) || interval <= 0) {
    io.err('tiercel stats: --interval is a number of seconds above 0\n');
    return 1;
  }
  const read = async () => {
    const res = await get(url);
    const body = await text(res);
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${body.trim()}`);
    return JSON.parse(body) as Record<string, unknown>;
  };
  let before = await read();
  if (values.once) {
    io.out(formatStats(before, null, 1));
    return 0;
  }
  for (;;) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    const now = await read();
    io.out(formatStats(now, before, interval));
    before = now;
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'tail') return await tail(rest, io);
    if (cmd === 'stats') return await stats(rest, io);
    io.err(USAGE);
    return cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 1;
  } catch (err) {
    io.err(`tiercel ${cmd}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** bin/tiercel.js calls this. */
export function main(): void {
  process.stdout.on('error', () => process.exit(0)); // `| head` closed the pipe
  void runCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
