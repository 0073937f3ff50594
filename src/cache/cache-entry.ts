import type { CachedResponse } from './cached-response';
import type { VaryIndex } from './vary-index';

/** What a tier holds in a URL's slot: a response, or the Vary index that leads to its variants. */
export type CacheEntry = CachedResponse | VaryIndex;

export const MAX_VARIANTS_PER_URL = 32;
