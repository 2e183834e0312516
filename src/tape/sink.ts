/**
 * Where tape records go. A file gets large gathered writes (record boundaries do not matter in
 * a file); a tape device gets exactly one write per record, because on tape a write is a record.
 * A file is written under a temporary name and renamed only when the image is complete, so a
 * failed backup never leaves a file that looks like a finished image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapdumpError } from '../errors.js';
import * as sysx from '../native/sysx.js';
import type { TapeFileMedium } from './virtual-tape.js';

export interface TapeSink {
  /** What the user named ('-' for stdout). */
  readonly name: string;
  /** Device and inode of the output when it is a file, so a walk can leave it out. */
  readonly identity: { dev: number; ino: number } | null;
  write(parts: readonly Buffer[]): Promise<void>;
  /**
   * Appends `prefix`, then `length` bytes of the file `path` from `offset` without passing them
   * through user space (copy_file_range), padded with zeros to `padTo` bytes. Synchronous: the
   * headers between copied ranges are small, and an asynchronous round trip for each cost more
   * than the copy. Only sinks that can do that have it. Returns the bytes that came from the
   * file (fewer when it shrank); a promise of them from a sink that sometimes has to wait (an
   * NDMP mover at the end of its window or of the tape).
   */
  copyFrom?(prefix: readonly Buffer[], path: string | Buffer, offset: number, length: number, padTo: number): number | Promise<number>;
  /** Completes the image (flush, fsync, rename into place). */
  commit(): Promise<void>;
  /** Discards a partial image. Safe to call after a failure at any point. */
  abort(): Promise<void>;
  /** The partial image's path, for sinks that can keep one to continue later (files). */
  readonly partial?: string;
  /** Flushes what was written to stable storage (a checkpoint's first half). */
  syncData?(): Promise<void>;
  /** Closes the sink keeping the partial image, so a restart can continue it. */
  detach?(): Promise<void>;
  /** The image is one tape file of a virtual tape, which a restart can continue in place. */
  readonly medium?: TapeFileMedium;
  /**
   * Bytes of the image on the medium (not still on their way there): a checkpoint never names a
   * point past it. Without it, everything written is taken to be there.
   */
  durableBytes?(): number;
  /** Why an image that goes here cannot be continued later, when the sink knows better than "a stream". */
  readonly notResumable?: string;
  /**
   * Writes that may be in flight at once (default 1): a sink whose writes land at positions
   * fixed when write() is called (a file) can take several.
   */
  readonly concurrentWrites?: number;
}

const IOV_MAX = 1024;

function outputError(name: string, e: unknown, what: string): SnapdumpError {
  const err = e as NodeJS.ErrnoException;
  return new SnapdumpError('ERR_OUTPUT', `cannot ${what} ${name}: ${err.message ?? String(e)}`, { path: name, errno: err.code }, { cause: e });
}

