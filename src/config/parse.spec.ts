import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  parseBool,
  parseCidrList,
  parseDuration,
  parseEnum,
  parseHttpUrl,
  parseInteger,
  parsePort,
  parseSize,
} from './parse';

/** Asserts fn throws a ConfigError naming the variable, the raw value and the accepted form. */
function assertConfigError(fn: () => unknown, name: string, value: string, accepted: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.ok(err.message.includes(name), `message does not name ${name}: ${err.message}`);
    assert.ok(err.message.includes(JSON.stringify(value)), `message does not quote ${JSON.stringify(value)}: ${err.message}`);
    assert.match(err.message, accepted);
    return true;
  }, `expected ${name}=${JSON.stringify(value)} to be rejected`);
}

describe('ConfigError', () => {
  it('is one line naming the variable, the value and the accepted form', () => {
    const e = new ConfigError('FOO', 'b"a\nr', 'a thing');
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'invalid FOO="b\\"a\\nr": expected a thing');
    assert.ok(!e.message.includes('\n'));
  });
});

describe('parseDuration', () => {
  it('reads a bare number as seconds', () => {
    assert.equal(parseDuration('X', '300'), 300_000);
    assert.equal(parseDuration('X', '0'), 0);
  });

  it('reads ms, s, m, h and d units', () => {
    assert.equal(parseDuration('X', '250ms'), 250);
    assert.equal(parseDuration('X', '300s'), 300_000);
    assert.equal(parseDuration('X', '5m'), 300_000);
    assert.equal(parseDuration('X', '1h'), 3_600_000);
    assert.equal(parseDuration('X', '1d'), 86_400_000);
  });

  it('reads fractions and trims whitespace', () => {
    assert.equal(parseDuration('X', '1.5s'), 1_500);
    assert.equal(parseDuration('X', '0.5m'), 30_000);
    assert.equal(parseDuration('X', ' 2m '), 120_000);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '-5', '-5s', '5x', 'm', '5 m', '1e3', '5min', '5M', '.5s', '5.s', '1h30m', 'Infinity', 'NaN']) {
      assertConfigError(() => parseDuration('UPSTREAM_TIMEOUT', bad), 'UPSTREAM_TIMEOUT', bad, /a duration such as 300, 300s, 5m, 1h/);
    }
  });
});

describe('parseSize', () => {
  it('reads bytes and binary multiples', () => {
    assert.equal(parseSize('X', '1048576'), 1_048_576);
    assert.equal(parseSize('X', '100b'), 100);
    assert.equal(parseSize('X', '512k'), 512 * 1024);
    assert.equal(parseSize('X', '512KB'), 512 * 1024);
    assert.equal(parseSize('X', '10m'), 10 * 1024 * 1024);
    assert.equal(parseSize('X', '10MB'), 10 * 1024 * 1024);
    assert.equal(parseSize('X', '10MiB'), 10 * 1024 * 1024);
    assert.equal(parseSize('X', '1g'), 1024 ** 3);
    assert.equal(parseSize('X', '1GiB'), 1024 ** 3);
  });

  it('reads fractions, rounding down to whole bytes, and a space before the unit', () => {
    assert.equal(parseSize('X', '1.5k'), 1536);
    assert.equal(parseSize('X', '0.1k'), 102);
    assert.equal(parseSize('X', '10 MB'), 10 * 1024 * 1024);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '-1', 'k', '10x', '10tb', '1e6', 'ten', '10 m b']) {
      assertConfigError(() => parseSize('CACHE_MAX_OBJECT_SIZE', bad), 'CACHE_MAX_OBJECT_SIZE', bad, /a size in bytes such as 1048576, 512k, 10m or 1g/);
    }
  });
});

describe('parseBool', () => {
  it('reads the usual spellings, case-insensitively', () => {
    for (const t of ['1', 'true', 'TRUE', 'yes', 'On', ' true ']) assert.equal(parseBool('X', t), true, t);
    for (const f of ['0', 'false', 'False', 'no', 'OFF']) assert.equal(parseBool('X', f), false, f);
  });

  it('rejects anything else', () => {
    for (const bad of ['', 'maybe', '2', 'y', 'enabled']) {
      assertConfigError(() => parseBool('PROXY_VIA', bad), 'PROXY_VIA', bad, /true or false/);
    }
  });
});

