/**
 * The name tree of a dump, built from the directories of the directory phase as they stream by,
 * with the same rules as `restore -t` (src/read/catalog.ts), plus the rules that keep a restore
 * inside its destination:
 * - the walk starts at the root's "." entry (restore's dirlookup(".")), else at inode 2;
 * - "." and ".." are skipped only as the first two entries of a directory; anywhere else they
 *   are unsafe names, like names containing '/', empty names and the cut 255-byte names of
 *   Linux dump (§4.4): each is reported (BAD_NAME) and left out with everything below it;
 * - entries with d_ino ≥ maxino are dropped (restore's "corrupted directory");
 * - a directory is descended into once; a second name for it is reported (DIR_LINK), which also
 *   breaks every cycle a hostile image can build;
 * - a name is a leaf candidate only when its inode is on the tape (TS_BITS), as restore -x.
 * Names stay raw bytes (they need not be UTF-8).
 */
import { decodeDirectory } from '../format/directory.js';
import type { DumpInode } from '../format/header.js';

export const ROOTINO = 2;
/** Longest path (bytes, without the NUL) that Linux accepts: PATH_MAX 4096 includes the NUL. */
export const PATH_MAX = 4095;

export interface DirRecord {
  ino: number;
  /** The directory's data as restore received it (holes left out). Released once planned. */
  data: Buffer | null;
  inode: DumpInode;
  /** EA blobs that followed the directory's object. */
  xattrs: Buffer[];
  /** False when the directory's data was cut short by damage. */
  complete: boolean;
  /** Byte offset of the directory's first header. */
  offset: number;
}

export interface TreeNode {
  name: Buffer;
  ino: number;
  parent: TreeNode | null;
  /** Set for directories of the directory phase. */
  dir: DirRecord | null;
  children: TreeNode[] | null;
  /** d_type of the entry that named it (DT_UNKNOWN for the root). */
  dtype: number;
}

export interface TreeWarning {
  code: 'BAD_NAME' | 'DIR_LINK' | 'NAME_TOO_LONG';
  /** Path in the image, './a/b' (raw bytes). */
  path: Buffer;
  message: string;
}

const DOT = 0x2e;
const SLASH = 0x2f;

