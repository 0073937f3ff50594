import { compilePolicy, DEFAULT_POLICY, Policy } from './policy';
import { PolicyError, readPolicyFile } from './policy-file';

/** Injection token for the PolicyService. */
export const POLICY = Symbol('POLICY');

export interface ReloadResult {
  ok: boolean;
  /** The one-line error of a refused file. */
  error?: string;
  hash?: string;
}

/**
 * The operator policy in force, swapped whole on reload: a request reads `current` once, in
 * recv, so it runs under one policy from start to end. A file that fails validation is refused
 * and the policy in force stays.
 */
export class PolicyService {
  current: Policy;
  reloads = { ok: 0, failed: 0 };
  lastError: string | null = null;
  /** Per-rule request counts by label, kept across reloads so the metric stays monotonic. Bounded by the rules ever loaded. */
  readonly ruleCounts = new Map<string, Float64Array>();

  constructor(readonly file: string | null, initial: Policy = DEFAULT_POLICY) {
    this.current = this.adopt(initial);
  }

  private adopt(p: Policy): Policy {
    for (const r of p.rules) {
      const counts = this.ruleCounts.get(r.label);
      if (counts === undefined) this.ruleCounts.set(r.label, r.counts);
      else r.counts = counts;
    }
    return p;
  }

  /** Loads the file at start: a bad file stops start-up (the PolicyError's one line). */
  static load(file: string | null, now = Date.now()): PolicyService {
    return new PolicyService(file, file === null ? DEFAULT_POLICY : compilePolicy(readPolicyFile(file), now));
  }

  /** Re-reads the file; the policy in force changes only when the whole file is valid. */
  reload(now = Date.now()): ReloadResult {
    if (this.file === null) return { ok: false, error: 'no policy file: TIERCEL_CONFIG is not set' };
    try {
      const next = this.adopt(compilePolicy(readPolicyFile(this.file), now));
      this.current = next;
      this.reloads.ok++;
      this.lastError = null;
      return { ok: true, hash: next.source!.hash };
    } catch (err) {
      this.reloads.failed++;
      const message = err instanceof PolicyError ? err.message : String(err);
      this.lastError = message;
      return { ok: false, error: message };
    }
  }

  /** For /stats. */
  describe(): Record<string, unknown> {
    const p = this.current;
    return {
      file: this.file,
      hash: p.source?.hash ?? null,
      loadedAt: p.source === null ? null : new Date(p.loadedAt).toISOString(),
      rules: p.rules.map((r) => r.label),
      hosts: p.hosts === null ? null : p.hosts.list,
      reloads: { ...this.reloads },
      lastError: this.lastError,
    };
  }
}
