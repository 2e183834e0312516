/**
 * Parses the logical block stream of a dump into headers and objects, the way Linux restore walks
 * a tape (DUMP-FORMAT.md §1.5, §2): an async iterator of items, each object's data offered as a
 * stream of zero-copy views that the consumer may read or leave (the reader then skips it).
 *
 * Damage never stops the walk: a block that should be a header but is not (bad checksum, garbage)
 * starts a resynchronisation that scans for the next valid header of the same dump, as restore's
 * findinode() does, and the skipped stretch is reported as one `damage` item. Running out of input
 * before TS_END is a `damage` item with code ERR_TRUNCATED, never an exception.
 */
import { ImageError, SnapdumpError } from '../errors.js';
import { InodeMap } from '../format/bitmap.js';
import {
  CHECKSUM, DR_EXTATTRIBUTES, DR_NEWINODEFMT, NFS_MAGIC, RecordType, S_IFDIR, S_IFMT, TP_BSIZE, TP_NINDIR,
} from '../format/constants.js';
import { decodeHeader, type ByteOrder, type Header } from '../format/header.js';
import type { FileRange, TapeSource } from '../tape/source.js';

export type DamageCode = 'ERR_CORRUPT' | 'ERR_TRUNCATED';

export interface DamageItem {
  kind: 'damage';
  /** Byte offset in the logical stream (all volumes, headers and data counted; block × 1024). */
  offset: number;
  message: string;
  code: DamageCode;
}

export interface LabelItem {
  kind: 'label';
  offset: number;
  /** The TS_TAPE of volume 1, or the first valid header when that one is damaged (recovered). */
  header: Header;
  recovered: boolean;
  byteOrder: ByteOrder;
  compressed: boolean;
  /** Headers lack DR_NEWINODEFMT: uid/gid were taken from the 16-bit fields, names use the old layout. */
  oldInodeFormat: boolean;
}

export interface MapItem {
  kind: 'clri' | 'bits';
  offset: number;
  header: Header;
  map: InodeMap;
  /** restore's limit: every inode number of the dump is below it (from the map's size, §2.2). */
  maxino: number;
}

export interface VolumeItem {
  kind: 'volume';
  offset: number;
  header: Header;
  volume: number;
  name: string;
}

export interface EndItem {
  kind: 'end';
  offset: number;
  header: Header;
}

/** A piece of an object's contents: bytes at a file offset, or a hole. */
export type DataPiece =
  | { offset: number; data: Uint8Array; hole?: undefined; range?: undefined }
  | { offset: number; hole: number; data?: undefined; range?: undefined };

/** `length` bytes of the object at `offset` that are in the image file at range.position, unread. */
export interface RangePiece {
  offset: number;
  range: FileRange & { length: number };
  data?: undefined;
  hole?: undefined;
}

/** Data runs at least this long may come as {@link RangePiece}s. */
const RANGE_MIN_BLOCKS = 64;

export type ReadItem = LabelItem | MapItem | VolumeItem | EndItem | DamageItem | ObjectItem;

/** Every inode number is below 2^32, so no map is ever larger than this many blocks. */
const MAX_MAP_BLOCKS = 2 ** 32 / 8 / TP_BSIZE;
const EMPTY = new Uint8Array(0);

/**
 * A header as read: a private copy of its bytes (the source reuses its buffers), the few fields
 * the walk needs, and the full decode made only when an item needs it. Continuation headers,
 * one per KiB of directory and per 512 KiB of file, are never fully decoded.
 */
interface Hdr {
  offset: number;
  raw: Buffer;
  type: number;
  ino: number;
  count: number;
  /** restore's quad swap was in force when this header was read. */
  swapSize: boolean;
  full: Header | null;
}

const O_ADDR = 164;
const NATIVE_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Present entries of a c_addr map (bytes at base..base+512 of raw) in [from, to). */
function countPresent(raw: Uint8Array, from: number, to: number, all: boolean): number {
  if (all) return Math.max(0, to - from);
  let n = 0;
  for (let i = O_ADDR + from, e = O_ADDR + to; i < e; i++) if (raw[i] !== 0) n++;
  return n;
}

/**
 * End of the run of c_addr entries from i that are all present or all holes, capped where the
 * object's `remaining` bytes end (restore's getfile() walks them so).
 */
