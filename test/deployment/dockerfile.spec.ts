// The Dockerfile, without a Docker engine: parsed for what the image must be (multi-stage,
// non-root, tini, healthcheck, production dependencies only), then its build and runtime
// stages carried out for real in temporary directories, each standing for a stage's
// filesystem: COPY copies, the npm and node steps of RUN run with the project's Node 24 (the
// image's node), and the image's ENTRYPOINT + CMD starts Tiercel, which must answer the
// HEALTHCHECK. A production dependency missing from package.json fails here, not in a
// container. The OS package steps (apt-get for tini) are the only ones not run; tini itself is
// the Debian package the image installs.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send } from '../support/client';
import { startOrigin, TestOrigin } from '../support/origin';
import { freePort } from '../support/redis';
import { npmCommand, read, ROOT, runAsync, waitFor, which } from '../support/deployment';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name: string;
  steps: Instruction[];
}

/** Dockerfile instructions by stage (line continuations joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continuation
    if (line.endsWith('\\')) cur += line.slice(0, -1) + ' ';
    else {
      logical.push((cur + line).trim());
      cur = '';
    }
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l);
    assert.ok(m, `unparsable line: ${l}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?: AS (\S+))?$/i.exec(args);
      assert.ok(f, `FROM ${args}`);
      stages.push({ image: f[1]!, name: f[2] ?? String(stages.length), steps: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before FROM`);
      stages.at(-1)!.steps.push({ op, args });
    }
  }
  return stages;
}

const execForm = (args: string): string[] => JSON.parse(args) as string[];
/** ENV a=b c=d (or the legacy ENV a b). */
function envPairs(args: string): Record<string, string> {
  if (!args.includes('=')) {
    const [k, ...v] = args.split(' ');
    return { [k!]: v.join(' ') };
  }
  return Object.fromEntries([...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
}

const dockerfile = read('Dockerfile');
const stages = parseDockerfile(dockerfile);
const build = stages[0]!;
const runtime = stages.at(-1)!;
const steps = (s: Stage, op: string) => s.steps.filter((x) => x.op === op);
const healthcheckArgv = (): string[] => {
  const hc = steps(runtime, 'HEALTHCHECK')[0]!.args;
  return execForm(hc.slice(hc.indexOf('CMD ') + 4));
};

describe('Dockerfile', () => {
  it('builds in a Node 24 stage and runs in node:24-slim', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(build.image, /^node:24(-slim|-alpine|-bookworm-slim)?$/);
    assert.equal(build.name, 'build');
    assert.equal(runtime.image, 'node:24-slim');
    assert.equal(runtime.name, 'runtime');
    assert.ok(steps(build, 'RUN').some((r) => /^npm ci\b/.test(r.args)), 'build stage runs npm ci');
    assert.ok(steps(build, 'RUN').some((r) => /^node node_modules\/typescript\/bin\/tsc -p tsconfig\.json$/.test(r.args)), "build stage compiles with the image's node");
  });

  it('installs production dependencies only in the runtime stage, and copies only the compiled code from the build', () => {
    const installs = steps(runtime, 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r.args));
    assert.equal(installs.length, 1);
    assert.match(installs[0]!.args, /npm ci --omit=dev\b/);
    const copies = steps(runtime, 'COPY');
    const fromBuild = copies.filter((c) => c.args.startsWith('--from='));
    assert.deepEqual(fromBuild.map((c) => c.args), ['--from=build /app/dist/src ./dist/src']);
    // From the context: the manifests, the runbook the admin port serves as /runbook, and the status page it serves at /.
    assert.deepEqual(copies.filter((x) => !x.args.startsWith('--from=')).map((c) => c.args), ['package.json package-lock.json ./', 'docs/runbook.md ./docs/runbook.md', 'src/admin/status-page ./src/admin/status-page']);
  });

  it('runs as a non-root user, under tini, with a healthcheck on /healthz, and listens beyond loopback', () => {
    const user = steps(runtime, 'USER').at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.deepEqual(execForm(steps(runtime, 'ENTRYPOINT')[0]!.args), ['/usr/bin/tini', '--']);
    assert.ok(steps(runtime, 'RUN').some((r) => /apt-get install .*\btini\b/.test(r.args)), 'tini is installed');
    assert.deepEqual(execForm(steps(runtime, 'CMD').at(-1)!.args), ['node', 'dist/src/main.js']);
    assert.match(steps(runtime, 'HEALTHCHECK')[0]!.args, /^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD \[/);
    const hc = healthcheckArgv();
    assert.equal(hc[0], 'node', 'the healthcheck needs nothing but node');
    assert.match(hc.join(' '), /127\.0\.0\.1.*9464.*\/healthz/);
    const env = Object.assign({}, ...steps(runtime, 'ENV').map((e) => envPairs(e.args)));
    assert.equal(env.PROXY_HOST, '0.0.0.0');
    assert.equal(env.ADMIN_HOST, '0.0.0.0');
    assert.deepEqual(steps(runtime, 'EXPOSE').flatMap((e) => e.args.split(' ')).sort(), ['8080', '9464']);
  });

  it('has a .dockerignore that keeps secrets, node_modules and build output out of the context but not what COPY needs', () => {
    const ignore = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['.git', '.env', 'node_modules', 'dist']) assert.ok(ignore.includes(p), `${p} is ignored`);
    const sources = stages.flatMap((s) => steps(s, 'COPY').filter((c) => !c.args.startsWith('--from=')).flatMap((c) => c.args.split(' ').slice(0, -1)));
    for (const src of sources) {
      assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`);
      // The last matching line decides, as Docker reads it: `!path` takes a path back in.
      const matches = (p: string) => p === src || src.startsWith(p + '/');
      const last = ignore.filter((p) => matches(p.replace(/^!/, ''))).pop();
      assert.ok(last === undefined || last.startsWith('!'), `COPY source ${src} is not ignored`);
    }
  });
});

describe('Dockerfile stages carried out in temporary directories', () => {
  let tmp: string;
  let origin: TestOrigin;
  let shim: string;
  let child: ChildProcess | undefined;
  const executed: string[] = [];
  const skipped: string[] = [];
  const rootOf = (s: Stage) => join(tmp, s.name);

  /** The command steps that need an OS package manager or only shrink the image. */
  const NOT_RUN = [/^apt-get update$/, /^apt-get install -y --no-install-recommends tini$/, /^rm -rf \/var\/lib\/apt\/lists\/\*$/, /^npm cache clean --force$/];

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tiercel-image-'));
    origin = await startOrigin();
    origin.handle('/hello', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('hello from the origin');
    });
    // `node` and `npm` of the stages: the project's Node 24 and a real npm (not node_modules/.bin's npm 6).
    shim = join(tmp, 'bin');
    mkdirSync(shim);
    symlinkSync(process.execPath, join(shim, 'node'));
    const npm = npmCommand();
    writeFileSync(join(shim, 'npm'), `#!/bin/sh\nexec ${npm.map((a) => `'${a}'`).join(' ')} "$@"\n`);
    chmodSync(join(shim, 'npm'), 0o755);
    const path = [shim, ...(process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.includes('node_modules'))].join(delimiter);

    for (const stage of stages) {
      let workdir = '/';
      const env: Record<string, string> = {};
      const at = (p: string) => join(rootOf(stage), isAbsolute(p) ? p : join(workdir, p));
      for (const step of stage.steps) {
        if (step.op === 'WORKDIR') {
          workdir = step.args;
          mkdirSync(at('.'), { recursive: true });
        } else if (step.op === 'ENV') Object.assign(env, envPairs(step.args));
        else if (step.op === 'COPY') {
          const parts = step.args.split(' ');
          const from = parts[0]!.startsWith('--from=') ? stages.find((s) => s.name === parts.shift()!.slice(7)) : undefined;
          const dest = parts.pop()!;
          for (const src of parts) {
            const source = from ? join(rootOf(from), src) : join(ROOT, src);
            const target = dest.endsWith('/') ? join(at(dest), src.split('/').pop()!) : at(dest);
            cpSync(source, target, { recursive: true });
          }
        } else if (step.op === 'RUN') {
          for (const segment of step.args.split(/\s*&&\s*/)) {
            if (NOT_RUN.some((re) => re.test(segment))) {
              skipped.push(`${stage.name}: ${segment}`);
            } else {
              assert.match(segment, /^(npm ci|node) /, `${stage.name}: RUN ${segment} is neither an npm ci/node step nor a known OS step`);
              const r = await runAsync('sh', ['-c', segment], {
                cwd: at('.'),
                // prefer-offline: the packages npm ci just installed for the suite are in the npm cache.
                env: { ...process.env, ...env, PATH: path, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
                timeoutMs: 180_000,
              });
              assert.equal(r.code, 0, `${stage.name}: RUN ${segment} failed:\n${r.stdout}\n${r.stderr}`);
              executed.push(`${stage.name}: ${segment}`);
            }
          }
        }
      }
    }
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await origin?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ran the npm ci and tsc steps of both stages', () => {
    assert.deepEqual(executed.map((e) => e.replace(/ --.*$/, '')), ['build: npm ci', 'build: node node_modules/typescript/bin/tsc -p tsconfig.json', 'runtime: npm ci']);
    assert.ok(existsSync(join(rootOf(build), 'app/dist/src/main.js')), 'the build stage produced dist/src/main.js');
    assert.deepEqual(skipped.map((s) => s.split(': ')[0]), ['runtime', 'runtime', 'runtime', 'runtime'], skipped.join('\n'));
  });

  it('leaves no devDependency in the runtime stage', () => {
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
    const modules = join(rootOf(runtime), 'app/node_modules');
    for (const dev of Object.keys(pkg.devDependencies)) {
      if (dev in pkg.dependencies) continue;
      // A devDependency may also be some production package's dependency (@types/node, yaml); these must not.
      if (['typescript', 'node', 'http-cache-tests'].includes(dev)) {
        assert.ok(!existsSync(join(modules, dev)), `${dev} is not installed in the runtime stage`);
      }
    }
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(modules, dep)), `${dep} is installed`);
  });

  it("starts with the image's ENTRYPOINT and CMD, answers the HEALTHCHECK, proxies, and stops on SIGTERM", async () => {
    const entrypoint = execForm(steps(runtime, 'ENTRYPOINT')[0]!.args);
    const cmd = execForm(steps(runtime, 'CMD').at(-1)!.args);
    assert.ok(existsSync(entrypoint[0]!), `${entrypoint[0]} is installed here (Debian package tini; .ci/run installs it)`);
    const imageEnv = Object.assign({}, ...steps(runtime, 'ENV').map((e) => envPairs(e.args)));
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    const env = {
      PATH: [shim, '/usr/bin', '/bin'].join(delimiter),
      ...imageEnv,
      // The local run stays on loopback; the image listens on 0.0.0.0.
      PROXY_HOST: '127.0.0.1',
      ADMIN_HOST: '127.0.0.1',
      PROXY_PORT: String(proxyPort),
      ADMIN_PORT: String(adminPort),
      UPSTREAM_URL: origin.url,
    };
    const healthcheck = async () => {
      const [prog, ...args] = healthcheckArgv();
      return (await runAsync(prog!, args, { cwd: join(rootOf(runtime), 'app'), env, timeoutMs: 10_000 })).code;
    };
    child = spawn(entrypoint[0]!, [...entrypoint.slice(1), ...cmd], { cwd: join(rootOf(runtime), 'app'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    await waitFor(`the healthcheck to pass (output: ${out})`, async () => (await healthcheck()) === 0, 20_000, 200);

    const a = await send(proxyPort, '/hello');
    const b = await send(proxyPort, '/hello');
    assert.equal(a.status, 200);
    assert.equal(a.body, 'hello from the origin');
    assert.equal(b.headers['x-cache'], 'HIT');
    const metrics = await send(adminPort, '/metrics');
    assert.match(metrics.body, /^tiercel_requests_total\{[^}]*tier="l1"[^}]*\} 1/m, 'the OpenTelemetry Prometheus exporter works with production dependencies only');
    const page = await send(adminPort, '/');
    assert.equal(page.status, 200, 'the image serves the status page');
    assert.match(page.body, /<script src="status-page\/status\.js"/);
    assert.equal((await send(adminPort, '/status-page/status.js')).status, 200);

    child.kill('SIGTERM'); // to tini, which forwards it to node
    assert.equal(await exited, 0, out);
    assert.notEqual(await healthcheck(), 0, 'the healthcheck fails once Tiercel is gone');
  });
});
