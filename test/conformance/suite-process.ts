// The processes both conformance specs run: the suite's own origin server, and its client,
// each a Node script with a deadline.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** Runs a Node script to completion (Node 24: process.execPath), with a hard deadline. */
export function runNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${opts.timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, opts.timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
  });
}

/** Starts the suite's origin server on an ephemeral port; it prints `Listening on http://host:port/`. */
export function startSuiteOrigin(cwd: string, serverScript: string, pidDir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', serverScript], {
      cwd,
      env: { ...process.env, npm_config_protocol: 'http', npm_config_port: '0', npm_config_pidfile: join(pidDir, 'server.pid') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`suite origin did not start: ${seen}`)); }, 10_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      seen += c;
      const m = /Listening on http:\/\/.*:(\d+)\//.exec(seen);
      if (m) { clearTimeout(timer); resolvePromise({ child, port: Number(m[1]) }); }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (seen += c));
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`suite origin exited (${code}): ${seen}`)); });
  });
}
