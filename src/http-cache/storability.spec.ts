import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control';
import { freshnessLifetime } from './freshness';
import { formatHttpDate } from './http-date';
import { StorabilityInputs, storeRefusal, postNamesItsTarget } from './storability';

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);

interface Case {
  method?: string;
  status?: number;
  requestCc?: string;
  responseCc?: string;
  expires?: string;
  lastModified?: string;
  etag?: boolean;
  authorization?: boolean;
  setCookie?: boolean;
  stripSetCookie?: boolean;
  varyStar?: boolean;
  defaultTtlMs?: number;
}

/** Builds the inputs the request lifecycle builds, with freshness computed by the real rules. */
function inputs(c: Case): StorabilityInputs {
  const status = c.status ?? 200;
  const responseCc = parseCacheControl(c.responseCc);
  const freshness = freshnessLifetime(
    { status, cc: responseCc, date: formatHttpDate(T0), expires: c.expires, lastModified: c.lastModified, responseTime: T0 },
    { heuristicMaxMs: 86_400_000, defaultTtlMs: c.defaultTtlMs ?? 0 },
  );
  return {
    method: c.method ?? 'GET',
    status,
    requestCc: parseCacheControl(c.requestCc),
    responseCc,
    requestHasAuthorization: c.authorization ?? false,
    responseHasSetCookie: c.setCookie ?? false,
    stripSetCookie: c.stripSetCookie ?? false,
    varyStar: c.varyStar ?? false,
    hasValidator: (c.etag ?? false) || c.lastModified !== undefined,
    freshness,
  };
}

const refusal = (c: Case) => storeRefusal(inputs(c));

