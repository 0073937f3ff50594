import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSniCerts, sniChooser } from './sni';

describe('TLS_SNI_CERTS', () => {
  it('parses <host glob>=<cert>:<key> entries in order, lower-casing the globs', () => {
    assert.deepEqual(parseSniCerts(' *.Example.com=/etc/t/ex.crt:/etc/t/ex.key , api.other.org=o.crt:o.key,'), [
      { hosts: '*.example.com', certFile: '/etc/t/ex.crt', keyFile: '/etc/t/ex.key' },
      { hosts: 'api.other.org', certFile: 'o.crt', keyFile: 'o.key' },
    ]);
    assert.deepEqual(parseSniCerts(''), []);
  });

  it('refuses entries without a glob, without both files, with a bad glob or a repeated one', () => {
    for (const bad of ['=a.crt:a.key', 'a.example', 'a.example=a.crt', 'a.example=a.crt:', 'a.example=:a.key', 'a b=a.crt:a.key', 'a/b=c:d', 'x.example=a:b,X.example=c:d']) {
      const r = parseSniCerts(bad);
      assert.ok(!Array.isArray(r), bad);
    }
  });

  it('picks the first matching entry; no name or no match means the default', () => {
    const pick = sniChooser([
      { hosts: 'api.example.com', value: 'api' },
      { hosts: '*.example.com', value: 'wild' },
      { hosts: 'other.org', value: 'other' },
    ]);
    assert.equal(pick('api.example.com'), 'api');
    assert.equal(pick('API.Example.COM.'), 'api');
    assert.equal(pick('www.example.com'), 'wild');
    assert.equal(pick('other.org'), 'other');
    assert.equal(pick('www.other.org'), undefined);
    assert.equal(pick('example.com'), undefined);
    assert.equal(pick(undefined), undefined);
    assert.equal(pick(''), undefined);
  });
});
