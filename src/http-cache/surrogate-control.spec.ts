import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { surrogateCapability, surrogateControlFor } from './surrogate-control';

describe('Surrogate-Control (W3C Edge Architecture 1.0)', () => {
  it('advertises the device token in Surrogate-Capability (§2.1)', () => {
    assert.equal(surrogateCapability('tiercel'), 'tiercel="Surrogate/1.0"');
  });

  it('is absent or silent on caching: Cache-Control stays in charge (§3)', () => {
    assert.equal(surrogateControlFor(undefined, 'tiercel'), null);
    assert.equal(surrogateControlFor('content="ESI/1.0"', 'tiercel'), null);
    assert.equal(surrogateControlFor('foo, bar', 'tiercel'), null);
  });

  it('reads max-age and no-store, case-insensitively, among extensions (§2.2)', () => {
    assert.equal(surrogateControlFor('foobar, MaX-aGe=3600', 'tiercel')?.maxAge, 3600);
    assert.equal(surrogateControlFor('no-store', 'tiercel')?.noStore, true);
  });

  it('ignores the removal part of max-age=freshness+removal (§2.2.3)', () => {
    assert.equal(surrogateControlFor('max-age=60+600', 'tiercel')?.maxAge, 60);
  });

  it('ignores directives targeted at another device (§2.3)', () => {
    assert.equal(surrogateControlFor('max-age=3600;other', 'tiercel'), null);
  });

  it('prefers directives targeted at this device over untargeted ones (§2.3)', () => {
    const cc = surrogateControlFor('no-store, max-age=60;Tiercel', 'tiercel');
    assert.equal(cc?.maxAge, 60);
    assert.equal(cc?.noStore, false);
  });

  it('does not split a quoted content= value', () => {
    assert.equal(surrogateControlFor('content="ESI/1.0, X;y", max-age=5', 'tiercel')?.maxAge, 5);
  });
});
