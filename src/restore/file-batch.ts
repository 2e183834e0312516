/**
 * Small regular files written in batches off the main thread. A profile of the one-thread
 * restore showed most of its time in open/write/utimensat by full path, one file after the
 * other, while the image parsing needed little: so the main thread copies each small file's
 * data into a batch and goes on parsing, and the batch is written by sysx.writeFilesAsync on
 * the libuv thread pool (openat relative to the file's open directory, pwrite, fchown/fchmod
 * when needed, futimens, close), with up to `inFlight` batches at once on the two cores.
 *
 * Only the plain case is batched: one name, no chattr flags, small enough; the caller keeps the
 * last file staged (tentative) until the next item of the image shows it has no EA records,
 * and takes it back ({@link FileBatcher.takeBack}) to write it the ordinary way when it has.
 * A name that exists already (EEXIST) is redone the ordinary way (replace safely); ENOSPC,
 * EDQUOT, EIO, EROFS stop the restore (the files of the batch not yet written are reported as
 * not restored); any other failure skips that file. Results are only acted on by
 * {@link FileBatcher.settle} and {@link FileBatcher.drain}, on the caller's own flow, so a stop
 * surfaces there as a thrown StopRestore.
 *
 * Record layout (little-endian, 8-byte aligned), read by native/write-files.c (wf_one):
 *   0 u32 record length   4 i32 directory fd   8 u32 permission bits   12 u32 options (1 chown, 2 chmod)
 *  16 u32 uid  20 u32 gid  24 i64 atime s  32 i64 mtime s  40 u32 atime ns  44 u32 mtime ns
 *  48 u64 size (the file is truncated to it when the data ends before)  56 u32 name length
 *  60 u32 segment count  64 name, padded to 8; the segments' data, padded to 8;
 *  then per segment u64 file offset, u64 length.
 */
import * as fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import type { DumpInode } from '../format/header.js';
import * as sysx from '../native/sysx.js';
import type { DataPiece } from '../read/image-reader.js';
import { inodeTimes, isStopError, needsChmod } from './attributes.js';
import { StopRestore, stopFor, type ExtractContext } from './extract.js';
import { openDirectory } from './safe-path.js';
import type { DirTarget, LeafTarget } from './selection.js';

export const RECORD_HEADER = 64;
export const SEGMENT_BYTES = 16;
export const RESULT_FIELDS = sysx.WRITE_RESULT_FIELDS;
export const NOT_DONE = -1;
export const OPT_CHOWN = 1;
export const OPT_CHMOD = 2;

/** Where a record failed (results[1]), as native/write-files.c numbers them. */
export const STAGES = ['', 'open', 'write', 'ftruncate', 'fchown', 'fchmod', 'futimens', 'close', 'record'] as const;

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** 64-bit little-endian integers without BigInt (a profile showed its conversions); |n| < 2^53. */
function put64(b: Buffer, n: number, at: number): void {
  const lo = n % 0x100000000;
  const lo32 = lo < 0 ? lo + 0x100000000 : lo;
  b.writeUInt32LE(lo32, at);
  b.writeInt32LE((n - lo32) / 0x100000000, at + 4);
}

function get64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readInt32LE(at + 4) * 0x100000000;
}

/** The most bytes the record of a file of `size` bytes can take (at most one data piece per KiB). */
export function recordBound(nameLength: number, size: number): number {
  return RECORD_HEADER + pad8(nameLength) + pad8(size) + SEGMENT_BYTES * (Math.ceil(size / 1024) + 1);
}

export interface RecordSpec {
  dirfd: number;
  name: Uint8Array;
  perm: number;
  chown: boolean;
  chmod: boolean;
  uid: number;
  gid: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  size: number;
}

/**
 * Writes one record into `buf` at `start`: {@link begin}, {@link add} for each data piece
 * (adjacent pieces become one segment), {@link end}. The caller made sure recordBound() fits.
 */
export class RecordWriter {
  private start = 0;
  private at = 0;
  private readonly segs: number[] = [];

  constructor(private readonly buf: Buffer) {}

