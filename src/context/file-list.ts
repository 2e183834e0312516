/**
 * Phase IV's object list, saved when the file phase starts so that a restart knows exactly
 * which objects the image still owes, in tape order, with the source inode each came from and
 * its kind (a placeholder of that kind stands in for an object that vanished). Pure codec:
 * a 16-byte header ("SDFL", version, count) then per object: dump inode (u32), source inode
 * (f64), kind (u8, ItemKind), mode type bits (u16 >> 12 fits a u8), all little endian.
 */
import { SnapdumpError } from '../errors.js';

export interface FileListEntry {
  ino: number;
  srcIno: number;
  /** S_IFMT bits of the object's mode. */
  type: number;
}

const MAGIC = 0x4c464453; // 'SDFL'
const VERSION = 1;
const HEAD = 16;
const ENTRY = 4 + 8 + 1;

export function encodeFileList(entries: readonly FileListEntry[]): Buffer {
  const out = Buffer.alloc(HEAD + entries.length * ENTRY);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(entries.length, 8);
  let o = HEAD;
  for (const e of entries) {
    out.writeUInt32LE(e.ino, o);
    out.writeDoubleLE(e.srcIno, o + 4);
    out.writeUInt8((e.type >>> 12) & 0xf, o + 12);
    o += ENTRY;
  }
  return out;
}

export function decodeFileList(buf: Buffer, file: string): FileListEntry[] {
  const bad = (why: string) => new SnapdumpError('ERR_STATE', `${file} is not a valid file list: ${why}`, { path: file });
  if (buf.length < HEAD || buf.readUInt32LE(0) !== MAGIC) throw bad('bad magic');
  if (buf.readUInt32LE(4) !== VERSION) throw bad(`unknown version ${buf.readUInt32LE(4)}`);
  const n = buf.readUInt32LE(8);
  if (buf.length !== HEAD + n * ENTRY) throw bad(`size ${buf.length} does not hold ${n} entries`);
  const out: FileListEntry[] = new Array(n);
  let prev = -1;
  for (let i = 0, o = HEAD; i < n; i++, o += ENTRY) {
    const ino = buf.readUInt32LE(o);
    if (ino <= prev) throw bad('inodes are not in ascending order');
    prev = ino;
    out[i] = { ino, srcIno: buf.readDoubleLE(o + 4), type: buf.readUInt8(o + 12) << 12 };
  }
  return out;
}
