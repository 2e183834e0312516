/**
 * A virtual tape: one file holding tape records and filemarks, so that positioning, end of file,
 * end of data and record sizes behave as on a real drive. An empty file is a blank tape.
 *
 * Container format (all integers big-endian): a sequence of entries, each a 16-byte header
 *
 *   0  magic   "SDVT"
 *   4  kind    1 = record, 2 = filemark
 *   8  length  bytes of record data that follow (0 for a filemark)
 *   12 prev    total size (header + data) of the entry before this one, 0 for the first
 *
 * followed by `length` bytes of data. The end of the file is the end of recorded data (EOD).
 * `prev` lets the tape move backwards without an index. Writing (a record or filemarks)
 * discards everything after the current position, as a tape drive does.
 *
 * Position: `fileNum` counts filemarks crossed since BOT, `blockNo` records since the last
 * filemark (or BOT). Synchronous I/O: every operation is one small positioned read or write.
 *
 * Capacity (optional, in container bytes): a record that would end past it is refused, as a
 * drive refuses writes at end of medium (TapeFullError; several records are written as far as
 * they fit). Filemarks are still written past it, as a drive writes them in its early-warning
 * zone, so a DMA can always close the tape file.
 */
import * as fs from 'node:fs';

export const ENTRY_HEADER = 16;
const MAGIC = 0x53445654; // "SDVT"

/** Whether a file starts like a virtual tape (a dump image starts with a header, never "SDVT"). */
export function isVirtualTapeMagic(head: Uint8Array): boolean {
  return head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).readUInt32BE(0) === MAGIC;
}
const KIND_RECORD = 1;
const KIND_FILEMARK = 2;
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

interface Entry { kind: number; length: number; prev: number }

export type ReadResult = { kind: 'record'; data: Buffer; length: number } | { kind: 'filemark' } | { kind: 'eod' };

export class VirtualTape {
  private pos = 0;
  /** Total size of the entry just before `pos` (0 at BOT). */
  private prevTotal = 0;
  private end: number;
  fileNum = 0;
  blockNo = 0;
  private readonly head = Buffer.alloc(ENTRY_HEADER);

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
    return this.capacity === null ? null : Math.max(0, this.capacity - this.pos);
  }

  /** Byte position in the container (what the capacity counts). */
  get offset(): number { return this.pos; }

  /** Bytes used in the container. */
  get size(): number { return this.end; }
  get atBot(): boolean { return this.pos === 0; }

  private entryAt(off: number): Entry | null {
    if (off >= this.end) return null;
    const n = fs.readSync(this.fd, this.head, 0, ENTRY_HEADER, off);
    if (n < ENTRY_HEADER) throw new TapeMediaError(`entry header cut short at byte ${off}`, off);
    const magic = this.head.readUInt32BE(0);
    const kind = this.head.readUInt32BE(4);
    const length = this.head.readUInt32BE(8);
    const prev = this.head.readUInt32BE(12);
    if (magic !== MAGIC || (kind !== KIND_RECORD && kind !== KIND_FILEMARK) || (kind === KIND_FILEMARK && length !== 0) || off + ENTRY_HEADER + length > this.end) {
      throw new TapeMediaError(`damaged tape entry at byte ${off}`, off);
    }
    return { kind, length, prev };
  }

  private total(e: Entry): number { return ENTRY_HEADER + e.length; }

  private stepForward(e: Entry): void {
    this.pos += this.total(e);
    this.prevTotal = this.total(e);
  }

  private stepBack(): Entry {
    const start = this.pos - this.prevTotal;
    const e = this.entryAt(start);
    if (!e || this.total(e) !== this.prevTotal) throw new TapeMediaError(`tape entry before byte ${this.pos} does not match its successor`, start);
    this.pos = start;
    this.prevTotal = e.prev;
    return e;
  }

  /** Reads the next record (up to `max` bytes of it; the rest is skipped). A filemark is not crossed. */
  read(max: number, into?: Buffer): ReadResult {
    const e = this.entryAt(this.pos);
    if (!e) return { kind: 'eod' };
    if (e.kind === KIND_FILEMARK) return { kind: 'filemark' };
    const n = Math.min(max, e.length);
    const data = into && into.length >= n ? into.subarray(0, n) : Buffer.allocUnsafe(n);
    if (n > 0 && fs.readSync(this.fd, data, 0, n, this.pos + ENTRY_HEADER) !== n) throw new TapeMediaError(`record cut short at byte ${this.pos}`, this.pos);
    this.stepForward(e);
    this.blockNo++;
    return { kind: 'record', data, length: e.length };
  }

  private truncateHere(): void {
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

  /** Writes entries (header + data pairs) at the current position in as few system calls as possible. */
  private appendEntries(entries: ReadonlyArray<{ kind: number; data: readonly Buffer[] }>): void {
    const parts: Buffer[] = [];
    let prev = this.prevTotal;
    let total = 0;
    for (const e of entries) {
      const length = e.data.reduce((n, b) => n + b.length, 0);
      parts.push(this.entryHeader(e.kind, length, prev), ...e.data);
      prev = ENTRY_HEADER + length;
      total += prev;
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
    let at = this.pos;
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
      this.stepForward(e);
      this.blockNo++;
      done++;
    }
    return count - done;
  }

  /** Back over up to `count` records, stopping after a filemark (EOT side) or at BOT. */
  bsr(count: number): number {
    let done = 0;
    while (done < count && this.pos > 0) {
      const before = this.pos - this.prevTotal;
      const e = this.entryAt(before);
      if (!e || e.kind === KIND_FILEMARK) break;
      this.stepBack();
      this.blockNo--;
      done++;
    }
    return count - done;
  }

  /** Forward across `count` filemarks, ending on the EOT side of the last; stops at EOD. */
  fsf(count: number): number {
    let done = 0;
    while (done < count) {
      const e = this.entryAt(this.pos);
      if (!e) break;
      this.stepForward(e);
      if (e.kind === KIND_FILEMARK) {
        this.fileNum++;
        this.blockNo = 0;
        done++;
      } else {
        this.blockNo++;
      }
    }
    return count - done;
  }

  /** Back across `count` filemarks, ending on the BOT side of the last; stops at BOT. */
  bsf(count: number): number {
    let done = 0;
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
    let n = 0;
    let pos = this.pos;
    let prev = this.prevTotal;
    while (pos > 0) {
      const start = pos - prev;
      const e = this.entryAt(start);
      if (!e || e.kind === KIND_FILEMARK) break;
      n++;
      pos = start;
      prev = e.prev;
    }
    return n;
  }
}
