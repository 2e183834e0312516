/**
 * Phase I/II: walk the source, lstat everything, give every object its dump inode number,
 * and decide what goes on tape. Produces the plan the later phases emit from. Memory is
 * proportional to the number of entries (paths and metadata), never to file sizes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapdumpError } from '../errors.js';
import { InodeMap } from '../format/bitmap.js';
import { S_IFDIR, S_IFLNK, kindOfMode, type FileKind } from '../format/constants.js';
import { MAX_NAME_BYTES } from '../format/directory.js';
import type { InodeFields } from '../format/header-template.js';
import { inodeFromStat, type FieldWarning } from '../format/inode-fields.js';
import { Col, ItemBits, ItemKind, exactTimesOfRow } from '../workers/read-protocol.js';
import { EntryTable, ROW, XCol, joinPath, type Name } from './entry-table.js';
import * as sysx from '../native/sysx.js';
import { StatField as F } from '../native/sysx.js';
import { readXattrs, readInodeFlags } from './xattr-emit.js';
import type { ExcludeMatcher } from '../select/exclude.js';
import { mountPointsBelow } from '../select/mounts.js';
import { WALK_COLS, W_BIRTH_NSEC, W_BIRTH_SEC, W_READABLE, birthInto, errnoName } from './walk-rows.js';
import { numberInodes, type Numbering, type NumberingOptions } from './inode-numbers.js';
import { ObjectSet } from './object-set.js';

export interface Notice {
  code: string;
  path: string;
  message: string;
  /** True when the entry is missing or incomplete in the image (exit status 1). */
  skipped: boolean;
}

export interface DumpPlan {
  table: EntryTable;
  /** Root's id in the table (always 0). */
  root: number;
  /** Ids of the directories in ascending inode order (root first). */
  directories: Int32Array;
  /** Ids of every other dumped object in ascending inode order. */
  others: Int32Array;
  inUse: InodeMap;
  dumped: InodeMap;
  maxino: number;
  totals: { files: number; directories: number; bytes: number; excluded: number };
  notices: Notice[];
  /** How the inode numbers were given; in map mode the map is locked until stored or released. */
  numbering: Numbering;
}

/**
 * How a mount point below the source is recorded (its file system is never crossed):
 * 'symlink' (default) as a symbolic link to the mount point's path, as ONTAP records junctions;
 * 'dir' as an empty directory, as Linux dump does.
 */
export type JunctionMode = 'symlink' | 'dir';

export interface TraverseOptions {
  source: string;
  /** Walk tasks in flight (each lists a few directories on the libuv thread pool). */
  concurrency: number;
  /**
   * Incremental selection: only objects whose ctime or mtime (mtime only with ignoreCtime) is at
   * or after this date (Unix seconds) are dumped, with every directory on the path to them and
   * every directory that changed itself. 0 dumps everything.
   */
  since?: number;
  ignoreCtime?: boolean;
  /** Objects to leave out, e.g. the output file itself when it lies inside the source. */
  exclude?: Array<{ dev: number; ino: number }>;
  /**
   * Names and paths to leave out (src/select/exclude.ts): an excluded entry is in no listing and
   * no map, as if it did not exist, and an excluded directory is not walked.
   */
  excludePatterns?: ExcludeMatcher;
  junctions?: JunctionMode;
  signal?: AbortSignal;
  onProgress?: (entries: number) => void;
  /** The persistent inode map (src/stages/inode-numbers.ts); without it: identity, else dense at level 0. */
  numbering?: Pick<NumberingOptions, 'date' | 'forceMap' | 'mapExists' | 'openMap'>;
}

export function displayPath(p: Name): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

const MAX_U32 = 0xffffffff;
const inU32 = (sec: number) => sec >= 0 && sec <= MAX_U32;

/**
 * Fills the row of `id` from an lstat result. Returns the object's kind. The common case (no
 * device, every time in the format's range) is written straight from the stat row, without the
 * objects of inodeFromStat: the walk of a 100,000-file incremental spends its time here.
 */
