/** What an invalidation removes. One shape for the admin API, PURGE, Pub/Sub and the tiers. */
export type InvalidationTarget =
  | { kind: 'urls'; keys: string[] }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'tags'; tags: string[] }
  | { kind: 'all' };

export interface Invalidation {
  target: InvalidationTarget;
  /** Mark matching entries stale (revalidate before use) instead of removing them. */
  soft: boolean;
}

/** What an invalidation did, per tier: entries removed (or marked stale, when soft). */
export interface InvalidationResult {
  l1: number;
  l2: number | null;
}

/** Splits Surrogate-Key (space-separated) and Cache-Tag (comma-separated) into tags. */
export function parseTags(surrogateKey: string | string[] | undefined, cacheTag: string | string[] | undefined): string[] {
  const tags = new Set<string>();
  const sk = Array.isArray(surrogateKey) ? surrogateKey.join(' ') : surrogateKey;
  if (sk) for (const t of sk.split(/\s+/)) if (t) tags.add(t);
  const ct = Array.isArray(cacheTag) ? cacheTag.join(',') : cacheTag;
  if (ct) for (const t of ct.split(',')) if (t.trim()) tags.add(t.trim());
  return [...tags];
}
