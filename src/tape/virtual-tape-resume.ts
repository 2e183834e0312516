/**
 * Continuing an image on a virtual tape (a restart of a backup that was written there through
 * NDMP): the image is the records of one tape file; it is cut back to a byte offset and written
 * on from there in records of the same size, then closed with two filemarks as a DMA would.
 */
import * as fs from 'node:fs';
import { SnapdumpError } from '../errors.js';
import type { TapeSink } from './sink.js';
import { TapeMediaError, VirtualTape, type TapeFileMedium } from './virtual-tape.js';

const MAX_RECORD = 16 << 20;

function openAt(m: TapeFileMedium, writable: boolean): VirtualTape {
  let tape: VirtualTape;
  try {
    tape = VirtualTape.open(m.path, writable);
  } catch (e) {
    throw new SnapdumpError('ERR_OUTPUT', `cannot open the virtual tape ${m.path}: ${(e as Error).message}`, { path: m.path }, { cause: e });
  }
  if (tape.fsf(m.tapeFile) !== 0) {
    tape.close();
    throw new SnapdumpError('ERR_OUTPUT', `${m.path} has no tape file ${m.tapeFile}`, { path: m.path, tapeFile: m.tapeFile });
  }
  return tape;
}

function mediaError(m: TapeFileMedium, e: unknown): unknown {
  return e instanceof TapeMediaError ? new SnapdumpError('ERR_CORRUPT', `${m.path}: ${e.message}`, { path: m.path, offset: e.offset }) : e;
}

/**
 * Bytes of image in the tape file (its records, up to the next filemark or the end of data). A
 * damaged entry ends it too: a power loss can leave the last record half written, and a restart
 * only needs the records up to its checkpoint (resuming cuts the tape back there).
 */
export function tapeFileBytes(m: TapeFileMedium): number {
  const tape = openAt(m, false);
  let n = 0;
  try {
    for (;;) {
      const r = tape.read(0);
      if (r.kind !== 'record') return n;
      n += r.length;
    }
  } catch (e) {
    if (e instanceof TapeMediaError) return n;
    throw mediaError(m, e);
  } finally {
    tape.close();
  }
}

/** `length` image bytes from `offset` of the tape file (fewer at its end). */
export function readTapeFileBytes(m: TapeFileMedium, offset: number, length: number): Buffer {
  const tape = openAt(m, false);
  const out: Buffer[] = [];
  try {
    let at = 0;
    let got = 0;
    while (got < length) {
      const r = tape.read(MAX_RECORD);
      if (r.kind !== 'record') break;
      const start = Math.max(offset - at, 0);
      if (start < r.data.length) {
        const piece = r.data.subarray(start, start + length - got);
        out.push(piece);
        got += piece.length;
      }
      at += r.data.length;
    }
    return Buffer.concat(out);
  } catch (e) {
    throw mediaError(m, e);
  } finally {
    tape.close();
  }
}

class VirtualTapeResumeSink implements TapeSink {
  readonly identity = null;
  private pending: Buffer;
  private fill: number;
  private onTape: number;
  private closed = false;

  constructor(readonly name: string, readonly medium: TapeFileMedium, private readonly tape: VirtualTape, head: Buffer, offset: number) {
    this.pending = Buffer.alloc(medium.recordSize);
    head.copy(this.pending);
    this.fill = head.length;
    this.onTape = offset - head.length;
  }

  durableBytes(): number { return this.onTape; }

  async write(parts: readonly Buffer[]): Promise<void> {
    const rs = this.medium.recordSize;
    const records: Buffer[] = [];
    for (const p of parts) {
      let off = 0;
      while (off < p.length) {
        const take = Math.min(p.length - off, rs - this.fill);
        p.copy(this.pending, this.fill, off, off + take);
        this.fill += take;
        off += take;
        if (this.fill === rs) { records.push(this.pending); this.pending = Buffer.alloc(rs); this.fill = 0; }
      }
    }
    this.put(records);
  }

  private put(records: Buffer[]): void {
    if (records.length === 0) return;
    try {
      if (this.tape.writeRecords(records) !== records.length) throw new SnapdumpError('ERR_OUTPUT', `end of medium on the virtual tape ${this.medium.path}`, { path: this.medium.path });
    } catch (e) {
      throw e instanceof SnapdumpError ? e : new SnapdumpError('ERR_OUTPUT', `cannot write the virtual tape ${this.medium.path}: ${(e as Error).message}`, { path: this.medium.path }, { cause: e });
    }
    this.onTape += records.length * this.medium.recordSize;
  }

  async syncData(): Promise<void> { this.tape.syncData(); }

  async commit(): Promise<void> {
    // The last record padded with zeros, as the mover pads it; then the end of the tape file.
    if (this.fill > 0) { this.pending.fill(0, this.fill); this.put([this.pending]); this.fill = 0; }
    this.tape.writeFilemarks(2);
    this.tape.syncData();
    this.close();
  }

  async detach(): Promise<void> { this.close(); }
  async abort(): Promise<void> { this.close(); }

  private close(): void {
    if (!this.closed) { this.closed = true; this.tape.close(); }
  }
}

/**
 * Reopens the tape file to continue its image at byte `offset`: the record holding the offset is
 * cut back to it (its head kept in memory and written again), everything after it is discarded.
 */
export function resumeVirtualTapeSink(name: string, m: TapeFileMedium, offset: number): TapeSink {
  const tape = openAt(m, true);
  try {
    const rs = m.recordSize;
    const whole = Math.floor(offset / rs);
    if (tape.fsr(whole) !== 0) throw new SnapdumpError('ERR_OUTPUT', `${m.path}: tape file ${m.tapeFile} ends before byte ${offset}`, { path: m.path });
    let head = Buffer.alloc(0);
    if (offset % rs !== 0) {
      const r = tape.read(rs);
      if (r.kind !== 'record' || r.length !== rs) throw new SnapdumpError('ERR_OUTPUT', `${m.path}: no whole record holds byte ${offset}`, { path: m.path });
      head = Buffer.from(r.data.subarray(0, offset % rs));
      tape.bsr(1);
    }
    tape.truncate();
    return new VirtualTapeResumeSink(name, m, tape, head, offset);
  } catch (e) {
    tape.close();
    throw mediaError(m, e);
  }
}

/** Flushes a virtual tape file written by another handle (the mover's) to stable storage. */
export function syncTapeFile(path: string): void {
  const fd = fs.openSync(path, fs.constants.O_RDONLY);
  try { fs.fdatasyncSync(fd); } finally { fs.closeSync(fd); }
}