  begin(start: number, s: RecordSpec): void {
    const b = this.buf;
    this.start = start;
    this.segs.length = 0;
    b.writeInt32LE(s.dirfd, start + 4);
    b.writeUInt32LE(s.perm & 0o7777, start + 8);
    b.writeUInt32LE((s.chown ? OPT_CHOWN : 0) | (s.chmod ? OPT_CHMOD : 0), start + 12);
    b.writeUInt32LE(s.uid >>> 0, start + 16);
    b.writeUInt32LE(s.gid >>> 0, start + 20);
    put64(b, s.atimeSec, start + 24);
    put64(b, s.mtimeSec, start + 32);
    b.writeUInt32LE(s.atimeNsec, start + 40);
    b.writeUInt32LE(s.mtimeNsec, start + 44);
    put64(b, s.size, start + 48);
    b.writeUInt32LE(s.name.length, start + 56);
    b.set(s.name, start + RECORD_HEADER);
    this.at = start + RECORD_HEADER + pad8(s.name.length);
  }

  add(offset: number, data: Uint8Array): void {
    this.buf.set(data, this.at);
    this.at += data.length;
    const n = this.segs.length;
    if (n > 0 && this.segs[n - 2]! + this.segs[n - 1]! === offset) this.segs[n - 1]! += data.length;
    else this.segs.push(offset, data.length);
  }

  /** Finishes the record; returns its length. */
  end(): number {
    const b = this.buf;
    let at = pad8(this.at);
    for (let i = 0; i < this.segs.length; i += 2) {
      put64(b, this.segs[i]!, at);
      put64(b, this.segs[i + 1]!, at + 8);
      at += SEGMENT_BYTES;
    }
    const len = at - this.start;
    b.writeUInt32LE(len, this.start);
    b.writeUInt32LE(this.segs.length / 2, this.start + 60);
    return len;
  }
}

/** The data pieces of a finished record (views into `buf`). */
export function recordPieces(buf: Buffer, start: number): DataPiece[] {
  const len = buf.readUInt32LE(start);
  const nameLen = buf.readUInt32LE(start + 56);
  const nseg = buf.readUInt32LE(start + 60);
  let data = start + RECORD_HEADER + pad8(nameLen);
  let seg = start + len - nseg * SEGMENT_BYTES;
  const out: DataPiece[] = [];
  for (let i = 0; i < nseg; i++, seg += SEGMENT_BYTES) {
    const offset = get64(buf, seg);
    const n = get64(buf, seg + 8);
    out.push({ offset, data: buf.subarray(data, data + n) });
    data += n;
  }
  return out;
}

export interface BatchedFile {
  ino: number;
  inode: DumpInode;
  target: LeafTarget;
  /** Byte offset of the object in the image. */
  offset: number;
  bytes: number;
  /** Where its record starts in the batch buffer. */
  start: number;
}

/** What the restore does with a batch's outcome. */
export interface BatchSink {
  ctx: ExtractContext;
  /** Written: count it. */
  written(f: BatchedFile): void;
  /** Not attempted, or removed, because the restore stopped: report it as not restored. */
  undone(f: BatchedFile): void;
  /** The name exists already: write it the ordinary way (views valid until this resolves). */
  redo(f: BatchedFile, pieces: DataPiece[]): Promise<void>;
}

export interface BatchOptions {
  /** Bytes of a batch buffer. */
  batchBytes: number;
  /** Most files per batch. */
  maxFiles: number;
  /** Batches being written at once. */
  inFlight: number;
  /** Largest file that is batched. */
  maxFile: number;
  /** Directory descriptors kept open. */
  dirFds: number;
}

/**
 * Measured on the 100,000-file set: 4 MiB batches (and 4 MiB image reads) took no less CPU than
 * 1 MiB ones but 34 MB more peak memory; 512 KiB ones were no faster. Batches in flight, A/B on a
 * quiet machine: 2 → 4.2–5.1 s, 3 → 3.9–4.6 s, 4 (the libuv pool's threads) → 3.9–4.3 s: more of
 * them smooth out batches that take longer (a directory's first files, journal waits).
 */
