/**
 * Phase I/II: walk the source, lstat everything, give every object its dump inode number,
 * and decide what goes on tape. Produces the plan the later phases emit from. Memory is
 * proportional to the number of entries (paths and metadata), never to file sizes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { SnapdumpError, isErrno } from '../errors.js';
import { InodeMap } from '../format/bitmap.js';
import { ROOTINO, dtypeOfMode, kindOfMode, type FileKind } from '../format/constants.js';
import { MAX_NAME_BYTES } from '../format/directory.js';
import { inodeFromStat, type FieldWarning } from '../format/inode-fields.js';
import type { DumpInode } from '../format/header.js';
import type { Xattr } from '../format/xattr.js';
import { readXattrs, readInodeFlags } from './xattr-emit.js';

export interface DumpEntry {
  /** Dump inode number (assigned after the walk). */
  ino: number;
  /** Source inode number, the identity of the object during the walk. */
  srcIno: bigint;
  path: Buffer;
  kind: FileKind;
  inode: DumpInode;
  size: number;
  /** Allocated bytes < size: the file has holes worth looking for. */
  sparse: boolean;
  children?: Array<{ name: Buffer; entry: DumpEntry }>;
  parent?: DumpEntry;
  xattrs?: Xattr[];
  /** Times the walk saw, to detect changes while the data is read. */
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Set when the object was only partly readable (e.g. a directory we could not list). */
  incomplete?: boolean;
}

export interface Notice {
  code: string;
  path: string;
  message: string;
  /** True when the entry is missing or incomplete in the image (exit status 1). */
  skipped: boolean;
}

export interface DumpPlan {
  root: DumpEntry;
  /** Directories in ascending inode order (root first). */
  directories: DumpEntry[];
  /** Every other dumped object in ascending inode order. */
  others: DumpEntry[];
  inUse: InodeMap;
  dumped: InodeMap;
  maxino: number;
  totals: { files: number; directories: number; bytes: number };
  notices: Notice[];
}

export interface TraverseOptions {
  source: string;
  /** Objects to leave out, e.g. the output file itself when it lies inside the source. */
  exclude?: Array<{ dev: number; ino: number }>;
  signal?: AbortSignal;
  onProgress?: (entries: number) => void;
}

const SLASH = Buffer.from('/');

export function displayPath(p: Buffer): string {
  return p.toString('utf8');
}

function statOf(st: fs.BigIntStats) {
  return {
    mode: Number(st.mode), nlink: Number(st.nlink), uid: Number(st.uid), gid: Number(st.gid),
    rdev: Number(st.rdev), size: Number(st.size), blocks: Number(st.blocks),
    atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
  };
}

