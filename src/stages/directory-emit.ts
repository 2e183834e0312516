/**
 * Phase III: the volume label, the two inode maps, then every dumped directory in ascending
 * inode order (root first), each followed by its EA records.
 */
import { DT_DIR, RecordType, TP_BSIZE, TP_NINDIR, dtypeOfMode } from '../format/constants.js';
import { type DirectorySource } from '../format/directory.js';
import { directoryRecords, encodeDirectory, type DirectoryTable } from '../native/sysx.js';
import { mapSizeFor } from '../format/bitmap.js';
import { headerTemplate, mapRecord, objectChunk, volumeLabel, type TapeChunk } from '../format/object-headers.js';
import type { HeaderTemplate } from '../format/header-template.js';
import { type VolumeInfo } from '../format/volume.js';
import { Col } from '../workers/read-protocol.js';
import { displayPath, inodeFields, type DumpPlan, type Notice } from './traverse.js';
import { ROW, XCol, type EntryTable } from './entry-table.js';
import { xattrRecords } from './xattr-emit.js';

/** Directory data at or beyond 256 MiB triggers Linux restore's "quad swap" heuristic (§1.6). */
const MAX_DIRECTORY_BYTES = 0x0fffffff;

export function* volumeHead(plan: DumpPlan, vol: VolumeInfo): Generator<TapeChunk> {
  const mapBytes = mapSizeFor(vol.maxino);
  yield volumeLabel(vol);
  yield mapRecord(vol, RecordType.CLRI, plan.inUse.recordData(mapBytes), 0);
  yield mapRecord(vol, RecordType.BITS, plan.dumped.recordData(mapBytes), plan.table.get(plan.root, Col.ino));
}

/**
 * Directories are packed, header and data, into buffers of this size, so a tree's thousands of
 * small directories cross the pipeline as a few chunks instead of one chunk (and a few
 * allocations) each. A directory too large for one header goes alone.
 */
const PACK_BYTES = 1 << 20;
/** Buffers kept for reuse: about what the pipeline holds in flight. */
const MAX_FREE_PACKS = 4;

export function* directoryEmit(plan: DumpPlan, vol: VolumeInfo, onNotice: (n: Notice) => void): Generator<TapeChunk> {
  const t = plan.table;
  const tpl = headerTemplate(vol);
  const table = directoryTable(t);
  const dirs = plan.directories;
  // Runs of plain directories are written by native code, header and listing (a dump writes
  // every name of the tree here, and a JavaScript loop per directory ran mostly cold). It stops
  // at those this loop writes itself: with EA records to follow (special), too large for one
  // header, or not fitting the rest of the buffer.
  const template = tpl.withType(RecordType.INODE);
  const special = new Uint8Array(dirs.length);
  if (t.xattrs.size > 0) dirs.forEach((dir, i) => { if (t.xattrs.has(dir)) special[i] = 1; });
  const marks = new Float64Array(2 * dirs.length);
  const pack = new ChunkPacker();
  for (let i = 0; i < dirs.length; i++) {
    const at = pack.open();
    const run = directoryRecords(table, dirs, i, special, template, pack.buf!, at, pack.blockAt(0), marks);
    pack.wrote(run.at, marks, run.written);
    i = run.next;
    if (i >= dirs.length) break;
    yield* oneDirectory(pack, plan, vol, tpl, table, dirs[i]!, onNotice);
    if (pack.bytes() >= PACK_BYTES) yield pack.take()!;
  }
  const last = pack.take();
  if (last) yield last;
}

/** Directory `dir` (and its EA records) into the pack; yields the pack's chunk if it does not fit. */
function* oneDirectory(pack: ChunkPacker, plan: DumpPlan, vol: VolumeInfo, tpl: HeaderTemplate, table: DirectoryTable, dir: number, onNotice: (n: Notice) => void): Generator<TapeChunk> {
  const t = plan.table;
  const ino = t.get(dir, Col.ino);
  const first = t.get(dir, XCol.childStart);
  const count = t.get(dir, XCol.childCount);
  const parentIno = t.get(dir === 0 ? dir : t.get(dir, XCol.parent), Col.ino);
  // Encoded straight into the pack behind room for its header when it fits; the size tells
  // whether it did.
  const at = pack.open();
  let size = encodeDirectory(pack.buf, at + TP_BSIZE, table, first, count, ino, parentIno);
  if (size > MAX_DIRECTORY_BYTES) {
    onNotice({ code: 'DIR_TOO_LARGE', path: displayPath(t.path(dir)), message: 'directory listing of 256 MiB or more: Linux restore misreads it', skipped: false });
  }
  const inode = inodeFields(t, dir);
  inode.size = size;
  // Directory data is a whole number of 512-byte chunks; padded to the last 1 KiB block.
  const blocks = Math.ceil(size / TP_BSIZE);
  if (blocks <= TP_NINDIR) {
    if (!pack.fits(1 + blocks)) {
      yield pack.take()!;
      const fresh = pack.open();
      size = encodeDirectory(pack.buf, fresh + TP_BSIZE, table, first, count, ino, parentIno);
    }
    const at = pack.reserve(1 + blocks, ino);
    tpl.write(pack.buf!, at, RecordType.INODE, ino, inode, blocks, null, 0);
    pack.buf!.fill(0, at + TP_BSIZE + size, at + (1 + blocks) * TP_BSIZE);
  } else {
    const data = Buffer.alloc(blocks * TP_BSIZE);
    encodeDirectory(data, 0, table, first, count, ino, parentIno);
    pack.add(objectChunk(vol, ino, inode, blocks, data, null));
  }
  const ea = xattrRecords(vol, ino, inode, t.xattrs.get(dir) ?? []);
  for (const note of ea.notes) onNotice({ code: 'XATTR', path: displayPath(t.path(dir)), message: note, skipped: false });
  if (ea.chunk) pack.add(ea.chunk);
}

