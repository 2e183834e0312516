/**
 * Directory contents on tape: BSD `struct direct` records packed in 512-byte chunks
 * (DUMP-FORMAT.md §4.1). Names are raw bytes: file names need not be valid UTF-8.
 */
import { DIRBLKSIZ } from './constants.js';

export interface DirEntry {
  ino: number;
  type: number;
  /** Raw bytes, or a string written as UTF-8. */
  name: Uint8Array | string;
}

function byteLength(name: Uint8Array | string): number {
  return typeof name === 'string' ? Buffer.byteLength(name) : name.length;
}

/** Bytes one entry takes at minimum: 8-byte head, name, NUL, padded to 4. */
export function entryLength(nameLength: number): number {
  return (8 + nameLength + 1 + 3) & ~3;
}

/** Longest name the format can hold: d_namlen is one byte. */
export const MAX_NAME_BYTES = 255;

/**
 * Entries without an object each (a directory of the backup's entry table): entry i's number,
 * type and name, which it writes itself.
 */
export interface DirectorySource {
  readonly count: number;
  ino(i: number): number;
  type(i: number): number;
  nameLength(i: number): number;
  /** Writes the bytes of name i at buf[at ...]. */
  writeName(i: number, buf: Buffer, at: number): void;
}

/**
 * Packs entries like Linux dump: each at its minimum length, never crossing a 512-byte
 * chunk, the last entry of each chunk stretched to the chunk's end.
 * The result is a whole number of chunks (at least one).
 */
export function encodeDirectory(entries: readonly DirEntry[]): Buffer {
  const lengths = entries.map((e) => byteLength(e.name));
  return encodeDirectoryFrom({
    count: entries.length,
    ino: (i) => entries[i]!.ino,
    type: (i) => entries[i]!.type,
    nameLength: (i) => lengths[i]!,
    writeName: (i, buf, at) => {
      const name = entries[i]!.name;
      if (typeof name === 'string') buf.write(name, at, 'utf8'); else buf.set(name, at);
    },
  });
}

/** encodeDirectory of entries given as a DirectorySource. */
export function encodeDirectoryFrom(src: DirectorySource): Buffer {
  const count = src.count;
  let total = 0;
  let used = 0;
  for (let i = 0; i < count; i++) {
    const len = entryLength(src.nameLength(i));
    if (used + len > DIRBLKSIZ) { total += DIRBLKSIZ; used = 0; }
    used += len;
  }
  total += DIRBLKSIZ;
  const buf = Buffer.alloc(total);
  let chunk = 0;
  let pos = 0;
  let lastStart = -1;
  const setReclen = (at: number, reclen: number) => { buf[at + 4] = reclen & 0xff; buf[at + 5] = reclen >>> 8; };
  for (let i = 0; i < count; i++) {
    const nameLength = src.nameLength(i);
    if (nameLength > MAX_NAME_BYTES || nameLength === 0) throw new RangeError(`directory entry name of ${nameLength} bytes`);
    const len = entryLength(nameLength);
    if (pos - chunk + len > DIRBLKSIZ) {
      setReclen(lastStart, chunk + DIRBLKSIZ - lastStart);
      chunk += DIRBLKSIZ;
      pos = chunk;
    }
    const ino = src.ino(i) >>> 0;
    buf[pos] = ino & 0xff; buf[pos + 1] = (ino >>> 8) & 0xff; buf[pos + 2] = (ino >>> 16) & 0xff; buf[pos + 3] = ino >>> 24;
    setReclen(pos, len);
    buf[pos + 6] = src.type(i);
    buf[pos + 7] = nameLength;
    src.writeName(i, buf, pos + 8);
    lastStart = pos;
    pos += len;
  }
  if (lastStart >= 0) setReclen(lastStart, chunk + DIRBLKSIZ - lastStart);
  else setReclen(0, DIRBLKSIZ);
  return buf;
}

/** An entry read back from tape: the name is always raw bytes. */
export interface DecodedEntry {
  ino: number;
  type: number;
  name: Uint8Array;
}

/** An entry as restore reads it back. */
export interface DecodedDirEntry extends DecodedEntry {
  /**
   * d_namlen as restore uses it. Normally name.length; larger for the broken records Linux dump
   * writes for 255-byte names (d_reclen 8, §4.4), whose name bytes are not inside the record
   * (name is then empty).
   */
  namlen: number;
  /** Byte offset of the record within the directory data. */
  offset: number;
}

export interface DecodedDirectory {
  entries: DecodedDirEntry[];
  /** Byte offsets (within the directory data) of records that were mangled; the rest of their 512-byte chunk was skipped. */
  mangled: number[];
}

/**
 * Linux restore's DIRSIZ(): libext2fs's record-length helper takes an 8-bit length, so
 * namlen + 1 wraps for 255-byte names and the minimum length becomes 8 (DUMP-FORMAT.md §4.4).
 */
export function restoreMinLength(namlen: number): number {
  return ((((namlen + 1) & 0xff) + 8 + 3) & ~3);
}

/**
 * Reads entries exactly as Linux restore's putdir() validates them: d_reclen a multiple of 4, not
 * past the current 512-byte chunk and at least restoreMinLength(d_namlen), else the rest of the
 * chunk is skipped ("Mangled directory"). Records are looked at while they start before `size`.
 * `oldFormat` (no DR_NEWINODEFMT on the volume header) takes the name length from the d_type byte
 * of a little-endian dump (a 16-bit length), as restore does; d_type is then unknown.
 * Entries with d_ino 0 are left out; names are raw bytes (restore stops them at a NUL).
 */
export function decodeDirectory(data: Uint8Array, size: number, littleEndian = true, oldFormat = false): DecodedDirectory {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = Math.min(size, data.byteLength);
  const entries: DecodedDirEntry[] = [];
  const mangled: number[] = [];
  let pos = 0;
  while (pos < end) {
    if (pos + 8 > data.byteLength) { mangled.push(pos); break; }
    const ino = view.getUint32(pos, littleEndian);
    const reclen = view.getUint16(pos + 4, littleEndian);
    let type = data[pos + 6]!;
    let namlen = data[pos + 7]!;
    if (oldFormat && ino !== 0) {
      if (littleEndian || (namlen === 0 && type !== 0)) namlen = type;
      type = 0;
    }
    const room = DIRBLKSIZ - (pos % DIRBLKSIZ);
    if ((reclen & 3) !== 0 || reclen > room || reclen < restoreMinLength(namlen)) {
      mangled.push(pos);
      pos += room;
      continue;
    }
    if (ino !== 0) {
      const nameEnd = Math.min(pos + 8 + namlen, pos + reclen, data.byteLength);
      entries.push({ ino, type, name: data.subarray(pos + 8, nameEnd), namlen, offset: pos });
    }
    pos += reclen;
  }
  return { entries, mangled };
}
