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
import { ROOTINO, S_IFDIR, dtypeOfMode, kindOfMode, type FileKind } from '../format/constants.js';
import { MAX_NAME_BYTES, type DirEntry } from '../format/directory.js';
import type { InodeFields } from '../format/header-template.js';
import { clampTime, devMajor, devMinor, encodeRdev, type FieldWarning } from '../format/inode-fields.js';
import type { Xattr } from '../format/xattr.js';
import * as sysx from '../native/sysx.js';
import { StatField as F, STAT_FIELDS } from '../native/sysx.js';
import { readXattrs, readInodeFlags } from './xattr-emit.js';

/** One object to dump. Paths are strings unless the name is not valid UTF-8 (then bytes). */
export interface DumpEntry extends InodeFields {
  /** Dump inode number (assigned after the walk). */
  ino: number;
  /** Source inode number: the identity of the object during the walk. */
  srcIno: number;
  path: string | Buffer;
  kind: FileKind;
  /** Allocated bytes < size: the file has holes worth looking for. */
  sparse: boolean;
  /** Exact times the walk saw, to detect changes while the data is read. */
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  children?: Array<{ name: string | Buffer; entry: DumpEntry }>;
  parent?: DumpEntry;
  xattrs?: Xattr[];
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

export function displayPath(p: string | Buffer): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

function joinPath(dir: string | Buffer, name: string | Buffer): string | Buffer {
  if (typeof dir === 'string' && typeof name === 'string') return dir === '/' ? '/' + name : dir + '/' + name;
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), Buffer.from(name)]);
}

/**
 * Names of a directory as strings, or as bytes when one of them is not valid UTF-8 (a string
 * would silently replace the bad bytes and name another file).
 */
function listNames(dir: string | Buffer): Array<string | Buffer> {
  if (typeof dir === 'string') {
    const names = fs.readdirSync(dir);
    let plain = true;
    for (const n of names) if (n.includes('\uFFFD') || SURROGATE.test(n)) { plain = false; break; }
    // Without replacement characters the names are exact; without surrogates, UTF-16 code unit
    // order (the default sort) equals UTF-8 byte order, which is the order on tape.
    if (plain) return names.sort();
  }
  const raw = fs.readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
  return raw.map((n) => { const s = n.toString('utf8'); return Buffer.byteLength(s) === n.length && !s.includes('\uFFFD') ? s : n; });
}

const SURROGATE = /[\uD800-\uDFFF]/;

function nameBytes(n: string | Buffer): number {
  return typeof n === 'string' ? Buffer.byteLength(n) : n.length;
}

function makeEntry(p: string | Buffer, st: Float64Array, warnings: FieldWarning[]): DumpEntry {
  const mode = st[F.mode]!;
  const kind = kindOfMode(mode);
  const a = clampTime(st[F.atimeSec]!, st[F.atimeNsec]!, 'atime', warnings);
  const m = clampTime(st[F.mtimeSec]!, st[F.mtimeNsec]!, 'mtime', warnings);
  const c = clampTime(st[F.ctimeSec]!, st[F.ctimeNsec]!, 'ctime', warnings);
  let rdev = 0;
  if (kind === 'chr' || kind === 'blk') {
    const major = devMajor(st[F.rdev]!);
    const minor = devMinor(st[F.rdev]!);
    const encoded = encodeRdev(major, minor);
    if (encoded === null) warnings.push({ field: 'rdev', message: `device ${major}:${minor} cannot be stored; written as 0:0` });
    rdev = encoded ?? 0;
  }
  const size = st[F.size]!;
  const blocks = st[F.blocks]!;
  return {
    ino: 0, srcIno: st[F.ino]!, path: p, kind,
    mode, nlink: Math.min(st[F.nlink]!, 0x7fff), uid: st[F.uid]!, gid: st[F.gid]!, size, blocks, rdev, flags: 0,
    atime: a.sec, atimeUsec: a.usec, mtime: m.sec, mtimeUsec: m.usec, ctime: c.sec, ctimeUsec: c.usec,
    sparse: kind === 'file' && blocks * 512 < size,
    mtimeSec: st[F.mtimeSec]!, mtimeNsec: st[F.mtimeNsec]!, ctimeSec: st[F.ctimeSec]!, ctimeNsec: st[F.ctimeNsec]!,
    // Every entry gets every field up front: one object shape keeps the hot loops monomorphic.
    children: undefined, parent: undefined, xattrs: undefined, incomplete: false,
  };
}