function runEnd(raw: Uint8Array, i: number, n: number, all: boolean, remaining: number): number {
  const present = all || raw[O_ADDR + i] !== 0;
  let j = i + 1;
  while (j < n && (all || raw[O_ADDR + j] !== 0) === present && (j - i) * TP_BSIZE < remaining) j++;
  return j;
}

function entries(count: number): number {
  return Math.min(Math.max(0, count), TP_NINDIR);
}

/**
 * A file, directory, device... (kind 'inode') or an extension record such as an EA blob
 * (kind 'xattr', DR_EXTATTRIBUTES). Its data may be read once, through {@link data} or
 * {@link readAll}, before the reader is advanced; whatever is left is skipped.
 */
export class ObjectItem {
  readonly kind: 'inode' | 'xattr';
  readonly ino: number;
  /** di_size: the byte count of the contents (holes included). */
  readonly size: number;
  /** False once it is known that data or continuation headers were missing. */
  complete = true;
  /** TS_INODE plus the TS_ADDR headers read so far. */
  headers = 1;
  /** @internal set when the rest is skipped without producing views */
  skipping = false;
  private gen: AsyncGenerator<DataPiece | RangePiece, void, void> | null = null;
  private done = false;

  /** @internal built by {@link ImageReader} */
  constructor(private readonly reader: ImageReader, readonly header: Header, readonly offset: number, /** @internal */ readonly first: Hdr) {
    this.kind = header.flags & DR_EXTATTRIBUTES ? 'xattr' : 'inode';
    this.ino = header.inumber;
    this.size = header.inode.size;
  }

  /**
   * The contents in order, holes included. Each view is only valid until the next piece is
   * requested: copy what must be kept. Breaking out of the loop early is fine.
   */
  data(): AsyncIterableIterator<DataPiece>;
  /**
   * With ranges: long runs of data in an uncompressed image file may come as file ranges, left
   * unread, for the consumer to copy from the file itself before asking for the next piece.
   */
  data(opts: { ranges: true }): AsyncIterableIterator<DataPiece | RangePiece>;
  data(opts?: { ranges: true }): AsyncIterableIterator<DataPiece | RangePiece> {
    this.claim();
    const gen = this.gen = this.reader.pieces(this, opts?.ranges ?? false);
    // Not the generator itself: a consumer that stops early (break, throw) must leave it
    // suspended, so that skip() can still walk over the rest of the object's blocks.
    const it: AsyncIterableIterator<DataPiece | RangePiece> = {
      next: () => gen.next(),
      return: () => Promise.resolve({ done: true, value: undefined }),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * The contents at once, without waiting, when they lie whole in the block chunk at hand
   * (a small file, the common case): the pieces, valid until the reader is advanced, and the
   * object is then read. Null when they do not (use {@link data}); nothing is consumed then.
   * One async generator step per piece measured as the largest per-file cost of restoring
   * small files.
   */
  dataNow(): DataPiece[] | null {
    this.claim();
    const pieces = this.reader.piecesInChunk(this);
    if (pieces !== null) this.done = true;
    return pieces;
  }

  private claim(): void {
    if (this.gen !== null || this.done) throw new SnapdumpError('ERR_INTERNAL', 'object data can be read only once');
    if (this.reader.currentObject !== this) throw new SnapdumpError('ERR_INTERNAL', 'object data requested after the reader moved on');
  }

  /**
   * All contents in one buffer, holes as zeros (or left out with dropHoles, as restore reads
   * directories). Stops collecting past maxBytes and marks the object incomplete.
   */
  async readAll(opts: { dropHoles?: boolean; maxBytes?: number } = {}): Promise<Buffer> {
    const max = opts.maxBytes ?? 256 * 1024 * 1024;
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const p of this.dataNow() ?? this.data()) {
      const len = p.data ? p.data.length : opts.dropHoles ? 0 : p.hole;
      if (total + len > max) { this.complete = false; break; }
      if (p.data) parts.push(Buffer.from(p.data));
      else if (len > 0) parts.push(Buffer.alloc(len));
      total += len;
    }
    await this.skip();
    return Buffer.concat(parts, total);
  }

  /** Skips whatever data has not been read. The reader calls this itself when advanced. */
  async skip(): Promise<void> {
    if (this.done || this.reader.currentObject !== this) return;
    this.done = true;
    this.skipping = true;
    if (this.gen === null) {
      await this.reader.skipObject(this);
    } else {
      while (!(await this.gen.next()).done) { /* skipping yields nothing */ }
    }
  }
}

/**
 * Iterate once: `for await (const item of new ImageReader(source))`. Items come in tape order;
 * the consumer must finish with an object's data before asking for the next item (the reader
 * skips the rest of it at that point).
 */
export class ImageReader implements AsyncIterable<ReadItem> {
  readonly byteOrder: ByteOrder;
  private readonly le: boolean;
  private chunk: Uint8Array = EMPTY;
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** The chunk as native 32-bit words when the dump's byte order is the host's: fast checksums. */
  private words: Int32Array | null = null;
  private pos = 0;
  private end = 0;
  private chunkBlock = 0;
  private eof = false;
  private volumeMark: { volume: number; name: string } | null = null;
  private readonly queue: ReadItem[] = [];
  private pending: Hdr | null = null;
  private dumpdate: number | null = null;
  private oldFormat = false;
  private quadSwap = false;
  private started = false;
  private lastVolume = 1;
  /** Blocks skipped to resynchronise before the header readHeader() returned last. */
  private resyncSkipped = 0;
  /** @internal */
  currentObject: ObjectItem | null = null;

