/**
 * The walk's result, stored column-wise: one Float64Array row per object (in the layout the read
 * workers take, so a task is a row copy), plus the names and the directory links. A table of
 * 100,000 objects is a few megabytes and costs the garbage collector nothing, where one
 * JavaScript object per file cost hundreds of megabytes and seconds of GC. Names stay the bytes
 * the walk read (one arena): most are only ever copied into a directory record, so they are
 * decoded to strings only where a path is needed.
 */
import { COLS, Col } from '../workers/read-protocol.js';
import type { Xattr } from '../format/xattr.js';
import { adviseHugePages, type WalkedTree } from '../native/sysx.js';

/**
 * Extra columns after the worker's (srcIno is column COLS; test/stages checks it). Literal
 * values, not counted on from COLS: esbuild compiles one file at a time for the CLI bundle and
 * inlines an enum member at its uses only when it is a literal, as tsc does for const enums.
 */
export const enum XCol {
  srcIno = 26, parent = 27, childStart = 28, childCount = 29, dumpFlags = 30,
}
export const ROW = COLS + 5;

/** A name or path: a string, or its bytes where they are not UTF-8. */
export type Name = string | Buffer;

export class EntryTable {
  count = 0;
  rows: Float64Array;
  /** Per object: the link of the first name it was found under (-1: none, the root). */
  firstLink: Int32Array;
  /** Absolute paths of directories only; other paths are built from parent + name. */
  readonly dirPaths = new Map<number, Name>();
  readonly xattrs = new Map<number, Xattr[]>();
  /** The name bytes of every link (links point into it). */
  nameBytes: Buffer;
  nameUsed = 0;
  linkCount = 0;
  linkChild: Int32Array;
  linkStart: Int32Array;
  /** Name length in bytes; negative for a name that is not UTF-8 (it stays bytes). */
  linkLength: Int16Array;

  constructor(capacity = 1024) {
    this.rows = rowBuffer(capacity * ROW);
    this.firstLink = new Int32Array(capacity);
    this.linkChild = new Int32Array(capacity);
    this.linkStart = new Int32Array(capacity);
    this.linkLength = new Int16Array(capacity);
    this.nameBytes = Buffer.allocUnsafe(capacity * 16);
  }

  /** The table a native walk built (sysx.walkTreeAsync), its arrays taken as they are. */
  static adopt(w: Pick<WalkedTree, 'count' | 'rows' | 'firstLink' | 'linkChild' | 'linkStart' | 'linkLength' | 'names'>): EntryTable {
    const t = new EntryTable(0);
    t.count = w.count;
    t.rows = w.rows;
    t.firstLink = w.firstLink;
    t.linkChild = w.linkChild;
    t.linkStart = w.linkStart;
    t.linkLength = w.linkLength;
    t.linkCount = w.linkChild.length;
    t.nameBytes = w.names;
    t.nameUsed = w.names.length;
    return t;
  }

  /** Appends a row (to be filled by the caller) and returns its id. */
  add(): number {
    if ((this.count + 1) * ROW > this.rows.length) {
      this.rows = grow(this.rows, this.rows.length * 2, rowBuffer);
      this.firstLink = grow(this.firstLink, this.firstLink.length * 2);
    }
    this.firstLink[this.count] = -1;
    return this.count++;
  }

  /** Copies name bytes into the arena; returns their offset there. */
  addNameBytes(bytes: Uint8Array): number {
    if (this.nameUsed + bytes.length > this.nameBytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.nameBytes.length * 2, this.nameUsed + bytes.length));
      this.nameBytes.copy(grown, 0, 0, this.nameUsed);
      this.nameBytes = grown;
    }
    const at = this.nameUsed;
    this.nameBytes.set(bytes, at);
    this.nameUsed += bytes.length;
    return at;
  }

  /** A name of `child`: bytes [start, start + length) of the arena; raw when not UTF-8. */
  addLink(child: number, start: number, length: number, raw: boolean): void {
    if (this.linkCount >= this.linkChild.length) {
      const n = this.linkChild.length * 2;
      this.linkChild = grow(this.linkChild, n);
      this.linkStart = grow(this.linkStart, n);
      this.linkLength = grow(this.linkLength, n);
    }
    if (this.firstLink[child] === -1) this.firstLink[child] = this.linkCount;
    this.linkChild[this.linkCount] = child;
    this.linkStart[this.linkCount] = start;
    this.linkLength[this.linkCount] = raw ? -length : length;
    this.linkCount++;
  }

  /** Bytes of the name of link `l`. */
  linkNameLength(l: number): number {
    const n = this.linkLength[l]!;
    return n < 0 ? -n : n;
  }

  /** The name of link `l`: a string, or a copy of its bytes when they are not UTF-8. */
  linkName(l: number): Name {
    const n = this.linkLength[l]!;
    const s = this.linkStart[l]!;
    return n < 0 ? Buffer.from(this.nameBytes.subarray(s, s - n)) : this.nameBytes.toString('utf8', s, s + n);
  }

  get(id: number, col: number): number {
    return this.rows[id * ROW + col]!;
  }

  set(id: number, col: number, value: number): void {
    this.rows[id * ROW + col] = value;
  }

  isDir(id: number): boolean {
    return (this.get(id, Col.mode) & 0o170000) === 0o040000;
  }

  /** Absolute path of an object, built from its parent's path and its first name. */
  path(id: number): Name {
    const dir = this.dirPaths.get(id);
    if (dir !== undefined) return dir;
    const parent = this.get(id, XCol.parent);
    return joinPath(this.dirPaths.get(parent)!, this.linkName(this.firstLink[id]!));
  }
}

function grow<T extends Float64Array | Int32Array | Int16Array>(a: T, length: number, make?: (n: number) => T): T {
  const g = make ? make(length) : new (a.constructor as new (n: number) => T)(length);
  g.set(a);
  return g;
}

/**
 * The rows' memory, in huge pages where the kernel offers them: a 100,000-object table is 25 MB
 * written row by row then scanned several times, and on a virtual machine its 4 KiB page faults
 * and TLB misses cost more than the work. Untouched reserved rows still cost nothing.
 */
function rowBuffer(length: number): Float64Array {
  const rows = new Float64Array(length);
  adviseHugePages(rows);
  return rows;
}

export function joinPath(dir: Name, name: Name): Name {
  if (typeof dir === 'string' && typeof name === 'string') return dir === '/' ? '/' + name : dir + '/' + name;
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), Buffer.from(name)]);
}
