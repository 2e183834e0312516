/**
 * The file phase's reader (in a pool worker, src/workers/index.ts; on the main thread, for a
 * backup that reads little, through read-files-batch.ts): reads a batch of objects and returns
 * them fully encoded (headers, data blocks, EA records) in one transferable buffer, in tape
 * order. Only c_tapea is left for the tape writer. Synchronous reads: inside a worker they are
 * much faster than promise reads for small files, and they do not block the main thread.
 */
import * as fs from 'node:fs';
import * as sysx from '../native/sysx.js';
import { StatField as F, STAT_FIELDS } from '../native/sysx.js';
import { DR_EXTATTRIBUTES, EXT_XATTR, RecordType, TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import { HeaderTemplate, type InodeFields } from '../format/header-template.js';
import type { VolumeInfo } from '../format/volume.js';
import { encodeXattrs, EA_MAX_BLOB, EA_PADDING_BLOCK } from '../format/xattr.js';
import { readXattrs } from '../stages/xattr-emit.js';
import { COLS, Col, ItemBits, ItemKind, exactTimesOfRow, type ReadNote, type ReadResult, type ReadTask } from './read-protocol.js';

// One template per volume; a worker serves one backup at a time, usually.
let cachedVol: VolumeInfo | null = null;
let cachedTemplate: HeaderTemplate | null = null;
export function templateFor(vol: VolumeInfo): HeaderTemplate {
  if (!cachedTemplate || !cachedVol || cachedVol.date !== vol.date || cachedVol.label !== vol.label || cachedVol.ntrec !== vol.ntrec
    || cachedVol.level !== vol.level || cachedVol.filesys !== vol.filesys || cachedVol.ddate !== vol.ddate || cachedVol.volume !== vol.volume) {
    cachedTemplate = new HeaderTemplate(vol);
    cachedVol = vol;
  }
  return cachedTemplate;
}

const statBuf = new Float64Array(STAT_FIELDS);

export class Output {
  readonly buf: Buffer;
  readonly own: boolean;
  pos = 0;
  readonly headers: number[] = [];
  readonly objects: number[] = [];
  constructor(bytes: number, slot: SharedArrayBuffer) {
    // Not zero-filled: every byte is written or explicitly cleared.
    this.own = bytes > slot.byteLength;
    this.buf = this.own ? Buffer.allocUnsafeSlow(bytes) : Buffer.from(slot);
  }
  get block(): number { return this.pos / TP_BSIZE; }
}

export interface Item extends InodeFields {
  kind: ItemKind;
  ino: number;
  path: string | Buffer;
  offset: number;
  length: number;
  first: boolean;
  last: boolean;
  sparse: boolean;
  headersOnly: boolean;
  junction: boolean;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  blobs: Buffer[];
  target: Buffer | null;
}

export function itemAt(rows: Float64Array, i: number, p: string | Uint8Array): Item {
  const r = i * COLS;
  const bits = rows[r + Col.bits]!;
  return {
    kind: rows[r + Col.kind]! as ItemKind, ino: rows[r + Col.ino]!,
    path: typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength),
    offset: rows[r + Col.offset]!, length: rows[r + Col.length]!,
    first: (bits & ItemBits.First) !== 0, last: (bits & ItemBits.Last) !== 0, sparse: (bits & ItemBits.Sparse) !== 0,
    headersOnly: (bits & ItemBits.HeadersOnly) !== 0, junction: (bits & ItemBits.Junction) !== 0,
    mode: rows[r + Col.mode]!, nlink: rows[r + Col.nlink]!, uid: rows[r + Col.uid]!, gid: rows[r + Col.gid]!,
    size: rows[r + Col.size]!, blocks: rows[r + Col.blocks]!, rdev: rows[r + Col.rdev]!, flags: 0,
    atime: rows[r + Col.atime]!, atimeUsec: rows[r + Col.atimeUsec]!, mtime: rows[r + Col.mtime]!,
    mtimeUsec: rows[r + Col.mtimeUsec]!, ctime: rows[r + Col.ctime]!, ctimeUsec: rows[r + Col.ctimeUsec]!,
    mtimeSec: rows[r + Col.mtimeSec]!, mtimeNsec: rows[r + Col.mtimeNsec]!, ctimeSec: rows[r + Col.ctimeSec]!, ctimeNsec: rows[r + Col.ctimeNsec]!,
    exact: exactTimesOfRow(rows, r),
    blobs: [], target: null,
  };
}

function display(p: string | Buffer): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

