/**
 * The 1,024-byte dump header (`union u_spcl`): pure encode/decode, no I/O.
 * Layout: DUMP-FORMAT.md §1.3 (Linux field names, new BSD inode layout).
 */
import { CHECKSUM, LBLSIZE, NAMELEN, NFS_MAGIC, TP_BSIZE, TP_NINDIR } from './constants.js';
import { decodeExactTimes, encodeExactTimes, type ExactTimes } from './exact-times.js';

/** The fields of the embedded inode a writer fills from the file system. */
export interface InodeFields {
  mode: number;
  nlink: number;
  size: number;
  atime: number;
  atimeUsec: number;
  mtime: number;
  mtimeUsec: number;
  ctime: number;
  ctimeUsec: number;
  /** di_db[0]: the device number of char/block devices (old 16-bit encoding, §5). */
  rdev: number;
  /** ext2 inode flags (chattr bits). */
  flags: number;
  blocks: number;
  uid: number;
  gid: number;
  /**
   * snapdump's exact times (nanoseconds, 64-bit seconds, birth time), kept in c_spare where
   * Linux restore ignores them (src/format/exact-times.ts). Absent or null: not written / not
   * in the image.
   */
  exact?: ExactTimes | null;
}

/** The whole embedded inode (`struct new_bsd_inode`, header bytes 32..159). */
export interface DumpInode extends InodeFields {
  gen: number;
  /** uid/gid low 16 bits at the old location (36/38); written from uid/gid, read for old-format dumps. */
  ouid: number;
  ogid: number;
}

export interface Header {
  type: number;
  date: number;
  ddate: number;
  volume: number;
  tapea: number;
  inumber: number;
  magic: number;
  checksum: number;
  inode: DumpInode;
  count: number;
  /** c_addr: 512 bytes; 0 = hole, non-zero = block present. */
  addr: Uint8Array;
  label: string;
  level: number;
  filesys: string;
  dev: string;
  host: string;
  flags: number;
  firstrec: number;
  ntrec: number;
  extattributes: number;
  /** c_spare[30]: zero in Linux dump; snapdump keeps its extensions here. */
  spare: Uint32Array;
}

export function emptyInode(): DumpInode {
  return {
    mode: 0, nlink: 0, size: 0, atime: 0, atimeUsec: 0, mtime: 0, mtimeUsec: 0, ctime: 0, ctimeUsec: 0,
    rdev: 0, flags: 0, blocks: 0, gen: 0, uid: 0, gid: 0, ouid: 0, ogid: 0,
  };
}

export function emptyHeader(): Header {
  return {
    type: 0, date: 0, ddate: 0, volume: 1, tapea: 0, inumber: 0, magic: NFS_MAGIC, checksum: 0,
    inode: emptyInode(), count: 0, addr: new Uint8Array(TP_NINDIR), label: '', level: 0,
    filesys: '', dev: '', host: '', flags: 0, firstrec: 0, ntrec: 0, extattributes: 0,
    spare: new Uint32Array(30),
  };
}

// Field offsets (bytes).
const O_TYPE = 0, O_DATE = 4, O_DDATE = 8, O_VOLUME = 12, O_TAPEA = 16, O_INUMBER = 20, O_MAGIC = 24;
const O_CHECKSUM = 28, O_DINODE = 32, O_COUNT = 160, O_ADDR = 164, O_LABEL = 676, O_LEVEL = 692;
const O_FILESYS = 696, O_DEV = 760, O_HOST = 824, O_FLAGS = 888, O_FIRSTREC = 892, O_NTREC = 896;
const O_EXTATTR = 900, O_SPARE = 904;
export const HEADER_SPARE_OFFSET = O_SPARE;
export const HEADER_TAPEA_OFFSET = O_TAPEA;
export const HEADER_CHECKSUM_OFFSET = O_CHECKSUM;
export const HEADER_TYPE_OFFSET = O_TYPE;

