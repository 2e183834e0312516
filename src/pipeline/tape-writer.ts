/**
 * The one ordered tape writer: numbers every block (c_tapea), reports where each inode's first
 * header lands, gathers chunks into large writes, and ends the image with TS_END padding to a
 * whole record. It is the only stage that knows absolute positions.
 */
import { Writable } from 'node:stream';
import { TP_BSIZE } from '../format/constants.js';
import { patchTapea } from '../format/header.js';
import { endRecord, partBlocks, type TapeChunk, type TapePart } from '../format/object-headers.js';
import { type VolumeInfo } from '../format/volume.js';
import type { TapeSink } from '../tape/sink.js';

/** Chunks with borrowed memory the writer holds at most before it writes them out. */
export const TAPE_WRITER_MAX_HELD = 4;

export interface TapeWriterOptions {
  sink: TapeSink;
  volume: VolumeInfo;
  /** Bytes gathered before a write (rounded to records by the sink where it matters). */
  batchBytes?: number;
  /** Called with the byte offset of the first header of every object that names an inode. */
  onInode?: (ino: number, offset: number) => void;
  /** A copied range came up short (the source shrank): the rest was written as zeros. */
  onShortCopy?: (path: string | Buffer, offset: number, copied: number, wanted: number) => void;
  /** Called after each write with the image bytes written so far. */
  onWritten?: (bytes: number) => void;
  /**
   * Awaited after each write, before more is accepted: every object reported to onInode so far
   * has its first header in the sink. Checkpoints happen here.
   */
  onFlushed?: (bytes: number) => Promise<void> | void;
  /** Continue an image: the block number (c_tapea) of the first block this writer gets. */
  startBlock?: number;
}

export class TapeWriter extends Writable {
  private blocks = 0;
  private pending: TapePart[] = [];
  private pendingBytes = 0;
  private releases: Array<() => void> = [];
  private written = 0;
  private readonly batchBytes: number;
  /** Writes handed to the sink and not yet done, oldest first (each resolves to the image bytes up to its end). */
  private inFlight: Array<Promise<number>> = [];
  /** At the end: flush() waits for every write. */
  private draining = false;

  constructor(private readonly opts: TapeWriterOptions) {
    super({ objectMode: true, highWaterMark: 64 });
    this.batchBytes = opts.batchBytes ?? 4 << 20;
    this.blocks = opts.startBlock ?? 0;
    this.written = this.blocks * TP_BSIZE;
  }

  /** Blocks accepted so far (headers and data), i.e. the next c_tapea. */
  get blockCount(): number {
    return this.blocks;
  }

  get bytesWritten(): number {
    return this.written;
  }

  override _write(chunk: TapeChunk, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.accept(chunk);
    if (this.mustFlush()) this.flush().then(() => callback(), callback);
    else callback();
  }

  override _writev(chunks: Array<{ chunk: TapeChunk }>, callback: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.accept(chunk);
    if (this.mustFlush()) this.flush().then(() => callback(), callback);
    else callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Borrowed memory goes back even when the pipeline fails, so nothing waits for it forever
    // (a write still in flight gives back its own when it ends).
    for (const release of this.releases) release();
    this.releases = [];
    for (const w of this.inFlight) w.catch(() => undefined);
    this.inFlight = [];
    callback(error);
  }

  private mustFlush(): boolean {
    return this.pendingBytes >= this.batchBytes || this.releases.length >= TAPE_WRITER_MAX_HELD;
  }

  override _final(callback: (error?: Error | null) => void): void {
    // At least one TS_END, then more until the image is a whole number of records.
    const ntrec = this.opts.volume.ntrec;
    do {
      const end = endRecord(this.opts.volume);
      patchTapea(end, 0, this.blocks);
      this.pending.push(end);
      this.pendingBytes += TP_BSIZE;
      this.blocks++;
    } while (this.blocks % ntrec !== 0);
    this.draining = true;
    this.flush().then(() => callback(), callback);
  }

  private accept(chunk: TapeChunk): void {
    if (chunk.release) this.releases.push(chunk.release);
    const base = this.blocks;
    for (const [ino, block] of chunk.objects) this.opts.onInode?.(ino, (base + block) * TP_BSIZE);
    let h = 0;
    let partStart = 0;
    for (const part of chunk.parts) {
      const partBlocks_ = partBlocks(part);
      while (h < chunk.headers.length && chunk.headers[h]! < partStart + partBlocks_) {
        const rel = chunk.headers[h]!;
        if (!Buffer.isBuffer(part)) throw new Error('a header must be in memory, not in a copied range');
        patchTapea(part, (rel - partStart) * TP_BSIZE, base + rel);
        h++;
      }
      partStart += partBlocks_;
      this.pending.push(part);
      this.pendingBytes += partBlocks_ * TP_BSIZE;
    }
    this.blocks += partStart;
  }

  /**
   * Writes what is pending. A sink that takes positioned writes (a file) may have several in
   * flight, so the copy of one batch into the page cache overlaps the next; each batch's memory
   * goes back when its own write is done. Resolves once at most the sink's limit is in flight.
   */
  private async flush(): Promise<void> {
    if (this.pending.length > 0) {
      const parts = this.pending;
      const bytes = this.pendingBytes;
      const releases = this.releases;
      this.pending = [];
      this.pendingBytes = 0;
      this.releases = [];
      let write: Promise<void>;
      try {
        let run: Buffer[] = [];
        for (const part of parts) {
          if (Buffer.isBuffer(part)) { run.push(part); continue; }
          const { path, offset, length, blocks } = part.copy;
          // A sink that must wait for its medium (NDMP's mover) returns a promise.
          const done = this.opts.sink.copyFrom!(run, path, offset, length, blocks * TP_BSIZE);
          const copied = typeof done === 'number' ? done : await done;
          run = [];
          if (copied < length) this.opts.onShortCopy?.(path, offset, copied, length);
        }
        write = run.length ? this.opts.sink.write(run) : Promise.resolve();
      } catch (e) {
        for (const release of releases) release();
        throw e;
      }
      const end = this.written + bytes;
      this.written = end;
      const landed = write.finally(() => { for (const release of releases) release(); }).then(() => end);
      // Awaited in order below; a later write may fail while an earlier one's checkpoint is
      // awaited, and must not count as unhandled meanwhile (the await still throws it).
      landed.catch(() => undefined);
      this.inFlight.push(landed);
    }
    const limit = Math.max(1, this.opts.sink.concurrentWrites ?? 1);
    while (this.inFlight.length >= limit || (this.pending.length === 0 && this.inFlight.length > 0 && this.draining)) {
      const done = await this.inFlight.shift()!;
      this.opts.onWritten?.(done);
      await this.opts.onFlushed?.(done);
    }
  }
}