  constructor(private readonly source: TapeSource) {
    this.byteOrder = source.byteOrder;
    this.le = source.byteOrder === 'le';
  }

  /** Byte offset in the logical stream of the next block to be read. */
  get offset(): number {
    return this.chunkBlock * TP_BSIZE + this.pos;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ReadItem, void, void> {
    if (this.started) throw new SnapdumpError('ERR_INTERNAL', 'an ImageReader can be iterated only once');
    this.started = true;
    try {
      yield await this.label();
      for (;;) {
        while (this.queue.length > 0) yield this.queue.shift()!;
        const hd = this.pending ?? await this.readHeader();
        this.pending = null;
        while (this.queue.length > 0) yield this.queue.shift()!;
        if (hd === null) {
          yield this.truncated();
          return;
        }
        const offset = hd.offset;
        switch (hd.type) {
          case RecordType.CLRI:
          case RecordType.BITS: {
            const item = await this.readMap(hd);
            if (item) yield item;
            break;
          }
          case RecordType.INODE: {
            if (hd.count > TP_NINDIR) {
              this.queue.push(this.damage(offset, `header of inode ${hd.ino} at byte ${offset} claims ${hd.count} blocks (at most ${TP_NINDIR})`));
            }
            const obj = new ObjectItem(this, this.full(hd), offset, hd);
            this.currentObject = obj;
            while (this.queue.length > 0) yield this.queue.shift()!;
            yield obj;
            await obj.skip();
            this.currentObject = null;
            break;
          }
          case RecordType.ADDR:
            // Continuation of nothing (its object's header was lost, or trailing extra headers):
            // restore's findinode() skips these silently.
            await this.skipBlocks(countPresent(hd.raw, 0, entries(hd.count), false));
            break;
          case RecordType.END:
            while (this.queue.length > 0) yield this.queue.shift()!;
            yield { kind: 'end', offset, header: this.full(hd) };
            return;
          case RecordType.TAPE:
            this.queue.push(this.damage(offset, `unexpected volume header (TS_TAPE) at byte ${offset} inside a volume`));
            break;
          default:
            this.queue.push(this.damage(offset, `header of unknown type ${hd.type} at byte ${offset} ignored`));
        }
      }
    } finally {
      this.currentObject = null;
    }
  }

  private damage(offset: number, message: string, code: DamageCode = 'ERR_CORRUPT'): DamageItem {
    return { kind: 'damage', offset, message, code };
  }

  private truncated(): DamageItem {
    const at = this.offset;
    return this.damage(at, `the image ends at byte ${at} before its end marker (TS_END): truncated, or further volumes are missing`, 'ERR_TRUNCATED');
  }

  // ---------------------------------------------------------------- block cursor

  /** Refills the cursor. False at the end of input; afterwards check volumeMark. */
  private async fill(): Promise<boolean> {
    while (this.pos >= this.end) {
      if (this.eof) return false;
      const ev = await this.source.next();
      if (ev === null) { this.eof = true; return false; }
      if (ev.kind === 'blocks') {
        const d = ev.data;
        this.chunk = d;
        this.view = new DataView(d.buffer, d.byteOffset, d.byteLength);
        this.words = this.le === NATIVE_LE && d.byteOffset % 4 === 0 ? new Int32Array(d.buffer, d.byteOffset, d.byteLength >> 2) : null;
        this.pos = 0;
        this.end = d.length;
        this.chunkBlock = ev.block;
      } else if (ev.kind === 'volume') {
        this.volumeMark = { volume: ev.volume, name: ev.name };
      } else {
        this.queue.push(this.damage(ev.block * TP_BSIZE, ev.message, ev.code));
      }
    }
    return true;
  }

  private sumOk(off: number): boolean {
    let sum = 0;
    const w = this.words;
    if (w !== null) {
      for (let i = off >> 2, e = i + 256; i < e; i++) sum = (sum + w[i]!) | 0;
    } else {
      const v = this.view;
      const le = this.le;
      for (let i = 0; i < TP_BSIZE; i += 4) sum = (sum + v.getUint32(off + i, le)) | 0;
    }
    return sum === CHECKSUM;
  }

  private isHeaderAt(off: number): boolean {
    return this.view.getInt32(off + 24, this.le) === NFS_MAGIC && this.sumOk(off);
  }

  /** Takes the (valid) header at the cursor. */
  private take(): Hdr {
    const off = this.pos;
    const v = this.view;
    const le = this.le;
    const offset = this.offset;
    const raw = Buffer.allocUnsafe(TP_BSIZE);
    raw.set(this.chunk.subarray(off, off + TP_BSIZE));
    this.pos += TP_BSIZE;
    // restore's "quad swap" for old Sun tapes: once a directory shows an impossible size, the two
    // halves of every di_size are swapped from then on (§1.6).
    if (!this.quadSwap && (v.getUint16(off + 32, le) & S_IFMT) === S_IFDIR) {
      const hi = v.getUint32(off + 40 + (le ? 4 : 0), le);
      const lo = v.getUint32(off + 40 + (le ? 0 : 4), le);
      if (hi !== 0 || lo > 0x0fffffff) this.quadSwap = true;
    }
    return {
      offset, raw, type: v.getInt32(off, le), ino: v.getUint32(off + 20, le), count: v.getInt32(off + 160, le),
      swapSize: this.quadSwap, full: null,
    };
  }

  /** The decoded header, normalised the way restore's gethead() does. */
  private full(hd: Hdr): Header {
    if (hd.full) return hd.full;
    const h = decodeHeader(hd.raw, 0, this.byteOrder);
    if (this.oldFormat) {
      h.inode.uid = h.inode.ouid;
      h.inode.gid = h.inode.ogid;
    }
    if (hd.swapSize) {
      const lo = h.inode.size % 2 ** 32;
      const hi = Math.floor(h.inode.size / 2 ** 32);
      h.inode.size = lo * 2 ** 32 + hi;
    }
    hd.full = h;
    return h;
  }

  /**
   * Up to `max` data blocks available at the cursor (they stay unconsumed), 0 at the end of input,
   * -1 when a volume change did not continue as expected (reported; the object is cut).
   * `owed` is how many blocks the current header still expects, checked against the new
   * volume's TS_TAPE c_count.
   */
  private async dataRun(max: number, owed: () => number): Promise<number> {
    for (;;) {
      if (this.pos < this.end && this.volumeMark === null) return Math.min(max, (this.end - this.pos) / TP_BSIZE);
      if (this.pos >= this.end && !(await this.fill())) return 0;
      if (this.volumeMark !== null) {
        const expected = owed();
        const count = this.volumeHeader();
        if (count !== expected) {
          this.queue.push(this.damage(this.offset - TP_BSIZE, `volume ${this.lastVolume} continues with ${count} data blocks where ${expected} were expected`));
          await this.skipBlocks(count);
          return -1;
        }
      }
    }
  }

  /** Consumes the TS_TAPE that starts a new volume; returns its c_count (blocks continuing the object in progress). */
  private volumeHeader(): number {
    const mark = this.volumeMark!;
    this.volumeMark = null;
    this.lastVolume = mark.volume;
    if (!this.isHeaderAt(this.pos)) {
      // openTapeSource() checked this header; only a damaged compressed record gets here.
      this.queue.push(this.damage(this.offset, `volume ${mark.volume} (${mark.name}) starts with a damaged header`));
      this.pos += TP_BSIZE;
      return 0;
    }
    const hd = this.take();
    this.queue.push({ kind: 'volume', offset: hd.offset, header: this.full(hd), volume: mark.volume, name: mark.name });
    return Math.max(0, hd.count);
  }

  /**
   * Up to `max` data blocks taken as a range of the image file instead of read (see
   * TapeSource.takeRange): only at a chunk boundary, for runs long enough to be worth it; the
   * cursor moves past them. Null when they must be read.
   */
  private takeRange(max: number): (FileRange & { blocks: number }) | null {
    if (this.pos < this.end || this.volumeMark !== null || max < RANGE_MIN_BLOCKS) return null;
    const r = this.source.takeRange(max);
    if (r) this.chunkBlock += r.blocks;
    return r;
  }

  /** Skips n data blocks (volume changes included). False when the input ended or a volume cut them. */
  private async skipBlocks(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      // An image file: seek over them rather than read them (a listing of large files reads
      // little more than the headers).
      const r = this.takeRange(left);
      if (r) {
        left -= r.blocks;
        continue;
      }
      const got = await this.dataRun(left, () => left);
      if (got <= 0) return false;
      this.pos += got * TP_BSIZE;
      left -= got;
    }
    return true;
  }

