/**
 * Inode maps (TS_CLRI / TS_BITS): inode n is bit (n-1) mod 8, LSB first, of byte (n-1) div 8.
 * Stored in a growable byte array so a walk can set bits before it knows the highest inode.
 */
import { TP_BSIZE } from './constants.js';

export class InodeMap {
  private bytes: Uint8Array;
  private highest = 0;

  /** Room for inodes below `initialInodes` without growing: whole tape blocks, as the tape's map record. */
  constructor(initialInodes = 8192) {
    this.bytes = new Uint8Array(mapSizeFor(initialInodes));
  }

  static fromBytes(bytes: Uint8Array): InodeMap {
    const m = new InodeMap(bytes.length * 8);
    m.bytes.set(bytes);
    for (let i = bytes.length - 1; i >= 0; i--) {
      const b = bytes[i]!;
      if (b !== 0) { m.highest = i * 8 + (31 - Math.clz32(b)) + 1; break; }
    }
    return m;
  }

  set(ino: number): void {
    if (ino < 1) throw new RangeError(`inode ${ino} cannot be in a map`);
    const byte = (ino - 1) >>> 3;
    if (byte >= this.bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[byte]! |= 1 << ((ino - 1) & 7);
    if (ino > this.highest) this.highest = ino;
  }

  has(ino: number): boolean {
    if (ino < 1) return false;
    const byte = (ino - 1) >>> 3;
    return byte < this.bytes.length && (this.bytes[byte]! & (1 << ((ino - 1) & 7))) !== 0;
  }

  /** The highest inode set, 0 when empty. */
  get max(): number {
    return this.highest;
  }

  *inodes(): IterableIterator<number> {
    for (let byte = 0; byte < this.bytes.length; byte++) {
      const b = this.bytes[byte]!;
      if (b === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) yield byte * 8 + bit + 1;
    }
  }

  /**
   * The bytes behind the map, for native code that sets bits in bulk (sysx.inodeMaps); the
   * highest inode is then unknown here, so {@link max} is only kept by {@link set}.
   */
  get storage(): Uint8Array {
    return this.bytes;
  }

  /**
   * The map as a tape record's data, `mapBytes` bytes: the map's own memory when it is exactly
   * that long (a map of several megabytes is not copied; it must not change while the record
   * is written), else a copy.
   */
  recordData(mapBytes: number): Buffer {
    if (this.bytes.length === mapBytes) return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, mapBytes);
    return this.toBuffer(mapBytes);
  }

  /** The map as `mapBytes` bytes (a whole number of tape blocks, see {@link mapSizeFor}). */
  toBuffer(mapBytes: number): Buffer {
    const out = Buffer.alloc(mapBytes);
    out.set(this.bytes.subarray(0, Math.min(this.bytes.length, mapBytes)));
    return out;
  }
}

/** Map size in bytes for inodes below `maxino`, rounded up to whole tape blocks (as Linux dump). */
export function mapSizeFor(maxino: number): number {
  const bytes = Math.ceil(maxino / 8);
  return Math.max(TP_BSIZE, Math.ceil(bytes / TP_BSIZE) * TP_BSIZE);
}