/** Name bytes up to the first NUL: restore handles names as C strings. */
function cName(bytes: Uint8Array): Buffer {
  const nul = bytes.indexOf(0);
  // Directory data is a Buffer, so its entries' names already are (no second view per name).
  if (nul < 0 && Buffer.isBuffer(bytes)) return bytes;
  const b = nul < 0 ? bytes : bytes.subarray(0, nul);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function isDotName(b: Uint8Array, dots: 1 | 2): boolean {
  return b.length === dots && b[0] === DOT && (dots === 1 || b[1] === DOT);
}

/**
 * Why a name from the image cannot be used as one path component below DEST, or null when it
 * can. Empty, '.', '..' and anything with '/' would address another place than a new entry of
 * its directory (NUL cannot occur: names end at the first NUL).
 */
export function unsafeName(name: Uint8Array): string | null {
  if (name.length === 0) return 'empty name';
  if (isDotName(name, 1) || isDotName(name, 2)) return `name "${Buffer.from(name).toString('latin1')}" in the middle of a directory`;
  if (name.includes(SLASH)) return 'name contains "/"';
  if (name.includes(0)) return 'name contains a NUL byte';
  if (name.length > 255) return 'name longer than 255 bytes';
  return null;
}

/** The directories of the directory phase, in memory until the plan is made. */
export class NameTree {
  readonly dirs = new Map<number, DirRecord>();
  constructor(private readonly littleEndian: boolean, private readonly oldFormat: boolean) {}

  addDirectory(ino: number, data: Buffer, inode: DumpInode, offset: number, complete: boolean): void {
    // A second object for the same directory (damaged or hostile images): the first one counts.
    if (this.dirs.has(ino)) return;
    this.dirs.set(ino, { ino, data, inode, xattrs: [], complete, offset });
  }

  addXattr(ino: number, blob: Buffer): void {
    this.dirs.get(ino)?.xattrs.push(blob);
  }

  isDirectory(ino: number): boolean {
    return this.dirs.has(ino);
  }

  /** Entries of a directory as restore reads them: NUL-cut names, d_ino ≥ maxino dropped. */
  private entries(rec: DirRecord, maxino: number): Array<{ ino: number; name: Buffer; type: number; broken: boolean }> {
    const data = rec.data;
    if (!data) return [];
    const out: Array<{ ino: number; name: Buffer; type: number; broken: boolean }> = [];
    for (const e of decodeDirectory(data, data.length, this.littleEndian, this.oldFormat).entries) {
      if (e.ino >= maxino) continue;
      out.push({ ino: e.ino, name: cName(e.name), type: e.type, broken: e.name.length < e.namlen });
    }
    return out;
  }

  /**
   * Walks the tree from the root. `isDumped` says whether a leaf's inode is on the tape; names of
   * other inodes (unchanged files of an incremental) are counted in `notOnTape`. Returns null
   * when the root directory is not in the image.
   */
  build(opts: {
    maxino: number;
    isDumped: (ino: number) => boolean;
    onWarning: (w: TreeWarning) => void;
    /** A safe name whose inode is neither a directory of the image nor on the tape (an incremental's unchanged entry). */
    onAbsent?: (parent: TreeNode, name: Buffer, ino: number, dtype: number, path: Buffer) => void;
  }): { root: TreeNode; notOnTape: number } | null {
    const rootRec = this.dirs.get(ROOTINO);
    if (!rootRec) return null;
    const max = opts.maxino > 0 ? opts.maxino : Infinity;
    const dot = this.entries(rootRec, max).find((e) => isDotName(e.name, 1));
    const start = dot && this.dirs.has(dot.ino) ? dot.ino : ROOTINO;
    const root: TreeNode = { name: Buffer.alloc(0), ino: start, parent: null, dir: this.dirs.get(start)!, children: [], dtype: 4 };
    const visited = new Set<number>([start]);
    let notOnTape = 0;
    const stack: Array<{ node: TreeNode; path: Buffer }> = [{ node: root, path: Buffer.from('.') }];
    while (stack.length > 0) {
      const { node, path } = stack.pop()!;
      const list = this.entries(node.dir!, max);
      let k = 0;
      if (list[k] && isDotName(list[k]!.name, 1)) k++;
      if (list[k] && isDotName(list[k]!.name, 2)) k++;
      const pushed: Array<{ node: TreeNode; path: Buffer }> = [];
      for (; k < list.length; k++) {
        const e = list[k]!;
        // Made only where it is used (most names are leaves that need no path here).
        const childPath = () => joinPath(path, e.name);
        const why = e.broken ? 'name damaged in the image (Linux dump writes 255-byte names with a broken record)' : unsafeName(e.name);
        if (why) {
          opts.onWarning({ code: 'BAD_NAME', path: childPath(), message: `unsafe name in the image (${why}); left out with everything below it` });
          continue;
        }
        if (path.length + 1 + e.name.length - 2 > PATH_MAX) {
          opts.onWarning({ code: 'NAME_TOO_LONG', path: childPath(), message: `path longer than ${PATH_MAX} bytes; left out` });
          continue;
        }
        const rec = this.dirs.get(e.ino);
        if (rec) {
          if (visited.has(e.ino)) {
            opts.onWarning({ code: 'DIR_LINK', path: childPath(), message: `directory inode ${e.ino} already has another name in the image; this name is left out` });
            continue;
          }
          visited.add(e.ino);
          const child: TreeNode = { name: e.name, ino: e.ino, parent: node, dir: rec, children: [], dtype: e.type };
          node.children!.push(child);
          pushed.push({ node: child, path: childPath() });
        } else if (opts.isDumped(e.ino)) {
          node.children!.push({ name: e.name, ino: e.ino, parent: node, dir: null, children: null, dtype: e.type });
        } else {
          notOnTape++;
          opts.onAbsent?.(node, e.name, e.ino, e.type, childPath());
        }
      }
      // Depth first in on-tape order, like restore -t (children are visited in the order listed).
      for (let i = pushed.length - 1; i >= 0; i--) stack.push(pushed[i]!);
    }
    return { root, notOnTape };
  }

  /** Frees the raw directory data once the tree is built (the metadata stays). */
  releaseData(): void {
    for (const rec of this.dirs.values()) rec.data = null;
  }
}

/** dir + '/' + name (raw bytes): one allocation, where Buffer.concat made an array and two. */
export function joinPath(dir: Uint8Array, name: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(dir.length + 1 + name.length);
  b.set(dir, 0);
  b[dir.length] = SLASH;
  b.set(name, dir.length + 1);
  return b;
}

/** './a/b' for a node (raw bytes). */
export function nodePath(node: TreeNode): Buffer {
  const parts: Buffer[] = [];
  for (let n: TreeNode | null = node; n && n.parent; n = n.parent) parts.push(n.name);
  parts.push(Buffer.from('.'));
  return Buffer.concat(parts.reverse().flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p])));
}