  /** Copies n data blocks (for maps). Returns the blocks obtained. */
  private async copyBlocks(n: number, parts: Uint8Array[]): Promise<number> {
    let left = n;
    while (left > 0) {
      const got = await this.dataRun(left, () => left);
      if (got <= 0) break;
      parts.push(this.chunk.slice(this.pos, this.pos + got * TP_BSIZE));
      this.pos += got * TP_BSIZE;
      left -= got;
    }
    return n - left;
  }

  /**
   * The next header, resynchronising over anything that is not one (reported as one damage item).
   * During resynchronisation only headers of this dump (same c_date) are accepted, as restore
   * does, so that dump images stored inside the dump cannot derail it. Null at the end of input.
   */
  private async readHeader(): Promise<Hdr | null> {
    let badAt = -1;
    let skipped = 0;
    let reason = '';
    this.resyncSkipped = 0;
    for (;;) {
      if (this.pos >= this.end || this.volumeMark !== null) {
        if (this.pos >= this.end && !(await this.fill())) {
          if (badAt >= 0) {
            this.queue.push(this.damage(badAt, `bad header at byte ${badAt} (${reason}); no valid header follows (${skipped} blocks skipped)`));
          }
          return null;
        }
        if (this.volumeMark !== null) {
          const count = this.volumeHeader();
          if (count > 0) {
            if (badAt < 0) this.queue.push(this.damage(this.offset - TP_BSIZE, `volume ${this.lastVolume} continues with ${count} data blocks where a header was expected`));
            await this.skipBlocks(count);
            skipped += count;
          }
          continue;
        }
      }
      // Scan the chunk synchronously: resynchronising over a long stretch must stay cheap.
      while (this.pos < this.end) {
        const off = this.pos;
        const magic = this.view.getInt32(off + 24, this.le) === NFS_MAGIC;
        if (magic && this.sumOk(off)) {
          const date = this.view.getInt32(off + 4, this.le);
          if (badAt < 0 || this.dumpdate === null || date === this.dumpdate) {
            const hd = this.take();
            if (badAt >= 0) {
              this.queue.push(this.damage(badAt, `bad header at byte ${badAt} (${reason}); resynchronised at byte ${hd.offset} after skipping ${skipped} blocks`));
              this.resyncSkipped = skipped;
            }
            return hd;
          }
        }
        if (badAt < 0) {
          badAt = this.offset;
          reason = magic ? 'checksum mismatch' : 'not a header';
        }
        this.pos += TP_BSIZE;
        skipped++;
      }
    }
  }

