// The monitoring half of docker-compose.cache.yml, as the containers will see it: Prometheus's
// configuration and rules laid out at their container paths and checked by promtool,
// Alertmanager's by amtool, Grafana's provisioning matched against the compose mounts, and
// every address these files name matched against the compose services.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadCompose, mounts, Mount, run, serviceEnv, which } from '../support/deployment';

const compose = loadCompose();
const services = compose.services;

/** The port each service listens on inside the network, from the files that decide it. */
function containerPorts(): Map<string, Set<number>> {
  const ports = new Map<string, Set<number>>();
  const add = (s: string, p: number) => ports.set(s, (ports.get(s) ?? new Set()).add(p));
  for (const [name, s] of Object.entries(services)) {
    const env = serviceEnv(s);
    if (/^tiercel-\d+$/.test(name)) {
      add(name, Number(env.PROXY_PORT));
      add(name, Number(env.ADMIN_PORT));
    }
  }
  add('redis-exporter', 9121); // redis_exporter's default listen address
  add('alertmanager', 9093);
  add('prometheus', 9090);
  add('grafana', 3000);
  const tempo = parse(readFileSync(mountOf('tempo', '/etc/tempo/tempo.yml').hostPath, 'utf8')) as any;
  add('tempo', tempo.server.http_listen_port);
  add('origin', Number(serviceEnv(services.origin!).PORT));
  return ports;
}

function mountOf(service: string, target: string): Mount {
  const m = mounts(services[service]!).find((x) => x.target === target);
  assert.ok(m, `${service} mounts something at ${target}`);
  assert.ok(existsSync(m.hostPath), `${service}: the source of ${target}, ${m.source}, exists (written by the observability work)`);
  return m;
}

/** Copies every bind mount of a service into `root` at its container path. */
function layOut(service: string, root: string): void {
  for (const m of mounts(services[service]!).filter((x) => x.bind)) {
    assert.ok(existsSync(m.hostPath), `${service}: mount source ${m.source} exists`);
    const dest = join(root, m.target);
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(m.hostPath, dest, { recursive: true });
  }
}

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n), ext) : ext.test(n) ? [join(dir, n)] : []))
    .sort();
}