/** Per-1KiB-block presence for [offset, offset+length) from the file's data extents. */
function presenceMap(fd: number, size: number, offset: number, length: number): Uint8Array {
  const present = new Uint8Array(Math.ceil(length / TP_BSIZE));
  for (const [start, end] of sysx.dataExtents(fd, size)) {
    const lo = Math.max(start, offset);
    const hi = Math.min(end, offset + length);
    if (hi > lo) present.fill(1, Math.floor((lo - offset) / TP_BSIZE), Math.ceil((hi - offset) / TP_BSIZE));
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

type Fill = (entry: number, count: number, at: number, announced: number) => void;

/** Headers every 512 blocks, each followed by the data blocks it announces (written by `fill`). */
function writeObject(out: Output, tpl: HeaderTemplate, item: Item, nblocks: number, present: Uint8Array | null, firstType: RecordType, fill: Fill): void {
  let entry = 0;
  let type = firstType;
  if (type === RecordType.INODE) out.objects.push(item.ino, out.block);
  do {
    const n = Math.min(TP_NINDIR, nblocks - entry);
    const at = out.pos;
    out.headers.push(out.block);
    const announced = tpl.write(out.buf, at, type, item.ino, item, n, present, entry);
    out.pos += TP_BSIZE;
    if (!item.headersOnly) {
      fill(entry, n, out.pos, announced);
      out.pos += announced * TP_BSIZE;
    }
    entry += n;
    type = RecordType.ADDR;
  } while (entry < nblocks);
}

export function writeXattrRecords(out: Output, tpl: HeaderTemplate, item: Item): void {
  for (const blob of item.blobs) {
    const n = blob.length / TP_BSIZE;
    out.headers.push(out.block);
    tpl.write(out.buf, out.pos, RecordType.INODE, item.ino, { ...item, size: blob.length }, n, null, 0, DR_EXTATTRIBUTES, EXT_XATTR);
    out.pos += TP_BSIZE;
    blob.copy(out.buf, out.pos);
    out.pos += blob.length;
  }
}

export function note(notes: ReadNote[], item: Item, code: string, message: string, skipped: boolean): void {
  notes.push({ ino: item.ino, path: display(item.path), code, message, skipped });
}

/** What must be known before the output can be sized: link targets and EA blobs. */
export function prepare(item: Item, notes: ReadNote[]): number {
  if (item.junction) {
    // A mount point's entry: a symbolic link to its own path; the mounted tree is not read.
    item.target = Buffer.from(item.path);
  } else if (item.kind === ItemKind.Symlink) {
    try {
      item.target = fs.readlinkSync(item.path, { encoding: 'buffer' });
    } catch (e) {
      note(notes, item, 'VANISHED', `cannot read link: ${(e as Error).message}; dumped with an empty target`, true);
      item.target = Buffer.alloc(0);
    }
  }
  if (item.last && !item.junction) {
    const x = readXattrs(item.path);
    for (const err of x.errors) note(notes, item, 'XATTR', err, true);
    if (x.attrs.length) {
      const enc = encodeXattrs(x.attrs);
      for (const name of enc.unsupported) note(notes, item, 'XATTR', `extended attribute ${name} has no ext2 name index; not dumped`, false);
      for (const b of enc.blobs) if (b.length > EA_MAX_BLOB) note(notes, item, 'XATTR_LARGE', `extended attributes of ${b.length} bytes: snapdump restores them, Linux restore skips them`, false);
      // Each oversized record is followed by a padding record for Linux restore's double skip.
      item.blobs = enc.blobs.flatMap((b) => (b.length > EA_MAX_BLOB ? [b, EA_PADDING_BLOCK] : [b]));
    }
  }
  let blocks = 0;
  if (item.kind === ItemKind.File) {
    const n = Math.ceil(item.length / TP_BSIZE);
    blocks += Math.max(1, Math.ceil(n / TP_NINDIR)) + (item.headersOnly ? 0 : n);
  } else if (item.kind === ItemKind.Symlink) {
    const n = Math.max(1, Math.ceil(item.target!.length / TP_BSIZE));
    blocks += Math.ceil(n / TP_NINDIR) + n;
  } else {
    blocks += 1;
  }
  for (const b of item.blobs) blocks += 1 + b.length / TP_BSIZE;
  return blocks * TP_BSIZE;
}

function readFileItem(out: Output, tpl: HeaderTemplate, item: Item, notes: ReadNote[]): number {
  const nblocks = Math.ceil(item.length / TP_BSIZE);
  const firstType = item.first ? RecordType.INODE : RecordType.ADDR;
  let fd: number;
  try {
    fd = fs.openSync(item.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    // The object is already named in the directories and the maps, so it must appear: a
    // vanished file's first item becomes an empty file, a later item keeps the promised size.
    const gone = (e as NodeJS.ErrnoException).code === 'ENOENT';
    note(notes, item, gone ? 'VANISHED' : 'UNREADABLE', `${gone ? 'file removed before we read it' : `cannot open: ${(e as Error).message}`}; dumped ${item.first ? 'empty' : 'with zeros'}`, true);
    // (A headers-only item keeps its headers: the writer's copy finds the file gone and writes zeros.)
    if (item.first && !item.headersOnly) writeObject(out, tpl, { ...item, size: 0 }, 0, null, firstType, () => undefined);
    else writeObject(out, tpl, item, nblocks, null, firstType, (_e, count, at) => out.buf.fill(0, at, at + count * TP_BSIZE));
    return 0;
  }
  let bytes = 0;
  let short = false;
  try {
    item.flags = sysx.getFlags(fd);
    const present = item.sparse && !item.headersOnly ? presenceMap(fd, item.size, item.offset, item.length) : null;
    if (item.headersOnly) bytes = item.length;
    writeObject(out, tpl, item, nblocks, present, firstType, (entry, count, at, announced) => {
      if (announced === 0) return;
      if (announced === count) {
        const want = Math.min(count * TP_BSIZE, item.length - entry * TP_BSIZE);
        const got = readFully(fd, out.buf, at, want, item.offset + entry * TP_BSIZE);
        if (got < want) short = true;
        bytes += got;
        if (got < count * TP_BSIZE) out.buf.fill(0, at + got, at + count * TP_BSIZE);
        return;
      }
      // Sparse segment: each run of present blocks goes to consecutive tape blocks.
      let dst = at;
      let i = 0;
      while (i < count) {
        if (present![entry + i] === 0) { i++; continue; }
        let j = i;
        while (j < count && present![entry + j] !== 0) j++;
        const fileOff = (entry + i) * TP_BSIZE;
        const want = Math.min((j - i) * TP_BSIZE, item.length - fileOff);
        const got = readFully(fd, out.buf, dst, want, item.offset + fileOff);
        if (got < want) short = true;
        bytes += got;
        if (got < (j - i) * TP_BSIZE) out.buf.fill(0, dst + got, dst + (j - i) * TP_BSIZE);
        dst += (j - i) * TP_BSIZE;
        i = j;
      }
    });
    if (item.last) {
      sysx.fstatInto(fd, statBuf);
      if (short || statBuf[F.size] !== item.size || statBuf[F.mtimeSec] !== item.mtimeSec || statBuf[F.mtimeNsec] !== item.mtimeNsec
        || statBuf[F.ctimeSec] !== item.ctimeSec || statBuf[F.ctimeNsec] !== item.ctimeNsec) {
        note(notes, item, 'CHANGED', 'file changed as we read it', true);
      }
    } else if (short) {
      note(notes, item, 'CHANGED', 'file shrank as we read it; the rest is zeros', true);
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}

/** Writes a prepared item and its EA records at out.pos; returns the file bytes it read. */
export function writeItem(out: Output, tpl: HeaderTemplate, item: Item, notes: ReadNote[]): number {
  let dataBytes = 0;
  if (item.kind === ItemKind.File) {
    dataBytes = readFileItem(out, tpl, item, notes);
  } else if (item.kind === ItemKind.Symlink) {
    const target = item.target!;
    item.size = target.length;
    writeObject(out, tpl, item, Math.max(1, Math.ceil(target.length / TP_BSIZE)), null, RecordType.INODE, (_e, count, at) => {
      out.buf.fill(0, at, at + count * TP_BSIZE);
      target.copy(out.buf, at);
    });
  } else {
    writeObject(out, tpl, item, 0, null, RecordType.INODE, () => undefined);
  }
  if (item.blobs.length) writeXattrRecords(out, tpl, item);
  return dataBytes;
}

export function resultOf(out: Output, dataBytes: number, notes: ReadNote[]): ReadResult {
  return {
    buffer: out.own ? out.buf.buffer as ArrayBuffer : null, length: out.pos, headers: Uint32Array.from(out.headers),
    objects: Uint32Array.from(out.objects), dataBytes, notes,
  };
}

export function readFiles(task: ReadTask): ReadResult {
  const tpl = templateFor(task.vol);
  const notes: ReadNote[] = [];
  const items: Item[] = [];
  let total = 0;
  const paths = task.paths.split('\0');
  for (let i = 0; i < paths.length; i++) {
    const item = itemAt(task.rows, i, task.rawPaths?.[i] ?? paths[i]!);
    total += prepare(item, notes);
    items.push(item);
  }
  const out = new Output(total, task.slot);
  let dataBytes = 0;
  for (const item of items) dataBytes += writeItem(out, tpl, item, notes);
  return resultOf(out, dataBytes, notes);
}
