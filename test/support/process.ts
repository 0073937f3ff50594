import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const MAIN = join(__dirname, '../../src/main.js');

export interface TiercelProcess {
  child: ChildProcess;
  proxyPort: number;
  adminPort: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs Tiercel as its own process (dist/src/main.js) and waits for its start line. */
export async function spawnTiercel(env: Record<string, string>): Promise<TiercelProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, PROXY_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const ports = await new Promise<{ proxyPort: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tiercel did not start: ${err}`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.includes('"tiercel started"')) continue;
        const j = JSON.parse(line);
        clearTimeout(timer);
        resolve({ proxyPort: j.proxyPort, adminPort: j.adminPort });
      }
    });
    void exited.then(() => reject(new Error(`tiercel exited early: ${err}`)));
  });
  return { child, ...ports, stdout: () => out, stderr: () => err, exited };
}

/** Runs main.js to completion (for start-up failures). */
export function runTiercel(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH, PROXY_PORT: '0', ADMIN_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