  private isContinuation(nx: Hdr | null, obj: ObjectItem): nx is Hdr {
    return nx !== null && nx.type === RecordType.ADDR && nx.ino === obj.ino;
  }

  private missingContinuation(obj: ObjectItem, nx: Hdr | null, remaining: number): void {
    this.pending = nx;
    obj.complete = false;
    if (nx !== null) this.queue.push(this.damage(nx.offset, `inode ${obj.ino}: continuation header missing at byte ${nx.offset}; its last ${remaining} bytes are lost`));
  }

  /** After a damaged continuation header: the blocks skipped (less that header) count as lost. */
  private lostToResync(obj: ObjectItem, remaining: number): number {
    if (this.resyncSkipped === 0) return 0;
    obj.complete = false;
    return Math.min((this.resyncSkipped - 1) * TP_BSIZE, remaining);
  }

  // ---------------------------------------------------------------- items

  private async label(): Promise<LabelItem> {
    if (!(await this.fill())) throw new ImageError('ERR_NOT_DUMP', 'not a dump image (empty)', 0);
    let hd: Hdr | null;
    let recovered = false;
    if (this.isHeaderAt(this.pos)) {
      hd = this.take();
    } else {
      // The magic is right (openTapeSource checked) but the checksum is not: every header repeats
      // the dump's identity, so take it from the first valid one.
      this.queue.push(this.damage(0, 'bad checksum in the volume header at byte 0; dump identity taken from the next valid header'));
      this.pos += TP_BSIZE;
      hd = await this.readHeader();
      if (hd === null) throw new ImageError('ERR_NOT_DUMP', 'not a dump image (no valid header)', 0);
      recovered = true;
    }
    const flags = hd.raw.readInt32LE(888);
    this.oldFormat = ((this.le ? flags : hd.raw.readInt32BE(888)) & DR_NEWINODEFMT) === 0;
    const h = this.full(hd);
    if (h.type !== RecordType.TAPE) {
      if (!recovered) this.queue.push(this.damage(0, `the image starts with a ${h.type === RecordType.CLRI ? 'TS_CLRI' : `type ${h.type}`} header instead of a volume header (TS_TAPE)`));
      this.pending = hd;
    }
    this.dumpdate = h.date;
    return {
      kind: 'label', offset: hd.offset, header: h, recovered, byteOrder: this.byteOrder,
      compressed: this.source.compressed, oldInodeFormat: this.oldFormat,
    };
  }

