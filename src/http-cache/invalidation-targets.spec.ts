import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unsafeMethodTargets } from './invalidation-targets';

describe('invalidation after an unsafe method (RFC 9111 §4.4)', () => {
  const key = 'shop.example/cart/add';
  const path = '/cart/add';

  it('always names the target URI', () => {
    assert.deepEqual(unsafeMethodTargets(key, path, {}), [key]);
  });

  it('adds same-origin Location and Content-Location, resolved against the target', () => {
    assert.deepEqual(unsafeMethodTargets(key, path, { location: '/cart?view=1', 'content-location': 'items/7' }), [key, 'shop.example/cart?view=1', 'shop.example/cart/items/7']);
    assert.deepEqual(unsafeMethodTargets(key, path, { location: 'http://SHOP.example/cart' }), [key, 'shop.example/cart']);
  });

  it('ignores other origins, so one origin cannot purge another\'s objects', () => {
    assert.deepEqual(unsafeMethodTargets(key, path, { location: 'http://victim.example/', 'content-location': '//victim.example/x' }), [key]);
  });

  it('ignores values that are not URI references, and does not repeat the target', () => {
    assert.deepEqual(unsafeMethodTargets(key, path, { location: 'http://[bad', 'content-location': '/cart/add' }), [key]);
  });
});
