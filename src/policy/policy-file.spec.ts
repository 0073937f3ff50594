import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy, matchRule, servesHost } from './policy';
import { parsePolicyText, PolicyError } from './policy-file';

function error(text: string): string {
  try {
    parsePolicyText('p.yaml', text);
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected a PolicyError');
}

describe('policy file validation (one line: file, line, column, key, accepted form)', () => {
  it('an unknown key names its place and the accepted keys', () => {
    assert.equal(error('rules:\n  - name: a\n    match: { paht: "/x" }\n'), 'p.yaml:3:14: rules[0].match.paht: unknown key; accepted: host, path, method, header');
    assert.equal(error('rule: []\n'), 'p.yaml:1:1: rule: unknown key; accepted: hosts, rules, or a setting named like its variable (cache_max_age)');
  });

  it('a bad value names the accepted form', () => {
    assert.equal(error('rules:\n  - ttl: soon\n'), 'p.yaml:2:10: rules[0].ttl: expected a duration such as 30s, 5m, 1h, 1d (a bare number is seconds)');
    assert.equal(error('rules:\n  - status_ttl: { "4xx": 30s }\n'), 'p.yaml:2:19: rules[0].status_ttl.4xx: expected a status code such as 404');
    assert.equal(error('hosts: [www.example.com, "a/b"]\n'), 'p.yaml:1:26: hosts[1]: expected a host name such as www.example.com, or *.example.com');
    assert.equal(error('rules:\n  - pass: "yes"\n'), 'p.yaml:2:11: rules[0].pass: expected a boolean');
    assert.equal(error('rules:\n  - match: { header: { value: "x" } }\n'), 'p.yaml:2:22: rules[0].match.header: missing key name');
  });

  it('YAML syntax errors and JSON files', () => {
    assert.match(error('rules: [\n'), /^p\.yaml:\d+:\d+: not valid YAML: /);
    assert.match(error('a: 1\na: 2\n'), /^p\.yaml:2:1: not valid YAML: /);
    const doc = parsePolicyText('p.json', '{"hosts": ["a.example"], "rules": [{"match": {"path": "/x/*"}, "ttl": 60}]}');
    assert.deepEqual(doc.hosts, ['a.example']);
  });

  it('settings are the variables in lower case; duplicate rule names are refused', () => {
    const p = compilePolicy({ file: 'p.yaml', hash: 'h', document: parsePolicyText('p.yaml', 'cache_max_age: 10m\nrules: [{ ttl: 1 }, { name: b }]\n') }, 0);
    assert.deepEqual(p.settings, { CACHE_MAX_AGE: '10m' });
    assert.deepEqual(p.rules.map((r) => r.label), ['#1', 'b']);
    assert.throws(() => compilePolicy({ file: 'p.yaml', hash: 'h', document: parsePolicyText('p.yaml', 'rules: [{ name: a }, { name: a }]\n') }, 0), /used twice/);
  });

  it('hosts: exact names and *.suffix, ports ignored', () => {
    const p = compilePolicy({ file: 'p.yaml', hash: 'h', document: parsePolicyText('p.yaml', 'hosts: [www.example.com, "*.cdn.example", "Api.Example.com:8080"]\n') }, 0);
    for (const h of ['www.example.com', 'a.cdn.example', 'x.y.cdn.example', 'api.example.com']) assert.equal(servesHost(p, h), true, h);
    for (const h of ['cdn.example', 'example.com', 'www.example.com.evil']) assert.equal(servesHost(p, h), false, h);
  });

  it('first match wins, on host (exact or *.suffix), path glob, method and header', () => {
    const p = compilePolicy({ file: 'p.yaml', hash: 'h', document: parsePolicyText('p.yaml', `rules:
  - { name: h, match: { header: { name: X-Debug, value: "on*" } }, pass: true }
  - { name: sub, match: { host: "*.example.com", path: "/a/*", method: [GET, HEAD] } }
  - { name: any }
`) }, 0);
    const m = (host: string, path: string, method = 'GET', headers = {}) => matchRule(p, host, path, method, headers)?.label;
    assert.equal(m('x.example.com', '/a/b', 'GET', { 'x-debug': 'only' }), 'h');
    assert.equal(m('x.example.com', '/a/b'), 'sub');
    assert.equal(m('example.com', '/a/b'), 'any');
    assert.equal(m('x.example.com', '/a/b', 'POST'), 'any');
    assert.equal(m('x.example.com', '/b'), 'any');
  });
});
