/**
 * The walk's result, stored column-wise: one Float64Array row per object (in the layout the read
 * workers take, so a task is a row copy), plus the names and the directory links. A table of
 * 100,000 objects is a few megabytes and costs the garbage collector nothing, where one
 * JavaScript object per file cost hundreds of megabytes and seconds of GC.
 */
import { COLS, Col } from '../workers/read-protocol.js';
import type { Xattr } from '../format/xattr.js';

/** Extra columns after the worker's. */
export const enum XCol {
  srcIno = COLS, parent, childStart, childCount, dumpFlags,
}
export const ROW = COLS + 5;

export type Name = string | Buffer;

export class EntryTable {
  count = 0;
  rows: Float64Array;
  /** The first name each object was found under (hard links have more, in the links). */
  readonly names: Array<Name> = [];
  /** Absolute paths of directories only; other paths are built from parent + name. */
  readonly dirPaths = new Map<number, Name>();
  readonly xattrs = new Map<number, Xattr[]>();
  linkCount = 0;
  linkChild: Int32Array;
  readonly linkNames: Array<Name> = [];

  constructor(capacity = 1024) {
    this.rows = new Float64Array(capacity * ROW);
    this.linkChild = new Int32Array(capacity);
  }

  /** Appends a row (copied from `fields`, COLS values) and returns its id. */
  add(name: Name): number {
    if ((this.count + 1) * ROW > this.rows.length) {
      const grown = new Float64Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    this.names.push(name);
    return this.count++;
  }

  addLink(child: number, name: Name): void {
    if (this.linkCount >= this.linkChild.length) {
      const grown = new Int32Array(this.linkChild.length * 2);
      grown.set(this.linkChild);
      this.linkChild = grown;
    }
    this.linkChild[this.linkCount++] = child;
    this.linkNames.push(name);
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
    return joinPath(this.dirPaths.get(parent)!, this.names[id]!);
  }
}

export function joinPath(dir: Name, name: Name): Name {
  if (typeof dir === 'string' && typeof name === 'string') return dir === '/' ? '/' + name : dir + '/' + name;
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), Buffer.from(name)]);
}