export async function traverse(opts: TraverseOptions): Promise<DumpPlan> {
  const rootPath = Buffer.from(path.resolve(opts.source));
  let rootStat: fs.BigIntStats;
  try {
    rootStat = fs.statSync(rootPath, { bigint: true });
  } catch (e) {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
  }
  if (!rootStat.isDirectory()) {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: not a directory`, { path: opts.source });
  }
  const rootDev = rootStat.dev;
  const exclude = new Set((opts.exclude ?? []).map((x) => `${x.dev}:${x.ino}`));
  const notices: Notice[] = [];
  const fieldWarnings = (p: Buffer, ws: FieldWarning[]) => {
    for (const w of ws) notices.push({ code: 'FIELD_RANGE', path: displayPath(p), message: w.message, skipped: false });
  };
  const isRoot = process.getuid?.() === 0;

  const makeEntry = (p: Buffer, st: fs.BigIntStats): DumpEntry => {
    const s = statOf(st);
    const ws: FieldWarning[] = [];
    const inode = inodeFromStat(s, 0, ws);
    if (ws.length) fieldWarnings(p, ws);
    const kind = kindOfMode(s.mode);
    return {
      ino: 0, srcIno: st.ino, path: p, kind, inode, size: s.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
      sparse: kind === 'file' && s.blocks * 512 < s.size,
    };
  };

  const root = makeEntry(rootPath, rootStat);
  const byIno = new Map<bigint, DumpEntry>([[root.srcIno, root]]);
  const all: DumpEntry[] = [root];
  const stack: DumpEntry[] = [root];
  let visited = 0;

  while (stack.length > 0) {
    const dir = stack.pop()!;
    dir.children = [];
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir.path, { encoding: 'buffer' });
    } catch (e) {
      dir.incomplete = true;
      notices.push({ code: 'UNREADABLE_DIR', path: displayPath(dir.path), message: `cannot read directory: ${(e as Error).message}; dumped empty`, skipped: true });
      continue;
    }
    names.sort(Buffer.compare);
    for (const name of names) {
      const childPath = Buffer.concat([dir.path, SLASH, name]);
      if (name.length > MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_TOO_LONG', path: displayPath(childPath), message: 'name longer than 255 bytes; skipped', skipped: true });
        continue;
      }
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(childPath, { bigint: true });
      } catch (e) {
        const gone = isErrno(e, 'ENOENT');
        notices.push({ code: gone ? 'VANISHED' : 'UNREADABLE', path: displayPath(childPath), message: gone ? 'file removed before we read it; skipped' : `cannot stat: ${(e as Error).message}; skipped`, skipped: true });
        continue;
      }
      if (exclude.has(`${st.dev}:${st.ino}`)) continue;
      if (name.length === MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_255', path: displayPath(childPath), message: 'a 255-byte name is dumped correctly, but Linux restore 0.4b47 cannot restore it', skipped: false });
      }
      const known = byIno.get(st.ino);
      if (known && !st.isDirectory()) {
        dir.children.push({ name, entry: known });
        continue;
      }
      if (!isRoot && st.isFile()) {
        try { fs.accessSync(childPath, fs.constants.R_OK); } catch (e) {
          notices.push({ code: 'UNREADABLE', path: displayPath(childPath), message: `cannot read: ${(e as Error).message}; skipped`, skipped: true });
          continue;
        }
      }
      const entry = makeEntry(childPath, st);
      entry.parent = dir;
      byIno.set(st.ino, entry);
      all.push(entry);
      dir.children.push({ name, entry });
      if (entry.kind === 'dir') {
        if (st.dev !== rootDev) {
          // A mount point: recorded as an empty directory, its file system is not crossed.
          entry.children = [];
          notices.push({ code: 'MOUNT_POINT', path: displayPath(childPath), message: 'mount point not crossed; dumped as an empty directory', skipped: false });
        } else {
          stack.push(entry);
        }
      }
    }
    if (++visited % 256 === 0) {
      opts.onProgress?.(all.length);
      await yieldToLoop();
      opts.signal?.throwIfAborted();
    }
  }
  opts.onProgress?.(all.length);

  const maxino = assignInodeNumbers(root, all);

  // Directory metadata that only an open descriptor or an xattr call gives.
  const inUse = new InodeMap(maxino);
  const dumped = new InodeMap(maxino);
  const directories: DumpEntry[] = [];
  const others: DumpEntry[] = [];
  let bytes = 0;
  for (const e of all) {
    inUse.set(e.ino);
    dumped.set(e.ino);
    if (e.kind === 'dir') {
      directories.push(e);
      e.inode.flags = readInodeFlags(e.path, true);
      const x = readXattrs(e.path);
      e.xattrs = x.attrs;
      for (const err of x.errors) notices.push({ code: 'XATTR', path: displayPath(e.path), message: err, skipped: true });
    } else {
      others.push(e);
      if (e.kind === 'file') bytes += e.size;
    }
  }
  directories.sort((a, b) => a.ino - b.ino);
  others.sort((a, b) => a.ino - b.ino);
  return {
    root, directories, others, inUse, dumped, maxino, notices,
    totals: { files: others.length, directories: directories.length, bytes },
  };
}

/**
 * Source inode numbers are kept where they fit (they are the files' identity across
 * incremental levels, DUMP-FORMAT.md §7.2): the root becomes 2, everything else keeps its
 * st_ino. When st_ino values are too large or collide with the reserved numbers 0-2, or the
 * maps would be out of proportion with the tree, every object is renumbered densely in walk
 * order instead. Returns maxino (highest number + 1).
 */
function assignInodeNumbers(root: DumpEntry, all: DumpEntry[]): number {
  const identityLimit = BigInt(Math.max(1 << 23, all.length * 64));
  let identity = true;
  let highest = BigInt(ROOTINO);
  for (const e of all) {
    if (e === root) continue;
    if (e.srcIno <= BigInt(ROOTINO) || e.srcIno >= identityLimit) { identity = false; break; }
    if (e.srcIno > highest) highest = e.srcIno;
  }
  if (identity) {
    root.ino = ROOTINO;
    for (const e of all) if (e !== root) e.ino = Number(e.srcIno);
    return Number(highest) + 1;
  }
  let next = ROOTINO;
  root.ino = next++;
  for (const e of all) if (e !== root) e.ino = next++;
  return next;
}

/** Directory listing of `dir` in tape form: ".", "..", then the children by name. */
export function directoryEntries(dir: DumpEntry): Array<{ ino: number; type: number; name: Uint8Array }> {
  const parentIno = dir.parent ? dir.parent.ino : dir.ino;
  const out: Array<{ ino: number; type: number; name: Uint8Array }> = [
    { ino: dir.ino, type: dtypeOfMode(dir.inode.mode), name: Buffer.from('.') },
    { ino: parentIno, type: dtypeOfMode(0o040000), name: Buffer.from('..') },
  ];
  for (const c of dir.children ?? []) out.push({ ino: c.entry.ino, type: dtypeOfMode(c.entry.inode.mode), name: c.name });
  return out;
}
