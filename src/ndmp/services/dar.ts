/**
 * Direct access recovery (NDMP.md §4.2): when every nlist entry carries an fh_info (the byte
 * offset of its TS_INODE header, from our file history), only the image's head (label, maps,
 * directory phase) and the requested objects are read from tape. They are handed to the normal
 * restore as one consistent, shorter image: head + objects in tape order + a TS_END, so names,
 * attributes, holes and extended attributes are restored exactly as in a full pass.
 *
 * If an entry names a directory (its fh_info lies inside the directory phase), its files are
 * not known by offset: the rest of the image is then streamed in order instead.
 */
import type { Readable } from 'node:stream';
import { RecordType, S_IFDIR, S_IFMT, TP_BSIZE, DR_EXTATTRIBUTES } from '../../format/constants.js';
import { dataBlocksAfter, decodeHeader, detectByteOrder, encodeHeader, type ByteOrder } from '../../format/header.js';

/** Reads exact byte ranges of the image through the mover. */
export class RangeReader {
  private carry: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  constructor(input: Readable, private readonly request: (offset: bigint, length: bigint) => void) {
    this.it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.request(BigInt(offset), BigInt(length));
    return this.take(length);
  }

  /** Everything from `offset` to the end of the image, as it comes. */
  async *rest(offset: number, length: bigint): AsyncGenerator<Buffer> {
    this.request(BigInt(offset), length);
    if (this.carry.length) { yield this.carry; this.carry = Buffer.alloc(0); }
    for (;;) {
      const r = await this.it.next();
      if (r.done) return;
      yield r.value;
    }
  }

  private async take(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (this.carry.length === 0) {
        const r = await this.it.next();
        if (r.done) throw new Error(`the image ended ${n - have} bytes short of a requested range`);
        this.carry = r.value;
      }
      const k = Math.min(n - have, this.carry.length);
      parts.push(this.carry.subarray(0, k));
      this.carry = this.carry.subarray(k);
      have += k;
    }
    return Buffer.concat(parts, n);
  }
}

const HEAD_CHUNK = 1 << 20;

interface Head {
  blocks: Buffer[];
  /** Offset where the directory phase ends; null when it did not end within the limit. */
  end: number | null;
  /** Bytes read past the blocks (only when end is null), and the offset after them. */
  tail: Buffer;
  tailEnd: number;
  order: ByteOrder;
  label: Buffer;
}

class HeadLimit extends Error {}

/**
 * Reads label, maps and the directory phase, in ranges that never go past `limit`; stops at
 * the first other inode (not included). A directory phase reaching past the limit means a
 * requested offset lies inside it (a directory).
 */
async function readHead(rr: RangeReader, limit: number): Promise<Head> {
  const blocks: Buffer[] = [];
  let buf = Buffer.alloc(0);
  let bufStart = 0;
  let pos = 0;
  const need = async (n: number) => {
    while (pos + n > bufStart + buf.length) {
      const from = bufStart + buf.length;
      const len = Math.min(Math.max(n, HEAD_CHUNK), limit - from);
      if (len <= 0) throw new HeadLimit();
      const more = await rr.read(from, len);
      buf = Buffer.concat([buf.subarray(pos - bufStart), more]);
      bufStart = pos;
    }
    return buf.subarray(pos - bufStart, pos - bufStart + n);
  };
  const first = await need(TP_BSIZE);
  const order = detectByteOrder(first, 0);
  if (!order) throw new Error('the image does not start with a dump header');
  const label = Buffer.from(first);
  try {
    for (;;) {
      const block = await need(TP_BSIZE);
      const h = decodeHeader(block, 0, order);
      const isDirPart = h.type === RecordType.TAPE || h.type === RecordType.CLRI || h.type === RecordType.BITS || h.type === RecordType.ADDR
        || (h.type === RecordType.INODE && ((h.inode.mode & S_IFMT) === S_IFDIR || (h.flags & DR_EXTATTRIBUTES) !== 0));
      if (!isDirPart) return { blocks, end: pos, tail: Buffer.alloc(0), tailEnd: pos, order, label };
      const n = (1 + dataBlocksAfter(h)) * TP_BSIZE;
      blocks.push(Buffer.from(await need(n)));
      pos += n;
    }
  } catch (e) {
    if (!(e instanceof HeadLimit)) throw e;
    return { blocks, end: null, tail: Buffer.from(buf.subarray(pos - bufStart)), tailEnd: bufStart + buf.length, order, label };
  }
}

/** One object at `offset`: its TS_INODE, continuation and extended-attribute records, and data. */
async function readObject(rr: RangeReader, offset: number, order: ByteOrder): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let pos = offset;
  let ino = -1;
  for (;;) {
    const block = await rr.read(pos, TP_BSIZE);
    const h = decodeHeader(block, 0, order);
    const belongs = ino === -1
      ? h.type === RecordType.INODE
      : h.inumber === ino && (h.type === RecordType.ADDR || (h.type === RecordType.INODE && (h.flags & DR_EXTATTRIBUTES) !== 0));
    if (!belongs) {
      if (ino === -1) throw new Error(`no inode header at byte ${offset} (stale fh_info?)`);
      return out;
    }
    ino = h.inumber;
    const n = dataBlocksAfter(h) * TP_BSIZE;
    out.push(block);
    if (n > 0) out.push(await rr.read(pos + TP_BSIZE, n));
    pos += TP_BSIZE + n;
  }
}

/**
 * The image for the restore engine: the head, then either the requested objects (DAR) or the
 * rest of the image in order. `offsets` are the fh_info values of the nlist.
 */
export async function* darImage(rr: RangeReader, offsets: readonly number[], onMode: (dar: boolean) => void): AsyncGenerator<Buffer> {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const head = await readHead(rr, sorted[sorted.length - 1]! + TP_BSIZE);
  yield* head.blocks;
  if (head.end === null || sorted.some((o) => o < head.end!)) {
    // A directory was asked for: its files have no offsets here; read on in order.
    onMode(false);
    if (head.tail.length) yield head.tail;
    yield* rr.rest(head.end ?? head.tailEnd, 1n << 62n);
    return;
  }
  onMode(true);
  for (const off of sorted) yield* await readObject(rr, off, head.order);
  const end = decodeHeader(head.label, 0, head.order);
  end.type = RecordType.END;
  end.count = 0;
  end.flags = 0;
  const buf = Buffer.alloc(TP_BSIZE);
  encodeHeader(end, buf, 0);
  yield buf;
}