  /** TS_CLRI / TS_BITS: c_count map blocks (all present, whatever c_addr says), maybe continued by TS_ADDR. */
  private async readMap(hd: Hdr): Promise<MapItem | null> {
    const { offset, count } = hd;
    if (count < 0 || count > MAX_MAP_BLOCKS) {
      this.queue.push(this.damage(offset, `inode map at byte ${offset} claims ${count} blocks; ignored`));
      return null;
    }
    const parts: Uint8Array[] = [];
    let maxino = count * TP_BSIZE * 8 + 1;
    await this.copyBlocks(count, parts);
    // Restore accepts a map continued by TS_ADDR headers (present blocks per c_addr, absent = zeros).
    for (;;) {
      const nx = await this.readHeader();
      if (nx === null || nx.type !== RecordType.ADDR) { this.pending = nx; break; }
      const n = entries(nx.count);
      if (hd.type === RecordType.CLRI) maxino += nx.count * TP_BSIZE * 8 + 1;
      for (let i = 0; i < n; i++) {
        if (nx.raw[O_ADDR + i] !== 0) {
          if ((await this.copyBlocks(1, parts)) === 0) break;
        } else {
          parts.push(new Uint8Array(TP_BSIZE));
        }
      }
    }
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return { kind: hd.type === RecordType.CLRI ? 'clri' : 'bits', offset, header: this.full(hd), map: InodeMap.fromBytes(bytes), maxino };
  }

