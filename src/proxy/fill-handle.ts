import type { ServerResponse } from 'node:http';
import type { CachedResponse } from '../cache/cached-response';
import type { StoreDecision } from '../http-cache/store-decision';
import type { OriginFailure } from './fill-lock';
import type { ResponseFields } from '../http-cache/headers';

/** What the origin's answer is, once its headers are in. */
export type FillHead =
  | { kind: 'failed'; failure: OriginFailure; gatewayStatus: 408 | 502 | 504; error: unknown }
  /** A 304 to our conditional request: the stored object, updated (or as it was, when the 304 named another validator). */
  | { kind: 'not-modified'; object: CachedResponse; validatorMismatch: boolean }
  | { kind: 'response'; status: number; fields: ResponseFields; storing: boolean; refusal: StoreDecision['refusal'] | 'pass' | 'origin-error'; ttlSeconds: number | null; failure: OriginFailure | null;
      /** The field whose directives decided storage and freshness, when not Cache-Control (RFC 9213 targeted fields, Surrogate-Control). */
      governedBy: string | null };

/** What a request sees of the fill it started (fill.ts). */
export interface FillHandle {
  readonly head: Promise<FillHead>;
  /** Milliseconds until the origin's response headers arrived; -1 before. */
  readonly originMs: number;
  /** Body bytes received from the origin. */
  readonly bytes: number;
  /** Streams the body to the client (null: nobody delivers it). Resolves true when it arrived whole. */
  pipe(res: ServerResponse | null, headOnly: boolean): Promise<boolean>;
  /** The delivering client left. */
  detach(): void;
}
