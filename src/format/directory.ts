/**
 * Directory contents on tape: BSD `struct direct` records packed in 512-byte chunks
 * (DUMP-FORMAT.md §4.1). Names are raw bytes: file names need not be valid UTF-8.
 */
import { DIRBLKSIZ } from './constants.js';

export interface DirEntry {
  ino: number;
  type: number;
  name: Uint8Array;
}

/** Bytes one entry takes at minimum: 8-byte head, name, NUL, padded to 4. */
export function entryLength(nameLength: number): number {
  return (8 + nameLength + 1 + 3) & ~3;
}

/** Longest name the format can hold: d_namlen is one byte. */
export const MAX_NAME_BYTES = 255;

/**
 * Packs entries like Linux dump: each at its minimum length, never crossing a 512-byte
 * chunk, the last entry of each chunk stretched to the chunk's end.
 * The result is a whole number of chunks (at least one).
 */
export function encodeDirectory(entries: readonly DirEntry[]): Buffer {
  let total = 0;
  let used = 0;
  for (const e of entries) {
    const len = entryLength(e.name.length);
    if (used + len > DIRBLKSIZ) { total += DIRBLKSIZ; used = 0; }
    used += len;
  }
  total += DIRBLKSIZ;
  const buf = Buffer.alloc(total);
  let chunk = 0;
  let pos = 0;
  let lastStart = -1;
  for (const e of entries) {
    if (e.name.length > MAX_NAME_BYTES || e.name.length === 0) throw new RangeError(`directory entry name of ${e.name.length} bytes`);
    const len = entryLength(e.name.length);
    if (pos - chunk + len > DIRBLKSIZ) {
      buf.writeUInt16LE(chunk + DIRBLKSIZ - lastStart, lastStart + 4);
      chunk += DIRBLKSIZ;
      pos = chunk;
    }
    buf.writeUInt32LE(e.ino >>> 0, pos);
    buf.writeUInt16LE(len, pos + 4);
    buf[pos + 6] = e.type;
    buf[pos + 7] = e.name.length;
    buf.set(e.name, pos + 8);
    lastStart = pos;
    pos += len;
  }
  if (lastStart >= 0) buf.writeUInt16LE(chunk + DIRBLKSIZ - lastStart, lastStart + 4);
  else { buf.writeUInt32LE(0, 0); buf.writeUInt16LE(DIRBLKSIZ, 4); }
  return buf;
}

export interface DecodedDirectory {
  entries: DirEntry[];
  /** Byte offsets (within the directory data) of chunks that were mangled and skipped. */
  mangled: number[];
}

/**
 * Reads entries the way Linux restore validates them: a bad record skips to the next
 * 512-byte chunk. `oldFormat` treats d_type+d_namlen as one 16-bit length (pre-NEWINODEFMT
 * and Solaris dumps); byte order applies to d_ino, d_reclen and that 16-bit length.
 */
export function decodeDirectory(data: Uint8Array, size: number, littleEndian = true, oldFormat = false): DecodedDirectory {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = Math.min(size, data.byteLength);
  const entries: DirEntry[] = [];
  const mangled: number[] = [];
  let pos = 0;
  while (pos + 8 <= end) {
    const chunkEnd = Math.min((Math.floor(pos / DIRBLKSIZ) + 1) * DIRBLKSIZ, end);
    const ino = view.getUint32(pos, littleEndian);
    const reclen = view.getUint16(pos + 4, littleEndian);
    let type: number;
    let namlen: number;
    if (oldFormat) {
      type = 0;
      namlen = view.getUint16(pos + 6, littleEndian);
    } else {
      type = data[pos + 6]!;
      namlen = data[pos + 7]!;
      // Solaris writes a 16-bit d_namlen; in little-endian the high byte lands in d_namlen.
    }
    const bad = reclen === 0 || (reclen & 3) !== 0 || pos + reclen > chunkEnd
      || (ino !== 0 && (reclen < entryLength(namlen) || pos + 8 + namlen > chunkEnd));
    if (bad) {
      mangled.push(pos);
      pos = chunkEnd;
      continue;
    }
    if (ino !== 0 && namlen > 0) {
      entries.push({ ino, type, name: data.subarray(pos + 8, pos + 8 + namlen) });
    }
    pos += reclen;
  }
  return { entries, mangled };
}
