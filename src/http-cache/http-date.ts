/**
 * HTTP-date parsing (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms
 * that recipients MUST accept. Always UTC; Date.parse would read asctime as local time.
 * Returns NaN for anything else, so callers can apply the "invalid means already expired" rule.
 */
const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

// "GMT" in any case: HTTP-date is case-sensitive, but §5.6.7 encourages recipients "to be robust
// in parsing timestamps"; only the letter case is forgiven, never another zone (UTC, +0000).
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) [Gg][Mm][Tt]$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) [Gg][Mm][Tt]$/;
const ASCTIME_DATE = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year: number, month: string, day: string, h: string, m: string, s: string): number {
  const mon = MONTHS[month.toLowerCase()];
  if (mon === undefined) return NaN;
  const hh = Number(h), mm = Number(m), ss = Number(s), dd = Number(day);
  if (hh > 23 || mm > 59 || ss > 60 || dd < 1 || dd > 31) return NaN;
  return Date.UTC(year, mon, dd, hh, mm, ss);
}

export function parseHttpDate(value: string | undefined): number {
  if (value === undefined) return NaN;
  const v = value.trim();
  let m = IMF_FIXDATE.exec(v);
  if (m) return utc(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  m = RFC850_DATE.exec(v);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const nowYear = new Date().getUTCFullYear();
    let year = 2000 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME_DATE.exec(v);
  if (m) return utc(Number(m[6]), m[1]!, m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return NaN;
}

export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
