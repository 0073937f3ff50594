/**
 * Splits a field value on a separator that is not inside a quoted-string (RFC 9110 §5.6.4):
 * `no-cache="a, b"`, `"a,b"` entity tags and quoted Surrogate-Control targets stay whole.
 * A backslash inside quotes escapes the next character.
 */
export function splitOutsideQuotes(text: string, separator = 44 /* , */): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) quoted = !quoted;
    else if (c === 92 /* \ */ && quoted) i++;
    else if (c === separator && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