export async function traverse(opts: TraverseOptions): Promise<DumpPlan> {
  const rootPath = path.resolve(opts.source);
  const st = new Float64Array(STAT_FIELDS);
  try {
    fs.statSync(rootPath); // follows a symlinked source, as a user would expect
    sysx.lstatInto(fs.realpathSync(rootPath), st);
  } catch (e) {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
  }
  if (kindOfMode(st[F.mode]!) !== 'dir') {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: not a directory`, { path: opts.source });
  }
  const rootDev = st[F.dev]!;
  const exclude = new Set((opts.exclude ?? []).map((x) => `${x.dev}:${x.ino}`));
  const notices: Notice[] = [];
  const warnings: FieldWarning[] = [];
  const flushWarnings = (p: string | Buffer) => {
    for (const w of warnings) notices.push({ code: 'FIELD_RANGE', path: displayPath(p), message: w.message, skipped: false });
    warnings.length = 0;
  };
  const checkAccess = process.getuid?.() !== 0;

  const root = makeEntry(fs.realpathSync(rootPath), st, warnings);
  flushWarnings(rootPath);
  const byIno = new Map<number, DumpEntry>([[root.srcIno, root]]);
  const all: DumpEntry[] = [root];
  const stack: DumpEntry[] = [root];
  let visited = 0;

  while (stack.length > 0) {
    const dir = stack.pop()!;
    dir.children = [];
    let names: Array<string | Buffer>;
    try {
      names = listNames(dir.path);
    } catch (e) {
      dir.incomplete = true;
      notices.push({ code: 'UNREADABLE_DIR', path: displayPath(dir.path), message: `cannot read directory: ${(e as Error).message}; dumped empty`, skipped: true });
      continue;
    }
    for (const name of names) {
      const childPath = joinPath(dir.path, name);
      const bytes = nameBytes(name);
      if (bytes > MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_TOO_LONG', path: displayPath(childPath), message: 'name longer than 255 bytes; skipped', skipped: true });
        continue;
      }
      try {
        sysx.lstatInto(childPath, st);
      } catch (e) {
        const gone = isErrno(e, 'ENOENT');
        notices.push({ code: gone ? 'VANISHED' : 'UNREADABLE', path: displayPath(childPath), message: gone ? 'file removed before we read it; skipped' : `cannot stat: ${(e as Error).message}; skipped`, skipped: true });
        continue;
      }
      if (exclude.size && exclude.has(`${st[F.dev]}:${st[F.ino]}`)) continue;
      const isDir = (st[F.mode]! & 0o170000) === S_IFDIR;
      const known = isDir ? undefined : byIno.get(st[F.ino]!);
      if (known) {
        dir.children.push({ name, entry: known });
        continue;
      }
      if (checkAccess && (st[F.mode]! & 0o170000) === 0o100000) {
        try { fs.accessSync(childPath, fs.constants.R_OK); } catch (e) {
          notices.push({ code: 'UNREADABLE', path: displayPath(childPath), message: `cannot read: ${(e as Error).message}; skipped`, skipped: true });
          continue;
        }
      }
      if (bytes === MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_255', path: displayPath(childPath), message: 'a 255-byte name is dumped correctly, but Linux restore 0.4b47 cannot restore it', skipped: false });
      }
      const entry = makeEntry(childPath, st, warnings);
      if (warnings.length) flushWarnings(childPath);
      entry.parent = dir;
      if (st[F.nlink]! > 1 || isDir) byIno.set(entry.srcIno, entry);
      all.push(entry);
      dir.children.push({ name, entry });
      if (isDir) {
        if (st[F.dev] !== rootDev) {
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
      // Directory flags and EAs are read here; the workers read those of everything else.
      e.flags = readInodeFlags(e.path, true);
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
  const identityLimit = Math.max(1 << 23, all.length * 64);
  let identity = true;
  let highest = ROOTINO;
  for (const e of all) {
    if (e === root) continue;
    if (e.srcIno <= ROOTINO || e.srcIno >= identityLimit || e.srcIno === root.srcIno) { identity = false; break; }
    if (e.srcIno > highest) highest = e.srcIno;
  }
  if (identity) {
    root.ino = ROOTINO;
    for (const e of all) if (e !== root) e.ino = e.srcIno;
    return highest + 1;
  }
  let next = ROOTINO;
  root.ino = next++;
  for (const e of all) if (e !== root) e.ino = next++;
  return next;
}

/** Directory listing of `dir` in tape form: ".", "..", then the children by name. */
export function directoryEntries(dir: DumpEntry): DirEntry[] {
  const parentIno = dir.parent ? dir.parent.ino : dir.ino;
  const out: DirEntry[] = [
    { ino: dir.ino, type: dtypeOfMode(dir.mode), name: '.' },
    { ino: parentIno, type: dtypeOfMode(S_IFDIR), name: '..' },
  ];
  for (const c of dir.children ?? []) out.push({ ino: c.entry.ino, type: dtypeOfMode(c.entry.mode), name: c.name });
  return out;
}