export const DEFAULT_BATCH: BatchOptions = { batchBytes: 1 << 20, maxFiles: 256, inFlight: 4, maxFile: 256 * 1024, dirFds: 64 };

interface Batch {
  id: number;
  buf: Buffer;
  used: number;
  files: BatchedFile[];
  results: Int32Array;
  error: unknown;
}

function errnoError(errno: number, syscall: string, path: Buffer): NodeJS.ErrnoException {
  let code = `E${errno}`;
  try { code = getSystemErrorName(-errno); } catch { /* unknown number */ }
  return Object.assign(new Error(`${code}, ${syscall} '${path.toString('utf8')}'`), { code, errno: -errno, syscall });
}

export class FileBatcher {
  private readonly free: Buffer[] = [];
  private cur: Batch | null = null;
  private nextId = 1;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly completed: Batch[] = [];
  private readonly writer = new Map<Buffer, RecordWriter>();
  /** The last file, kept until the caller seals it or takes it back. */
  private tentative: BatchedFile | null = null;
  private readonly dirFds = new Map<DirTarget, number>();
  private lastDir: DirTarget | null = null;
  private lastDirFd = -1;
  /** Evicted descriptors, closed once no batch up to the id can still use them. */
  private readonly closing: Array<{ fd: number; until: number }> = [];
  private stopped: StopRestore | null = null;

  constructor(private readonly sink: BatchSink, private readonly opts: BatchOptions = DEFAULT_BATCH) {}

  /** Whether the file can go into a batch (its name must be one component below its directory). */
  accepts(size: number, target: LeafTarget): boolean {
    const d = target.dir.path.length;
    return size <= this.opts.maxFile && target.path.length > d + 1 && target.path[d] === 0x2f
      && target.path.length - d - 1 <= 255 && target.dir.path.compare(target.path, 0, d) === 0;
  }

  /**
   * Copies the data of an object into the batch (tentatively). Returns the batched file, or
   * null when its data was incomplete (nothing of it stays in the batch) or its directory
   * cannot be opened (then the caller writes it the ordinary way: `false`).
   */
  async stage(f: Omit<BatchedFile, 'start' | 'bytes'>, pieces: AsyncIterable<DataPiece> | DataPiece[], complete: () => boolean): Promise<BatchedFile | null | false> {
    if (this.tentative) throw new Error('FileBatcher.stage: the previous file is not sealed');
    const t = f.target;
    const name = t.path.subarray(t.dir.path.length + 1);
    const size = f.inode.size;
    const need = recordBound(name.length, size);
    let b = this.cur;
    if (b && (b.used + need > b.buf.length || b.files.length >= this.opts.maxFiles)) {
      await this.submit();
      b = null;
    }
    const dirfd = this.dirFd(t.dir);
    if (dirfd < 0) return false;
    b ??= await this.newBatch(need);
    const env = this.sink.ctx.env;
    const perm = f.inode.mode & 0o7777;
    const times = inodeTimes(f.inode);
    const w = this.writerFor(b.buf);
    const start = b.used;
    w.begin(start, {
      dirfd, name, perm, size, uid: f.inode.uid, gid: f.inode.gid, ...times,
      chown: env.isRoot && (f.inode.uid !== env.euid || f.inode.gid !== env.egid || this.sink.ctx.inheritsGroup(t)),
      chmod: needsChmod(perm, env.umask),
    });
    let bytes = 0;
    if (Array.isArray(pieces)) {
      for (const p of pieces) {
        if (!p.data) continue;
        w.add(p.offset, p.data);
        bytes += p.data.length;
      }
    } else {
      for await (const p of pieces) {
        if (!p.data) continue;
        w.add(p.offset, p.data);
        bytes += p.data.length;
      }
    }
    if (!complete()) return null;
    b.used += w.end();
    // A copy of the inode: keeping the reader's own object alive until the batch is written
    // cost 73 MB more peak heap on the 100,000-file set (measured), this copy nothing.
    const file: BatchedFile = { ino: f.ino, inode: { ...f.inode }, target: f.target, offset: f.offset, bytes, start };
    b.files.push(file);
    this.tentative = file;
    return file;
  }

