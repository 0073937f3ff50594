/**
 * One exposition for the instance from each worker's /metrics (Prometheus text or OpenMetrics):
 * counters, histograms and the instance's gauges add up over workers, since every worker serves
 * a share of the same traffic; runtime health (process_*, nodejs_*, v8js_*) stays per worker,
 * with a `worker` label, because a sum of event-loop delays or heap sizes hides the worker in
 * trouble; facts every worker reports alike (build and policy info, Redis's own memory, the
 * breaker) are the largest value, not a sum.
 */
const PER_WORKER = /^(process_|nodejs_|v8js_)/;
const LARGEST = /^(tiercel_build_info|tiercel_policy_|tiercel_l2_breaker_open|tiercel_redis_|target_info)/;

interface Sample {
  name: string;
  labels: string;
  value: number;
  rest: string;
}

interface Family {
  meta: string[];
  samples: Map<string, Sample>;
  mode: 'sum' | 'max' | 'worker';
}

/** Splits `name{labels} value rest` with label values that may hold spaces, braces and escaped quotes. */
function parseSample(line: string): Sample | null {
  let i = 0;
  while (i < line.length && /[A-Za-z0-9_:]/.test(line[i]!)) i++;
  if (i === 0) return null;
  const name = line.slice(0, i);
  let labels = '';
  if (line[i] === '{') {
    const start = i;
    let quoted = false;
    for (i++; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === '}') break;
    }
    if (i >= line.length) return null;
    labels = line.slice(start + 1, i);
    i++;
  }
  const tail = line.slice(i).trim();
  const sp = tail.indexOf(' ');
  const raw = sp < 0 ? tail : tail.slice(0, sp);
  const value = parseValue(raw);
  if (value === null) return null;
  return { name, labels, value, rest: sp < 0 ? '' : tail.slice(sp) };
}

function parseValue(raw: string): number | null {
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  const n = Number(raw);
  return raw === '' || Number.isNaN(n) ? null : n;
}

function formatValue(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

/** The family a sample belongs to: its name less a histogram's or counter's suffix, when that family was declared. */
function familyOf(name: string, declared: Map<string, Family>): string {
  if (declared.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created', '_info']) {
    if (name.endsWith(suffix) && declared.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return name;
}

/** `texts[i]` is worker `workers[i]`'s exposition. */
export function mergeExpositions(texts: readonly string[], workers: readonly number[], extra = ''): string {
  const families = new Map<string, Family>();
  const openMetrics = texts.some((t) => /^# EOF\s*$/m.test(t));
  for (let w = 0; w < texts.length; w++) {
    for (const line of texts[w]!.split('\n')) {
      if (line === '' || /^# EOF\s*$/.test(line)) continue;
      const meta = /^# (HELP|TYPE|UNIT) ([A-Za-z0-9_:]+)/.exec(line);
      if (meta !== null) {
        const name = meta[2]!;
        let f = families.get(name);
        if (f === undefined) {
          f = { meta: [], samples: new Map(), mode: PER_WORKER.test(name) ? 'worker' : LARGEST.test(name) ? 'max' : 'sum' };
          families.set(name, f);
        }
        if (w === 0 || !f.meta.some((m) => m.startsWith(`# ${meta[1]} `))) {
          if (!f.meta.includes(line)) f.meta.push(line);
        }
        continue;
      }
      if (line.startsWith('#')) continue;
      const s = parseSample(line);
      if (s === null) continue;
      const fname = familyOf(s.name, families);
      let f = families.get(fname);
      if (f === undefined) {
        f = { meta: [], samples: new Map(), mode: PER_WORKER.test(fname) ? 'worker' : LARGEST.test(fname) ? 'max' : 'sum' };
        families.set(fname, f);
      }
      if (f.mode === 'worker') s.labels = s.labels === '' ? `worker="${workers[w]}"` : `${s.labels},worker="${workers[w]}"`;
      const key = `${s.name}{${s.labels}}`;
      const prev = f.samples.get(key);
      if (prev === undefined) f.samples.set(key, s);
      else prev.value = f.mode === 'max' ? Math.max(prev.value, s.value) : prev.value + s.value;
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    out.push(...f.meta);
    for (const s of f.samples.values()) out.push(`${s.name}${s.labels === '' ? '' : `{${s.labels}}`} ${formatValue(s.value)}${s.rest}`);
  }
  let text = out.join('\n') + '\n';
  if (extra !== '') text += extra;
  if (openMetrics) text += '# EOF\n';
  return text;
}
