/**
 * A virtual tape: one file holding tape records and filemarks, so that positioning, end of file,
 * end of data and record sizes behave as on a real drive. An empty file is a blank tape.
 *
 * Container format (all integers big-endian): a sequence of entries, each a 16-byte header
 *
 *   0  magic   "SDVT"
 *   4  kind    1 = record, 2 = filemark, 3 = run
 *   8  length  bytes of record data that follow (0 for a filemark)
 *   12 prev    total size (header + data) of the entry before this one, 0 for the first
 *
 * followed by `length` bytes of data. A run (kind 3, added 2026-11-22; older tapes simply have
 * none) is `count` records of `size` bytes each, stored back to back after one header that has
 * 8 more bytes:
 *
 *   16 size    bytes of each record of the run
 *   20 count   records in the run (length = size × count)
 *
 * It reads, positions and counts exactly like `count` separate records (a position can be inside
 * a run; a write there splits it); it exists so that a run's data is one linear byte range of the
 * file, which the kernel can fill straight from a source file (writeRun). A run whose data was
 * cut short (a power loss) still holds its intact records; moving past them is a media error.
 *
 * The end of the file is the end of recorded data (EOD). `prev` lets the tape move backwards
 * without an index. Writing (a record, a run or filemarks) discards everything after the current
 * position, as a tape drive does.
 *
 * Position: `fileNum` counts filemarks crossed since BOT, `blockNo` records since the last
 * filemark (or BOT). Synchronous I/O: every operation is one small positioned read or write.
 *
 * Capacity (optional, in container bytes): a record that would end past it is refused, as a
 * drive refuses writes at end of medium (TapeFullError; several records are written as far as
 * they fit; a run is written whole or not at all). Filemarks are still written past it, as a
 * drive writes them in its early-warning zone, so a DMA can always close the tape file.
 */
import * as fs from 'node:fs';
import * as sysx from '../native/sysx.js';

export const ENTRY_HEADER = 16;
/** Header of a run: the entry header plus record size and count. */
export const RUN_HEADER = 24;
/** Bytes of data one run holds at most (its length must fit the 32-bit header fields). */
export const MAX_RUN_BYTES = 1 << 30;
const MAGIC = 0x53445654; // "SDVT"

/** Whether a file starts like a virtual tape (a dump image starts with a header, never "SDVT"). */
export function isVirtualTapeMagic(head: Uint8Array): boolean {
  return head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).readUInt32BE(0) === MAGIC;
}
const KIND_RECORD = 1;
const KIND_FILEMARK = 2;
const KIND_RUN = 3;
const IOV_MAX = 1024;

export class TapeMediaError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'TapeMediaError';
  }
}

/**
 * Where an image lies on a virtual tape: the records of one tape file, from its start, each
 * `recordSize` bytes (the last padded). What a restartable context records instead of a
 * partial image file.
 */
export interface TapeFileMedium {
  kind: 'virtual-tape';
  path: string;
  tapeFile: number;
  recordSize: number;
}

/** One tape record: its bytes, or its pieces in order (written with one gathered write). */
export type TapeRecord = Buffer | readonly Buffer[];

function recordLength(r: TapeRecord): number {
  return Buffer.isBuffer(r) ? r.length : r.reduce((n, b) => n + b.length, 0);
}

/** A record did not fit before the tape's capacity (end of medium). */
export class TapeFullError extends Error {
  constructor(readonly capacity: number) {
    super(`end of medium: the tape holds ${capacity} bytes`);
    this.name = 'TapeFullError';
  }
}

/** An entry: `count` records of `size` bytes (1 for a record, 0 for a filemark), `intact` of them readable. */
interface Entry { kind: number; length: number; prev: number; size: number; count: number; intact: number }

