import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHttpDate, parseHttpDate } from './http-date';

// RFC 9110 §5.6.7's example instant, in all three forms.
const EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  it('reads IMF-fixdate', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), EXAMPLE);
    assert.equal(parseHttpDate('Mon, 15 Jan 2024 12:00:00 GMT'), Date.UTC(2024, 0, 15, 12, 0, 0));
  });

  it('reads the obsolete RFC 850 form', () => {
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), EXAMPLE);
  });

  it('reads the obsolete asctime form as UTC, with a space-padded day', () => {
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), EXAMPLE);
    assert.equal(parseHttpDate('Wed Nov 16 08:49:37 1994'), Date.UTC(1994, 10, 16, 8, 49, 37));
  });

  it('tolerates surrounding whitespace', () => {
    assert.equal(parseHttpDate('  Sun, 06 Nov 1994 08:49:37 GMT '), EXAMPLE);
  });

  it('reads every month', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    months.forEach((mon, i) => {
      assert.equal(parseHttpDate(`Mon, 01 ${mon} 2024 00:00:00 GMT`), Date.UTC(2024, i, 1), mon);
    });
  });

  it('interprets an RFC 850 two-digit year more than 50 years ahead as the previous century', () => {
    const now = new Date().getUTCFullYear();
    const farAhead = now + 51;
    const yy = String(farAhead % 100).padStart(2, '0');
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${yy} 00:00:00 GMT`)).getUTCFullYear(), farAhead - 100);
    const nearAhead = now + 10;
    const yy2 = String(nearAhead % 100).padStart(2, '0');
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${yy2} 00:00:00 GMT`)).getUTCFullYear(), nearAhead);
    const past = now - 5;
    const yy3 = String(past % 100).padStart(2, '0');
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${yy3} 00:00:00 GMT`)).getUTCFullYear(), past);
  });

  it('forgives the letter case of GMT, and only that (§5.6.7: recipients robust in parsing timestamps)', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 gMT'), EXAMPLE);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 gmt'), EXAMPLE);
    assert.ok(Number.isNaN(parseHttpDate('Sun, 06 Nov 1994 08:49:37 utc')));
  });

  it('returns NaN for anything that is not an HTTP-date', () => {
    for (const bad of [
      undefined, '', '0', '-1', 'yesterday', '1994-11-06T08:49:37Z', '784111777',
      'Sun, 06 Nov 1994 08:49:37 UTC', 'Sun, 06 Nov 1994 08:49:37', 'Sun, 06 Foo 1994 08:49:37 GMT',
      'Sun, 06 Nov 94 08:49:37 GMT', 'Sun, 06-Nov-1994 08:49:37 GMT',
    ]) {
      assert.ok(Number.isNaN(parseHttpDate(bad)), `expected NaN for ${JSON.stringify(bad)}`);
    }
  });

  it('returns NaN for out-of-range fields', () => {
    for (const bad of [
      'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 06 Nov 1994 08:60:00 GMT', 'Sun, 06 Nov 1994 08:00:61 GMT',
      'Sun, 00 Nov 1994 08:49:37 GMT', 'Sun, 32 Nov 1994 08:49:37 GMT',
    ]) {
      assert.ok(Number.isNaN(parseHttpDate(bad)), `expected NaN for ${bad}`);
    }
  });
});

describe('formatHttpDate', () => {
  it('writes IMF-fixdate in GMT', () => {
    assert.equal(formatHttpDate(EXAMPLE), 'Sun, 06 Nov 1994 08:49:37 GMT');
    assert.match(formatHttpDate(Date.now()), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  });

  it('round-trips with parseHttpDate at one-second resolution', () => {
    const t = Date.UTC(2031, 6, 4, 23, 59, 59) + 789;
    assert.equal(parseHttpDate(formatHttpDate(t)), t - 789);
  });
});