describe('storeRefusal (RFC 9111 §3)', () => {
  it('stores a plain cacheable GET', () => {
    assert.equal(refusal({ responseCc: 'max-age=60' }), null);
  });

  it('stores only GET', () => {
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      assert.equal(refusal({ method, responseCc: 'max-age=60' }), 'method', method);
    }
  });

  it('refuses non-final and non-storable statuses', () => {
    assert.equal(refusal({ status: 100, responseCc: 'max-age=60' }), 'status');
    assert.equal(refusal({ status: 199, responseCc: 'max-age=60' }), 'status');
    assert.equal(refusal({ status: 304, responseCc: 'max-age=60' }), 'status');
    assert.equal(refusal({ status: 600, responseCc: 'max-age=60' }), 'status');
  });

  it('never stores a 206 as a full object', () => {
    assert.equal(refusal({ status: 206, responseCc: 'max-age=60' }), 'partial');
  });

  it('stores any final status that has explicit freshness', () => {
    for (const status of [201, 302, 307, 400, 403, 500, 503]) {
      assert.equal(refusal({ status, responseCc: 'max-age=60' }), null, String(status));
      assert.equal(refusal({ status, expires: formatHttpDate(T0 + 60_000) }), null, `${status} with Expires`);
      assert.equal(refusal({ status, responseCc: 's-maxage=60' }), null, `${status} with s-maxage`);
    }
  });

  it('refuses no-store on the response (§5.2.2.5)', () => {
    assert.equal(refusal({ responseCc: 'no-store, max-age=60' }), 'no-store');
  });

  it('refuses when the request says no-store (§5.2.1.5)', () => {
    assert.equal(refusal({ requestCc: 'no-store', responseCc: 'max-age=60' }), 'no-store');
    assert.equal(refusal({ requestCc: 'no-store', responseCc: 'must-understand, no-store, max-age=60' }), 'no-store');
  });

  it('lets must-understand override no-store for a status it understands (§5.2.2.3)', () => {
    assert.equal(refusal({ responseCc: 'must-understand, no-store, max-age=60' }), null);
    assert.equal(refusal({ status: 404, responseCc: 'must-understand, no-store, max-age=60' }), null);
  });

  it('refuses must-understand with a status it does not understand (§3, §5.2.2.3)', () => {
    assert.equal(refusal({ status: 299, responseCc: 'must-understand, no-store, max-age=60' }), 'status');
    assert.equal(refusal({ status: 418, responseCc: 'must-understand, max-age=60' }), 'status');
  });

  it('refuses private in a shared cache (§5.2.2.7), including the qualified form', () => {
    assert.equal(refusal({ responseCc: 'private, max-age=60' }), 'private');
    assert.equal(refusal({ responseCc: 'private="set-cookie", max-age=60' }), 'private');
  });

  it('refuses a response to an authenticated request unless the origin allows sharing (§3.5)', () => {
    assert.equal(refusal({ authorization: true, responseCc: 'max-age=60' }), 'authorization');
    assert.equal(refusal({ authorization: true, expires: formatHttpDate(T0 + 60_000) }), 'authorization');
    assert.equal(refusal({ authorization: true, responseCc: 'proxy-revalidate, max-age=60' }), 'authorization');
    assert.equal(refusal({ authorization: true, responseCc: 'public, max-age=60' }), null);
    assert.equal(refusal({ authorization: true, responseCc: 'must-revalidate, max-age=60' }), null);
    assert.equal(refusal({ authorization: true, responseCc: 's-maxage=60' }), null);
  });

  it('refuses Set-Cookie unless it is stripped from the stored copy', () => {
    assert.equal(refusal({ setCookie: true, responseCc: 'max-age=60' }), 'set-cookie');
    assert.equal(refusal({ setCookie: true, stripSetCookie: true, responseCc: 'max-age=60' }), null);
  });

  it('refuses Vary: * (§4.1)', () => {
    assert.equal(refusal({ varyStar: true, responseCc: 'max-age=60' }), 'vary-star');
  });

  it('refuses a response with nothing that would let it be reused', () => {
    assert.equal(refusal({}), 'no-freshness');
    assert.equal(refusal({ status: 500 }), 'no-freshness');
    assert.equal(refusal({ responseCc: 'max-age=0' }), 'no-freshness');
    assert.equal(refusal({ expires: '0' }), 'no-freshness');
  });

  it('stores a heuristically cacheable response that has a validator or a heuristic lifetime', () => {
    assert.equal(refusal({ etag: true }), null);
    assert.equal(refusal({ lastModified: formatHttpDate(T0 - 3_600_000) }), null);
    assert.equal(refusal({ status: 404, lastModified: formatHttpDate(T0 - 3_600_000) }), null);
    assert.equal(refusal({ responseCc: 'no-cache' }), null);
    assert.equal(refusal({ defaultTtlMs: 60_000 }), null);
  });

  it('stores a stale-on-arrival response that the origin allows to be served stale (RFC 5861)', () => {
    assert.equal(refusal({ responseCc: 'max-age=0, stale-while-revalidate=60' }), null);
    assert.equal(refusal({ responseCc: 'max-age=0, stale-if-error=60' }), null);
    assert.equal(refusal({ responseCc: 'max-age=0', etag: true }), null);
  });

  it('stores a public response to any status (§3, §5.2.2.9)', () => {
    assert.equal(refusal({ status: 302, responseCc: 'public', etag: true }), null);
    assert.equal(refusal({ status: 500, responseCc: 'public', lastModified: formatHttpDate(T0 - 3_600_000) }), null);
  });

  // RFC 9111 §3: the response must contain public, Expires, max-age, s-maxage, a cache extension
  // allowing it, or have a heuristically cacheable status. A validator or no-cache alone is none of these.
  it('refuses a non-heuristically-cacheable status whose only merit is a validator (§3)', () => {
    for (const status of [302, 307, 403, 500, 503]) {
      assert.notEqual(refusal({ status, etag: true }), null, `${status} with only an ETag`);
      assert.notEqual(refusal({ status, lastModified: formatHttpDate(T0 - 3_600_000) }), null, `${status} with only Last-Modified`);
    }
  });

  it('refuses a non-heuristically-cacheable status whose only merit is no-cache (§3)', () => {
    assert.notEqual(refusal({ status: 500, responseCc: 'no-cache' }), null);
    assert.notEqual(refusal({ status: 302, responseCc: 'no-cache' }), null);
  });
});

describe('postNamesItsTarget (RFC 9110 §9.3.3)', () => {
  it('accepts a path reference resolving to the request path and query only', () => {
    assert.ok(postNamesItsTarget('/a/b?x=1', '/a/b?x=1'));
    assert.ok(postNamesItsTarget('/a/./b', '/a/b'));
    for (const [cl, path] of [['/a/b', '/a/b?x=1'], ['/a/c', '/a/b'], ['http://h/a/b', '/a/b'], ['//h/a/b', '/a/b'], ['b', '/a/b'], [undefined, '/a/b']] as const) {
      assert.ok(!postNamesItsTarget(cl, path), `${cl} for ${path}`);
    }
    assert.ok(!postNamesItsTarget(['/a/b', '/a/b'], '/a/b'));
  });
});