describe('parseInteger and parsePort', () => {
  it('reads integers within bounds', () => {
    assert.equal(parseInteger('X', '1', 1, 10), 1);
    assert.equal(parseInteger('X', ' 10 ', 1, 10), 10);
    assert.equal(parsePort('X', '0'), 0);
    assert.equal(parsePort('X', '65535'), 65535);
  });

  it('rejects out-of-range and non-integer values, naming the bounds', () => {
    for (const bad of ['0', '11', '-1', '1.5', 'abc', '', '1e1', '0x5']) {
      assertConfigError(() => parseInteger('N', bad, 1, 10), 'N', bad, /an integer from 1 to 10/);
    }
    for (const bad of ['65536', '-1', 'http', '80.0']) {
      assertConfigError(() => parsePort('PROXY_PORT', bad), 'PROXY_PORT', bad, /an integer from 0 to 65535/);
    }
  });
});

describe('parseHttpUrl', () => {
  it('reads http and https URLs', () => {
    assert.equal(parseHttpUrl('X', 'http://127.0.0.1:3000').href, 'http://127.0.0.1:3000/');
    assert.equal(parseHttpUrl('X', ' https://origin.example/base ').href, 'https://origin.example/base');
  });

  it('rejects relative URLs and other schemes', () => {
    for (const bad of ['origin.example', '/path', 'ftp://origin.example', 'file:///etc/passwd', 'ws://x', '']) {
      assertConfigError(() => parseHttpUrl('UPSTREAM_URL', bad), 'UPSTREAM_URL', bad, /an absolute http:\/\/ or https:\/\/ URL/);
    }
  });
});

describe('parseEnum', () => {
  const levels = ['info', 'debug'] as const;
  it('reads allowed values case-insensitively', () => {
    assert.equal(parseEnum('X', 'DEBUG', levels), 'debug');
    assert.equal(parseEnum('X', ' info ', levels), 'info');
  });

  it('rejects other values, listing the allowed ones', () => {
    assertConfigError(() => parseEnum('LOG_LEVEL', 'verbose', levels), 'LOG_LEVEL', 'verbose', /one of info, debug/);
  });
});