  /**
   * @internal The data of the current object, following restore's getfile(): walk c_addr, a present
   * entry is one block, an absent one a 1 KiB hole; once di_size is used up the remaining present
   * blocks of that header are read and dropped; if size remains, the next header must be a TS_ADDR
   * of the same inode.
   */
  async *pieces(obj: ObjectItem, ranges = false): AsyncGenerator<DataPiece | RangePiece, void, void> {
    let hd = obj.first;
    let remaining = obj.size;
    let fileOff = 0;
    // Extension records are read whole regardless of c_addr (restore's readmapflag), first header only.
    let all = obj.kind === 'xattr';
    for (;;) {
      const n = entries(hd.count);
      const raw = hd.raw;
      let i = 0;
      const owed = (): number => countPresent(raw, i, n, all);
      while (i < n && remaining > 0) {
        const present = all || raw[O_ADDR + i] !== 0;
        const j = runEnd(raw, i, n, all, remaining);
        if (!present) {
          const len = Math.min((j - i) * TP_BSIZE, remaining);
          if (!obj.skipping) yield { offset: fileOff, hole: len };
          fileOff += (j - i) * TP_BSIZE;
          remaining -= (j - i) * TP_BSIZE;
          i = j;
          continue;
        }
        while (i < j) {
          const r = ranges ? this.takeRange(j - i) : null;
          if (r) {
            const bytes = r.blocks * TP_BSIZE;
            if (!obj.skipping) yield { offset: fileOff, range: { fd: r.fd, position: r.position, length: Math.min(bytes, remaining) } };
            fileOff += bytes;
            remaining -= bytes;
            i += r.blocks;
            continue;
          }
          const got = await this.dataRun(j - i, owed);
          if (got <= 0) { obj.complete = false; return; }
          const bytes = got * TP_BSIZE;
          if (!obj.skipping) {
            const data = this.chunk.subarray(this.pos, this.pos + Math.min(bytes, remaining));
            this.pos += bytes;
            yield { offset: fileOff, data };
          } else {
            this.pos += bytes;
          }
          fileOff += bytes;
          remaining -= bytes;
          i += got;
        }
      }
      const extra = countPresent(raw, i, n, all);
      if (extra > 0 && !(await this.skipBlocks(extra))) { obj.complete = false; return; }
      if (remaining <= 0) return;
      const nx = await this.readHeader();
      if (!this.isContinuation(nx, obj)) { this.missingContinuation(obj, nx, remaining); return; }
      // Like restore's getfile(), go on with the object after a damaged continuation header.
      const lost = this.lostToResync(obj, remaining);
      if (lost > 0 && !obj.skipping) yield { offset: fileOff, hole: lost };
      fileOff += lost;
      remaining -= lost;
      hd = nx;
      all = false;
      obj.headers++;
    }
  }

  /**
   * @internal {@link pieces} done at once, for an object whose data needs no continuation header
   * and whose blocks are all in the current chunk; null (nothing consumed) otherwise.
   */
  piecesInChunk(obj: ObjectItem): DataPiece[] | null {
    const hd = obj.first;
    const n = entries(hd.count);
    const all = obj.kind === 'xattr';
    const raw = hd.raw;
    if (obj.size > n * TP_BSIZE || this.volumeMark !== null) return null;
    if (this.pos + countPresent(raw, 0, n, all) * TP_BSIZE > this.end) return null;
    const out: DataPiece[] = [];
    let remaining = obj.size;
    let fileOff = 0;
    let i = 0;
    while (i < n && remaining > 0) {
      const present = all || raw[O_ADDR + i] !== 0;
      const j = runEnd(raw, i, n, all, remaining);
      const bytes = (j - i) * TP_BSIZE;
      if (present) {
        out.push({ offset: fileOff, data: this.chunk.subarray(this.pos, this.pos + Math.min(bytes, remaining)) });
        this.pos += bytes;
      } else {
        out.push({ offset: fileOff, hole: Math.min(bytes, remaining) });
      }
      fileOff += bytes;
      remaining -= bytes;
      i = j;
    }
    this.pos += countPresent(raw, i, n, all) * TP_BSIZE;
    return out;
  }

  /** @internal Skips an object whose data was never asked for: the same walk as pieces(), counting only. */
  async skipObject(obj: ObjectItem): Promise<void> {
    let hd = obj.first;
    let remaining = obj.size;
    let all = obj.kind === 'xattr';
    for (;;) {
      const n = entries(hd.count);
      const present = countPresent(hd.raw, 0, n, all);
      if (present > 0 && !(await this.skipBlocks(present))) { obj.complete = false; return; }
      remaining -= n * TP_BSIZE;
      if (remaining <= 0) return;
      const nx = await this.readHeader();
      if (!this.isContinuation(nx, obj)) { this.missingContinuation(obj, nx, remaining); return; }
      remaining -= this.lostToResync(obj, remaining);
      hd = nx;
      all = false;
      obj.headers++;
    }
  }
}
