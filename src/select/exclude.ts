/**
 * Exclusion patterns: the ONTAP dump `EXCLUDE` rules, shared by `backup --exclude` and (later)
 * the NDMP server's EXCLUDE variable. Pure: no I/O.
 *
 * Grammar of a list (splitExcludeList, the ONTAP EXCLUDE form): patterns separated by commas;
 * `\,` is a comma inside a pattern. Inside a pattern `\\` is a backslash and `\*` a literal
 * asterisk; any other backslash is itself. At most 32 patterns in all (ONTAP's limit). An empty
 * pattern is an error.
 *
 * A pattern is text with an optional `*` as its first and/or last character (no other unescaped
 * `*`): `name` matches exactly, `pre*` by prefix, `*suf` by suffix, `*mid*` by containment, `*`
 * everything. What it is matched against:
 * - a pattern without `/` matches the **name** of a file or directory at any depth (ONTAP);
 * - a pattern with `/` matches the entry's **path relative to SOURCE** (`a/b/c`, no leading
 *   `./`; a leading or trailing `/` of the pattern is ignored), e.g. `home/bob/tmp` or
 *   `home/*` (everything below home, but not home itself).
 * The source root itself is never excluded. An excluded directory is left out with everything
 * below it. Names are compared as bytes (patterns as UTF-8).
 */
import { SnapdumpError } from '../errors.js';

/** ONTAP allows at most this many patterns in EXCLUDE. */
export const MAX_EXCLUDE_PATTERNS = 32;

type Shape = 'exact' | 'prefix' | 'suffix' | 'contains' | 'any';

export interface ExcludePattern {
  /** The pattern as given (after unescaping commas). */
  source: string;
  /** Matched against the relative path (true) or the name (false). */
  path: boolean;
  shape: Shape;
  /** The literal part, as a JS string (for UTF-8 names) and as bytes in a latin1 string (for raw names). */
  text: string;
  bytes: string;
}

function fail(message: string, details: Record<string, unknown>): never {
  throw new SnapdumpError('ERR_EXCLUDE', message, details);
}

/**
 * Splits an ONTAP EXCLUDE value into patterns (unescaped, not yet checked: see
 * {@link parseExcludePattern}). Throws ERR_EXCLUDE for an empty pattern or more than 32.
 */
export function splitExcludeList(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c === '\\' && i + 1 < list.length) {
      // "\," is a comma; other escapes stay for parseExcludePattern.
      const next = list[++i]!;
      cur += next === ',' ? ',' : c + next;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  out.forEach((p, index) => { if (p === '') fail(`exclude list "${list}": pattern ${index + 1} is empty`, { list, index, reason: 'EMPTY' }); });
  if (out.length > MAX_EXCLUDE_PATTERNS) {
    fail(`exclude list has ${out.length} patterns; at most ${MAX_EXCLUDE_PATTERNS} are allowed`, { list, count: out.length, reason: 'TOO_MANY' });
  }
  return out;
}

/** Checks one pattern (escapes `\\`, `\*`, `\,` still in it) and returns its matcher form. */
export function parseExcludePattern(pattern: string): ExcludePattern {
  if (pattern === '') fail('an exclude pattern is empty', { pattern, reason: 'EMPTY' });
  // Literal characters with a flag for each unescaped asterisk.
  const chars: Array<{ c: string; star: boolean }> = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const next = pattern[i + 1];
    if (c === '\\' && (next === '*' || next === '\\' || next === ',')) { chars.push({ c: next, star: false }); i++; continue; }
    chars.push({ c, star: c === '*' });
  }
  const lead = chars[0]!.star;
  const trail = chars.length > 1 && chars[chars.length - 1]!.star;
  const inner = chars.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (inner.some((x) => x.star)) {
    fail(`exclude pattern "${pattern}": "*" may only be the first or the last character`, { pattern, reason: 'WILDCARD_POSITION' });
  }
  let text = inner.map((x) => x.c).join('');
  const path = text.includes('/');
  if (path) {
    if (!lead) text = text.replace(/^\/+/, '');
    if (!trail) text = text.replace(/\/+$/, '');
    if (text === '' && !lead && !trail) fail(`exclude pattern "${pattern}" names the source root, which cannot be excluded`, { pattern, reason: 'ROOT' });
  }
  const shape: Shape = text === '' ? 'any' : lead && trail ? 'contains' : lead ? 'suffix' : trail ? 'prefix' : 'exact';
  return { source: pattern, path, shape, text, bytes: Buffer.from(text, 'utf8').toString('latin1') };
}

/**
 * Checks patterns (one each, as the library option `exclude` takes them) and builds their
 * matcher. Throws ERR_EXCLUDE for a pattern that breaks the rules or more than 32 patterns.
 */
export function excludeMatcher(patterns: readonly string[]): ExcludeMatcher {
  if (patterns.length > MAX_EXCLUDE_PATTERNS) {
    fail(`${patterns.length} exclude patterns given; at most ${MAX_EXCLUDE_PATTERNS} are allowed`, { count: patterns.length, reason: 'TOO_MANY' });
  }
  return new ExcludeMatcher(patterns.map(parseExcludePattern));
}

function test(shape: Shape, subject: string, text: string): boolean {
  switch (shape) {
    case 'any': return true;
    case 'exact': return subject === text;
    case 'prefix': return subject.startsWith(text);
    case 'suffix': return subject.endsWith(text);
    case 'contains': return subject.includes(text);
  }
}

/** A name or relative path: a JS string for valid UTF-8, else its bytes. */
export type Subject = string | Uint8Array;

export class ExcludeMatcher {
  private readonly names: ExcludePattern[];
  private readonly paths: ExcludePattern[];

  constructor(readonly patterns: readonly ExcludePattern[]) {
    this.names = patterns.filter((p) => !p.path);
    this.paths = patterns.filter((p) => p.path);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether path patterns exist (the caller then needs relative paths). */
  get needsPaths(): boolean {
    return this.paths.length > 0;
  }

  /** The first pattern that excludes an entry with this name and relative path ('a/b'), or null. */
  match(name: Subject, relPath?: Subject): ExcludePattern | null {
    if (this.names.length) {
      const raw = typeof name !== 'string';
      const s = raw ? Buffer.from(name).toString('latin1') : name;
      for (const p of this.names) if (test(p.shape, s, raw ? p.bytes : p.text)) return p;
    }
    if (this.paths.length && relPath !== undefined) {
      const raw = typeof relPath !== 'string';
      const s = raw ? Buffer.from(relPath).toString('latin1') : relPath;
      for (const p of this.paths) if (test(p.shape, s, raw ? p.bytes : p.text)) return p;
    }
    return null;
  }
}
