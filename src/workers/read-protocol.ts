/**
 * The messages between the file phase and its read workers, kept compact because every
 * message is cloned between threads: object metadata travels as rows of a Float64Array,
 * paths as strings (bytes only for names that are not UTF-8), results as one transferred buffer.
 */
import type { ExactTimes } from '../format/exact-times.js';
import type { VolumeInfo } from '../format/volume.js';

export const enum ItemKind { File = 0, Symlink = 1, Other = 2 }
export const enum ItemBits {
  First = 1, Last = 2, Sparse = 4,
  /** Only the headers: the tape writer copies the data in the kernel (copy_file_range). */
  HeadersOnly = 8,
  /** A nested mount point recorded as a symbolic link to its own path (ONTAP junction). */
  Junction = 16,
}

/** Columns of one item row. */
export const enum Col {
  kind = 0, ino, offset, length, bits,
  mode, nlink, uid, gid, size, blocks, rdev,
  atime, atimeUsec, mtime, mtimeUsec, ctime, ctimeUsec,
  mtimeSec, mtimeNsec, ctimeSec, ctimeNsec,
  /** Exact times for snapdump's extension (src/format/exact-times.ts); birthNsec < 0: none. */
  atimeSec, atimeNsec, birthSec, birthNsec,
}
export const COLS = 26;

/** The exact times held by the row at `o` (any row layout that starts with these columns). */
export function exactTimesOfRow(rows: Float64Array, o: number): ExactTimes {
  const birthNsec = rows[o + Col.birthNsec]!;
  return {
    atimeSec: rows[o + Col.atimeSec]!, atimeNsec: rows[o + Col.atimeNsec]!,
    mtimeSec: rows[o + Col.mtimeSec]!, mtimeNsec: rows[o + Col.mtimeNsec]!,
    ctimeSec: rows[o + Col.ctimeSec]!, ctimeNsec: rows[o + Col.ctimeNsec]!,
    birth: birthNsec >= 0 ? { sec: rows[o + Col.birthSec]!, nsec: birthNsec } : null,
  };
}

export interface ReadTask {
  vol: VolumeInfo;
  rows: Float64Array;
  /** The items' paths joined by NUL (one string clones much faster than many). */
  paths: string;
  /** Paths that are not valid UTF-8, by item index (their slot in `paths` is empty). */
  rawPaths?: Record<number, Uint8Array>;
  /** Shared buffer to write the result into; a result that does not fit gets a buffer of its own. */
  slot: SharedArrayBuffer;
}

export interface ReadNote {
  ino: number;
  path: string;
  code: string;
  message: string;
  /** The object is missing or incomplete in the image. */
  skipped: boolean;
}

export interface ReadResult {
  /** A buffer of the worker's own when the result did not fit the slot, else null. */
  buffer: ArrayBuffer | null;
  length: number;
  /** Block indexes of every header in the buffer. */
  headers: Uint32Array;
  /** Pairs (inode, block index) for each object that starts in the buffer. */
  objects: Uint32Array;
  dataBytes: number;
  notes: ReadNote[];
}