function writevAll(fd: number, parts: readonly Buffer[], name: string, position: number | null = null): Promise<void> {
  return new Promise((resolve, reject) => {
    let i = 0;
    const next = (): void => {
      if (i >= parts.length) { resolve(); return; }
      const batch = parts.slice(i, i + IOV_MAX);
      const expected = batch.reduce((s, b) => s + b.length, 0);
      const cb = (err: NodeJS.ErrnoException | null, written: number) => {
        // A non-blocking pipe (stdout handed over by a parent) is full: wait for the reader.
        if (err?.code === 'EAGAIN') { setTimeout(next, 2); return; }
        if (err) { reject(outputError(name, err, 'write')); return; }
        if (position !== null) position += written;
        if (written < expected) {
          // Short write (pipe, full disk): retry the rest part by part.
          let skip = written;
          const rest: Buffer[] = [];
          for (const b of batch) {
            if (skip >= b.length) { skip -= b.length; continue; }
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
          const tail = parts.slice(i + IOV_MAX);
          parts = [...rest, ...tail];
          i = 0;
        } else {
          i += batch.length;
        }
        next();
      };
      if (position === null) fs.writev(fd, batch, cb); else fs.writev(fd, batch, position, cb);
    };
    next();
  });
}

class FileSink implements TapeSink {
  readonly identity: { dev: number; ino: number };
  private closed = false;

  /** Writes use explicit positions so in-kernel copies can interleave with them. */
  constructor(readonly name: string, private readonly tmpPath: string, private readonly fd: number, private readonly sync: boolean, private position = 0) {
    const st = fs.fstatSync(fd);
    this.identity = { dev: st.dev, ino: st.ino };
  }

  get partial(): string {
    return this.tmpPath;
  }

  async syncData(): Promise<void> {
    await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(outputError(this.name, err, 'flush')) : resolve())));
  }

  async detach(): Promise<void> {
    if (!this.closed) { try { fs.closeSync(this.fd); } catch { /* already closed */ } this.closed = true; }
  }

  /** Two: one batch is copied into the page cache while the next is gathered and started. */
  readonly concurrentWrites = 2;
  /** Start positions of the writes in flight: the image is complete up to the lowest. */
  private readonly writing = new Set<number>();
  /**
   * Start of the earliest write that failed (a full disk): nothing from there on is known to be
   * on the medium, however many later writes land, so no checkpoint may name a point past it.
   */
  private failedAt = Infinity;

  durableBytes(): number {
    let low = Math.min(this.position, this.failedAt);
    for (const at of this.writing) if (at < low) low = at;
    return low;
  }

  async write(parts: readonly Buffer[]): Promise<void> {
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    // The position is taken now, so writes in flight and in-kernel copies never overlap.
    const at = this.position;
    this.position += bytes;
    this.writing.add(at);
    try {
      await writevAll(this.fd, parts, this.name, at);
    } catch (e) {
      if (at < this.failedAt) this.failedAt = at;
      throw e;
    } finally {
      this.writing.delete(at);
    }
  }

  copyFrom(prefix: readonly Buffer[], path: string | Buffer, offset: number, length: number, padTo: number): number {
    for (let i = 0; i < prefix.length; i += IOV_MAX) {
      const batch = prefix.slice(i, i + IOV_MAX);
      const bytes = batch.reduce((n, b) => n + b.length, 0);
      try {
        let done = 0;
        while (done < bytes) {
          // A short write (full disk) continues where it stopped.
          const rest = done === 0 ? batch : [Buffer.concat(batch).subarray(done)];
          done += fs.writevSync(this.fd, rest, this.position + done);
        }
      } catch (e) {
        throw outputError(this.name, e, 'write');
      }
      this.position += bytes;
    }
    let copied = 0;
    let src = -1;
    try {
      src = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      copied = sysx.copyFileRange(src, offset, this.fd, this.position, length);
    } catch (e) {
      // A vanished source or a file system without in-kernel copy: fall back to zeros for a
      // vanished file (reported by the caller) or to plain reads and writes.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EXDEV' && code !== 'EINVAL' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw outputError(this.name, e, 'write');
      if (src >= 0) copied = this.copyByReading(src, offset, length);
    } finally {
      if (src >= 0) fs.closeSync(src);
    }
    const pad = padTo - copied;
    if (pad > 0) {
      try { fs.writeSync(this.fd, Buffer.alloc(pad), 0, pad, this.position + copied); } catch (e) { throw outputError(this.name, e, 'write'); }
    }
    this.position += padTo;
    return copied;
  }

  private copyByReading(src: number, offset: number, length: number): number {
    const buf = Buffer.allocUnsafe(Math.min(length, 1 << 20));
    let done = 0;
    while (done < length) {
      const n = fs.readSync(src, buf, 0, Math.min(buf.length, length - done), offset + done);
      if (n === 0) break;
      try { fs.writeSync(this.fd, buf, 0, n, this.position + done); } catch (e) { throw outputError(this.name, e, 'write'); }
      done += n;
    }
    return done;
  }

  async commit(): Promise<void> {
    try {
      // Renaming only a complete image protects against a failed run; flushing first also
      // protects against a crash of the machine, at the cost of waiting for the disk.
      if (this.sync) fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.closed = true;
      fs.renameSync(this.tmpPath, this.name);
    } catch (e) {
      throw outputError(this.name, e, 'finish');
    }
  }

  async abort(): Promise<void> {
    if (!this.closed) { try { fs.closeSync(this.fd); } catch { /* already closed */ } this.closed = true; }
    try { fs.unlinkSync(this.tmpPath); } catch { /* never created or already gone */ }
  }
}

