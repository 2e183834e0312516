/**
 * XDR primitives (RFC 4506): big-endian, 4-byte aligned. The reader never throws anything but
 * XdrError, so a malformed body becomes an error reply instead of a crash.
 */

export class XdrError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'XdrError';
  }
}

const pad4 = (n: number): number => (4 - (n & 3)) & 3;

export class XdrReader {
  private off = 0;
  constructor(private readonly buf: Buffer, private readonly maxLength = buf.length) {}

  get offset(): number { return this.off; }
  get remaining(): number { return this.buf.length - this.off; }

  private need(n: number): void {
    if (n < 0 || this.off + n > this.buf.length) throw new XdrError(`body ends early: need ${n} bytes at offset ${this.off}, ${this.buf.length - this.off} left`, this.off);
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.off);
    this.off += 8;
    return v;
  }

  /** A variable-length opaque or string: length word, bytes, zero padding. */
  opaque(): Buffer {
    const len = this.u32();
    if (len > this.maxLength) throw new XdrError(`length ${len} is larger than the message`, this.off - 4);
    return this.fixed(len);
  }

  fixed(len: number): Buffer {
    this.need(len + pad4(len));
    const v = this.buf.subarray(this.off, this.off + len);
    this.off += len + pad4(len);
    return v;
  }

  /** An array count, checked against what the rest of the body could hold (4 bytes per element at least). */
  count(minElementBytes = 4): number {
    const n = this.u32();
    if (n * Math.max(1, minElementBytes) > this.remaining) throw new XdrError(`array of ${n} elements does not fit the ${this.remaining} bytes left`, this.off - 4);
    return n;
  }
}

export class XdrWriter {
  private buf: Buffer;
  private off = 0;
  constructor(initial = 256) { this.buf = Buffer.allocUnsafe(initial); }

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.off);
    this.off += 4;
  }

  i32(v: number): void {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.off);
    this.off += 4;
  }

  u64(v: bigint): void {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.off);
    this.off += 8;
  }

  opaque(v: Uint8Array): void {
    this.u32(v.length);
    this.fixed(v);
  }

  fixed(v: Uint8Array): void {
    const p = pad4(v.length);
    this.room(v.length + p);
    this.buf.set(v, this.off);
    this.off += v.length;
    this.buf.fill(0, this.off, this.off + p);
    this.off += p;
  }

  finish(): Buffer { return this.buf.subarray(0, this.off); }
}