function fillRow(t: EntryTable, id: number, src: Float64Array, at: number, warnings: FieldWarning[]): FileKind {
  const r = t.rows;
  const o = id * ROW;
  const mode = src[at + F.mode]!;
  const type = mode & 0o170000;
  if (type !== 0o020000 && type !== 0o060000 && inU32(src[at + F.atimeSec]!) && inU32(src[at + F.mtimeSec]!) && inU32(src[at + F.ctimeSec]!)) {
    const kind = kindOfMode(mode);
    const size = src[at + F.size]!;
    const blocks = src[at + F.blocks]!;
    r[o + Col.kind] = kind === 'file' ? ItemKind.File : kind === 'symlink' ? ItemKind.Symlink : ItemKind.Other;
    r[o + Col.ino] = 0;
    r[o + Col.offset] = 0;
    r[o + Col.length] = kind === 'file' ? size : 0;
    r[o + Col.bits] = kind === 'file' && blocks * 512 < size ? ItemBits.Sparse : 0;
    r[o + Col.mode] = mode & 0xffff;
    r[o + Col.nlink] = Math.min(src[at + F.nlink]!, 0x7fff);
    r[o + Col.uid] = src[at + F.uid]! >>> 0;
    r[o + Col.gid] = src[at + F.gid]! >>> 0;
    r[o + Col.size] = size;
    r[o + Col.blocks] = blocks;
    r[o + Col.rdev] = 0;
    r[o + Col.atime] = src[at + F.atimeSec]!; r[o + Col.atimeUsec] = Math.floor(src[at + F.atimeNsec]! / 1000);
    r[o + Col.mtime] = src[at + F.mtimeSec]!; r[o + Col.mtimeUsec] = Math.floor(src[at + F.mtimeNsec]! / 1000);
    r[o + Col.ctime] = src[at + F.ctimeSec]!; r[o + Col.ctimeUsec] = Math.floor(src[at + F.ctimeNsec]! / 1000);
    r[o + Col.mtimeSec] = src[at + F.mtimeSec]!; r[o + Col.mtimeNsec] = src[at + F.mtimeNsec]!;
    r[o + Col.ctimeSec] = src[at + F.ctimeSec]!; r[o + Col.ctimeNsec] = src[at + F.ctimeNsec]!;
    r[o + Col.atimeSec] = src[at + F.atimeSec]!; r[o + Col.atimeNsec] = src[at + F.atimeNsec]!;
    r[o + Col.birthSec] = src[at + W_BIRTH_SEC]!; r[o + Col.birthNsec] = src[at + W_BIRTH_NSEC]! >= 0 ? src[at + W_BIRTH_NSEC]! : -1;
    r[o + XCol.srcIno] = src[at + F.ino]!;
    r[o + XCol.parent] = 0;
    r[o + XCol.childStart] = 0;
    r[o + XCol.childCount] = 0;
    r[o + XCol.dumpFlags] = 0;
    return kind;
  }
  const f = inodeFromStat({
    mode: src[at + F.mode]!, nlink: src[at + F.nlink]!, uid: src[at + F.uid]!, gid: src[at + F.gid]!, rdev: src[at + F.rdev]!, size: src[at + F.size]!, blocks: src[at + F.blocks]!,
    atimeSec: src[at + F.atimeSec]!, atimeNsec: src[at + F.atimeNsec]!, mtimeSec: src[at + F.mtimeSec]!, mtimeNsec: src[at + F.mtimeNsec]!,
    ctimeSec: src[at + F.ctimeSec]!, ctimeNsec: src[at + F.ctimeNsec]!, birthSec: src[at + W_BIRTH_SEC]!, birthNsec: src[at + W_BIRTH_NSEC]!,
  }, warnings);
  const kind = kindOfMode(f.mode);
  r[o + Col.kind] = kind === 'file' ? ItemKind.File : kind === 'symlink' ? ItemKind.Symlink : ItemKind.Other;
  r[o + Col.ino] = 0;
  r[o + Col.offset] = 0;
  r[o + Col.length] = kind === 'file' ? f.size : 0;
  r[o + Col.bits] = kind === 'file' && f.blocks * 512 < f.size ? ItemBits.Sparse : 0;
  r[o + Col.mode] = f.mode;
  r[o + Col.nlink] = f.nlink;
  r[o + Col.uid] = f.uid;
  r[o + Col.gid] = f.gid;
  r[o + Col.size] = f.size;
  r[o + Col.blocks] = f.blocks;
  r[o + Col.rdev] = f.rdev;
  r[o + Col.atime] = f.atime; r[o + Col.atimeUsec] = f.atimeUsec;
  r[o + Col.mtime] = f.mtime; r[o + Col.mtimeUsec] = f.mtimeUsec;
  r[o + Col.ctime] = f.ctime; r[o + Col.ctimeUsec] = f.ctimeUsec;
  r[o + Col.mtimeSec] = src[at + F.mtimeSec]!; r[o + Col.mtimeNsec] = src[at + F.mtimeNsec]!;
  r[o + Col.ctimeSec] = src[at + F.ctimeSec]!; r[o + Col.ctimeNsec] = src[at + F.ctimeNsec]!;
  r[o + Col.atimeSec] = src[at + F.atimeSec]!; r[o + Col.atimeNsec] = src[at + F.atimeNsec]!;
  r[o + Col.birthSec] = src[at + W_BIRTH_SEC]!; r[o + Col.birthNsec] = f.exact?.birth ? src[at + W_BIRTH_NSEC]! : -1;
  r[o + XCol.srcIno] = src[at + F.ino]!;
  r[o + XCol.parent] = 0;
  r[o + XCol.childStart] = 0;
  r[o + XCol.childCount] = 0;
  r[o + XCol.dumpFlags] = 0;
  return kind;
}

