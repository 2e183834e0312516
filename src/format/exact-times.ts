/**
 * snapdump's exact times: what the Linux inode layout cannot hold (nanoseconds, seconds outside
 * the unsigned 32-bit range, the birth time), kept in the header's spare words.
 *
 * Linux dump writes `c_spare[30]` (header bytes 904..1023) as zeros and restore 0.4b47 never
 * reads it for NFS_MAGIC headers (it only reads the embedded inode's `usec` fields, which
 * snapdump still fills with the microseconds), so Linux restore ignores these words; snapdump
 * restores atime and mtime from them to the nanosecond. The embedded inode has no spare room
 * for this (its `di_spare[2]` holds 8 bytes) and Linux's `new_bsd_inode` has no nanosecond or
 * birth-time fields of its own (FreeBSD's UFS2 header variant has, but Linux restore does not
 * read that layout).
 *
 * Layout (32-bit words of `c_spare`, in the header's byte order):
 *   0      magic EXACT_TIMES_MAGIC (the bytes "SDT1" in a little-endian header)
 *   1      flags: bit 0 = a birth time is present
 *   2..4   atime: seconds low word, seconds high word (signed), nanoseconds
 *   5..7   mtime, same form
 *   8..10  ctime, same form
 *   11..13 birth time, same form (zero when absent)
 * Words 14..29 stay free.
 */

export const EXACT_TIMES_MAGIC = 0x31544453;
/** Number of c_spare words the extension uses (from word 0). */
export const EXACT_TIMES_WORDS = 14;
const FLAG_BIRTH = 1;
const TWO_32 = 0x1_0000_0000;

export interface ExactTimes {
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** Birth (creation) time from statx, or null where the file system has none. */
  birth: { sec: number; nsec: number } | null;
}

function splitSeconds(sec: number): [lo: number, hi: number] {
  const s = Math.trunc(sec);
  const hi = Math.floor(s / TWO_32);
  return [s - hi * TWO_32, hi | 0];
}

function joinSeconds(lo: number, hi: number): number {
  return (hi | 0) * TWO_32 + (lo >>> 0);
}

function clampNsec(nsec: number): number {
  return Number.isFinite(nsec) ? Math.min(Math.max(Math.trunc(nsec), 0), 999_999_999) : 0;
}

/** The 14 words of the extension for `t` (to be stored from c_spare[0]). */
export function encodeExactTimes(t: ExactTimes): Uint32Array {
  const w = new Uint32Array(EXACT_TIMES_WORDS);
  w[0] = EXACT_TIMES_MAGIC;
  w[1] = t.birth ? FLAG_BIRTH : 0;
  const put = (at: number, sec: number, nsec: number) => {
    const [lo, hi] = splitSeconds(sec);
    w[at] = lo;
    w[at + 1] = hi >>> 0;
    w[at + 2] = clampNsec(nsec);
  };
  put(2, t.atimeSec, t.atimeNsec);
  put(5, t.mtimeSec, t.mtimeNsec);
  put(8, t.ctimeSec, t.ctimeNsec);
  if (t.birth) put(11, t.birth.sec, t.birth.nsec);
  return w;
}

/**
 * The exact times in spare words (already in host order, as decodeHeader gives them), or null
 * when the words do not hold the extension (Linux dump images, other producers, damage).
 */
export function decodeExactTimes(spare: ArrayLike<number>): ExactTimes | null {
  if (spare.length < EXACT_TIMES_WORDS || spare[0] !== EXACT_TIMES_MAGIC) return null;
  const flags = spare[1]!;
  if ((flags & ~FLAG_BIRTH) !== 0) return null;
  const nsecOk = (i: number) => spare[i]! <= 999_999_999;
  if (!nsecOk(4) || !nsecOk(7) || !nsecOk(10) || !nsecOk(13)) return null;
  const sec = (i: number) => joinSeconds(spare[i]!, spare[i + 1]!);
  return {
    atimeSec: sec(2), atimeNsec: spare[4]!,
    mtimeSec: sec(5), mtimeNsec: spare[7]!,
    ctimeSec: sec(8), ctimeNsec: spare[10]!,
    birth: flags & FLAG_BIRTH ? { sec: sec(11), nsec: spare[13]! } : null,
  };
}

/** "SECONDS.NNNNNNNNN" (seconds may be negative), for listings and messages. */
export function formatExactTime(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}
