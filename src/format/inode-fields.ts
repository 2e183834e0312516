/**
 * Turning file-system metadata into the 32-bit fields of the embedded inode, with the
 * deliberate choices for values the format cannot hold (README "Format notes"):
 * - times before 1970 or after 2106 are clamped to the nearest representable second and warned
 *   about (stored raw, 1960 would come back as 2096 from Linux restore);
 * - sub-second times are kept as microseconds (Linux restore applies non-zero usec fields);
 * - device numbers use the old 16-bit encoding when both parts fit a byte (as Linux dump),
 *   else Linux's 32-bit encoding, which Linux restore passes to mknod unchanged and which
 *   glibc decodes correctly for majors < 4096 and minors < 2^20; larger ones are refused.
 */
import type { DumpInode } from './header.js';
import { emptyInode } from './header.js';

export interface FieldWarning {
  field: string;
  message: string;
}

export interface StatLike {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const NS_PER_SEC = 1_000_000_000n;
const MAX_U32 = 0xffffffff;

export function splitTime(ns: bigint, field: string, warnings: FieldWarning[]): { sec: number; usec: number } {
  let sec = ns / NS_PER_SEC;
  let rem = ns % NS_PER_SEC;
  if (rem < 0n) { rem += NS_PER_SEC; sec -= 1n; }
  return clampTime(Number(sec), Number(rem), field, warnings);
}

/**
 * Seconds + nanoseconds (as stat(2) gives them, nanoseconds in 0..999999999) → the unsigned
 * 32-bit seconds and microseconds of the format, clamped with a warning when out of range.
 */
export function clampTime(sec: number, nsec: number, field: string, warnings: FieldWarning[]): { sec: number; usec: number } {
  if (sec < 0) {
    warnings.push({ field, message: `${field} before 1970 cannot be stored; written as 1970-01-01` });
    return { sec: 0, usec: 0 };
  }
  if (sec > MAX_U32) {
    warnings.push({ field, message: `${field} after 2106 cannot be stored; written as 2106-02-07` });
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

export function inodeFromStat(st: StatLike, flags: number, warnings: FieldWarning[]): DumpInode {
  const ino = emptyInode();
  ino.mode = st.mode & 0xffff;
  ino.nlink = Math.min(st.nlink, 0x7fff);
  ino.uid = st.uid >>> 0;
  ino.gid = st.gid >>> 0;
  ino.ouid = st.uid & 0xffff;
  ino.ogid = st.gid & 0xffff;
  ino.size = st.size;
  ino.blocks = st.blocks >>> 0;
  ino.flags = flags >>> 0;
  const a = splitTime(st.atimeNs, 'atime', warnings);
  const m = splitTime(st.mtimeNs, 'mtime', warnings);
  const c = splitTime(st.ctimeNs, 'ctime', warnings);
  ino.atime = a.sec; ino.atimeUsec = a.usec;
  ino.mtime = m.sec; ino.mtimeUsec = m.usec;
  ino.ctime = c.sec; ino.ctimeUsec = c.usec;
  const type = st.mode & 0o170000;
  if (type === 0o020000 || type === 0o060000) {
    const major = devMajor(st.rdev);
    const minor = devMinor(st.rdev);
    const rdev = encodeRdev(major, minor);
    if (rdev === null) {
      warnings.push({ field: 'rdev', message: `device ${major}:${minor} cannot be stored; written as 0:0` });
      ino.rdev = 0;
    } else {
      ino.rdev = rdev;
    }
  }
  return ino;
}