  /** The staged file stays in the batch; the batch is written once it is full. */
  async seal(): Promise<void> {
    this.tentative = null;
    const b = this.cur;
    if (b && (b.files.length >= this.opts.maxFiles || b.used + RECORD_HEADER + 1024 > b.buf.length)) await this.submit();
    await this.settle();
  }

  /** Takes the staged file out of the batch; returns its data (valid until the next stage). */
  takeBack(): DataPiece[] {
    const f = this.tentative;
    const b = this.cur;
    if (!f || !b) throw new Error('FileBatcher.takeBack: nothing staged');
    this.tentative = null;
    b.files.pop();
    b.used = f.start;
    return recordPieces(b.buf, f.start);
  }

  /** Acts on the batches written so far (throws StopRestore when one ran out of space). */
  async settle(): Promise<void> {
    while (this.completed.length > 0) await this.outcome(this.completed.shift()!, 'end');
  }

  /**
   * Waits for every batch. 'end': writes what is left first, and throws like settle().
   * 'interrupted' (cancelled, unreadable input): writes the sealed files left, so everything
   * before the interruption is restored; throws nothing. 'stopped' (no space, I/O error):
   * writes nothing more (the files left are reported as not restored); throws nothing.
   */
  async drain(mode: 'end' | 'interrupted' | 'stopped' = 'end'): Promise<void> {
    const quiet = mode !== 'end';
    if (this.tentative && quiet) {
      const f = this.tentative;
      this.takeBack();
      this.sink.undone(f);
    }
    this.tentative = null;
    if (mode === 'stopped') {
      const b = this.cur;
      this.cur = null;
      if (b) {
        for (const f of b.files) this.sink.undone(f);
        this.free.push(b.buf);
      }
    } else if (this.cur && this.cur.files.length > 0) {
      await this.submit();
    }
    while (this.inFlight.size > 0) await Promise.race(this.inFlight.values());
    while (this.completed.length > 0) await this.outcome(this.completed.shift()!, mode);
    this.closeDirs();
  }

  /** Closes every directory descriptor (after drain, or when giving up). */
  closeDirs(): void {
    for (const fd of this.dirFds.values()) closeQuietly(fd);
    this.dirFds.clear();
    this.lastDir = null;
    for (const c of this.closing) closeQuietly(c.fd);
    this.closing.length = 0;
  }

  private writerFor(buf: Buffer): RecordWriter {
    let w = this.writer.get(buf);
    if (!w) this.writer.set(buf, (w = new RecordWriter(buf)));
    return w;
  }

  private async newBatch(need: number): Promise<Batch> {
    let buf = this.free.pop();
    if (!buf || buf.length < need) buf = Buffer.allocUnsafe(Math.max(this.opts.batchBytes, need));
    const b: Batch = { id: this.nextId++, buf, used: 0, files: [], results: new Int32Array(this.opts.maxFiles * RESULT_FIELDS), error: null };
    this.cur = b;
    return b;
  }

  private dirFd(dir: DirTarget): number {
    // Files come directory by directory: the last one is already the most recently used.
    if (dir === this.lastDir) return this.lastDirFd;
    const fd = this.openDirFd(dir);
    if (fd >= 0) { this.lastDir = dir; this.lastDirFd = fd; }
    return fd;
  }

  private openDirFd(dir: DirTarget): number {
    const have = this.dirFds.get(dir);
    if (have !== undefined) {
      // Most recently used last.
      this.dirFds.delete(dir);
      this.dirFds.set(dir, have);
      return have;
    }
    let fd: number;
    try {
      fd = openDirectory(dir.path);
    } catch {
      return -1;
    }
    if (this.dirFds.size >= this.opts.dirFds) {
      const [oldest, ofd] = this.dirFds.entries().next().value as [DirTarget, number];
      this.dirFds.delete(oldest);
      // The batch being filled, and those in flight, may still name it.
      this.closing.push({ fd: ofd, until: this.cur ? this.cur.id : this.nextId - 1 });
    }
    this.dirFds.set(dir, fd);
    return fd;
  }

