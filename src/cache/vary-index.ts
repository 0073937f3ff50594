/**
 * Stands in a URL's own slot when its responses vary: names the Vary fields, from which a
 * request's values select the variant (RFC 9111 §4.1).
 */
export interface VaryIndex {
  readonly kind: 'vary';
  names: readonly string[];
  size: number;
}

export function varyIndex(names: readonly string[]): VaryIndex {
  return { kind: 'vary', names, size: 64 + names.join().length };
}
