/**
 * Piscina worker of the file phase: reads a batch of objects and returns them fully encoded
 * (headers, data blocks, EA records) in one transferable buffer, in tape order. Only c_tapea is
 * left for the tape writer. Synchronous reads: inside a worker they are much faster than
 * promise reads for small files, and they do not block the main thread.
 */
import * as fs from 'node:fs';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import * as sysx from '../native/sysx.js';
import { RecordType, TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import { encodeHeader, type DumpInode } from '../format/header.js';
import { baseHeader, type VolumeInfo } from '../format/object-headers.js';
import { encodeXattrs, type Xattr } from '../format/xattr.js';
import { DR_EXTATTRIBUTES, EXT_XATTR } from '../format/constants.js';
import { readXattrs } from '../stages/xattr-emit.js';

export interface ReadItem {
  kind: 'file' | 'symlink' | 'other';
  path: Uint8Array;
  ino: number;
  inode: DumpInode;
  /** For files: the byte range of this item. A big file comes as several items. */
  offset: number;
  length: number;
  first: boolean;
  last: boolean;
  sparse: boolean;
  /** What the walk saw, to detect a file that changed before or while it was read. */
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface ReadTask {
  vol: VolumeInfo;
  items: ReadItem[];
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
  buffer: ArrayBuffer;
  length: number;
  headers: number[];
  objects: Array<[number, number]>;
  dataBytes: number;
  notes: ReadNote[];
}

class Output {
  readonly buf: Buffer;
  pos = 0;
  readonly headers: number[] = [];
  readonly objects: Array<[number, number]> = [];
  constructor(bytes: number) {
    // Not zero-filled: every byte is written or explicitly cleared below.
    this.buf = Buffer.allocUnsafeSlow(Math.max(bytes, TP_BSIZE));
  }
  get block(): number { return this.pos / TP_BSIZE; }
  reserveHeader(): number {
    const at = this.pos;
    this.headers.push(this.block);
    this.pos += TP_BSIZE;
    return at;
  }
}

function display(p: Uint8Array): string {
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
}

function pathOf(p: Uint8Array): Buffer {
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

/** Per-1KiB-block presence for [offset, offset+length) from the file's data extents. */
function presenceMap(fd: number, size: number, offset: number, length: number): Uint8Array {
  const nblocks = Math.ceil(length / TP_BSIZE);
  const present = new Uint8Array(nblocks);
  const extents = sysx.dataExtents(fd, size);
  for (const [start, end] of extents) {
    const lo = Math.max(start, offset);
    const hi = Math.min(end, offset + length);
    if (hi <= lo) continue;
    const first = Math.floor((lo - offset) / TP_BSIZE);
    const last = Math.ceil((hi - offset) / TP_BSIZE);
    present.fill(1, first, last);
  }
  return present;
}

/** Reads `length` bytes at `position` into buf; returns bytes actually read (short at EOF). */
function readFully(fd: number, buf: Buffer, at: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function writeObjectHeaders(
  out: Output, vol: VolumeInfo, item: ReadItem, inode: DumpInode, nblocks: number,
  present: Uint8Array | null, firstType: RecordType, fill: (segStart: number, segBlocks: number, at: number, presentHere: number) => void,
): void {
  let entry = 0;
  let type = firstType;
  if (type === RecordType.INODE) out.objects.push([item.ino, out.block]);
  do {
    const n = Math.min(TP_NINDIR, nblocks - entry);
    const at = out.reserveHeader();
    const h = baseHeader(vol, type);
    h.inumber = item.ino;
    h.inode = inode;
    h.count = n;
    let presentHere = 0;
    for (let i = 0; i < n; i++) {
      const p = present === null || present[entry + i] !== 0;
      h.addr[i] = p ? 1 : 0;
      if (p) presentHere++;
    }
    encodeHeader(h, out.buf, at);
    fill(entry, n, out.pos, presentHere);
    out.pos += presentHere * TP_BSIZE;
    entry += n;
    type = RecordType.ADDR;
  } while (entry < nblocks);
}

function writeXattrRecords(out: Output, vol: VolumeInfo, item: ReadItem, inode: DumpInode, blobs: Buffer[]): void {
  for (const blob of blobs) {
    const at = out.reserveHeader();
    const h = baseHeader(vol, RecordType.INODE);
    h.inumber = item.ino;
    h.inode = { ...inode, size: blob.length };
    h.flags |= DR_EXTATTRIBUTES;
    h.extattributes = EXT_XATTR;
    const n = blob.length / TP_BSIZE;
    h.count = n;
    h.addr.fill(1, 0, n);
    encodeHeader(h, out.buf, at);
    blob.copy(out.buf, out.pos);
    out.pos += blob.length;
  }
}

interface Prepared {
  blobs: Buffer[];
  target?: Buffer;
}

function prepare(item: ReadItem, notes: ReadNote[]): Prepared {
  const prepared: Prepared = { blobs: [] };
  if (item.kind === 'symlink') {
    try {
      prepared.target = fs.readlinkSync(pathOf(item.path), { encoding: 'buffer' });
    } catch (e) {
      notes.push({ ino: item.ino, path: display(item.path), code: 'VANISHED', message: `cannot read link: ${(e as Error).message}; dumped with an empty target`, skipped: true });
      prepared.target = Buffer.alloc(0);
    }
  }
  if (item.last) {
    const x = readXattrs(pathOf(item.path));
    for (const err of x.errors) notes.push({ ino: item.ino, path: display(item.path), code: 'XATTR', message: err, skipped: true });
    if (x.attrs.length) {
      const enc = encodeXattrs(x.attrs as Xattr[]);
      for (const name of enc.unsupported) notes.push({ ino: item.ino, path: display(item.path), code: 'XATTR', message: `extended attribute ${name} has no ext2 name index; not dumped`, skipped: false });
      for (const b of enc.blobs) if (b.length > 4096) notes.push({ ino: item.ino, path: display(item.path), code: 'XATTR_LARGE', message: `extended attributes of ${b.length} bytes: snapdump restores them, Linux restore skips them`, skipped: false });
      prepared.blobs = enc.blobs;
    }
  }
  return prepared;
}

function worstCaseBytes(item: ReadItem, p: Prepared): number {
  let blocks = 0;
  if (item.kind === 'file') {
    const n = Math.ceil(item.length / TP_BSIZE);
    blocks += Math.max(1, Math.ceil(n / TP_NINDIR)) + n;
  } else if (item.kind === 'symlink') {
    const n = Math.max(1, Math.ceil(p.target!.length / TP_BSIZE));
    blocks += Math.ceil(n / TP_NINDIR) + n;
  } else {
    blocks += 1;
  }
  for (const b of p.blobs) blocks += 1 + b.length / TP_BSIZE;
  return blocks * TP_BSIZE;
}

function readFileItem(out: Output, vol: VolumeInfo, item: ReadItem, notes: ReadNote[]): number {
  const nblocks = Math.ceil(item.length / TP_BSIZE);
  let fd = -1;
  try {
    fd = fs.openSync(pathOf(item.path), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const gone = (e as NodeJS.ErrnoException).code === 'ENOENT';
    // The object is already named in the directories and the maps: it must appear. A vanished
    // file's first item becomes an empty file; a later item keeps the promised size with zeros.
    notes.push({ ino: item.ino, path: display(item.path), code: gone ? 'VANISHED' : 'UNREADABLE', message: `${gone ? 'file removed before we read it' : `cannot open: ${(e as Error).message}`}; dumped ${item.first ? 'empty' : 'with zeros'}`, skipped: true });
    if (item.first) {
      writeObjectHeaders(out, vol, item, { ...item.inode, size: 0 }, 0, null, RecordType.INODE, () => undefined);
    } else {
      writeObjectHeaders(out, vol, item, item.inode, nblocks, null, RecordType.ADDR, (_s, segBlocks, at, _p) => out.buf.fill(0, at, at + segBlocks * TP_BSIZE));
    }
    return 0;
  }
  let bytes = 0;
  let short = false;
  try {
    const inode = { ...item.inode, flags: sysx.getFlags(fd) };
    const present = item.sparse ? presenceMap(fd, inode.size, item.offset, item.length) : null;
    writeObjectHeaders(out, vol, item, inode, nblocks, present, item.first ? RecordType.INODE : RecordType.ADDR, (segStart, segBlocks, at, presentHere) => {
      if (presentHere === 0) return;
      if (present === null || presentHere === segBlocks) {
        const want = Math.min(segBlocks * TP_BSIZE, item.length - segStart * TP_BSIZE);
        const got = readFully(fd, out.buf, at, want, item.offset + segStart * TP_BSIZE);
        if (got < want) short = true;
        bytes += got;
        out.buf.fill(0, at + got, at + presentHere * TP_BSIZE);
        return;
      }
      // Sparse segment: read each run of present blocks into consecutive tape blocks.
      let dst = at;
      let i = 0;
      while (i < segBlocks) {
        if (present[segStart + i] === 0) { i++; continue; }
        let j = i;
        while (j < segBlocks && present[segStart + j] !== 0) j++;
        const fileOff = (segStart + i) * TP_BSIZE;
        const want = Math.min((j - i) * TP_BSIZE, item.length - fileOff);
        const got = readFully(fd, out.buf, dst, want, item.offset + fileOff);
        if (got < want) short = true;
        bytes += got;
        out.buf.fill(0, dst + got, dst + (j - i) * TP_BSIZE);
        dst += (j - i) * TP_BSIZE;
        i = j;
      }
    });
    if (item.last) {
      const st = fs.fstatSync(fd, { bigint: true });
      if (short || Number(st.size) !== inode.size || st.mtimeNs !== item.mtimeNs || st.ctimeNs !== item.ctimeNs) {
        notes.push({ ino: item.ino, path: display(item.path), code: 'CHANGED', message: 'file changed as we read it', skipped: true });
      }
    } else if (short) {
      notes.push({ ino: item.ino, path: display(item.path), code: 'CHANGED', message: 'file shrank as we read it; the rest is zeros', skipped: true });
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}

export default function readFiles(task: ReadTask): unknown {
  const notes: ReadNote[] = [];
  const prepared = task.items.map((item) => prepare(item, notes));
  let total = 0;
  for (let i = 0; i < task.items.length; i++) total += worstCaseBytes(task.items[i]!, prepared[i]!);
  const out = new Output(total);
  let dataBytes = 0;
  for (let i = 0; i < task.items.length; i++) {
    const item = task.items[i]!;
    const p = prepared[i]!;
    let inode = item.inode;
    if (item.kind === 'file') {
      dataBytes += readFileItem(out, task.vol, item, notes);
    } else if (item.kind === 'symlink') {
      const target = p.target!;
      inode = { ...inode, size: target.length };
      const nblocks = Math.max(1, Math.ceil(target.length / TP_BSIZE));
      writeObjectHeaders(out, task.vol, item, inode, nblocks, null, RecordType.INODE, (_s, segBlocks, at) => {
        out.buf.fill(0, at, at + segBlocks * TP_BSIZE);
        target.copy(out.buf, at);
      });
    } else {
      writeObjectHeaders(out, task.vol, item, inode, 0, null, RecordType.INODE, () => undefined);
    }
    if (p.blobs.length) writeXattrRecords(out, task.vol, item, inode, p.blobs);
  }
  const result: ReadResult = {
    buffer: out.buf.buffer as ArrayBuffer, length: out.pos, headers: out.headers, objects: out.objects, dataBytes, notes,
  };
  return move({
    get [transferableSymbol]() { return [result.buffer]; },
    get [valueSymbol]() { return result; },
  } as never);
}
