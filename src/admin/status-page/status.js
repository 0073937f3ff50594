// Tiercel's status page: polls /stats and /admin/recent on its own admin port, keeps the last
// minutes of samples in memory and draws them. Plain browser JavaScript, no build step, no
// dependency; every value from the server reaches the page through textContent, never as HTML.
'use strict';

(() => {
  const INTERVAL_MS = 2000;
  const HISTORY_MS = 5 * 60 * 1000;
  /** Ratios over about 10 s: one 2 s step of a light load says little. */
  const RATIO_STEPS = 5;
  const OBJECTIVE = 0.7;
  const ROWS = 10;

  /** { t: ms, s: /stats } oldest first. */
  const samples = [];
  let recent = null;
  let lastOk = 0;
  let timer = null;
  let polling = false;

  const $ = (id) => document.getElementById(id);

  // ---- formatting -------------------------------------------------------------------------
  const nf = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
  const num = (v) => (v === null || v === undefined || Number.isNaN(v) ? '—' : nf.format(v));
  const int = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en'));
  const pct = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)}%`);
  function bytes(v) {
    if (v === null || v === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
  }
  function ms(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '—';
    if (v < 1) return `${v.toFixed(2)} ms`;
    if (v < 1000) return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
    return `${(v / 1000).toFixed(2)} s`;
  }
  function duration(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = Math.floor(seconds % 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
    return `${s}s`;
  }
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString('en-GB', { hour12: false }) : '—');

  /** Sets an element's text, and its machine-readable value for anyone reading the page. */
  function show(id, text, value) {
    const el = $(id);
    if (el === null) return;
    el.textContent = text;
    if (value === undefined || value === null || !Number.isFinite(value)) el.removeAttribute('data-value');
    else el.setAttribute('data-value', String(value));
  }

  // ---- derived series ---------------------------------------------------------------------
  const lookups = (s) => s.hits + s.misses;

  /** What changed between two samples, per second, or as a share of lookups. */
  function window_(a, b) {
    const dt = (b.t - a.t) / 1000;
    const d = (f) => f(b.s) - f(a.s);
    const dl = d(lookups);
    const originRequests = d((s) => s.requests - s.hits);
    return {
      rps: d((s) => s.requests) / dt,
      l1ps: d((s) => s.l1Hits) / dt,
      l2ps: d((s) => s.l2Hits) / dt,
      originps: originRequests / dt,
      ratio: dl > 0 ? d((s) => s.hits) / dl : null,
      ratioL1: dl > 0 ? d((s) => s.l1Hits) / dl : null,
      ratioL2: dl > 0 ? d((s) => s.l2Hits) / dl : null,
      lookupsps: dl / dt,
      originErrorsps: d(originErrors) / dt,
      origin: originQuantiles(a.s, b.s),
    };
  }

  function originErrors(s) {
    let n = 0;
    for (const v of Object.values(s.origin?.errorsByReason ?? {})) n += v;
    return n + (s.origin?.responses?.status5xx ?? 0);
  }

  /** p50 and p95 of the origin's wait between two samples, from the histogram's buckets (ms). */
  function originQuantiles(a, b) {
    const ra = a.origin?.responses;
    const rb = b.origin?.responses;
    if (!ra || !rb) return null;
    const counts = rb.buckets.counts.map((c, i) => c - (ra.buckets.counts[i] ?? 0));
    const total = counts.reduce((x, y) => x + y, 0);
    if (total <= 0) return { count: 0, p50: null, p95: null, mean: null };
    const bounds = rb.buckets.boundaries;
    const q = (p) => {
      const rank = p * total;
      let seen = 0;
      for (let i = 0; i < counts.length; i++) {
        if (counts[i] === 0) continue;
        if (seen + counts[i] >= rank) {
          // Linear inside the bucket, as Prometheus' histogram_quantile does.
          const lo = i === 0 ? 0 : bounds[i - 1];
          const hi = i < bounds.length ? bounds[i] : bounds[bounds.length - 1];
          return (lo + (hi - lo) * ((rank - seen) / counts[i])) * 1000;
        }
        seen += counts[i];
      }
      return bounds[bounds.length - 1] * 1000;
    };
    return { count: total, p50: q(0.5), p95: q(0.95), mean: ((rb.sumSeconds - ra.sumSeconds) / total) * 1000 };
  }

  // ---- charts -----------------------------------------------------------------------------
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 600;
  const H = 140;

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  /**
   * Lines over the history: x is time (the last HISTORY_MS, newest at the right), y from 0 to
   * max. A null value breaks its line.
   */
  function drawChart(id, series, max, guides = []) {
    const svg = $(id);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const now = samples.length ? samples[samples.length - 1].t : Date.now();
    const span = chartSpan();
    const x = (t) => W - ((now - t) / span) * W;
    const y = (v) => H - 2 - (Math.min(v, max) / max) * (H - 4);
    for (let i = 1; i < 4; i++) svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: (H * i) / 4, y2: (H * i) / 4, class: 'grid' }));
    for (const g of guides) svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: y(g.value), y2: y(g.value), class: g.cls }));
    for (const s of series) {
      let d = '';
      let pen = false;
      for (const p of s.points) {
        if (p.v === null || p.v === undefined || !Number.isFinite(p.v)) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
        pen = true;
      }
      if (d) svg.appendChild(svgEl('path', { d, class: `series ${s.cls}` }));
    }
  }

  /** The time a chart spans: what has been seen, from one minute up to HISTORY_MS. */
  function chartSpan() {
    const seen = samples.length ? samples[samples.length - 1].t - samples[0].t : 0;
    return Math.min(HISTORY_MS, Math.max(60_000, seen));
  }

  function legend(id, items) {
    const el = $(id);
    el.replaceChildren(
      ...items.map((it) => {
        const span = document.createElement('span');
        span.className = `key ${it.cls}`;
        span.textContent = `${it.name} ${it.value}`;
        return span;
      }),
    );
  }

  /** Rounds a chart's top up to 1, 2 or 5 times a power of ten. */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // ---- rendering --------------------------------------------------------------------------
  function render() {
    if (samples.length === 0) return;
    const last = samples[samples.length - 1];
    const s = last.s;

    const i = s.instance;
    show('instance-id', i.id);
    show('instance-version', `${i.version}`);
    show('instance-mode', i.mode);
    show('instance-uptime', duration(i.uptimeSeconds), i.uptimeSeconds);
    show('instance-pid', String(i.pid));
    document.title = `Tiercel ${i.id}`;

    // Steps between consecutive samples (rates), and over RATIO_STEPS (ratios).
    const steps = [];
    for (let k = 1; k < samples.length; k++) {
      const w = window_(samples[k - 1], samples[k]);
      const r = window_(samples[Math.max(0, k - RATIO_STEPS)], samples[k]);
      steps.push({ t: samples[k].t, rate: w, ratio: r });
    }
    const now = steps.length ? steps[steps.length - 1] : null;

    show('rps', now ? num(now.rate.rps) : '…', now?.rate.rps);
    show('rps-sub', now ? `L1 ${num(now.rate.l1ps)} · L2 ${num(now.rate.l2ps)} · origin ${num(now.rate.originps)}` : `${int(s.requests)} since start`);
    show('hit-ratio', now ? pct(now.ratio.ratio) : '…', now?.ratio.ratio);
    show('hit-ratio-total', pct(s.hitRate), s.hitRate);
    $('hit-ratio').classList.toggle('bad', now !== null && now.ratio.ratio !== null && now.ratio.ratio < OBJECTIVE);
    show('hit-ratio-l1', now ? pct(now.ratio.ratioL1) : '…', now?.ratio.ratioL1);
    show('hit-ratio-l1-sub', `${int(s.l1Hits)} since start`);
    show('hit-ratio-l2', s.l2 === null ? 'off' : now ? pct(now.ratio.ratioL2) : '…', now?.ratio.ratioL2);
    show('hit-ratio-l2-sub', s.l2 === null ? 'no Redis configured' : `${int(s.l2Hits)} since start`);
    const o = now?.ratio.origin;
    if (s.origin.responses === null) {
      show('origin-latency', 'n/a');
      show('origin-latency-sub', 'metrics are off (METRICS_ENABLED)');
    } else if (!o || o.count === 0) {
      show('origin-latency', '—');
      show('origin-latency-sub', 'no origin response in the last 10 s');
    } else {
      show('origin-latency', `${ms(o.p50).replace(/ ms$/, '')} / ${ms(o.p95)}`, o.p95);
      show('origin-latency-sub', `${int(o.count)} responses in 10 s, mean ${ms(o.mean)}`);
    }
    show('origin-errors', now ? num(now.rate.originErrorsps) : '…', now?.rate.originErrorsps);
    const reasons = Object.entries(s.origin.errorsByReason);
    show('origin-errors-sub', `${int(originErrors(s))} since start${reasons.length ? ` (${reasons.map(([k, v]) => `${k} ${v}`).join(', ')}, 5xx ${int(s.origin.responses?.status5xx ?? 0)})` : ''}`);

    const from = last.t - HISTORY_MS;
    const visible = steps.filter((p) => p.t >= from);
    const rpsMax = niceMax(Math.max(1, ...visible.map((p) => p.rate.rps)));
    drawChart('chart-rps', [
      { cls: 's-total', points: visible.map((p) => ({ t: p.t, v: p.rate.rps })) },
      { cls: 's-l1', points: visible.map((p) => ({ t: p.t, v: p.rate.l1ps })) },
      { cls: 's-l2', points: visible.map((p) => ({ t: p.t, v: p.rate.l2ps })) },
      { cls: 's-origin', points: visible.map((p) => ({ t: p.t, v: p.rate.originps })) },
    ], rpsMax);
    show('chart-rps-max', `${num(rpsMax)}/s`);
    legend('legend-rps', [
      { cls: 's-total', name: 'all', value: now ? num(now.rate.rps) : '—' },
      { cls: 's-l1', name: 'L1', value: now ? num(now.rate.l1ps) : '—' },
      { cls: 's-l2', name: 'L2', value: now ? num(now.rate.l2ps) : '—' },
      { cls: 's-origin', name: 'origin', value: now ? num(now.rate.originps) : '—' },
    ]);
    drawChart('chart-ratio', [
      { cls: 's-total', points: visible.map((p) => ({ t: p.t, v: p.ratio.ratio })) },
      { cls: 's-l1', points: visible.map((p) => ({ t: p.t, v: p.ratio.ratioL1 })) },
      { cls: 's-l2', points: visible.map((p) => ({ t: p.t, v: p.ratio.ratioL2 })) },
    ], 1, [{ value: OBJECTIVE, cls: 'objective' }]);
    legend('legend-ratio', [
      { cls: 's-total', name: 'all', value: now ? pct(now.ratio.ratio) : '—' },
      { cls: 's-l1', name: 'L1', value: now ? pct(now.ratio.ratioL1) : '—' },
      { cls: 's-l2', name: 'L2', value: s.l2 === null ? 'off' : now ? pct(now.ratio.ratioL2) : '—' },
    ]);
    const originMax = niceMax(Math.max(1, ...visible.map((p) => p.ratio.origin?.p95 ?? 0)));
    drawChart('chart-origin', [
      { cls: 's-total', points: visible.map((p) => ({ t: p.t, v: p.ratio.origin?.p50 ?? null })) },
      { cls: 's-origin', points: visible.map((p) => ({ t: p.t, v: p.ratio.origin?.p95 ?? null })) },
    ], originMax);
    show('chart-origin-max', s.origin.responses === null ? 'metrics are off' : ms(originMax));
    legend('legend-origin', [
      { cls: 's-total', name: 'p50', value: o ? ms(o.p50) : '—' },
      { cls: 's-origin', name: 'p95', value: o ? ms(o.p95) : '—' },
    ]);
    const span = `last ${duration(chartSpan() / 1000)}`;
    for (const id of ['chart-rps-span', 'chart-ratio-span', 'chart-origin-span']) show(id, span);

    // L1
    show('l1-entries', int(s.l1.entries), s.l1.entries);
    show('l1-bytes', bytes(s.l1.bytes), s.l1.bytes);
    show('l1-capacity', bytes(s.l1.capacityBytes), s.l1.capacityBytes);
    show('l1-evictions', int(s.l1.evictions), s.l1.evictions);
    $('l1-meter').value = s.l1.capacityBytes > 0 ? s.l1.bytes / s.l1.capacityBytes : 0;

    // L2
    const l2 = s.l2;
    badge('l2-state', l2 === null ? 'disabled' : l2.state);
    $('l2-details').hidden = l2 === null;
    $('l2-meter').hidden = l2 === null || !l2.memory || !(l2.memory.maxMemory > 0);
    if (l2 !== null) {
      show('l2-breaker', l2.breaker);
      show('l2-connection', l2.connection);
      show('l2-hits', `${int(l2.hits)} / ${int(l2.misses)}`);
      show('l2-errors', `${int(l2.errors)}${l2.skipped ? `, ${int(l2.skipped)} skipped` : ''}`, l2.errors);
      const m = l2.memory;
      show('l2-memory', m ? `${bytes(m.usedMemory)}${m.maxMemory > 0 ? ` of ${bytes(m.maxMemory)}` : ', no limit'}` : l2.state === 'ok' ? 'reading…' : 'unknown', m?.usedMemory);
      show('l2-evicted', m ? int(m.evictedKeys) : '—');
      if (m && m.maxMemory > 0) $('l2-meter').value = m.usedMemory / m.maxMemory;
    }

    // Bus
    const bus = s.bus;
    badge('bus-state', bus === null ? 'disabled' : bus.state);
    show('bus-sent', bus ? int(bus.sent) : '—');
    show('bus-received', bus ? int(bus.received) : '—');
    show('bus-resyncs', bus ? int(bus.resyncs) : '—', bus?.resyncs);
    show('bus-gaps', bus ? int(bus.gapFlushes) : '—');
    show('bus-errors', bus ? int(bus.publishErrors) : '—');

    // Process
    if (samples.length > 1) {
      const a = samples[samples.length - 2];
      const dt = (last.t - a.t) / 1000;
      const cpu = (s.process.cpuSeconds - a.s.process.cpuSeconds) / dt;
      const active = s.process.eventLoopActiveMs - a.s.process.eventLoopActiveMs;
      const idle = s.process.eventLoopIdleMs - a.s.process.eventLoopIdleMs;
      show('proc-cpu', pct(cpu), cpu);
      show('proc-elu', active + idle > 0 ? pct(active / (active + idle)) : '—');
    }
    show('proc-mem', `${bytes(s.process.rssBytes)} / ${bytes(s.process.heapUsedBytes)}`);
    show('proc-conns', `${int(s.openConnections)} / ${int(s.activeRequests)}`);
    show('proc-inflight', int(s.inFlightFetches));
    show('proc-node', i.node);

    renderPolicy(s.policy);
    $('ca-panel').hidden = !i.interception;
    renderRecent();
  }

  function badge(id, state) {
    const el = $(id);
    el.textContent = state;
    el.className = `badge ${state === 'ok' ? 'ok' : state === 'disabled' ? 'off' : 'warn'}`;
  }

  function renderPolicy(p) {
    const box = $('policy');
    const dl = document.createElement('dl');
    const add = (k, v, cls) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      dl.append(dt, dd);
    };
    if (!p || p.file === null) {
      const para = document.createElement('p');
      para.className = 'note';
      para.textContent = 'No policy file: the origin\'s headers decide (TIERCEL_CONFIG is unset).';
      box.replaceChildren(para);
      return;
    }
    add('file', p.file);
    add('hash', p.hash ? p.hash.slice(0, 16) : '—', 'mono');
    add('loaded', p.loadedAt ? new Date(p.loadedAt).toLocaleString('en-GB') : '—');
    add('rules', p.rules.length ? p.rules.join(', ') : 'none');
    add('hosts', p.hosts === null ? 'any' : p.hosts.join(', '));
    add('reloads', `${p.reloads.ok} ok, ${p.reloads.failed} refused`);
    if (p.lastError) add('last error', p.lastError, 'bad');
    box.replaceChildren(dl);
    box.querySelector('.mono')?.setAttribute('title', p.hash ?? '');
  }

  // ---- recent requests --------------------------------------------------------------------
  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  const requestText = (r) => `${r.method} ${r.host ?? ''}${r.path}`;
  const matches = (r, f) => !f || [requestText(r), r.status, r.reason, r.trace_id, r.outcome, r.tier, r.rule, r.cache_status].some((v) => v !== null && v !== undefined && String(v).toLowerCase().includes(f));

  function fill(id, rows, columns, limit = ROWS) {
    const f = $('filter').value.trim().toLowerCase();
    const shown = rows.filter((r) => matches(r, f)).slice(0, limit);
    const tbody = $(id).tBodies[0];
    if (shown.length === 0) {
      const tr = document.createElement('tr');
      const td = cell(rows.length === 0 ? 'none yet' : 'none match the filter', 'empty');
      td.colSpan = $(id).tHead.rows[0].cells.length;
      tr.append(td);
      tbody.replaceChildren(tr);
      return;
    }
    tbody.replaceChildren(
      ...shown.map((r) => {
        const tr = document.createElement('tr');
        tr.append(...columns.map((c) => c(r)));
        if (r.trace_id) tr.dataset.traceId = r.trace_id;
        return tr;
      }),
    );
  }

  const traceCell = (r) => cell(r.trace_id ?? '—', 'mono trace');
  const statusCell = (r) => cell(String(r.status), r.status >= 500 ? 'bad' : r.status >= 400 ? 'warn' : '');

  function renderRecent() {
    const note = $('recent-note');
    if (recent === null) {
      note.textContent = 'waiting for /admin/recent…';
      return;
    }
    // One row per example; the reason's count on its first row.
    const notStored = recent.uncacheable.flatMap((g) => g.last.map((r, k) => ({ ...r, reason: g.reason, reasonCount: k === 0 ? g.count : null })));
    const all = [...recent.slowest, ...notStored, ...recent.errors];
    const traced = all.some((r) => r.trace_id);
    note.textContent = `${int(recent.seen)} requests since ${clock(recent.watchingSince)}, when this page began watching.` + (all.length > 0 && !traced ? ' No trace ids: tracing is off or these requests were not sampled (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER).' : '');
    show('slowest-window', `of the last ${duration(recent.windowSeconds)}`);
    fill('slowest', recent.slowest, [
      (r) => cell(clock(r.time)),
      (r) => cell(r.duration_ms.toFixed(1), 'num'),
      (r) => cell(r.upstream_ms === null ? '' : r.upstream_ms.toFixed(1), 'num'),
      statusCell,
      (r) => cell(`${r.outcome} · ${r.tier}`),
      (r) => cell(requestText(r), 'req'),
      traceCell,
    ]);
    fill('uncacheable', notStored, [
      (r) => cell(r.reason, 'reason'),
      (r) => cell(r.reasonCount === null ? '' : int(r.reasonCount), 'num'),
      (r) => cell(clock(r.time)),
      statusCell,
      (r) => cell(r.duration_ms.toFixed(1), 'num'),
      (r) => cell(requestText(r), 'req'),
      traceCell,
    ], ROWS * 2);
    fill('errors', recent.errors, [
      (r) => cell(clock(r.time)),
      statusCell,
      (r) => cell(r.cache_status, 'mono small'),
      (r) => cell(r.duration_ms.toFixed(1), 'num'),
      (r) => cell(requestText(r), 'req'),
      traceCell,
    ]);
  }

  // ---- polling ----------------------------------------------------------------------------
  async function getJson(path) {
    const res = await fetch(path, { cache: 'no-store', signal: AbortSignal.timeout(INTERVAL_MS * 2) });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return res.json();
  }

  async function poll() {
    timer = null;
    polling = true;
    try {
      const [stats, rec] = await Promise.all([getJson('stats'), getJson('admin/recent').catch(() => null)]);
      const t = Date.now();
      // A restarted instance starts its counters again: its old samples would read as negative rates.
      const prev = samples[samples.length - 1];
      if (prev && (prev.s.instance.startedAt !== stats.instance.startedAt || stats.requests < prev.s.requests)) samples.length = 0;
      samples.push({ t, s: stats });
      while (samples.length > 2 && samples[1].t < t - HISTORY_MS - INTERVAL_MS) samples.shift();
      recent = rec;
      lastOk = t;
      render();
      setLive(true);
    } catch (err) {
      setLive(false, err);
    }
    polling = false;
    if (!document.hidden) timer = setTimeout(poll, INTERVAL_MS);
  }

  function setLive(ok, err) {
    const el = $('live');
    el.classList.toggle('ok', ok);
    el.classList.toggle('down', !ok);
    $('live-text').textContent = ok ? `live, every ${INTERVAL_MS / 1000} s` : `no answer${lastOk ? ` since ${clock(new Date(lastOk).toISOString())}` : ''}: ${err instanceof Error ? err.message : String(err)}`;
  }

  // Hidden tabs do not poll: a page left open in the background costs the admin port nothing,
  // and /admin/recent stops watching the data path once nobody asks.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    } else if (timer === null && !polling) {
      void poll();
    }
  });
  $('filter').addEventListener('input', renderRecent);
  void poll();
})();
