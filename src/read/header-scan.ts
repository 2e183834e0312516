/**
 * A synchronous scan of a dump stream as it is being written: it sees every byte once, keeps
 * only the headers and the contents of directories, and skips file data without copying it.
 * A backup that reports its file history (NDMP) uses it on its own output, so the image is not
 * copied a second time into a parser. It expects a well-formed single-volume, uncompressed
 * stream, as the engine writes it: anything else stops the scan with a reason. Images read back
 * from a tape, which may be damaged, go through ImageReader, which recovers.
 */
import { RecordType, S_IFDIR, S_IFMT, TP_BSIZE, TP_NINDIR, DR_EXTATTRIBUTES } from '../format/constants.js';
import { checksumOk, decodeHeader, detectByteOrder, type ByteOrder, type Header } from '../format/header.js';

/** One object's TS_INODE (not that of its extended attributes): where it starts, a directory's contents. */
export interface ScannedInode {
  offset: number;
  header: Header;
  /** A directory's present blocks up to its size (holes left out); null for other objects. */
  contents: Buffer | null;
}

const O_ADDR = 164;

export class HeaderScanner {
  /** Why the scan stopped (the stream was not what the engine writes), or null. */
  failure: string | null = null;
  private offset = 0;
  private order: ByteOrder | null = null;

  /** The stream's byte order, once its first header was seen. */
  get byteOrder(): ByteOrder | null { return this.order; }
  private readonly partial = Buffer.allocUnsafe(TP_BSIZE);
  private partialLen = 0;
  /** Data blocks still to come after the last header. */
  private dataLeft = 0;
  private current: {
    offset: number; header: Header;
    /** A directory's contents so far; null for objects whose data is skipped. */
    parts: Buffer[] | null;
    /** Size not yet covered by map entries; bytes to keep of each present block of the last header. */
    sizeLeft: number; keep: number[]; next: number;
  } | null = null;
  private ended = false;

  constructor(private readonly onInode: (inode: ScannedInode) => void) {}

  /** Scans the next bytes of the stream; they are not kept beyond this call. */
  push(chunk: Uint8Array): void {
    if (this.failure || this.ended) return;
    let at = 0;
    if (this.partialLen > 0) {
      const take = Math.min(TP_BSIZE - this.partialLen, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.partialLen);
      this.partialLen += take;
      at = take;
      if (this.partialLen < TP_BSIZE) return;
      this.partialLen = 0;
      this.block(this.partial);
    }
    while (at + TP_BSIZE <= chunk.length && !this.failure && !this.ended) {
      // Whole runs of skipped data blocks are passed over in one step.
      if (this.dataLeft > 0 && this.current?.parts == null) {
        const skip = Math.min(this.dataLeft, Math.floor((chunk.length - at) / TP_BSIZE));
        this.dataLeft -= skip;
        this.offset += skip * TP_BSIZE;
        at += skip * TP_BSIZE;
        continue;
      }
      this.block(chunk.subarray(at, at + TP_BSIZE));
      at += TP_BSIZE;
    }
    if (at < chunk.length && !this.failure && !this.ended) {
      this.partial.set(chunk.subarray(at), 0);
      this.partialLen = chunk.length - at;
    }
  }

  /**
   * The next `bytes` of the stream are file data the caller never had in memory (the kernel
   * copied them): they are passed over as push() would pass over them. Only whole data blocks
   * of an object whose data the scan skips anyway may be left out; anything else stops the scan.
   */
  skip(bytes: number): void {
    if (this.failure || this.ended || bytes === 0) return;
    const blocks = bytes / TP_BSIZE;
    if (this.partialLen !== 0 || !Number.isInteger(blocks) || blocks > this.dataLeft || this.current?.parts != null) {
      this.fail(`${bytes} bytes at byte ${this.offset + this.partialLen} were not seen, and they are not only file data`);
      return;
    }
    this.dataLeft -= blocks;
    this.offset += bytes;
  }

  /** The stream is complete: reports the last object; a stream cut short is a failure. */
  end(): void {
    if (this.failure) return;
    if (!this.ended) this.fail(`the image ends at byte ${this.offset + this.partialLen} without its end header (TS_END)`);
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.current = null;
  }

  private block(b: Uint8Array): void {
    const at = this.offset;
    this.offset += TP_BSIZE;
    if (this.dataLeft > 0) {
      this.dataLeft--;
      const c = this.current;
      if (c?.parts) {
        const n = c.keep[c.next++] ?? 0;
        if (n > 0) c.parts.push(Buffer.from(b.subarray(0, n)));
      }
      return;
    }
    this.order ??= detectByteOrder(b);
    if (this.order === null || detectByteOrder(b) !== this.order || !checksumOk(b, 0, this.order)) {
      // The object before it had all its blocks: it is reported.
      this.finish();
      this.fail(`no valid header at byte ${at}`);
      return;
    }
    const h = decodeHeader(b, 0, this.order);
    const n = Math.min(Math.max(0, h.count), TP_NINDIR);
    switch (h.type) {
      case RecordType.TAPE:
        if (at !== 0) this.fail(`a volume header at byte ${at}: the scan reads one volume`);
        return;
      case RecordType.CLRI:
      case RecordType.BITS:
        this.finish();
        this.dataLeft = Math.max(0, h.count);
        return;
      case RecordType.INODE: {
        this.finish();
        const xattr = (h.flags & DR_EXTATTRIBUTES) !== 0;
        const dir = !xattr && (h.inode.mode & S_IFMT) === S_IFDIR;
        this.current = { offset: at, header: h, parts: dir ? [] : null, sizeLeft: h.inode.size, keep: [], next: 0 };
        // An extended-attribute block's map counts every entry as present.
        this.dataLeft = xattr ? n : present(b, n);
        this.planKeep(b, n, xattr);
        return;
      }
      case RecordType.ADDR:
        // The continuation of an object or of an inode map (whose blocks are not reported).
        this.dataLeft = present(b, n);
        if (this.current !== null) this.planKeep(b, n, false);
        return;
      case RecordType.END:
        this.finish();
        this.ended = true;
        return;
      default:
        this.fail(`a header of unknown type ${h.type} at byte ${at}`);
    }
  }

  /**
   * For a directory: how many bytes of each present block of this header belong to it, walking
   * the map as restore does (every entry, present or hole, uses up to one block of the size;
   * holes are left out of the contents, as ImageReader.readAll with dropHoles).
   */
  private planKeep(b: Uint8Array, n: number, all: boolean): void {
    const c = this.current!;
    if (!c.parts) return;
    const keep: number[] = [];
    for (let i = 0; i < n; i++) {
      const len = Math.max(0, Math.min(TP_BSIZE, c.sizeLeft));
      if (all || b[O_ADDR + i] !== 0) keep.push(len);
      c.sizeLeft -= TP_BSIZE;
    }
    c.keep = keep;
    c.next = 0;
  }

  private finish(): void {
    const c = this.current;
    this.current = null;
    if (c === null || (c.header.flags & DR_EXTATTRIBUTES) !== 0) return;
    this.onInode({ offset: c.offset, header: c.header, contents: c.parts ? Buffer.concat(c.parts) : null });
  }
}

function present(b: Uint8Array, n: number): number {
  let k = 0;
  for (let i = O_ADDR, e = O_ADDR + n; i < e; i++) if (b[i] !== 0) k++;
  return k;
}
