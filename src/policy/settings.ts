import { loadConfig, TiercelConfig } from '../config/config';
import { PolicyService } from './policy.service';

type Env = Record<string, string | undefined>;

/**
 * The configuration and the policy at start: TIERCEL_CONFIG names the policy file, whose
 * top-level settings (cache_max_age: 10m) stand in for variables the environment leaves unset.
 */
export function loadSettings(env: Env): { config: TiercelConfig; policy: PolicyService } {
  const file = env.TIERCEL_CONFIG?.trim() || null;
  const policy = PolicyService.load(file);
  const merged: Env = { ...policy.current.settings };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') merged[k] = v;
  return { config: loadConfig(merged), policy };
}