  private releaseDirs(): void {
    let live = this.cur && this.cur.files.length > 0 ? this.cur.id : Infinity;
    for (const id of this.inFlight.keys()) live = Math.min(live, id);
    for (let i = this.closing.length - 1; i >= 0; i--) {
      if (this.closing[i]!.until < live) {
        closeQuietly(this.closing[i]!.fd);
        this.closing.splice(i, 1);
      }
    }
  }

  private async submit(): Promise<void> {
    const b = this.cur;
    this.cur = null;
    if (!b || b.files.length === 0) { if (b) this.free.push(b.buf); return; }
    while (this.inFlight.size >= this.opts.inFlight) await Promise.race(this.inFlight.values());
    if (this.stopped) {
      // Another batch ran out of space: this one is not written at all.
      for (const f of b.files) this.sink.undone(f);
      this.free.push(b.buf);
      return;
    }
    b.results.fill(NOT_DONE);
    const done = sysx.writeFilesAsync(b.buf, b.used, b.results).then(
      () => undefined,
      (e: unknown) => { b.error = e; },
    ).then(() => {
      this.inFlight.delete(b.id);
      this.completed.push(b);
      this.releaseDirs();
    });
    this.inFlight.set(b.id, done);
  }

  private async outcome(b: Batch, mode: 'end' | 'interrupted' | 'stopped'): Promise<void> {
    const quiet = mode !== 'end';
    const { ctx } = this.sink;
    const r = b.results;
    let stop: StopRestore | null = null;
    let thrown: { err: unknown } | null = null;
    try {
      for (let i = 0; i < b.files.length; i++) {
        const f = b.files[i]!;
        const path = f.target.path;
        const status = b.error ? NOT_DONE : r[i * RESULT_FIELDS]!;
        if (status === 0) {
          this.sink.written(f);
          ctx.onData(f.bytes);
          const perm = f.inode.mode & 0o7777;
          const at = i * RESULT_FIELDS;
          const own = r[at + 2]!;
          const mode = r[at + 3]!;
          const times = r[at + 4]!;
          if (own) ctx.env.warn('OWNER', path, `cannot set owner ${f.inode.uid}:${f.inode.gid}: ${errnoError(own, 'fchown', path).code}`, f.ino);
          if (mode) ctx.env.warn('MODE', path, `cannot set mode ${perm.toString(8)}: ${errnoError(mode, 'fchmod', path).code}`, f.ino);
          if (times) ctx.env.warn('TIMES', path, `cannot set times: ${errnoError(times, 'futimens', path).code}`, f.ino);
          continue;
        }
        if (status === NOT_DONE || stop || this.stopped) {
          this.sink.undone(f);
          continue;
        }
        const e = errnoError(status, STAGES[r[i * RESULT_FIELDS + 1]!] ?? 'write', path);
        if (isStopError(e)) {
          stop = stopFor(e, path);
          this.sink.undone(f);
        } else if (e.code === 'EEXIST' && r[i * RESULT_FIELDS + 1] === 1) {
          if (mode === 'stopped') { this.sink.undone(f); continue; }
          try {
            await this.sink.redo(f, recordPieces(b.buf, f.start));
          } catch (err) {
            // The rest of the batch is still accounted for before this surfaces.
            if (err instanceof StopRestore) stop = err;
            else thrown ??= { err };
          }
        } else {
          ctx.skip('WRITE', path, `not restored: ${e.message}`, f.ino);
        }
      }
    } finally {
      this.free.push(b.buf);
    }
    if (thrown && !quiet) throw thrown.err;
    if (b.error && !quiet) throw b.error;
    if (stop) {
      this.stopped ??= stop;
      if (!quiet) throw stop;
    }
  }
}

function closeQuietly(fd: number): void {
  try { fs.closeSync(fd); } catch { /* ignore */ }
}
