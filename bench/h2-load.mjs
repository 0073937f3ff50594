// An HTTP/2 load generator (no h2load here): SESSIONS TLS connections, each keeping STREAMS
// requests in flight, for DURATION seconds; prints `BENCHJSON {...}` like wrk-report.lua.
// Usage: node h2-load.mjs PORT PATH SESSIONS STREAMS DURATION [CORE|COMPAT]
import { connect } from 'node:http2';

const [port, path, sessions, streams, duration] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6])];
const latencies = [];
let requests = 0;
let errors = 0;
let stop = false;
const t0 = performance.now();
await Promise.all(Array.from({ length: sessions }, () => new Promise((resolve) => {
  const session = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'localhost' });
  session.on('error', () => { errors++; resolve(); });
  let inFlight = 0;
  const one = () => {
    if (stop) {
      if (inFlight === 0) session.close(resolve);
      return;
    }
    inFlight++;
    const start = performance.now();
    const s = session.request({ ':path': path });
    s.on('response', (h) => { if (h[':status'] !== 200) errors++; });
    s.on('data', () => {});
    s.on('end', () => {
      inFlight--;
      requests++;
      latencies.push(performance.now() - start);
      one();
    });
    s.on('error', () => { inFlight--; errors++; one(); });
  };
  session.once('connect', () => { for (let i = 0; i < streams; i++) one(); });
})).concat([new Promise((r) => setTimeout(() => { stop = true; r(); }, duration * 1000))]));
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 1000);
process.stdout.write(`BENCHJSON ${JSON.stringify({ requests, durationUs: elapsed * 1e6, errors: { h2: errors }, latencyUs: { p50: pct(0.5), p99: pct(0.99) } })}\n`);
process.exit(0);
