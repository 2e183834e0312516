/**
 * What the label says about the source: the mount point and device it lives on, as Linux dump
 * writes c_filesys ("<mnt>" or "<mnt> (dir <path>)") and c_dev.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface SourceInfo {
  mountPoint: string;
  device: string;
  fsType: string;
  /** c_filesys text. */
  filesys: string;
}

/** Octal escapes (\040 for space...) used by /proc/self/mountinfo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function sourceInfo(source: string): SourceInfo {
  const abs = fs.realpathSync(path.resolve(source));
  let best = { mountPoint: '/', device: 'unknown', fsType: 'unknown' };
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields.length < 10) continue;
      const mnt = unescapeMount(fields[4]!);
      const sep = fields.indexOf('-');
      const inside = abs === mnt || abs.startsWith(mnt.endsWith('/') ? mnt : mnt + '/');
      if (inside && mnt.length >= best.mountPoint.length && sep > 0) {
        best = { mountPoint: mnt, fsType: fields[sep + 1] ?? 'unknown', device: unescapeMount(fields[sep + 2] ?? 'unknown') };
      }
    }
  } catch {
    // No /proc: keep the defaults; the label is informational.
  }
  const rel = path.relative(best.mountPoint, abs);
  const filesys = rel === '' ? best.mountPoint : `${best.mountPoint} (dir /${rel})`;
  return { ...best, filesys };
}
