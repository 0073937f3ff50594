import type { Logger } from 'pino';

/** One thing SIGHUP reloads (the policy file, certificates, ...): resolves to what happened. */
export type ReloadHook = () => Promise<{ ok: boolean; error?: string }> | { ok: boolean; error?: string };

/**
 * What SIGHUP reloads: independent hooks, run one after the other; one that fails is logged
 * and leaves the others (and the state it guards) as they were.
 */
export class Reloaders {
  private readonly hooks: { name: string; run: ReloadHook }[] = [];

  add(name: string, run: ReloadHook): void {
    this.hooks.push({ name, run });
  }

  /** `only`: the hooks to run (the others of several workers run those that succeeded in the first). */
  async runAll(log: Logger, signal: string, only?: ReadonlySet<string>): Promise<Record<string, { ok: boolean; error?: string }>> {
    const out: Record<string, { ok: boolean; error?: string }> = {};
    if (this.hooks.length === 0) log.info({ signal }, `${signal} received: nothing to reload`);
    for (const h of this.hooks) {
      if (only !== undefined && !only.has(h.name)) continue;
      try {
        out[h.name] = await h.run();
      } catch (err) {
        out[h.name] = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      const r = out[h.name]!;
      if (r.ok) log.info({ signal, reloaded: h.name }, `${h.name} reloaded`);
      else log.error({ signal, reloaded: h.name, error: r.error }, `${h.name} reload refused: ${r.error}`);
    }
    return out;
  }
}