/** Errors of an in-kernel copy that mean "not between these files": fall back to another way. */
const NO_KERNEL_COPY = new Set(['EXDEV', 'EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'ENOTSUP']);

/**
 * Copies `length` bytes of `src` from `srcOffset` to `dst` at `dstOffset`, in the kernel when it
 * can (copy_file_range; sendfile between file systems), else by reading and writing. Returns the
 * bytes copied (fewer when the source ends) and whether the kernel did it.
 */
function copyFileData(src: number, srcOffset: number, dst: number, dstOffset: number, length: number): { copied: number; inKernel: boolean } {
  for (const copy of [sysx.copyFileRange, sysx.sendfileAt]) {
    try {
      return { copied: copy(src, srcOffset, dst, dstOffset, length), inKernel: true };
    } catch (e) {
      if (!NO_KERNEL_COPY.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  const buf = Buffer.allocUnsafe(Math.min(length, 1 << 20));
  let done = 0;
  while (done < length) {
    const n = fs.readSync(src, buf, 0, Math.min(buf.length, length - done), srcOffset + done);
    if (n === 0) break;
    writeFully(dst, buf.subarray(0, n), dstOffset + done);
    done += n;
  }
  return { copied: done, inKernel: false };
}

function writeFully(fd: number, data: Buffer, at: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, at + done);
}

export type ReadResult = { kind: 'record'; data: Buffer; length: number } | { kind: 'filemark' } | { kind: 'eod' };

export class VirtualTape {
  /** Start of the entry at the position (of the run, when the position is inside one). */
  private pos = 0;
  /** Inside a run: the records of it before the position (0 otherwise), each `runSize` bytes. */
  private sub = 0;
  private runSize = 0;
  /** Total size of the entry just before `pos` (0 at BOT). */
  private prevTotal = 0;
  private end: number;
  fileNum = 0;
  blockNo = 0;
  private readonly head = Buffer.alloc(RUN_HEADER);
  /** Bytes of runs the kernel copied into this tape (writeRun), since it was opened. */
  kernelCopiedBytes = 0;

  private constructor(readonly path: string, private readonly fd: number, readonly writable: boolean, readonly capacity: number | null) {
    this.end = fs.fstatSync(fd).size;
  }

  /**
   * Opens the container; `writable` false opens read-only; `capacity` limits the bytes records may
   * fill. Throws the fs error (ENOENT, EACCES...).
   */
  static open(path: string, writable: boolean, capacity: number | null = null): VirtualTape {
    const fd = fs.openSync(path, writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
    try {
      if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
      return new VirtualTape(path, fd, writable, capacity);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  close(): void { fs.closeSync(this.fd); }

  /**
   * The background write in progress (writeRecordsAsync), null when none: whoever gives the tape
   * up (an aborted session) waits for it, so the descriptor is never closed under a write and the
   * next user never finds half an entry.
   */
  get writing(): Promise<void> | null { return this.pending; }
  private pending: Promise<void> | null = null;

  /** Flushes what was written to stable storage. */
  syncData(): void { fs.fdatasyncSync(this.fd); }

  /** Container bytes left before the capacity from here (null: no limit). */
  get spaceRemaining(): number | null {
    return this.capacity === null ? null : Math.max(0, this.capacity - this.offset);
  }

  /** Byte position in the container (what the capacity counts). */
  get offset(): number { return this.sub > 0 ? this.pos + RUN_HEADER + this.sub * this.runSize : this.pos; }

  /** Bytes used in the container. */
  get size(): number { return this.end; }
  get atBot(): boolean { return this.pos === 0 && this.sub === 0; }

  private entryAt(off: number): Entry | null {
    if (off >= this.end) return null;
    const n = fs.readSync(this.fd, this.head, 0, RUN_HEADER, off);
    if (n < ENTRY_HEADER) throw new TapeMediaError(`entry header cut short at byte ${off}`, off);
    const magic = this.head.readUInt32BE(0);
    const kind = this.head.readUInt32BE(4);
    const length = this.head.readUInt32BE(8);
    const prev = this.head.readUInt32BE(12);
    const damaged = () => new TapeMediaError(`damaged tape entry at byte ${off}`, off);
    if (magic !== MAGIC) throw damaged();
    if (kind === KIND_RUN) {
      if (n < RUN_HEADER) throw new TapeMediaError(`entry header cut short at byte ${off}`, off);
      const size = this.head.readUInt32BE(16);
      const count = this.head.readUInt32BE(20);
      if (size === 0 || count === 0 || size * count !== length) throw damaged();
      // A run cut short keeps its whole records before the cut.
      const intact = Math.min(count, Math.floor((this.end - off - RUN_HEADER) / size));
      return { kind, length, prev, size, count, intact };
    }
    if ((kind !== KIND_RECORD && kind !== KIND_FILEMARK) || (kind === KIND_FILEMARK && length !== 0) || off + ENTRY_HEADER + length > this.end) throw damaged();
    const count = kind === KIND_RECORD ? 1 : 0;
    return { kind, length, prev, size: length, count, intact: count };
  }

  private total(e: Entry): number { return (e.kind === KIND_RUN ? RUN_HEADER : ENTRY_HEADER) + e.length; }

  private cutShort(): TapeMediaError {
    return new TapeMediaError(`run of records cut short at byte ${this.pos}`, this.pos);
  }

  /** To the next entry (from anywhere in this one). */
  private stepForward(e: Entry): void {
    if (e.intact < e.count) throw this.cutShort();
    this.pos += this.total(e);
    this.prevTotal = this.total(e);
    this.sub = 0;
  }

  /** To the start of the entry before (from the start of this one). */
  private stepBack(): Entry {
    const start = this.pos - this.prevTotal;
    const e = this.entryAt(start);
    if (!e || this.total(e) !== this.prevTotal) throw new TapeMediaError(`tape entry before byte ${this.pos} does not match its successor`, start);
    this.pos = start;
    this.prevTotal = e.prev;
    return e;
  }

  /** Inside (or at the start of) the run `e` here, `n` records further on; past its end, to the next entry. */
  private advanceInRun(e: Entry, n: number): void {
    if (this.sub + n > e.intact) throw this.cutShort();
    this.sub += n;
    this.runSize = e.size;
    if (this.sub === e.count) this.stepForward(e);
  }

  /** Reads the next record (up to `max` bytes of it; the rest is skipped). A filemark is not crossed. */
  read(max: number, into?: Buffer): ReadResult {
    const e = this.entryAt(this.pos);
    if (!e) return { kind: 'eod' };
    if (e.kind === KIND_FILEMARK) return { kind: 'filemark' };
    const at = e.kind === KIND_RUN ? this.pos + RUN_HEADER + this.sub * e.size : this.pos + ENTRY_HEADER;
    if (e.kind === KIND_RUN && this.sub >= e.intact) throw this.cutShort();
    const n = Math.min(max, e.size);
    const data = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
    if (n > 0 && fs.readSync(this.fd, data, 0, n, at) !== n) throw new TapeMediaError(`record cut short at byte ${at}`, at);
    if (e.kind === KIND_RUN) this.advanceInRun(e, 1); else this.stepForward(e);
    this.blockNo++;
    return { kind: 'record', data, length: e.size };
  }

  private truncateHere(): void {
    if (this.sub > 0) {
      // Inside a run: it keeps the records before the position and ends here.
      const keep = this.sub * this.runSize;
      const field = Buffer.allocUnsafe(4);
      field.writeUInt32BE(keep, 0);
      writeFully(this.fd, field, this.pos + 8);
      field.writeUInt32BE(this.sub, 0);
      writeFully(this.fd, field, this.pos + 20);
      const end = this.pos + RUN_HEADER + keep;
      fs.ftruncateSync(this.fd, end);
      this.end = end;
      this.pos = end;
      this.prevTotal = RUN_HEADER + keep;
      this.sub = 0;
      return;
    }
    if (this.end > this.pos) {
      fs.ftruncateSync(this.fd, this.pos);
      this.end = this.pos;
    }
  }

  private entryHeader(kind: number, length: number, prev: number): Buffer {
    const h = Buffer.allocUnsafe(ENTRY_HEADER);
    h.writeUInt32BE(MAGIC, 0);
    h.writeUInt32BE(kind, 4);
    h.writeUInt32BE(length, 8);
    h.writeUInt32BE(prev, 12);
    return h;
  }

  /**
   * Writes entries (header + data pairs) at the current position in as few system calls as
   * possible; `runHead`, the header of a run that follows them (its `prev` filled in here), goes
   * with them, but the position moves only past the entries.
   */
  private appendEntries(entries: ReadonlyArray<{ kind: number; data: readonly Buffer[] }>, runHead: Buffer | null = null): void {
    const parts: Buffer[] = [];
    let prev = this.prevTotal;
    let total = 0;
    for (const e of entries) {
      const length = e.data.reduce((n, b) => n + b.length, 0);
      parts.push(this.entryHeader(e.kind, length, prev), ...e.data);
      prev = ENTRY_HEADER + length;
      total += prev;
    }
    if (runHead) {
      runHead.writeUInt32BE(prev, 12);
      parts.push(runHead);
    }
    let done = 0;
    let i = 0;
    while (i < parts.length) {
      const batch = parts.slice(i, i + IOV_MAX);
      const want = batch.reduce((n, b) => n + b.length, 0);
      let got = fs.writevSync(this.fd, batch, this.pos + done);
      if (got < want) {
        // A short write: finish this batch piece by piece.
        let rest = Buffer.concat(batch).subarray(got);
        while (rest.length > 0) {
          const n = fs.writeSync(this.fd, rest, 0, rest.length, this.pos + done + got);
          got += n;
          rest = rest.subarray(n);
        }
      }
      done += want;
      i += batch.length;
    }
    this.pos += total;
    this.end = this.pos;
    this.prevTotal = prev;
  }

  private append(kind: number, data: readonly Buffer[]): void {
    this.appendEntries([{ kind, data }]);
  }

  /** How many of these records fit before the capacity, from here. */
  private fitting(lengths: readonly number[]): number {
    if (this.capacity === null) return lengths.length;
    let at = this.offset;
    let n = 0;
    for (const len of lengths) {
      at += ENTRY_HEADER + len;
      if (at > this.capacity) break;
      n++;
    }
    return n;
  }

  /**
   * Writes several records here, discarding what followed (one system call for many). Returns
   * how many were written: fewer than given at end of medium (see the capacity).
   */
  writeRecords(records: readonly TapeRecord[]): number {
    if (records.length === 0) return 0;
    const n = this.fitting(records.map(recordLength));
    this.truncateHere();
    if (n === 0) return 0;
    this.appendEntries(records.slice(0, n).map((r) => ({ kind: KIND_RECORD, data: Buffer.isBuffer(r) ? [r] : r })));
    this.blockNo += n;
    return n;
  }

  /**
   * Writes `records` here (as writeRecords), then a run of `count` records of `size` bytes whose
   * data comes straight from the file `src` at `srcOffset`: copied in the kernel (copy_file_range,
   * or sendfile between file systems; by reading and writing where neither works), never through
   * this process. Discards what followed. All or nothing: -1, and nothing written, when it does
   * not all fit before the capacity. Otherwise the bytes that came from `src`; the rest of the
   * run (a source that shrank) is zeros. On a failed write the tape is cut back to where it was.
   */
  writeRun(records: readonly TapeRecord[], src: number, srcOffset: number, size: number, count: number): number {
    const want = size * count;
    if (!(size > 0 && count > 0 && want <= MAX_RUN_BYTES)) throw new RangeError(`a run of ${count} records of ${size} bytes`);
    const bytes = records.reduce((n, r) => n + ENTRY_HEADER + recordLength(r), RUN_HEADER + want);
    if (this.capacity !== null && this.offset + bytes > this.capacity) return -1;
    this.truncateHere();
    const start = this.pos;
    const startPrev = this.prevTotal;
    try {
      const h = Buffer.allocUnsafe(RUN_HEADER);
      h.writeUInt32BE(MAGIC, 0);
      h.writeUInt32BE(KIND_RUN, 4);
      h.writeUInt32BE(want, 8);
      h.writeUInt32BE(size, 16);
      h.writeUInt32BE(count, 20);
      // The records before and the run's header in one write.
      this.appendEntries(records.map((r) => ({ kind: KIND_RECORD, data: Buffer.isBuffer(r) ? [r] : r })), h);
      const at = this.pos + RUN_HEADER;
      const { copied, inKernel } = copyFileData(src, srcOffset, this.fd, at, want);
      for (let z = copied; z < want; z += 1 << 20) writeFully(this.fd, Buffer.alloc(Math.min(1 << 20, want - z)), at + z);
      if (inKernel) this.kernelCopiedBytes += copied;
      this.pos = at + want;
      this.end = this.pos;
      this.prevTotal = RUN_HEADER + want;
      this.blockNo += records.length + count;
      return copied;
    } catch (e) {
      try { fs.ftruncateSync(this.fd, start); } catch { /* the error below says enough */ }
      this.pos = start;
      this.end = start;
      this.prevTotal = startPrev;
      throw e;
    }
  }

  /**
   * writeRecords without holding the thread: the write runs in the background (libuv) while the
   * caller goes on, which is what a mover wants; the headers of all records come from one
   * allocation. Nothing else may use the tape until it resolves. On a failed write the tape is
   * cut back to where it was.
   */
  async writeRecordsAsync(records: readonly TapeRecord[]): Promise<number> {
    const p = this.writeInBackground(records);
    const settled = this.pending = p.then(() => undefined, () => undefined);
    try {
      return await p;
    } finally {
      if (this.pending === settled) this.pending = null;
    }
  }

  private async writeInBackground(records: readonly TapeRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const n = this.fitting(records.map(recordLength));
    this.truncateHere();
    if (n === 0) return 0;
    const heads = Buffer.allocUnsafe(n * ENTRY_HEADER);
    const parts: Buffer[] = [];
    let prev = this.prevTotal;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      const length = recordLength(r);
      const h = heads.subarray(i * ENTRY_HEADER, (i + 1) * ENTRY_HEADER);
      h.writeUInt32BE(MAGIC, 0);
      h.writeUInt32BE(KIND_RECORD, 4);
      h.writeUInt32BE(length, 8);
      h.writeUInt32BE(prev, 12);
      if (Buffer.isBuffer(r)) parts.push(h, r); else parts.push(h, ...r);
      prev = ENTRY_HEADER + length;
      total += prev;
    }
    const start = this.pos;
    try {
      let done = 0;
      for (let i = 0; i < parts.length;) {
        const batch = parts.slice(i, i + IOV_MAX);
        const want = batch.reduce((m, b) => m + b.length, 0);
        let rest = batch;
        let got = 0;
        while (got < want) {
          const at = start + done + got;
          got += await new Promise<number>((resolve, reject) => fs.writev(this.fd, rest, at, (e, w) => (e ? reject(e) : resolve(w))));
          // A short write: the rest of this batch, from where it stopped.
          if (got < want) rest = [Buffer.concat(batch).subarray(got)];
        }
        done += want;
        i += IOV_MAX;
      }
    } catch (e) {
      try { fs.ftruncateSync(this.fd, start); } catch { /* the error below says enough */ }
      throw e;
    }
    this.pos = start + total;
    this.end = this.pos;
    this.prevTotal = prev;
    this.blockNo += n;
    return n;
  }

  /** Writes one record here, discarding what followed; TapeFullError at end of medium. */
  write(data: Buffer | readonly Buffer[]): void {
    const parts = Array.isArray(data) ? data : [data as Buffer];
    this.truncateHere();
    if (this.fitting([parts.reduce((n, b) => n + b.length, 0)]) === 0) throw new TapeFullError(this.capacity!);
    this.append(KIND_RECORD, parts);
    this.blockNo++;
  }

  writeFilemarks(count: number): void {
    this.truncateHere();
    for (let i = 0; i < count; i++) {
      this.append(KIND_FILEMARK, []);
      this.fileNum++;
      this.blockNo = 0;
    }
  }

  /** Discards everything from the current position on (a write here would do the same). */
  truncate(): void { this.truncateHere(); }

  rewind(): void {
    this.pos = 0;
    this.sub = 0;
    this.prevTotal = 0;
    this.fileNum = 0;
    this.blockNo = 0;
  }

  /** Forward over up to `count` records, stopping before a filemark or at EOD. Returns the count not done. */
  fsr(count: number): number {
    let done = 0;
    while (done < count) {
      const e = this.entryAt(this.pos);
      if (!e || e.kind === KIND_FILEMARK) break;
      const n = e.kind === KIND_RUN ? Math.min(count - done, e.count - this.sub) : 1;
      if (e.kind === KIND_RUN) this.advanceInRun(e, n); else this.stepForward(e);
      this.blockNo += n;
      done += n;
    }
    return count - done;
  }

  /** Back over up to `count` records, stopping after a filemark (EOT side) or at BOT. */
  bsr(count: number): number {
    let done = 0;
    while (done < count) {
      if (this.sub > 0) {
        const n = Math.min(count - done, this.sub);
        this.sub -= n;
        this.blockNo -= n;
        done += n;
        continue;
      }
      if (this.pos === 0) break;
      const e = this.entryAt(this.pos - this.prevTotal);
      if (!e || e.kind === KIND_FILEMARK) break;
      this.stepBack();
      if (e.kind === KIND_RUN) {
        // From the run's end: the loop takes its records from `sub`.
        this.sub = e.count;
        this.runSize = e.size;
      } else {
        this.blockNo--;
        done++;
      }
    }
    return count - done;
  }

  /** Forward across `count` filemarks, ending on the EOT side of the last; stops at EOD. */
  fsf(count: number): number {
    let done = 0;
    while (done < count) {
      const e = this.entryAt(this.pos);
      if (!e) break;
      this.blockNo += e.count - this.sub;
      this.stepForward(e);
      if (e.kind === KIND_FILEMARK) {
        this.fileNum++;
        this.blockNo = 0;
        done++;
      }
    }
    return count - done;
  }

  /** Back across `count` filemarks, ending on the BOT side of the last; stops at BOT. */
  bsf(count: number): number {
    let done = 0;
    if (count > 0) this.sub = 0;
    while (done < count && this.pos > 0) {
      const e = this.stepBack();
      if (e.kind === KIND_FILEMARK) {
        this.fileNum--;
        done++;
      }
    }
    this.blockNo = this.recordsBefore();
    return count - done;
  }

  /** Records between the previous filemark (or BOT) and here. */
  private recordsBefore(): number {
    let n = this.sub;
    let pos = this.pos;
    let prev = this.prevTotal;
    while (pos > 0) {
      const start = pos - prev;
      const e = this.entryAt(start);
      if (!e || e.kind === KIND_FILEMARK) break;
      n += e.count;
      pos = start;
      prev = e.prev;
    }
    return n;
  }
}