/** stdout or an existing FIFO: no rename possible; an incomplete image simply lacks its TS_END. */
class StreamFdSink implements TapeSink {
  readonly identity = null;
  constructor(readonly name: string, private readonly fd: number, private readonly ownsFd: boolean) {}
  write(parts: readonly Buffer[]): Promise<void> { return writevAll(this.fd, parts, this.name); }
  async commit(): Promise<void> { if (this.ownsFd) fs.closeSync(this.fd); }
  async abort(): Promise<void> { if (this.ownsFd) { try { fs.closeSync(this.fd); } catch { /* ignore */ } } }
}

/** Writes one buffer with one write(2); resolves with the byte count the kernel took. */
export type RecordWriter = (fd: number, record: Buffer) => Promise<number>;

const writeRecordToFd: RecordWriter = (fd, record) => new Promise((resolve, reject) => {
  fs.write(fd, record, 0, record.length, null, (err, n) => (err ? reject(err) : resolve(n)));
});

/** A tape device (/dev/nst0...): one write(2) per record of exactly recordSize bytes. */
export class TapeDeviceSink implements TapeSink {
  readonly identity = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(readonly name: string, private readonly fd: number, private readonly recordSize: number,
    private readonly writeRecord: RecordWriter = writeRecordToFd, private readonly close: (fd: number) => void = fs.closeSync) {}

  async write(parts: readonly Buffer[]): Promise<void> {
    for (const p of parts) { this.pending.push(p); this.pendingBytes += p.length; }
    while (this.pendingBytes >= this.recordSize) {
      const record = Buffer.allocUnsafe(this.recordSize);
      let filled = 0;
      while (filled < this.recordSize) {
        const head = this.pending[0]!;
        const take = Math.min(head.length, this.recordSize - filled);
        head.copy(record, filled, 0, take);
        filled += take;
        if (take === head.length) this.pending.shift(); else this.pending[0] = head.subarray(take);
      }
      this.pendingBytes -= this.recordSize;
      let n: number;
      try {
        n = await this.writeRecord(this.fd, record);
      } catch (e) {
        throw outputError(this.name, e, 'write');
      }
      // On tape a short write means the end of the medium: the record is not on tape.
      if (n !== record.length) throw new SnapdumpError('ERR_OUTPUT', `short write to tape ${this.name}: ${n} of ${record.length} bytes (end of medium?)`, { path: this.name });
    }
  }

  async commit(): Promise<void> {
    if (this.pendingBytes !== 0) throw new SnapdumpError('ERR_INTERNAL', 'image does not end on a record boundary');
    this.close(this.fd);
  }

  async abort(): Promise<void> { try { this.close(this.fd); } catch { /* ignore */ } }
}

/**
 * Reopens the partial image of an interrupted backup to continue it at byte `offset` (a block
 * boundary): everything from there on is cut off and written again.
 */
export function resumeFileSink(name: string, partial: string, offset: number, opts: { sync?: boolean } = {}): TapeSink {
  let fd = -1;
  try {
    fd = fs.openSync(partial, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file');
    fs.ftruncateSync(fd, offset);
    return new FileSink(name, partial, fd, opts.sync ?? false, offset);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    throw outputError(partial, e, 'reopen the partial image');
  }
}

/**
 * Opens the output named on the command line. `recordSize` = blocking factor × 1 KiB.
 * `sync` flushes a file image to stable storage before it is renamed into place.
 */
export function openSink(name: string, recordSize: number, opts: { sync?: boolean } = {}): TapeSink {
  if (name === '-') return new StreamFdSink('-', 1, false);
  let st: fs.Stats | null = null;
  try { st = fs.statSync(name); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw outputError(name, e, 'open');
  }
  try {
    if (st?.isCharacterDevice()) return new TapeDeviceSink(name, fs.openSync(name, 'w'), recordSize);
    if (st?.isFIFO()) return new StreamFdSink(name, fs.openSync(name, 'w'), true);
    if (st?.isDirectory()) throw new SnapdumpError('ERR_OUTPUT', `cannot write the image to ${name}: it is a directory`, { path: name });
    const dir = path.dirname(path.resolve(name));
    const tmp = path.join(dir, `.${path.basename(name)}.partial-${process.pid}`);
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_EXCL, 0o644);
    return new FileSink(name, tmp, fd, opts.sync ?? false);
  } catch (e) {
    if (e instanceof SnapdumpError) throw e;
    throw outputError(name, e, 'open');
  }
}