/** Sum of the 256 32-bit words of a header, modulo 2^32. */
export function headerWordSum(buf: Uint8Array, offset: number, littleEndian: boolean): number {
  const at = buf.byteOffset + offset;
  let sum = 0;
  // Every header written or read is summed: a typed array reads the words several times faster
  // than DataView calls, where the header is 4-byte aligned in memory and in the host's order.
  if (littleEndian === LITTLE_ENDIAN_HOST && (at & 3) === 0) {
    const words = new Int32Array(buf.buffer, at, TP_BSIZE / 4);
    for (let i = 0; i < words.length; i++) sum = (sum + words[i]!) | 0;
    return sum >>> 0;
  }
  const view = new DataView(buf.buffer, at, TP_BSIZE);
  for (let i = 0; i < TP_BSIZE; i += 4) sum = (sum + view.getUint32(i, littleEndian)) >>> 0;
  return sum;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function writeString(buf: Buffer, offset: number, size: number, text: string): void {
  buf.fill(0, offset, offset + size);
  // strncpy semantics with the last byte forced to NUL: at most size-1 bytes of text.
  const bytes = Buffer.from(text, 'utf8');
  bytes.copy(buf, offset, 0, Math.min(bytes.length, size - 1));
}

/**
 * The last string decoded from one header field, with its bytes: label, file system, device
 * and host repeat in every header of a dump, so a byte compare replaces building the string
 * (decoding them was most of decodeHeader's time when restoring many small files).
 */
class FieldCache {
  readonly bytes: Uint8Array;
  length = -1;
  text = '';
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
}

function readCachedString(buf: Uint8Array, offset: number, size: number, cache: FieldCache): string {
  let end = offset;
  const limit = offset + size;
  while (end < limit && buf[end] !== 0) end++;
  const len = end - offset;
  const known = cache.bytes;
  if (len === cache.length) {
    let i = 0;
    while (i < len && known[i] === buf[offset + i]) i++;
    if (i === len) return cache.text;
  }
  const text = readString(buf, offset, size);
  known.set(buf.subarray(offset, end));
  cache.length = len;
  cache.text = text;
  return text;
}

const labelCache = new FieldCache(LBLSIZE);
const filesysCache = new FieldCache(NAMELEN);
const devCache = new FieldCache(NAMELEN);
const hostCache = new FieldCache(NAMELEN);

function readString(buf: Uint8Array, offset: number, size: number): string {
  // Readers decode one header per object: plain ASCII (the usual case) skips the UTF-8 decoder.
  let s = '';
  const limit = offset + size;
  for (let i = offset; i < limit; i++) {
    const c = buf[i]!;
    if (c === 0) return s;
    if (c >= 0x80) {
      let end = i;
      while (end < limit && buf[end] !== 0) end++;
      return Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString('utf8');
    }
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Writes `h` as a little-endian header into `buf` at `offset` and sets its checksum.
 * Values are stored modulo 2^32 where the format is 32-bit (callers decide what to do with
 * out-of-range values before this point; see src/format/inode-fields.ts).
 */
export function encodeHeader(h: Header, buf: Buffer, offset = 0): void {
  buf.fill(0, offset, offset + TP_BSIZE);
  const u32 = (o: number, v: number) => buf.writeUInt32LE(v >>> 0, offset + o);
  u32(O_TYPE, h.type);
  u32(O_DATE, h.date);
  u32(O_DDATE, h.ddate);
  u32(O_VOLUME, h.volume);
  u32(O_TAPEA, h.tapea);
  u32(O_INUMBER, h.inumber);
  u32(O_MAGIC, h.magic);
  const ino = h.inode;
  const d = offset + O_DINODE;
  buf.writeUInt16LE(ino.mode & 0xffff, d);
  buf.writeUInt16LE(ino.nlink & 0xffff, d + 2);
  buf.writeUInt16LE(ino.ouid & 0xffff, d + 4);
  buf.writeUInt16LE(ino.ogid & 0xffff, d + 6);
  buf.writeBigUInt64LE(BigInt(ino.size), d + 8);
  u32(O_DINODE + 16, ino.atime);
  u32(O_DINODE + 20, ino.atimeUsec);
  u32(O_DINODE + 24, ino.mtime);
  u32(O_DINODE + 28, ino.mtimeUsec);
  u32(O_DINODE + 32, ino.ctime);
  u32(O_DINODE + 36, ino.ctimeUsec);
  u32(O_DINODE + 40, ino.rdev);
  u32(O_DINODE + 100, ino.flags);
  u32(O_DINODE + 104, ino.blocks);
  u32(O_DINODE + 108, ino.gen);
  u32(O_DINODE + 112, ino.uid);
  u32(O_DINODE + 116, ino.gid);
  u32(O_COUNT, h.count);
  buf.set(h.addr.subarray(0, TP_NINDIR), offset + O_ADDR);
  writeString(buf, offset + O_LABEL, LBLSIZE, h.label);
  u32(O_LEVEL, h.level);
  writeString(buf, offset + O_FILESYS, NAMELEN, h.filesys);
  writeString(buf, offset + O_DEV, NAMELEN, h.dev);
  writeString(buf, offset + O_HOST, NAMELEN, h.host);
  u32(O_FLAGS, h.flags);
  u32(O_FIRSTREC, h.firstrec);
  u32(O_NTREC, h.ntrec);
  u32(O_EXTATTR, h.extattributes);
  for (let i = 0; i < 30; i++) u32(O_SPARE + 4 * i, h.spare[i] ?? 0);
  if (ino.exact) encodeExactTimes(ino.exact).forEach((w, i) => u32(O_SPARE + 4 * i, w));
  const sum = headerWordSum(buf, offset, true);
  u32(O_CHECKSUM, (CHECKSUM - sum) >>> 0);
}

/**
 * Changes c_tapea of an encoded little-endian header in place and keeps the checksum valid
 * (the sum moves by exactly the difference, so no re-summing is needed).
 */
export function patchTapea(buf: Buffer, offset: number, tapea: number): void {
  const old = buf.readUInt32LE(offset + O_TAPEA);
  const sum = buf.readUInt32LE(offset + O_CHECKSUM);
  buf.writeUInt32LE(tapea >>> 0, offset + O_TAPEA);
  buf.writeUInt32LE((sum - ((tapea >>> 0) - old)) >>> 0, offset + O_CHECKSUM);
}

export type ByteOrder = 'le' | 'be';

/** Which byte order the magic at offset 24 says, or null when it is no NFS_MAGIC header. */
export function detectByteOrder(buf: Uint8Array, offset = 0): ByteOrder | null {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, TP_BSIZE);
  if (view.getInt32(O_MAGIC, true) === NFS_MAGIC) return 'le';
  if (view.getInt32(O_MAGIC, false) === NFS_MAGIC) return 'be';
  return null;
}

export function checksumOk(buf: Uint8Array, offset: number, order: ByteOrder): boolean {
  return headerWordSum(buf, offset, order === 'le') === CHECKSUM;
}

// Readers decode a header per object: a 120-byte typed array of its own costs an off-heap
// allocation each time, so spare arrays are carved out of a shared slab.
let spareSlab = new Uint32Array(0);
let spareUsed = 0;
function newSpare(): Uint32Array {
  if (spareUsed + 30 > spareSlab.length) {
    spareSlab = new Uint32Array(30 * 1024);
    spareUsed = 0;
  }
  spareUsed += 30;
  return spareSlab.subarray(spareUsed - 30, spareUsed);
}

/**
 * Reads a header in the given byte order. Does not validate; use {@link checksumOk} and the magic.
 * The returned addr is a view into `buf` (zero-copy): copy it if `buf` is reused.
 */
export function decodeHeader(buf: Uint8Array, offset: number, order: ByteOrder): Header {
  const le = order === 'le';
  const view = new DataView(buf.buffer, buf.byteOffset + offset, TP_BSIZE);
  const u32 = (o: number) => view.getUint32(o, le);
  const i32 = (o: number) => view.getInt32(o, le);
  const inode: DumpInode = {
    mode: view.getUint16(O_DINODE, le),
    nlink: view.getInt16(O_DINODE + 2, le),
    ouid: view.getUint16(O_DINODE + 4, le),
    ogid: view.getUint16(O_DINODE + 6, le),
    size: Number(view.getBigUint64(O_DINODE + 8, le)),
    atime: u32(O_DINODE + 16),
    atimeUsec: u32(O_DINODE + 20),
    mtime: u32(O_DINODE + 24),
    mtimeUsec: u32(O_DINODE + 28),
    ctime: u32(O_DINODE + 32),
    ctimeUsec: u32(O_DINODE + 36),
    rdev: u32(O_DINODE + 40),
    flags: u32(O_DINODE + 100),
    blocks: i32(O_DINODE + 104),
    gen: i32(O_DINODE + 108),
    uid: u32(O_DINODE + 112),
    gid: u32(O_DINODE + 116),
  };
  const spare = newSpare();
  for (let i = 0; i < 30; i++) spare[i] = view.getUint32(O_SPARE + 4 * i, le);
  const exact = decodeExactTimes(spare);
  if (exact) inode.exact = exact;
  return {
    type: i32(O_TYPE),
    date: i32(O_DATE),
    ddate: i32(O_DDATE),
    volume: i32(O_VOLUME),
    tapea: u32(O_TAPEA),
    inumber: u32(O_INUMBER),
    magic: i32(O_MAGIC),
    checksum: i32(O_CHECKSUM),
    inode,
    count: i32(O_COUNT),
    addr: new Uint8Array(buf.buffer, buf.byteOffset + offset + O_ADDR, TP_NINDIR),
    label: readCachedString(buf, offset + O_LABEL, LBLSIZE, labelCache),
    level: i32(O_LEVEL),
    filesys: readCachedString(buf, offset + O_FILESYS, NAMELEN, filesysCache),
    dev: readCachedString(buf, offset + O_DEV, NAMELEN, devCache),
    host: readCachedString(buf, offset + O_HOST, NAMELEN, hostCache),
    flags: i32(O_FLAGS),
    firstrec: i32(O_FIRSTREC),
    ntrec: i32(O_NTREC),
    extattributes: i32(O_EXTATTR),
    spare,
  };
}

/** Number of data blocks that follow a header of this type (DUMP-FORMAT.md §1.5). */
export function dataBlocksAfter(h: Pick<Header, 'type' | 'count' | 'addr' | 'flags'>): number {
  switch (h.type) {
    case 3: case 6: // TS_BITS, TS_CLRI: all c_count blocks, whatever c_addr says
      return Math.max(0, h.count);
    case 2: case 4: { // TS_INODE, TS_ADDR
      const n = Math.min(Math.max(0, h.count), TP_NINDIR);
      // Extension records are read whole regardless of c_addr.
      if (h.flags & 0x8000) return n;
      let present = 0;
      for (let i = 0; i < n; i++) if (h.addr[i] !== 0) present++;
      return present;
    }
    default:
      return 0;
  }
}