/**
 * Rows to reserve for the walk: the inodes in use on the source's file system (an upper bound for
 * a tree that does not cross mount points), within limits. Growing the table copies it, and on
 * this kind of machine touching fresh memory (page faults) costs more than filling it; reserved
 * memory that is never written costs nothing (it is not even mapped in).
 */
function tableCapacity(root: string): number {
  try {
    const s = fs.statfsSync(root);
    return Math.min(Math.max(s.files - s.ffree, 4096), 1 << 19);
  } catch {
    return 4096;
  }
}

/** The embedded-inode fields of an object, for the encoders. */
export function inodeFields(t: EntryTable, id: number): InodeFields {
  const r = t.rows;
  const o = id * ROW;
  return {
    mode: r[o + Col.mode]!, nlink: r[o + Col.nlink]!, uid: r[o + Col.uid]!, gid: r[o + Col.gid]!,
    size: r[o + Col.size]!, blocks: r[o + Col.blocks]!, rdev: r[o + Col.rdev]!, flags: r[o + XCol.dumpFlags]!,
    atime: r[o + Col.atime]!, atimeUsec: r[o + Col.atimeUsec]!, mtime: r[o + Col.mtime]!,
    mtimeUsec: r[o + Col.mtimeUsec]!, ctime: r[o + Col.ctime]!, ctimeUsec: r[o + Col.ctimeUsec]!,
    exact: exactTimesOfRow(r, o),
  };
}