/**
 * One chunk under construction: records written in place into a PACK_BYTES buffer, plus whole
 * chunks (large directories, EA records) appended as they are. A chunk's buffer comes back for
 * reuse once the tape writer has written it: fresh memory costs a page fault per 4 KiB here.
 */
class ChunkPacker {
  buf: Buffer | null = null;
  private used = 0;
  private segStart = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private headers: number[] = [];
  private objects: Array<[number, number]> = [];
  private readonly free: Buffer[] = [];

  /** Where the next object would start in buf (a buffer is taken if there is none). */
  open(): number {
    if (this.buf === null) {
      this.buf = this.free.pop() ?? Buffer.allocUnsafe(PACK_BYTES);
      this.used = 0;
      this.segStart = 0;
    }
    return this.used;
  }

  /** Whether an object of `blocks` blocks fits into the current buffer (or there is none yet). */
  fits(blocks: number): boolean {
    return this.buf === null || this.used + blocks * TP_BSIZE <= PACK_BYTES;
  }

  /** The chunk's block index of byte `at` of buf. */
  blockAt(at: number): number {
    return (this.partBytes - this.segStart + at) / TP_BSIZE;
  }

  /** Records written into buf up to `end`, with marks[2k], marks[2k + 1] the inode and block of each. */
  wrote(end: number, marks: Float64Array, count: number): void {
    for (let k = 0; k < count; k++) {
      const block = marks[2 * k + 1]!;
      this.headers.push(block);
      this.objects.push([marks[2 * k]!, block]);
    }
    this.used = end;
  }

  /** Room for one object of `blocks` blocks, its header first; returns its byte offset in buf. */
  reserve(blocks: number, ino: number): number {
    const at = this.open();
    const block = this.bytes() / TP_BSIZE;
    this.headers.push(block);
    this.objects.push([ino, block]);
    this.used += blocks * TP_BSIZE;
    return at;
  }

  /** Appends a finished chunk. */
  add(c: TapeChunk): void {
    this.closeSegment();
    const base = this.bytes() / TP_BSIZE;
    for (const p of c.parts) { this.parts.push(p as Buffer); this.partBytes += (p as Buffer).length; }
    for (const h of c.headers) this.headers.push(base + h);
    for (const [ino, b] of c.objects) this.objects.push([ino, base + b]);
  }

  /** Bytes in the chunk so far. */
  bytes(): number {
    return this.partBytes + this.used - this.segStart;
  }

  /** The chunk built so far (null when empty), with its buffer; later records start a new one. */
  take(): TapeChunk | null {
    this.closeSegment();
    if (this.parts.length === 0) return null;
    const chunk: TapeChunk = { parts: this.parts, headers: this.headers, objects: this.objects };
    const buf = this.buf;
    if (buf !== null) chunk.release = () => { if (this.free.length < MAX_FREE_PACKS) this.free.push(buf); };
    this.buf = null;
    this.parts = [];
    this.headers = [];
    this.objects = [];
    this.partBytes = 0;
    return chunk;
  }

  /** Makes what was written into buf since the last part a part of its own. */
  private closeSegment(): void {
    if (this.buf === null || this.used === this.segStart) return;
    this.parts.push(this.buf.subarray(this.segStart, this.used));
    this.partBytes += this.used - this.segStart;
    this.segStart = this.used;
  }
}

/**
 * Directory `dir` in tape form: ".", "..", then every name in it (in the walk's order: sorted by
 * bytes), the names copied straight from the table's name bytes.
 */
export function directorySource(t: EntryTable, dir: number): DirectorySource {
  const parent = dir === 0 ? dir : t.get(dir, XCol.parent);
  const start = t.get(dir, XCol.childStart) - 2;
  const child = (i: number) => t.linkChild[start + i]!;
  return {
    count: 2 + t.get(dir, XCol.childCount),
    ino: (i) => t.get(i === 0 ? dir : i === 1 ? parent : child(i), Col.ino),
    type: (i) => (i < 2 ? DT_DIR : dtypeOfMode(t.get(child(i), Col.mode))),
    nameLength: (i) => (i < 2 ? i + 1 : t.linkNameLength(start + i)),
    writeName: (i, buf, at) => {
      if (i < 2) { buf[at] = 0x2e; if (i === 1) buf[at + 1] = 0x2e; return; }
      // A byte loop: names are short, and Buffer.copy's checks cost more than the copy.
      const bytes = t.nameBytes;
      const s = t.linkStart[start + i]!;
      const n = t.linkNameLength(start + i);
      for (let j = 0; j < n; j++) buf[at + j] = bytes[s + j]!;
    },
  };
}

/** The table's arrays as encodeDirectory takes them (taken once the walk is done: they are replaced when the table grows). */
export function directoryTable(t: EntryTable): DirectoryTable {
  return {
    names: t.nameBytes, linkChild: t.linkChild, linkStart: t.linkStart, linkLength: t.linkLength, rows: t.rows,
    geometry: Int32Array.of(ROW, Col.ino, Col.mode),
  };
}