describe('parseCidrList', () => {
  it('matches IPv4 ranges by prefix', () => {
    const list = parseCidrList('X', '10.0.0.0/8, 192.168.1.0/24');
    assert.equal(list.contains('10.0.0.1'), true);
    assert.equal(list.contains('10.255.255.255'), true);
    assert.equal(list.contains('11.0.0.0'), false);
    assert.equal(list.contains('192.168.1.77'), true);
    assert.equal(list.contains('192.168.2.1'), false);
  });

  it('matches prefixes that are not byte-aligned', () => {
    const list = parseCidrList('X', '172.16.0.0/12');
    assert.equal(list.contains('172.16.0.1'), true);
    assert.equal(list.contains('172.31.255.255'), true);
    assert.equal(list.contains('172.32.0.0'), false);
    assert.equal(list.contains('172.15.255.255'), false);
  });

  it('reads a bare address as a single host', () => {
    const list = parseCidrList('X', '127.0.0.1, ::1');
    assert.equal(list.contains('127.0.0.1'), true);
    assert.equal(list.contains('127.0.0.2'), false);
    assert.equal(list.contains('::1'), true);
    assert.equal(list.contains('::2'), false);
  });

  it('ignores host bits in the range address', () => {
    assert.equal(parseCidrList('X', '10.1.2.3/8').contains('10.9.9.9'), true);
  });

  it('matches /0 as every address of that family', () => {
    const v4 = parseCidrList('X', '0.0.0.0/0');
    assert.equal(v4.contains('1.2.3.4'), true);
    assert.equal(v4.contains('255.255.255.255'), true);
    assert.equal(v4.contains('2001:db8::1'), false);
    const v6 = parseCidrList('X', '::/0');
    assert.equal(v6.contains('2001:db8::1'), true);
    assert.equal(v6.contains('1.2.3.4'), false);
  });

  it('matches IPv6 ranges, compressed or not, at any prefix length', () => {
    const list = parseCidrList('X', '2001:db8::/32, fe80::/10');
    assert.equal(list.contains('2001:db8::1'), true);
    assert.equal(list.contains('2001:0db8:ffff:0:0:0:0:1'), true);
    assert.equal(list.contains('2001:db9::1'), false);
    assert.equal(list.contains('fe80::1'), true);
    assert.equal(list.contains('febf:ffff::1'), true);
    assert.equal(list.contains('fec0::1'), false);
    const deep = parseCidrList('X', '2001:db8:0:1::/65');
    assert.equal(deep.contains('2001:db8:0:1:7fff::1'), true);
    assert.equal(deep.contains('2001:db8:0:1:8000::1'), false);
  });

  it('matches ::1/128 exactly', () => {
    const list = parseCidrList('X', '::1/128');
    assert.equal(list.contains('::1'), true);
    assert.equal(list.contains('0:0:0:0:0:0:0:1'), true);
    assert.equal(list.contains('::'), false);
    assert.equal(list.contains('127.0.0.1'), false);
  });

  it('matches an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) against IPv4 ranges', () => {
    const list = parseCidrList('X', '127.0.0.0/8,10.0.0.0/8');
    assert.equal(list.contains('::ffff:127.0.0.1'), true);
    assert.equal(list.contains('::ffff:10.20.30.40'), true);
    assert.equal(list.contains('::ffff:192.168.0.1'), false);
  });

  it('matches a ::ffff:-mapped client against an IPv4-mapped IPv6 range (RFC 4291 §2.5.5.2)', () => {
    const list = parseCidrList('X', '::ffff:10.0.0.0/104');
    assert.equal(list.contains('::ffff:10.1.2.3'), true);
    assert.equal(list.contains('::ffff:11.0.0.1'), false);
    assert.equal(parseCidrList('X', '::ffff:0:0/96').contains('::ffff:192.0.2.1'), true);
  });

  it('accepts ranges written with an IPv4-mapped tail', () => {
    const list = parseCidrList('X', '::ffff:192.0.2.128/121');
    assert.equal(list.contains('::ffff:c000:280'), true);
    assert.equal(list.contains('::ffff:c000:27f'), false);
  });

  it('* allows everyone; an empty list no one', () => {
    assert.equal(parseCidrList('X', '*').contains('203.0.113.9'), true);
    assert.equal(parseCidrList('X', ' * ').contains('2001:db8::1'), true);
    assert.equal(parseCidrList('X', '').contains('127.0.0.1'), false);
    assert.equal(parseCidrList('X', ' , ').contains('127.0.0.1'), false);
  });

  it('never matches a missing address', () => {
    assert.equal(parseCidrList('X', '0.0.0.0/0,::/0').contains(undefined), false);
    assert.equal(parseCidrList('X', '0.0.0.0/0,::/0').contains(''), false);
  });

  it('keeps its source text', () => {
    assert.equal(parseCidrList('X', ' 10.0.0.0/8 ').source, '10.0.0.0/8');
  });

  it('rejects bad addresses and prefixes', () => {
    for (const bad of [
      'localhost', '10.0.0/8', '10.0.0.256/8', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8.5', '10.0.0.0/abc',
      '::1/129', 'fe80::/x', '10.0.0.0/8, nope', '1.2.3.4 /8', '10.0.0.0/+8',
    ]) {
      assertConfigError(() => parseCidrList('ALLOWED_CLIENTS', bad), 'ALLOWED_CLIENTS', bad, /a comma-separated list of CIDR ranges such as 127\.0\.0\.0\/8,::1\/128/);
    }
  });

  it('rejects a range with more than one prefix', () => {
    for (const bad of ['10.0.0.0/8/9', '::1/128/64']) {
      assertConfigError(() => parseCidrList('ALLOWED_CLIENTS', bad), 'ALLOWED_CLIENTS', bad, /a comma-separated list of CIDR ranges/);
    }
  });
});
