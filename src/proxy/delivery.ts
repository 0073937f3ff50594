import { Inject, Injectable } from '@nestjs/common';
import { CachedResponse, deliverySlots, storedPart } from '../cache/cached-response';
import { deliveryHeaders, TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import { isConditional, notModified } from '../http-cache/conditional';
import { firstValue, KEPT_IN_304 } from '../http-cache/headers';
import { ifRangeMatches, parseRange } from '../http-cache/range';
import { rangeFromPart } from '../http-cache/partial';
import { RequestTelemetry } from '../telemetry/request-telemetry';
import type { SynthAnswer, Transaction } from './transaction';

/**
 * Writes what the steps decided: a stored object (whole, as a 304 to a conditional request, or
 * as a 206/416 to a Range), or a response Tiercel makes itself. The Cache-Status value is the
 * one derived from the transaction's record.
 */
@Injectable()
export class Delivery {
  /** Where Server-Timing sits in the delivery slots (-1: absent). */
  private readonly serverTimingSlot: number;
  private readonly slots: readonly string[];
  private readonly xCache: boolean;

  constructor(@Inject(TIERCEL_CONFIG) config: TiercelConfig, private readonly telemetry: RequestTelemetry) {
    this.slots = deliverySlots(deliveryHeaders(config));
    this.xCache = config.cache.xCacheHeader;
    const st = this.slots.indexOf('server-timing');
    this.serverTimingSlot = st === -1 ? -1 : st + 1;
  }

  /** A stored object: one writeHead with its precomputed header list, one write of its body. */
  stored(tx: Transaction, obj: CachedResponse, ageMs: number): void {
    const { req, res } = tx;
    if (obj.status === 200 && isConditional(req.headers) && notModified(req.headers, obj.etag, obj.lastModified, obj.date)) {
      return this.notModified(tx, obj, ageMs);
    }
    const range = req.headers.range;
    if (obj.status === 206) {
      // A stored part answers only a range within it (request-steps' partial step checked).
      const part = storedPart(obj);
      const r = part === null || range === undefined ? null : rangeFromPart(range, part);
      if (r !== null) return this.range(tx, obj, ageMs, r, part!.start, part!.complete);
    }
    if (range !== undefined && obj.status === 200 && ifRangeMatches(firstValue(req.headers['if-range']), obj.etag, obj.lastModified)) {
      const r = parseRange(range, obj.body.length);
      if (r !== null) return this.range(tx, obj, ageMs, r);
    }
    const headers = obj.headers;
    const slot = headers.length - this.slots.length;
    headers[slot + 1] = String(Math.floor(ageMs / 1000));
    headers[slot + 3] = tx.cacheStatus;
    if (this.serverTimingSlot !== -1) headers[slot + this.serverTimingSlot] = this.telemetry.serverTimingValue(tx)!;
    // Only a sampled request has a trace to name: it alone pays for a copy of the list.
    const traceResponse = this.telemetry.traceResponseValue(tx);
    res.writeHead(obj.status, traceResponse === null ? headers : headers.concat('traceresponse', traceResponse));
    if (tx.method === 'HEAD') {
      res.end();
    } else {
      tx.bodyBytes = obj.body.length;
      res.end(obj.body);
    }
  }

  /** 304 from the cache (RFC 9110 §15.4.5): the validator and caching fields, no body. */
  private notModified(tx: Transaction, obj: CachedResponse, ageMs: number): void {
    const out: string[] = [];
    const end = obj.headers.length - this.slots.length;
    for (let i = 0; i < end; i += 2) if (KEPT_IN_304.has(obj.headers[i]!)) out.push(obj.headers[i]!, obj.headers[i + 1]!);
    out.push('age', String(Math.floor(ageMs / 1000)), 'cache-status', tx.cacheStatus);
    if (this.xCache) out.push('x-cache', 'HIT');
    this.telemetry.appendHeaders(tx, out);
    tx.res.writeHead(304, out);
    tx.res.end();
  }

  /** 206 or 416 from a stored full response (RFC 9110 §14, §15.3.7). */
  private range(tx: Transaction, obj: CachedResponse, ageMs: number, r: { start: number; end: number } | 'unsatisfiable', offset = 0, total = obj.body.length): void {
    const out: string[] = [];
    const end = obj.headers.length - this.slots.length;
    for (let i = 0; i < end; i += 2) if (obj.headers[i] !== 'content-length' && obj.headers[i] !== 'content-range') out.push(obj.headers[i]!, obj.headers[i + 1]!);
    out.push('age', String(Math.floor(ageMs / 1000)), 'cache-status', tx.cacheStatus);
    if (this.xCache) out.push('x-cache', 'HIT');
    this.telemetry.appendHeaders(tx, out);
    if (r === 'unsatisfiable') {
      out.push('content-range', `bytes */${total}`, 'content-length', '0');
      tx.res.writeHead(416, out);
      return void tx.res.end();
    }
    out.push('content-range', `bytes ${r.start}-${r.end}/${total}`, 'content-length', String(r.end - r.start + 1));
    tx.res.writeHead(206, out);
    if (tx.method !== 'HEAD') tx.bodyBytes = r.end - r.start + 1;
    tx.res.end(tx.method === 'HEAD' ? undefined : obj.body.subarray(r.start - offset, r.end - offset + 1));
  }

  /** A response Tiercel makes itself: a short plain body, and the reason in Cache-Status. */
  synth(tx: Transaction, a: SynthAnswer, contentType = 'text/plain; charset=utf-8'): void {
    const { res } = tx;
    if (res.headersSent || res.destroyed) return;
    const body = a.message.endsWith('\n') ? a.message : `${a.message}\n`;
    const headers = [
      'content-type', contentType,
      'content-length', String(Buffer.byteLength(body)),
      'cache-control', 'no-store',
      'cache-status', tx.cacheStatus,
    ];
    if (this.xCache) headers.push('x-cache', 'MISS');
    this.telemetry.appendHeaders(tx, headers);
    res.writeHead(a.status, headers);
    res.end(tx.method === 'HEAD' ? undefined : body);
  }
}