describe('Prometheus, Alertmanager, Grafana and Tempo files, as mounted by docker-compose.cache.yml', () => {
  it('passes `promtool check config` with the files at their container paths, rules included', () => {
    const promtool = which('promtool');
    assert.ok(promtool, 'promtool is installed (Debian package prometheus; .ci/run installs it)');
    const root = mkdtempSync(join(tmpdir(), 'tiercel-prom-'));
    try {
      layOut('prometheus', root);
      const configTarget = '/etc/prometheus/prometheus.yml';
      assert.ok(existsSync(join(root, configTarget)), `${configTarget} is mounted`);
      // Absolute container paths in the configuration (rule_files) point into the laid-out tree.
      const text = readFileSync(join(root, configTarget), 'utf8');
      const relocated = text.replace(/(['"\s-])\/etc\/prometheus\//g, `$1${root}/etc/prometheus/`);
      writeFileSync(join(root, configTarget), relocated);
      const rules = filesUnder(join(root, '/etc/prometheus/rules'), /\.ya?ml$/);
      assert.ok(rules.length > 0, 'rule files are mounted');

      const r = run(promtool, ['check', 'config', join(root, configTarget)], { timeoutMs: 30_000 });
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 0, out);
      // Every mounted rule file was matched by rule_files and checked.
      for (const f of rules) assert.ok(out.includes(`Checking ${f}`), `promtool checked ${f}:\n${out}`);
      assert.match(out, /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('scrapes and alerts to addresses that are compose services on their real ports', () => {
    const prom = parse(readFileSync(mountOf('prometheus', '/etc/prometheus/prometheus.yml').hostPath, 'utf8')) as any;
    const ports = containerPorts();
    const check = (target: string, what: string) => {
      const [host, port] = target.split(':');
      if (host === 'localhost' || host === '127.0.0.1') return; // Prometheus itself
      assert.ok(services[host!], `${what} ${target}: ${host} is a compose service`);
      assert.ok(ports.get(host!)?.has(Number(port)), `${what} ${target}: ${host} listens on ${port}`);
    };
    const jobs = new Map<string, string[]>();
    for (const sc of prom.scrape_configs ?? []) {
      const targets = (sc.static_configs ?? []).flatMap((s: any) => s.targets ?? []);
      jobs.set(sc.job_name, targets);
      for (const t of targets) check(t, `job ${sc.job_name}`);
    }
    const tiercels = Object.keys(services).filter((n) => /^tiercel-\d+$/.test(n));
    assert.deepEqual(
      [...(jobs.get('tiercel') ?? [])].sort(),
      tiercels.map((t) => `${t}:${serviceEnv(services[t]!).ADMIN_PORT}`).sort(),
      'job tiercel scrapes every Tiercel admin port',
    );
    assert.ok(jobs.get('redis')?.includes('redis-exporter:9121'), 'job redis scrapes the exporter');
    const am = (prom.alerting?.alertmanagers ?? []).flatMap((a: any) => (a.static_configs ?? []).flatMap((s: any) => s.targets ?? []));
    assert.ok(am.length > 0, 'Prometheus sends alerts to Alertmanager');
    for (const t of am) check(t, 'alertmanager');
    for (const f of prom.rule_files ?? []) {
      assert.ok(mounts(services.prometheus!).some((m) => f.startsWith(m.target + '/')), `rule_files ${f} lies in a mounted directory`);
    }
  });

  it('passes `amtool check-config`, and its webhook is the demo origin', () => {
    const amtool = which('amtool');
    assert.ok(amtool, 'amtool is installed (Debian package prometheus-alertmanager; .ci/run installs it)');
    const m = mountOf('alertmanager', '/etc/alertmanager/alertmanager.yml');
    const r = run(amtool, ['check-config', m.hostPath], { timeoutMs: 30_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
    const cfg = parse(readFileSync(m.hostPath, 'utf8')) as any;
    const ports = containerPorts();
    for (const rc of cfg.receivers) {
      for (const w of rc.webhook_configs ?? []) {
        const u = new URL(w.url);
        assert.ok(services[u.hostname] && ports.get(u.hostname)?.has(Number(u.port)), `webhook ${w.url} is a compose service`);
      }
    }
  });

  it("provisions Grafana from the mounted directories: datasources on compose services, the dashboards provider at the dashboards mount", () => {
    const provisioning = mountOf('grafana', '/etc/grafana/provisioning');
    const dashboardsMount = mountOf('grafana', '/var/lib/grafana/dashboards');

    const dsFiles = filesUnder(join(provisioning.hostPath, 'datasources'), /\.ya?ml$/);
    const providerFiles = filesUnder(join(provisioning.hostPath, 'dashboards'), /\.ya?ml$/);
    assert.ok(dsFiles.length > 0 && providerFiles.length > 0, 'datasource and dashboard provisioning files exist');

    const ports = containerPorts();
    const datasources = dsFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as any).datasources ?? []);
    const byUid = new Map<string, any>(datasources.map((d: any) => [d.uid, d]));
    assert.equal(byUid.get('prometheus')?.type, 'prometheus');
    assert.equal(byUid.get('tempo')?.type, 'tempo');
    for (const d of datasources) {
      const u = new URL(d.url);
      assert.ok(services[u.hostname], `datasource ${d.uid}: ${u.hostname} is a compose service`);
      assert.ok(ports.get(u.hostname)?.has(Number(u.port)), `datasource ${d.uid}: ${u.hostname} listens on ${u.port}`);
    }

    const providers = providerFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as any).providers ?? []);
    assert.ok(providers.length > 0);
    for (const p of providers) assert.equal(p.options?.path, dashboardsMount.target, `provider ${p.name} reads the directory grafana/dashboards is mounted at`);
  });

  it('has dashboards that parse and only use datasources that are provisioned', () => {
    const dashboardsMount = mountOf('grafana', '/var/lib/grafana/dashboards');
    const files = filesUnder(dashboardsMount.hostPath, /\.json$/);
    assert.ok(files.length > 0, 'dashboards exist');
    const provisioning = mountOf('grafana', '/etc/grafana/provisioning');
    const datasources = filesUnder(join(provisioning.hostPath, 'datasources'), /\.ya?ml$/).flatMap((f) => (parse(readFileSync(f, 'utf8')) as any).datasources ?? []);
    const uids = new Set(datasources.map((d: any) => d.uid));
    const types = new Set(datasources.map((d: any) => d.type));
    const builtIn = new Set(['-- Grafana --', 'grafana', '-- Mixed --', '-- Dashboard --']);
    const seenUids = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(readFileSync(f, 'utf8'));
      assert.ok(d.uid && !seenUids.has(d.uid), `${f}: a unique dashboard uid`);
      seenUids.add(d.uid);
      const dsVars = new Map<string, string>((d.templating?.list ?? []).filter((v: any) => v.type === 'datasource').map((v: any) => [v.name, v.query]));
      for (const [name, pluginType] of dsVars) assert.ok(types.has(pluginType), `${f}: variable $${name} selects a ${pluginType} datasource, and one is provisioned`);
      const refs: any[] = [];
      const walk = (x: any) => {
        if (Array.isArray(x)) x.forEach(walk);
        else if (x && typeof x === 'object') {
          if (x.datasource && typeof x.datasource === 'object') refs.push(x.datasource);
          Object.values(x).forEach(walk);
        }
      };
      walk(d);
      assert.ok(refs.length > 0, `${f} queries a datasource`);
      for (const ref of refs) {
        const uid = String(ref.uid ?? '');
        if (builtIn.has(uid) || ref.type === 'grafana' || ref.type === 'datasource') continue;
        const v = /^\$\{?(\w+)\}?$/.exec(uid);
        if (v) assert.ok(dsVars.has(v[1]!), `${f}: $${v[1]} is a datasource variable`);
        else assert.ok(uids.has(uid), `${f}: datasource uid ${uid} is provisioned`);
      }
    }
  });

  it('gives Tempo an OTLP/HTTP receiver on all interfaces and its storage on a volume', () => {
    const tempo = parse(readFileSync(mountOf('tempo', '/etc/tempo/tempo.yml').hostPath, 'utf8')) as any;
    assert.equal(tempo.distributor.receivers.otlp.protocols.http.endpoint, '0.0.0.0:4318');
    assert.equal(tempo.storage.trace.backend, 'local');
    const volume = (services.tempo!.volumes ?? []).map((v) => String(typeof v === 'string' ? v : (v as { target: string }).target)).find((v) => /(^|:)\/var\/tempo$/.test(v));
    assert.ok(volume, 'a volume on /var/tempo');
    assert.match(tempo.storage.trace.local.path, /^\/var\/tempo\//);
    assert.match(tempo.storage.trace.wal.path, /^\/var\/tempo\//);
    assert.deepEqual(services.tempo!.command, ['-config.file=/etc/tempo/tempo.yml']);
  });
});
