/**
 * Turning file-system metadata into the 32-bit fields of the embedded inode, with the
 * deliberate choices for values the format cannot hold (README "Format notes"):
 * - times before 1970 or after 2106 are clamped to the nearest representable second and warned
 *   about (stored raw, 1960 would come back as 2096 from Linux restore);
 * - sub-second times are kept as microseconds (Linux restore applies non-zero usec fields);
 * - the exact times (nanoseconds, the unclamped seconds, the birth time) go into snapdump's
 *   extension words, which Linux restore ignores (./exact-times.ts);
 * - device numbers use the old 16-bit encoding when both parts fit a byte (as Linux dump),
 *   else Linux's 32-bit encoding, which Linux restore passes to mknod unchanged and which
 *   glibc decodes correctly for majors < 4096 and minors < 2^20; larger ones are refused.
 */
import type { InodeFields } from './header.js';
import type { ExactTimes } from './exact-times.js';

export interface FieldWarning {
  field: string;
  message: string;
}

/** What stat(2) says of an object, with times as seconds and nanoseconds. */
export interface StatLike {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** Birth time from statx; a negative or NaN birthNsec (or none) means the file system has none. */
  birthSec?: number;
  birthNsec?: number;
}

const MAX_U32 = 0xffffffff;

/**
 * Seconds + nanoseconds (as stat(2) gives them, nanoseconds in 0..999999999) → the unsigned
 * 32-bit seconds and microseconds of the format, clamped with a warning when out of range.
 */
export function clampTime(sec: number, nsec: number, field: string, warnings: FieldWarning[]): { sec: number; usec: number } {
  if (sec < 0) {
    warnings.push({ field, message: `${field} before 1970 cannot be stored in the Linux fields: Linux restore sees 1970-01-01 (snapdump keeps and restores the exact time)` });
    return { sec: 0, usec: 0 };
  }
  if (sec > MAX_U32) {
    warnings.push({ field, message: `${field} after 2106 cannot be stored in the Linux fields: Linux restore sees 2106-02-07 (snapdump keeps and restores the exact time)` });
    return { sec: MAX_U32, usec: 999999 };
  }
  return { sec, usec: Math.floor(nsec / 1000) };
}

/** Linux dev_t (glibc encoding, as Node reports it) → major/minor. */
export function devMajor(dev: number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}
export function devMinor(dev: number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}

/** The di_rdev word for a device, or null when it cannot be encoded. */
export function encodeRdev(major: number, minor: number): number | null {
  if (major < 256 && minor < 256) return ((major << 8) | minor) >>> 0;
  if (major < 4096 && minor < 1 << 20) return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
  return null;
}

/** The inverse of {@link encodeRdev}: both encodings decode with the 32-bit rule. */
export function decodeRdev(rdev: number): { major: number; minor: number } {
  return { major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/** The exact times of a stat result (nanoseconds, unclamped seconds, birth time when known). */
export function exactTimesFromStat(st: StatLike): ExactTimes {
  const hasBirth = st.birthSec !== undefined && st.birthNsec !== undefined && st.birthNsec >= 0;
  return {
    atimeSec: st.atimeSec, atimeNsec: st.atimeNsec, mtimeSec: st.mtimeSec, mtimeNsec: st.mtimeNsec,
    ctimeSec: st.ctimeSec, ctimeNsec: st.ctimeNsec,
    birth: hasBirth ? { sec: st.birthSec!, nsec: st.birthNsec! } : null,
  };
}

/** The embedded-inode fields of an object (flags 0: they need an open descriptor). */
export function inodeFromStat(st: StatLike, warnings: FieldWarning[]): InodeFields {
  const a = clampTime(st.atimeSec, st.atimeNsec, 'atime', warnings);
  const m = clampTime(st.mtimeSec, st.mtimeNsec, 'mtime', warnings);
  const c = clampTime(st.ctimeSec, st.ctimeNsec, 'ctime', warnings);
  let rdev = 0;
  const type = st.mode & 0o170000;
  if (type === 0o020000 || type === 0o060000) {
    const major = devMajor(st.rdev);
    const minor = devMinor(st.rdev);
    const encoded = encodeRdev(major, minor);
    if (encoded === null) warnings.push({ field: 'rdev', message: `device ${major}:${minor} cannot be stored; written as 0:0` });
    rdev = encoded ?? 0;
  }
  return {
    mode: st.mode & 0xffff, nlink: Math.min(st.nlink, 0x7fff), uid: st.uid >>> 0, gid: st.gid >>> 0,
    size: st.size, blocks: st.blocks, rdev, flags: 0,
    atime: a.sec, atimeUsec: a.usec, mtime: m.sec, mtimeUsec: m.usec, ctime: c.sec, ctimeUsec: c.usec,
    exact: exactTimesFromStat(st),
  };
}
