/**
 * Sun RPC record marking (RFC 1831 §10) as NDMP uses it: each message is one record of one or
 * more fragments, each fragment a 4-byte big-endian word (bit 31: last fragment; bits 0-30:
 * length) and its payload. The assembler takes TCP chunks split anywhere and gives whole
 * records; sizes over the limits are refused (the stream cannot be resynchronised after that,
 * so the caller closes the connection).
 */

export class RecordMarkingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordMarkingError';
  }
}

export interface RecordLimits {
  /** Largest fragment payload accepted. */
  maxFragment: number;
  /** Largest reassembled record accepted. */
  maxRecord: number;
}

export const DEFAULT_LIMITS: RecordLimits = { maxFragment: 1 << 20, maxRecord: 4 << 20 };
const LAST = 0x8000_0000;
/** ndmjob masks fragment lengths to 24 bits; 64 KiB fragments are safe everywhere. */
export const SEND_FRAGMENT = 64 * 1024;

export class RecordAssembler {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private fragments: Buffer[] = [];
  private recordBytes = 0;
  private broken = false;

  constructor(private readonly limits: RecordLimits = DEFAULT_LIMITS) {}

  /** Feeds bytes; returns every record completed by them. Throws RecordMarkingError on a bad size. */
  push(chunk: Buffer): Buffer[] {
    if (this.broken) throw new RecordMarkingError('stream already failed');
    if (chunk.length) { this.pending.push(chunk); this.pendingBytes += chunk.length; }
    const out: Buffer[] = [];
    for (;;) {
      if (this.pendingBytes < 4) return out;
      const head = this.peek(4);
      const word = head.readUInt32BE(0);
      const len = word & 0x7fff_ffff;
      const last = (word & LAST) !== 0;
      if (len > this.limits.maxFragment) return this.fail(`fragment of ${len} bytes exceeds the ${this.limits.maxFragment}-byte limit`);
      if (this.recordBytes + len > this.limits.maxRecord) return this.fail(`record of more than ${this.limits.maxRecord} bytes`);
      if (this.pendingBytes < 4 + len) return out;
      this.take(4);
      const payload = this.take(len);
      this.fragments.push(payload);
      this.recordBytes += len;
      if (last) {
        out.push(this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments, this.recordBytes));
        this.fragments = [];
        this.recordBytes = 0;
      }
    }
  }

  /** True when a record has started but not finished (a connection closing now truncated it). */
  get midRecord(): boolean {
    return this.pendingBytes > 0 || this.fragments.length > 0;
  }

  private fail(message: string): never {
    this.broken = true;
    throw new RecordMarkingError(message);
  }

  private peek(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.pending).subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift(); else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const head = this.pending[0]!;
        const k = Math.min(head.length, n - got);
        head.copy(out, got, 0, k);
        got += k;
        if (k === head.length) this.pending.shift(); else this.pending[0] = head.subarray(k);
      }
    }
    this.pendingBytes -= n;
    return out;
  }
}

/** Frames one record: fragments of at most `maxFragment` bytes, the last one marked. */
export function frameRecord(record: Buffer, maxFragment = SEND_FRAGMENT): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  do {
    const len = Math.min(maxFragment, record.length - off);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE((off + len >= record.length ? LAST : 0) + len, 0);
    out.push(head, record.subarray(off, off + len));
    off += len;
  } while (off < record.length);
  return out;
}