export async function traverse(opts: TraverseOptions): Promise<DumpPlan> {
  const st = new Float64Array(WALK_COLS);
  let rootPath: string;
  try {
    rootPath = fs.realpathSync(path.resolve(opts.source)); // a symlinked source is followed
    sysx.lstatInto(rootPath, st);
    birthInto(rootPath, st, 0);
  } catch (e) {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
  }
  if (kindOfMode(st[F.mode]!) !== 'dir') {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: not a directory`, { path: opts.source });
  }
  const rootDev = st[F.dev]!;
  const exclude = new ObjectSet(opts.exclude);
  const notices: Notice[] = [];
  const warnings: FieldWarning[] = [];
  const flushWarnings = (p: Name) => {
    for (const w of warnings) notices.push({ code: 'FIELD_RANGE', path: displayPath(p), message: w.message, skipped: false });
    warnings.length = 0;
  };
  const checkAccess = process.getuid?.() !== 0;
  // Mount points are not crossed, so the root's file system says whether birth times exist.
  const hasBirth = st[W_BIRTH_NSEC]! >= 0;

  const t = new EntryTable(tableCapacity(rootPath));
  const root = t.add();
  fillRow(t, root, st, 0, warnings);
  flushWarnings(rootPath);
  t.dirPaths.set(root, rootPath);
  // Objects with several links, by source inode, so every name maps to one dump inode.
  const linked = new Map<number, number>();
  // Objects on another device (mount points): their st_ino may equal one of the source's.
  const foreign = new Set<number>();
  const patterns = opts.excludePatterns && !opts.excludePatterns.empty ? opts.excludePatterns : null;
  let excluded = 0;
  const rootPrefix = rootPath === '/' ? '/' : rootPath + '/';
  const rootPrefixBytes = Buffer.byteLength(rootPrefix);
  const relativePath = (p: Name): Name => (typeof p === 'string' ? p.slice(rootPrefix.length) : p.subarray(rootPrefixBytes));
  const mounts = mountPointsBelow(rootPath);
  const junctionMode: JunctionMode = opts.junctions ?? 'symlink';
  /** Mount points found; their numbers are not the source's (see numberMountPoints). */
  const mountIds: number[] = [];
  const probed: DirProbes = { flags: new Set(), noXattrs: new Set() };
  /** A nested mount point: not walked; an empty directory or a symbolic link to its path. */
  const recordMountPoint = (id: number, p: Name) => {
    mountIds.push(id);
    // st_ino is the mounted root's (1, 2, 256...): not an identity in the source's numbering.
    t.set(id, XCol.srcIno, NaN);
    if (junctionMode === 'dir') {
      t.set(id, XCol.childStart, t.linkCount);
      t.dirPaths.set(id, p);
      notices.push({ code: 'MOUNT_POINT', path: displayPath(p), message: 'mount point not crossed; dumped as an empty directory', skipped: false });
      return;
    }
    const target = typeof p === 'string' ? Buffer.byteLength(p) : p.length;
    t.set(id, Col.mode, S_IFLNK | 0o777);
    t.set(id, Col.kind, ItemKind.Symlink);
    t.set(id, Col.size, target);
    t.set(id, Col.length, 0);
    t.set(id, Col.blocks, 0);
    t.set(id, Col.nlink, 1);
    t.set(id, Col.bits, ItemBits.Junction);
    notices.push({ code: 'MOUNT_POINT', path: displayPath(p), message: 'mount point not crossed; recorded as a symbolic link to its path (junction)', skipped: false });
  };

  /**
   * Adds the listing of directory `dir` (in the table, its path in dirPaths): entries `first` ..
   * `end` of `w`, whose names were copied to the arena at `base`.
   */
  const integrate = (dir: number, w: sysx.WalkedDirs, i: number, first: number, end: number, base: number, raw: Set<number> | null, pending: number[]) => {
    const dirPath = t.dirPaths.get(dir)!;
    t.set(dir, XCol.childStart, t.linkCount);
    const flags = w.dirFlags[i]!;
    if (flags >= 0) { t.set(dir, XCol.dumpFlags, flags); probed.flags.add(dir); }
    if (w.dirXattrs[i] === 0) probed.noXattrs.add(dir);
    const starts = w.starts;
    const row = w.rows;
    // Names are decoded only when needed (a pattern, a notice, a directory's path): most entries never need theirs.
    let start = 0, len = 0, isRaw = false;
    let name: Name | null = null;
    const nameOf = (): Name => (name ??= isRaw ? Buffer.from(t.nameBytes.subarray(start, start + len)) : t.nameBytes.toString('utf8', start, start + len));
    const pathOf = (): Name => joinPath(dirPath, nameOf());
    for (let k = first; k < end; k++) {
      start = base + starts[k]!;
      len = (k + 1 < starts.length ? starts[k + 1]! : w.names.length) - starts[k]! - 1;
      isRaw = raw !== null && raw.has(k);
      name = null;
      // Excluded entries are not even reported when they cannot be read.
      if (patterns && patterns.match(nameOf(), patterns.needsPaths ? relativePath(pathOf()) : undefined)) { excluded++; continue; }
      const err = w.errors[k]!;
      if (err !== 0) {
        const code = errnoName(err);
        const gone = code === 'ENOENT';
        const p = displayPath(pathOf());
        notices.push({ code: gone ? 'VANISHED' : 'UNREADABLE', path: p, message: gone ? 'file removed before we read it; skipped' : `cannot stat: ${code}: lstat '${p}'; skipped`, skipped: true });
        continue;
      }
      if (len > MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_TOO_LONG', path: displayPath(pathOf()), message: 'name longer than 255 bytes; skipped', skipped: true });
        continue;
      }
      const o = k * WALK_COLS;
      if (!exclude.empty && exclude.has(row[o + F.dev]!, row[o + F.ino]!)) continue;
      const type = row[o + F.mode]! & 0o170000;
      const isDir = type === S_IFDIR;
      const multiLinked = !isDir && row[o + F.nlink]! > 1;
      if (multiLinked) {
        const known = linked.get(row[o + F.ino]!);
        if (known !== undefined) { t.addLink(known, start, len, isRaw); continue; }
      }
      if (row[o + W_READABLE] === 0) {
        notices.push({ code: 'UNREADABLE', path: displayPath(pathOf()), message: 'cannot read: permission denied; skipped', skipped: true });
        continue;
      }
      if (len === MAX_NAME_BYTES) {
        notices.push({ code: 'NAME_255', path: displayPath(pathOf()), message: 'a 255-byte name is dumped correctly, but Linux restore 0.4b47 cannot restore it', skipped: false });
      }
      const id = t.add();
      fillRow(t, id, row, o, warnings);
      if (warnings.length) flushWarnings(pathOf());
      t.set(id, XCol.parent, dir);
      if (multiLinked) linked.set(row[o + F.ino]!, id);
      if (row[o + F.dev] !== rootDev) foreign.add(id);
      t.addLink(id, start, len, isRaw);
      if (isDir) {
        const p = pathOf();
        if (row[o + F.dev] !== rootDev || (mounts.size > 0 && typeof p === 'string' && mounts.has(p))) {
          recordMountPoint(id, p);
        } else {
          t.dirPaths.set(id, p);
          pending.push(id);
        }
      }
    }
    t.set(dir, XCol.childCount, t.linkCount - t.get(dir, XCol.childStart));
  };

  // Directories are listed (readdir + statx of each entry, in C) on the libuv thread pool, a few
  // per call and several calls at once; the main thread adds each listing to the table.
  const pending: number[] = [root];
  const inflight = new Map<number, Promise<{ key: number; dirs: number[]; result: sysx.WalkedDirs }>>();
  let nextKey = 0;
  while (pending.length > 0 || inflight.size > 0) {
    while (pending.length > 0 && inflight.size < opts.concurrency) {
      // Spread the known directories over the calls in flight, a few per call.
      const take = Math.min(64, Math.max(1, Math.ceil(pending.length / opts.concurrency)));
      const dirs = pending.splice(pending.length - take, take);
      const key = nextKey++;
      const listing = sysx.walkDirsAsync(dirs.map((d) => t.dirPaths.get(d)!), hasBirth, checkAccess).then((result) => ({ key, dirs, result }));
      // A call still in flight when the walk stops (an abort, an error) must not fail unhandled.
      listing.catch(() => undefined);
      inflight.set(key, listing);
    }
    const { key, dirs, result } = await Promise.race(inflight.values());
    inflight.delete(key);
    const base = t.addNameBytes(result.names);
    const raw = result.raw.length ? new Set(result.raw) : null;
    let first = 0;
    dirs.forEach((dir, i) => {
      const count = result.counts[i]!;
      if (count < 0) {
        t.set(dir, XCol.childStart, t.linkCount);
        notices.push({ code: 'UNREADABLE_DIR', path: displayPath(t.dirPaths.get(dir)!), message: `cannot read directory: ${result.failures[i]!.message}; dumped empty`, skipped: true });
        return;
      }
      integrate(dir, result, i, first, first + count, base, raw, pending);
      first += count;
    });
    opts.onProgress?.(t.count);
    opts.signal?.throwIfAborted();
  }
  opts.onProgress?.(t.count);

  const mountDirs = new Set(junctionMode === 'dir' ? mountIds : []);
  const since = opts.since ?? 0;
  const numbering = await numberInodes(t, {
    since, date: opts.numbering?.date ?? 0, forceMap: opts.numbering?.forceMap ?? false,
    mapExists: opts.numbering?.mapExists ?? false, openMap: opts.numbering?.openMap, rootPath,
    foreign: new Set([...foreign, ...mountIds]),
    onFallback: (message) => notices.push({ code: 'INODE_MAP', path: displayPath(rootPath), message, skipped: false }),
  });
  // The map (and dense numbering) numbered mount points already; the identity rule cannot.
  if (numbering.mode === 'identity') numbering.maxino = numberMountPoints(t, mountIds, numbering.maxino);
  try {
    return planDump(t, numbering, since, opts.ignoreCtime ?? false, linked.size > 0, notices, mountIds, mountDirs, probed, excluded);
  } catch (e) {
    await numbering.map?.handle.release();
    throw e;
  }
}

/**
 * What the walk learnt of each directory it listed, on the descriptor it listed it with: the
 * directories whose inode flags it read (they are in the row's dumpFlags already) and those it
 * found without extended attributes. planDump reads the others by path (four system calls each
 * on the main thread), which also reports the errors the walk only noticed.
 */
interface DirProbes {
  flags: Set<number>;
  noXattrs: Set<number>;
}

/** The maps and the emit order of what goes on tape. */
function planDump(t: EntryTable, numbering: Numbering, since: number, ignoreCtime: boolean, hardLinks: boolean, notices: Notice[], mountIds: readonly number[], mountDirs: ReadonlySet<number>, probed: DirProbes, excluded: number): DumpPlan {
  const maxino = numbering.maxino;
  const selected = since > 0 ? selectChanged(t, since, ignoreCtime, hardLinks) : null;
  // A mount point's number may change between levels (numberMountPoints): always dump it, with
  // the directories on its path, so restore -r finds every name's inode.
  if (selected) for (const id of mountIds) for (let a = id; !selected[a]; a = t.get(a, XCol.parent)) selected[a] = 1;
  const inUse = new InodeMap(maxino);
  const dumped = new InodeMap(maxino);
  const dirIds: number[] = [];
  const otherIds: number[] = [];
  let bytes = 0;
  const r = t.rows;
  for (let id = 0, o = 0; id < t.count; id++, o += ROW) {
    const ino = r[o + Col.ino]!;
    // The in-use map lists everything present, so a restore can delete what is gone.
    inUse.set(ino);
    if (selected && !selected[id]) continue;
    dumped.set(ino);
    if ((r[o + Col.mode]! & 0o170000) === S_IFDIR) {
      dirIds.push(id);
      // A mount point recorded as a directory: the mounted root's flags and EAs are not its own.
      if (mountDirs.has(id)) continue;
      // Directory flags and EAs are read here; the workers read those of everything else.
      const p = t.dirPaths.get(id)!;
      if (!probed.flags.has(id)) t.set(id, XCol.dumpFlags, readInodeFlags(p, true));
      if (probed.noXattrs.has(id)) continue;
      const x = readXattrs(p);
      if (x.attrs.length) t.xattrs.set(id, x.attrs);
      for (const err of x.errors) notices.push({ code: 'XATTR', path: displayPath(p), message: err, skipped: true });
    } else {
      otherIds.push(id);
      if (r[o + Col.kind] === ItemKind.File) bytes += r[o + Col.size]!;
    }
  }
  const byIno = (a: number, b: number) => t.get(a, Col.ino) - t.get(b, Col.ino);
  const directories = Int32Array.from(dirIds).sort(byIno);
  const others = Int32Array.from(otherIds).sort(byIno);
  return {
    table: t, root: 0, directories, others, inUse, dumped, maxino, notices, numbering,
    totals: { files: others.length, directories: directories.length, bytes, excluded },
  };
}

/**
 * Mount points get numbers of their own above every source number (their st_ino belongs to the
 * mounted file system), in path order, so they are the same across levels while the source's
 * highest number stays. Returns the new maxino.
 */
function numberMountPoints(t: EntryTable, ids: readonly number[], maxino: number): number {
  let next = maxino;
  const byPath = ids.map((id) => ({ id, p: Buffer.from(t.path(id)) })).sort((a, b) => Buffer.compare(a.p, b.p));
  for (const { id } of byPath) t.set(id, Col.ino, next++);
  return next;
}

/**
 * Which objects an incremental dumps (Linux dump's passes I and II): those changed since the
 * base date, every directory that changed itself (so a restore learns of deletions and
 * renames), every directory holding a name of a dumped object (a changed file with several
 * links gets all its names on tape, so a restore rewrites every one of them), every directory
 * on the path to those, and the root. `hardLinks`: whether any non-directory has several links
 * (without, the pass over every name is skipped).
 */
function selectChanged(t: EntryTable, since: number, ignoreCtime: boolean, hardLinks: boolean): Uint8Array {
  const selected = new Uint8Array(t.count);
  const r = t.rows;
  // Mark it and its ancestors; stop at an ancestor already marked (its own are too).
  const mark = (id: number) => {
    for (let a = id; !selected[a]; a = r[a * ROW + XCol.parent]!) {
      selected[a] = 1;
      if (a === 0) break;
    }
  };
  const ctimeSince = ignoreCtime ? Infinity : since;
  for (let id = 0, o = 0; id < t.count; id++, o += ROW) {
    if (r[o + Col.mtimeSec]! >= since || r[o + Col.ctimeSec]! >= ctimeSince) mark(id);
  }
  if (!hardLinks) {
    selected[0] = 1;
    return selected;
  }
  for (let dir = 0; dir < t.count; dir++) {
    const start = t.get(dir, XCol.childStart);
    const end = start + t.get(dir, XCol.childCount);
    for (let l = start; l < end; l++) {
      const child = t.linkChild[l]!;
      if (selected[child] && !selected[dir] && t.get(child, Col.nlink) > 1 && !t.isDir(child)) mark(dir);
    }
  }
  selected[0] = 1;
  return selected;
}
