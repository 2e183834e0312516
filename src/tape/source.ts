/**
 * Tape sources: one dump image (a file, standard input, any byte stream) or a multi-volume set
 * given as several inputs in order, turned into the logical stream of 1,024-byte blocks.
 *
 * What lives here is everything below the block level: reading in large chunks with bounded
 * memory, the per-record compression framing of DR_COMPRESSED dumps (DUMP-FORMAT.md §8), and the
 * checks that the volumes belong together (§2.5). Headers are only looked at to learn the byte
 * order, the blocking factor and the volume identity; parsing the stream is src/read/image-reader.ts.
 */
import { readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';
import { ImageError, SnapdumpError, isErrno } from '../errors.js';
import { isVirtualTapeMagic } from './virtual-tape.js';
import { tapeFileRecords } from './virtual-tape-files.js';
import {
  DR_COMPRESSED, FS_UFS2_MAGIC, MTB_MAGIC, NFS_MAGIC, OFS_MAGIC, RecordType, TP_BSIZE,
} from '../format/constants.js';
import { checksumOk, decodeHeader, detectByteOrder, type ByteOrder, type Header } from '../format/header.js';

/** A path ('-' = standard input) or an already open byte stream. */
export type TapeInput = string | { name: string; stream: AsyncIterable<Uint8Array> };

export interface TapeSourceOptions {
  signal?: AbortSignal;
  /** Bytes per read (default 256 KiB). Any value works; chunk boundaries never matter. */
  readSize?: number;
}

export type CompressionMethod = 'zlib' | 'bzip2' | 'lzo';

/**
 * What {@link TapeSource.next} produces. `block` is the index in the logical stream of the first
 * block concerned (byte offset = block × 1024).
 */
export type SourceEvent =
  /** Whole blocks; the view is only valid until the next call to next(). */
  | { kind: 'blocks'; block: number; data: Uint8Array }
  /** The following blocks are volume `volume` (≥ 2) and start with its TS_TAPE header. */
  | { kind: 'volume'; block: number; volume: number; name: string }
  /** Damage below the block level (compression framing, partial blocks); the reader reports it. */
  | { kind: 'damage'; block: number; message: string; code: 'ERR_CORRUPT' | 'ERR_TRUNCATED' };

/** Small enough to stay in a core's L2 cache between the read and the write of the same bytes. */
const DEFAULT_READ_SIZE = 256 << 10;
/** The read after a range (see takeRange). */
const SHORT_READ = 16 << 10;
/** Linux dump's largest blocking factor (-b 1024). */
const MAX_NTREC = 1024;
/** A compressed record never needs more than its raw size; the slack tolerates odd producers. */
const PREFIX_SLACK = 4096;

/** Bytes of the input file handed over unread (see {@link TapeSource.takeRange}). */
export interface FileRange {
  fd: number;
  /** Byte offset in the file. */
  position: number;
}

interface ByteInput {
  readonly name: string;
  /** Reads up to len bytes; 0 only at end of input. */
  read(buf: Uint8Array, off: number, len: number): Promise<number>;
  /**
   * Skips up to maxBytes bytes, a multiple of `unit`, without reading them, for a caller that
   * copies them from the file itself: where they are and how many. Null when the input is no
   * regular file or less than a unit is left.
   */
  takeRange?(maxBytes: number, unit: number): (FileRange & { bytes: number }) | null;
  close(): Promise<void>;
}

/** How long synchronous reads may keep the event loop from turning (progress, signals, batch writes). */
const SYNC_READ_YIELD_MS = 50;

class FileInput implements ByteInput {
  private lastYield = performance.now();
  /**
   * @param sync read with readSync on the calling thread: only for regular files (a read never
   *   waits for a producer). The data then stays in this core's cache until it is written out;
   *   async reads land it on a pool thread's core, and every byte crosses cores before the write,
   *   which measured 2-3x the kernel time of a single-thread read/write loop (bench/README.md).
   */
  /** Next byte to read (regular files, which are read at explicit positions). */
  private position = 0;
  constructor(readonly name: string, private readonly fh: import('node:fs/promises').FileHandle, private readonly sync: boolean, private readonly size: number) {}
  async read(buf: Uint8Array, off: number, len: number): Promise<number> {
    if (len <= 0) return 0;
    if (this.sync) {
      const now = performance.now();
      if (now - this.lastYield >= SYNC_READ_YIELD_MS) {
        this.lastYield = now;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const n = readSync(this.fh.fd, buf, off, len, this.position);
      this.position += n;
      return n;
    }
    // Sequential reads (position null) so that FIFOs and character devices work too.
    const { bytesRead } = await this.fh.read(buf, off, len, null);
    return bytesRead;
  }
  takeRange(maxBytes: number, unit: number): (FileRange & { bytes: number }) | null {
    // The size when opened: a file still growing is read on as usual past it.
    const left = this.size - this.position;
    const bytes = Math.min(maxBytes, left - (left % unit));
    if (!this.sync || bytes <= 0) return null;
    const position = this.position;
    this.position += bytes;
    return { fd: this.fh.fd, position, bytes };
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

class StreamInput implements ByteInput {
  private readonly it: AsyncIterator<Uint8Array>;
  private cur: Uint8Array | null = null;
  private curOff = 0;
  private done = false;
  constructor(readonly name: string, stream: AsyncIterable<Uint8Array>) {
    this.it = stream[Symbol.asyncIterator]();
  }
  async read(buf: Uint8Array, off: number, len: number): Promise<number> {
    let n = 0;
    while (n < len) {
      if (this.cur === null || this.curOff >= this.cur.length) {
        // Hand back what we have rather than wait for more: the caller loops.
        if (this.done || n > 0) break;
        const r = await this.it.next();
        if (r.done) { this.done = true; break; }
        const v = r.value as Uint8Array | string;
        this.cur = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
        this.curOff = 0;
        continue;
      }
      const take = Math.min(len - n, this.cur.length - this.curOff);
      buf.set(this.cur.subarray(this.curOff, this.curOff + take), off + n);
      this.curOff += take;
      n += take;
    }
    return n;
  }
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }
}

/** Bytes read ahead while opening (to validate the volume) are served again first. */
class PrefixedInput implements ByteInput {
  private off = 0;
  constructor(private readonly inner: ByteInput, private prefix: Uint8Array) {}
  get name(): string { return this.inner.name; }
  async read(buf: Uint8Array, off: number, len: number): Promise<number> {
    if (this.off < this.prefix.length) {
      const take = Math.min(len, this.prefix.length - this.off);
      buf.set(this.prefix.subarray(this.off, this.off + take), off);
      this.off += take;
      if (this.off >= this.prefix.length) this.prefix = new Uint8Array(0);
      return take;
    }
    return this.inner.read(buf, off, len);
  }
  takeRange(maxBytes: number, unit: number): (FileRange & { bytes: number }) | null {
    return this.off < this.prefix.length ? null : this.inner.takeRange?.(maxBytes, unit) ?? null;
  }
  close(): Promise<void> { return this.inner.close(); }
}

async function readFully(input: ByteInput, buf: Uint8Array, off: number, len: number): Promise<number> {
  let n = 0;
  while (n < len) {
    const r = await input.read(buf, off + n, len - n);
    if (r === 0) break;
    n += r;
  }
  return n;
}

function ioError(name: string, e: unknown): SnapdumpError {
  if (e instanceof SnapdumpError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new SnapdumpError('ERR_SOURCE', `cannot read ${name}: ${msg}`, { file: name }, { cause: e });
}

async function openInput(input: TapeInput, stdinUsed: { used: boolean }): Promise<ByteInput> {
  if (typeof input !== 'string') return new StreamInput(input.name, input.stream);
  if (input === '-') {
    if (stdinUsed.used) throw new SnapdumpError('ERR_USAGE', 'standard input (-) can be given only once');
    stdinUsed.used = true;
    return new StreamInput('standard input', process.stdin);
  }
  try {
    const fh = await open(input, 'r');
    // A virtual tape (the NDMP server's tapes) is read as its first tape file, as a drive would.
    const magic = Buffer.alloc(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    if (bytesRead === 4 && isVirtualTapeMagic(magic)) {
      await fh.close();
      return new StreamInput(`${input} (virtual tape, file 0)`, tapeFileRecords(input, 0));
    }
    const st = await fh.stat();
    return new FileInput(input, fh, st.isFile(), st.size);
  } catch (e) {
    if (e instanceof SnapdumpError) throw e;
    const why = isErrno(e, 'ENOENT') ? 'no such file' : isErrno(e, 'EISDIR') ? 'is a directory' : (e as Error).message;
    throw new SnapdumpError('ERR_SOURCE', `cannot open ${input}: ${why}`, { file: input }, { cause: e });
  }
}

/** Which foreign header variant a first block is, for a clearer refusal than "not a dump". */
function foreignVariant(block: Uint8Array): string | null {
  const v = new DataView(block.buffer, block.byteOffset, TP_BSIZE);
  for (const le of [true, false]) {
    const m = v.getUint32(24, le);
    if (m === OFS_MAGIC) return 'an old-format (4.2BSD, OFS_MAGIC) dump';
    if (m === FS_UFS2_MAGIC) return 'a FreeBSD UFS2-format dump (FS_UFS2_MAGIC)';
    if (m === MTB_MAGIC) return 'a Solaris multi-terabyte (MTB_MAGIC) dump';
  }
  return null;
}

function ctimeUtc(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
}

interface VolumeState {
  input: ByteInput;
  volume: number;
  /** Bytes still to read raw before the compressed framing starts (first record of the volume). */
  rawLeft: number;
  finished: boolean;
  announced: boolean;
}

export class TapeSource {
  readonly byteOrder: ByteOrder;
  /** c_ntrec of the first header: the record size of compressed volumes. */
  readonly ntrec: number;
  readonly compressed: boolean;
  /** The first header of the first volume, decoded (its checksum may be bad: see firstHeaderOk). */
  readonly firstHeader: Header;
  readonly firstHeaderOk: boolean;
  readonly volumeCount: number;
  private method: CompressionMethod | null = null;
  private readonly volumes: VolumeState[];
  private vi = 0;
  private block = 0;
  private readonly buf: Uint8Array;
  private leftStart = 0;
  private leftLen = 0;
  private payload: Uint8Array = new Uint8Array(0);
  private zeroRecord: Uint8Array | null = null;
  private readonly queue: SourceEvent[] = [];
  private closed = false;
  /** After a range: what follows is likely a header and more range, so the next read is short. */
  private shortRead = Infinity;

  /** Use {@link openTapeSource}. */
  constructor(init: {
    byteOrder: ByteOrder; ntrec: number; compressed: boolean; firstHeader: Header; firstHeaderOk: boolean;
    inputs: ByteInput[]; readSize: number;
  }, private readonly signal?: AbortSignal) {
    this.byteOrder = init.byteOrder;
    this.ntrec = init.ntrec;
    this.compressed = init.compressed;
    this.firstHeader = init.firstHeader;
    this.firstHeaderOk = init.firstHeaderOk;
    this.volumeCount = init.inputs.length;
    const recBytes = init.compressed ? init.ntrec * TP_BSIZE : 0;
    this.volumes = init.inputs.map((input, i) => ({
      input, volume: i + 1, rawLeft: init.compressed ? recBytes : Infinity, finished: false, announced: i === 0,
    }));
    this.buf = new Uint8Array(Math.max(TP_BSIZE, Math.ceil(init.readSize / TP_BSIZE) * TP_BSIZE) + TP_BSIZE);
  }

  /** The compression of the records seen so far (null: not compressed, or no compressed record yet). */
  get compression(): CompressionMethod | null {
    return this.method;
  }

  /** Logical blocks delivered so far. */
  get blocksRead(): number {
    return this.block;
  }

  async next(): Promise<SourceEvent | null> {
    if (this.signal?.aborted) throw new SnapdumpError('ERR_ABORTED', 'the operation was cancelled');
    for (;;) {
      const queued = this.queue.shift();
      if (queued) return queued;
      const vol = this.volumes[this.vi];
      if (!vol || this.closed) return null;
      if (!vol.announced) {
        vol.announced = true;
        return { kind: 'volume', block: this.block, volume: vol.volume, name: vol.input.name };
      }
      if (!vol.finished) {
        let ev: SourceEvent | null;
        try {
          ev = vol.rawLeft > 0 ? await this.nextRaw(vol) : await this.nextRecord(vol);
        } catch (e) {
          throw ioError(vol.input.name, e);
        }
        if (ev) return ev;
        vol.finished = true;
        continue;
      }
      this.vi++;
      this.leftLen = 0;
    }
  }

  /**
   * Up to `blocks` blocks at the current position handed over as a range of the image file
   * instead of being read: they count as delivered, and the caller copies them from the file
   * itself (a large file restored with sendfile, never passing through user space). Only for an
   * uncompressed image in a regular file, when nothing is buffered or queued; null otherwise, and
   * at the end of the volume's file (then next() goes on as usual).
   */
  takeRange(blocks: number): (FileRange & { blocks: number }) | null {
    const vol = this.volumes[this.vi];
    if (!vol || this.closed || this.compressed || this.queue.length > 0 || this.leftLen > 0 || vol.finished || !vol.announced) return null;
    const r = vol.input.takeRange?.(blocks * TP_BSIZE, TP_BSIZE);
    if (!r) return null;
    const n = r.bytes / TP_BSIZE;
    this.block += n;
    this.shortRead = SHORT_READ;
    return { fd: r.fd, position: r.position, blocks: n };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.volumes.map((v) => v.input.close()));
  }

  private damage(message: string, code: 'ERR_CORRUPT' | 'ERR_TRUNCATED' = 'ERR_CORRUPT'): void {
    this.queue.push({ kind: 'damage', block: this.block, message, code });
  }

  /** Raw blocks: a whole uncompressed volume, or the first record of a compressed one. */
  private async nextRaw(vol: VolumeState): Promise<SourceEvent | null> {
    const buf = this.buf;
    // The previous view has been released by now: keep only the partial block carried over.
    if (this.leftLen > 0 && this.leftStart > 0) buf.copyWithin(0, this.leftStart, this.leftStart + this.leftLen);
    let have = this.leftLen;
    this.leftStart = 0;
    this.leftLen = 0;
    // rawLeft counts undelivered raw bytes (carry included), so a compressed volume's reads stop
    // exactly where its framing starts.
    const limit = Math.min(buf.length, vol.rawLeft, this.shortRead);
    this.shortRead = Infinity;
    let eof = false;
    while (have < TP_BSIZE && have < limit) {
      const n = await vol.input.read(buf, have, limit - have);
      if (n === 0) { eof = true; break; }
      have += n;
    }
    const whole = Math.floor(have / TP_BSIZE) * TP_BSIZE;
    if (eof) vol.finished = true;
    if (whole === 0) {
      if (have > 0) this.damage(`${vol.input.name}: ends with ${have} bytes that do not make a whole block`, 'ERR_TRUNCATED');
      vol.finished = true;
      return null;
    }
    vol.rawLeft -= whole;
    const ev: SourceEvent = { kind: 'blocks', block: this.block, data: buf.subarray(0, whole) };
    this.block += whole / TP_BSIZE;
    if (eof && have > whole) {
      this.damage(`${vol.input.name}: ends with ${have - whole} bytes that do not make a whole block`, 'ERR_TRUNCATED');
    } else {
      this.leftStart = whole;
      this.leftLen = have - whole;
    }
    return ev;
  }

  /** One prefixed record of a compressed volume (§8), decompressed to ntrec blocks. */
  private async nextRecord(vol: VolumeState): Promise<SourceEvent | null> {
    const recBytes = this.ntrec * TP_BSIZE;
    const head = new Uint8Array(4);
    const got = await readFully(vol.input, head, 0, 4);
    if (got === 0) return null;
    if (got < 4) {
      this.damage(`${vol.input.name}: compressed record header cut short`, 'ERR_TRUNCATED');
      return this.queue.shift() ?? null;
    }
    const word = new DataView(head.buffer).getUint32(0, this.byteOrder === 'le');
    // Bit fields are allocated from the low bit on little-endian producers, from the high bit on big-endian ones.
    const isCompressed = this.byteOrder === 'le' ? (word & 1) === 1 : word >>> 31 === 1;
    const methodCode = this.byteOrder === 'le' ? (word >>> 1) & 7 : (word >>> 28) & 7;
    const length = this.byteOrder === 'le' ? word >>> 4 : word & 0x0fffffff;
    if (length === 0 || length > recBytes + PREFIX_SLACK) {
      // Framing is lost: without a trustworthy length there is no way to find the next record.
      this.damage(`${vol.input.name}: compressed record with impossible length ${length}; rest of the volume skipped`);
      vol.finished = true;
      return this.queue.shift() ?? null;
    }
    if (this.payload.length < length) this.payload = new Uint8Array(Math.max(length, recBytes + PREFIX_SLACK));
    const n = await readFully(vol.input, this.payload, 0, length);
    if (n < length) {
      this.damage(`${vol.input.name}: compressed record cut short (${n} of ${length} bytes)`, 'ERR_TRUNCATED');
      vol.finished = true;
      return this.queue.shift() ?? null;
    }
    const payload = this.payload.subarray(0, length);
    let out: Uint8Array | null = null;
    if (!isCompressed) {
      out = payload;
    } else {
      const method: CompressionMethod | null = methodCode === 0 ? 'zlib' : methodCode === 1 ? 'bzip2' : methodCode === 2 ? 'lzo' : null;
      if (method === 'lzo') throw lzoError(vol.input.name);
      if (method === null) {
        this.damage(`${vol.input.name}: record compressed with unknown method ${methodCode}`);
      } else {
        this.method ??= method;
        try {
          out = method === 'zlib' ? inflateSync(payload, { maxOutputLength: recBytes }) : bunzip2(payload, recBytes);
        } catch (e) {
          this.damage(`${vol.input.name}: ${method} record does not decompress (${(e as Error).message})`);
        }
      }
    }
    if (out === null) {
      out = this.zeroRecord ??= new Uint8Array(recBytes);
    } else if (out.length !== recBytes) {
      this.damage(`${vol.input.name}: record holds ${out.length} bytes instead of ${recBytes}`);
      const fixed = new Uint8Array(recBytes);
      fixed.set(out.subarray(0, recBytes));
      out = fixed;
    }
    const ev: SourceEvent = { kind: 'blocks', block: this.block, data: out };
    this.block += this.ntrec;
    if (this.queue.length > 0) {
      this.queue.push(ev);
      return this.queue.shift()!;
    }
    return ev;
  }
}

function lzoError(name: string): ImageError {
  return new ImageError('ERR_UNSUPPORTED', `${name}: LZO-compressed dumps (dump -y) are not supported; decompress with Linux restore`, 0, { compression: 'lzo' });
}

interface SeekBzip {
  decode(input: unknown, output: unknown, multistream?: boolean): unknown;
}
let seekBzip: SeekBzip | null = null;

/** bzip2 with the output bounded to `size` bytes so that a hostile record cannot balloon. */
function bunzip2(payload: Uint8Array, size: number): Uint8Array {
  seekBzip ??= createRequire(import.meta.url)('seek-bzip') as SeekBzip;
  const out = new Uint8Array(size);
  let pos = 0;
  const input = {
    pos: 0,
    readByte(): number {
      if (this.pos >= payload.length) throw new RangeError('bzip2 data ends early');
      return payload[this.pos++]!;
    },
    read(b: Uint8Array, off: number, len: number): number {
      let i = 0;
      for (; i < len && this.pos < payload.length; i++) b[off + i] = payload[this.pos++]!;
      return i === 0 ? -1 : i;
    },
    seek(p: number): void { this.pos = p; },
    eof(): boolean { return this.pos >= payload.length; },
  };
  const output = {
    writeByte(b: number): void {
      if (pos >= size) throw new RangeError('record larger than the blocking factor');
      out[pos++] = b;
    },
  };
  seekBzip.decode(input, output, false);
  return pos === size ? out : out.subarray(0, pos);
}

/**
 * Opens the inputs as one dump: the first must start with volume 1's header, each further input
 * with the next volume's TS_TAPE of the same dump. Throws ImageError ERR_NOT_DUMP when the first
 * input is no dump at all, ERR_UNSUPPORTED for variants this reader does not handle, ERR_CORRUPT
 * for a wrong, foreign or out-of-order volume.
 */
export async function openTapeSource(inputs: readonly TapeInput[], opts: TapeSourceOptions = {}): Promise<TapeSource> {
  if (inputs.length === 0) throw new SnapdumpError('ERR_USAGE', 'no input image given');
  const stdin = { used: false };
  const opened: ByteInput[] = [];
  try {
    for (const input of inputs) opened.push(await openInput(input, stdin));
    const first = opened[0]!;
    const head = new Uint8Array(TP_BSIZE);
    const got = await readFully(first, head, 0, TP_BSIZE).catch((e) => { throw ioError(first.name, e); });
    if (got < TP_BSIZE) {
      throw new ImageError('ERR_NOT_DUMP', `${first.name}: not a dump image (${got === 0 ? 'empty' : `only ${got} bytes`})`, 0);
    }
    const order = detectByteOrder(head, 0);
    if (order === null) {
      const variant = foreignVariant(head);
      if (variant) throw new ImageError('ERR_UNSUPPORTED', `${first.name}: ${variant}; this reader handles NFS_MAGIC (new-format) dumps only`, 0);
      throw new ImageError('ERR_NOT_DUMP', `${first.name}: not a dump image (no dump header at its start)`, 0);
    }
    const ok = checksumOk(head, 0, order);
    const h = decodeHeader(head, 0, order);
    h.addr = h.addr.slice();
    if (ok && h.type === RecordType.TAPE && h.volume !== 1) {
      throw new ImageError('ERR_CORRUPT', `${first.name} is volume ${h.volume} of a dump; give volume 1 first`, 0, { volume: h.volume });
    }
    const compressed = h.type === RecordType.TAPE && (h.flags & DR_COMPRESSED) !== 0;
    if (compressed && (h.ntrec < 1 || h.ntrec > MAX_NTREC)) {
      throw new ImageError('ERR_CORRUPT', `${first.name}: compressed dump with impossible blocking factor ${h.ntrec}`, 0, { ntrec: h.ntrec });
    }
    let prefix: Uint8Array = head;
    if (compressed) {
      // Look at the first prefixed record now, so an LZO dump is refused before any output.
      const ahead = new Uint8Array(h.ntrec * TP_BSIZE + 4);
      ahead.set(head);
      const n = TP_BSIZE + await readFully(first, ahead, TP_BSIZE, ahead.length - TP_BSIZE);
      prefix = ahead.subarray(0, n);
      if (n === ahead.length) {
        const word = new DataView(ahead.buffer, ahead.length - 4, 4).getUint32(0, order === 'le');
        const isC = order === 'le' ? (word & 1) === 1 : word >>> 31 === 1;
        const code = order === 'le' ? (word >>> 1) & 7 : (word >>> 28) & 7;
        if (isC && code === 2) throw lzoError(first.name);
      }
    }
    opened[0] = new PrefixedInput(first, prefix);
    for (let i = 1; i < opened.length; i++) {
      opened[i] = await checkVolume(opened[i]!, i + 1, order, ok ? h : null);
    }
    return new TapeSource({
      byteOrder: order, ntrec: h.ntrec, compressed, firstHeader: h, firstHeaderOk: ok,
      inputs: opened, readSize: opts.readSize ?? DEFAULT_READ_SIZE,
    }, opts.signal);
  } catch (e) {
    await Promise.allSettled(opened.map((o) => o.close()));
    throw e;
  }
}

async function checkVolume(input: ByteInput, volume: number, order: ByteOrder, first: Header | null): Promise<ByteInput> {
  const head = new Uint8Array(TP_BSIZE);
  const got = await readFully(input, head, 0, TP_BSIZE).catch((e) => { throw ioError(input.name, e); });
  const fail = (why: string, details: Record<string, unknown> = {}): never => {
    throw new ImageError('ERR_CORRUPT', `${input.name}: ${why}`, 0, { file: input.name, expectedVolume: volume, ...details });
  };
  if (got < TP_BSIZE) fail(`expected volume ${volume} of the dump, but the file is ${got === 0 ? 'empty' : 'too short'}`);
  const v = new DataView(head.buffer);
  if (v.getInt32(24, order === 'le') !== NFS_MAGIC || !checksumOk(head, 0, order)) {
    fail(`expected volume ${volume} of the dump, but it does not start with a valid dump header`);
  }
  const h = decodeHeader(head, 0, order);
  if (h.type !== RecordType.TAPE) fail(`expected volume ${volume} of the dump, but it does not start with a volume header`);
  if (first && (h.date !== first.date || h.ddate !== first.ddate)) {
    fail(`belongs to another dump (dated ${ctimeUtc(h.date)}), not to the dump of ${ctimeUtc(first.date)}`, { date: h.date });
  }
  if (h.volume !== volume) {
    const hint = h.volume > volume ? ` (volume ${volume} is missing)` : '';
    fail(`is volume ${h.volume}, expected volume ${volume}${hint}`, { volume: h.volume });
  }
  return new PrefixedInput(input, head);
}
