import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../config/parse';

/** The most workers one instance runs: beyond this the machine is better split into instances. */
export const MAX_WORKERS = 256;

/**
 * The CPUs a container may use: cgroup v2's cpu.max (or v1's cfs quota) divided by its period,
 * rounded up; null when no quota is set. availableParallelism() already honours the CPU set
 * (affinity), not the quota, and a container limited to 2 CPUs on a 64-core host must not start 64.
 */
export function cgroupCpuLimit(read: (path: string) => string | null = readQuiet): number | null {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota !== undefined && quota !== 'max' && Number(quota) > 0 && Number(period) > 0) return Math.ceil(Number(quota) / Number(period));
    return null;
  }
  const q = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
  const p = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us');
  if (q !== null && p !== null && Number(q) > 0 && Number(p) > 0) return Math.ceil(Number(q) / Number(p));
  return null;
}

function readQuiet(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** WORKERS=auto: the machine's available parallelism, no more than a container's CPU limit. */
export function autoWorkers(): number {
  const cores = availableParallelism();
  const limit = cgroupCpuLimit();
  return Math.max(1, Math.min(cores, limit ?? cores, MAX_WORKERS));
}

/** WORKERS: a number of processes serving the data ports, or `auto`. */
export function parseWorkers(name: string, raw: string): number {
  const v = raw.trim().toLowerCase();
  if (v === 'auto') return autoWorkers();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_WORKERS) throw new ConfigError(name, raw, `auto, or an integer from 1 to ${MAX_WORKERS}`);
  return Number(v);
}
