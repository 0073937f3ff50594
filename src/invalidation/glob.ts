/**
 * A compiled glob over `host/path?query` where `*` is any run of characters and every other
 * character is literal. No regular expression is built from user input: matching is a prefix
 * test, a suffix test and a left-to-right indexOf for each middle part, so its cost is linear
 * in the key for a fixed pattern and no pattern can make it backtrack.
 */
export interface Glob {
  readonly source: string;
  matches(key: string): boolean;
}

export function compileGlob(pattern: string): Glob {
  const parts = pattern.split('*');
  if (parts.length === 1) return { source: pattern, matches: (key) => key === pattern };
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  const minLength = first.length + last.length;
  return {
    source: pattern,
    matches(key: string): boolean {
      if (key.length < minLength || !key.startsWith(first) || !key.endsWith(last)) return false;
      let at = first.length;
      const end = key.length - last.length;
      for (const part of middle) {
        // Leftmost placement of each part leaves the most room for the rest: greedy is exact here.
        const found = key.indexOf(part, at);
        if (found === -1 || found + part.length > end) return false;
        at = found + part.length;
      }
      return true;
    },
  };
}
