/**
 * Mount points below a backup's source, from /proc/self/mountinfo. A nested mount is not
 * crossed (README "Mount points"); most are found because their st_dev differs from the
 * source's, this also finds bind mounts of the same file system, which share the st_dev.
 */
import * as fs from 'node:fs';

/** Undoes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount point paths of a mountinfo text (field 5 of each line). Pure. */
export function parseMountinfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length >= 5 && fields[4]!.startsWith('/')) out.push(unescapeMountPath(fields[4]!));
  }
  return out;
}

/**
 * Mount points strictly below `root` (an absolute real path), from /proc/self/mountinfo;
 * empty where it cannot be read (the st_dev rule still applies).
 */
export function mountPointsBelow(root: string): Set<string> {
  let text: string;
  try { text = fs.readFileSync('/proc/self/mountinfo', 'latin1'); } catch { return new Set(); }
  const prefix = root === '/' ? '/' : root + '/';
  // mountinfo holds the path's bytes; as latin1 they compare with UTF-8 paths after re-decoding.
  return new Set(parseMountinfo(text).map((p) => Buffer.from(p, 'latin1').toString('utf8')).filter((p) => p.startsWith(prefix) && p.length > prefix.length));
}
