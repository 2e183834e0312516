/**
 * Phase I/II: walk the source, lstat everything, give every object its dump inode number,
 * and decide what goes on tape. Produces the plan the later phases emit from. Memory is
 * proportional to the number of entries (paths and metadata), never to file sizes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapdumpError } from '../errors.js';
import { InodeMap } from '../format/bitmap.js';
import { S_IFLNK, kindOfMode, type FileKind } from '../format/constants.js';
import type { InodeFields } from '../format/header-template.js';
import { inodeFromStat, type FieldWarning } from '../format/inode-fields.js';
import { Col, ItemBits, ItemKind, exactTimesOfRow } from '../workers/read-protocol.js';
import { EntryTable, ROW, XCol, joinPath, type Name } from './entry-table.js';
import * as sysx from '../native/sysx.js';
import { StatField as F } from '../native/sysx.js';
import { readXattrs, readInodeFlags } from './xattr-emit.js';
import type { ExcludeMatcher } from '../select/exclude.js';
import { mountPointsBelow } from '../select/mounts.js';
import { WALK_COLS, W_BIRTH_NSEC, W_BIRTH_SEC, birthInto, errnoName } from './walk-rows.js';
import { numberInodes, type Numbering, type NumberingOptions } from './inode-numbers.js';

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
  /** Threads listing directories (native/walk-tree.c). */
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
  /** Tests: called once the root's listing is in the table, before anything below it is listed. */
  afterRootListed?: () => void;
  /** The persistent inode map (src/stages/inode-numbers.ts); without it: identity, else dense at level 0. */
  numbering?: Pick<NumberingOptions, 'date' | 'forceMap' | 'mapExists' | 'openMap'>;
}

export function displayPath(p: Name): string {
  return typeof p === 'string' ? p : p.toString('utf8');
}

const MAX_U32 = 0xffffffff;
const inU32 = (sec: number) => sec >= 0 && sec <= MAX_U32;

/**
 * Fills the table row at `o` of `r` from a walk row. Returns the object's kind. The walk
 * (native/walk-tree.c) fills the common case itself (no device, every time in the format's
 * range) the way the first branch here does, and leaves the others to the second.
 */
function fillRow(r: Float64Array, o: number, src: Float64Array, at: number, warnings: FieldWarning[]): FileKind {
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
  const notices: Notice[] = [];
  const warnings: FieldWarning[] = [];
  const flushWarnings = (p: Name) => {
    for (const w of warnings) notices.push({ code: 'FIELD_RANGE', path: displayPath(p), message: w.message, skipped: false });
    warnings.length = 0;
  };
  const checkAccess = process.getuid?.() !== 0;
  // Mount points are not crossed, so the root's file system says whether birth times exist.
  const hasBirth = st[W_BIRTH_NSEC]! >= 0;

  const rootRow = new Float64Array(ROW);
  fillRow(rootRow, 0, st, 0, warnings);
  flushWarnings(rootPath);
  const patterns = opts.excludePatterns && !opts.excludePatterns.empty ? opts.excludePatterns : null;
  const rootPrefix = rootPath === '/' ? '/' : rootPath + '/';
  const junctionMode: JunctionMode = opts.junctions ?? 'symlink';
  const exclude = new Float64Array((opts.exclude ?? []).flatMap((o) => [o.dev, o.ino]));
  // The walk runs in native code on its own threads and reports progress through this array
  // (off-heap, so its memory stays where the threads write it); setting [1] stops it.
  const progress = new Int32Array(new ArrayBuffer(12));
  const stop = () => { progress[1] = 1; };
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.afterRootListed) progress[2] = 1;
  const ticker = opts.onProgress || opts.afterRootListed ? setInterval(() => {
    opts.onProgress?.(progress[0]!);
    if (progress[2] === 2) { opts.afterRootListed!(); progress[2] = 0; }
  }, opts.afterRootListed ? 1 : 100) : null;
  let w: sysx.WalkedTree;
  try {
    w = await sysx.walkTreeAsync({
      root: rootPath, rootRow, birth: hasBirth, checkAccess, threads: opts.concurrency, rootDev,
      capacity: tableCapacity(rootPath), exclude, mounts: [...mountPointsBelow(rootPath)],
      patterns: (patterns?.patterns ?? []).map((p) => ({ path: p.path, shape: PATTERN_SHAPES.indexOf(p.shape), text: p.text })),
      rootPrefix: Buffer.byteLength(rootPrefix), progress,
    });
  } catch (e) {
    opts.signal?.throwIfAborted();
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
  } finally {
    if (ticker) clearInterval(ticker);
    opts.signal?.removeEventListener('abort', stop);
  }
  opts.signal?.throwIfAborted();
  const t = EntryTable.adopt(w);
  t.dirPaths.set(0, rootPath);
  opts.onProgress?.(t.count);

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
  const mountPoints: Array<[number, Name]> = [];
  for (let i = 0; i < w.dirIds.length; i++) {
    const id = w.dirIds[i]!;
    const bits = w.dirBits[i]!;
    if (bits & sysx.WalkDirBits.FlagsRead) probed.flags.add(id);
    if (bits & sysx.WalkDirBits.NoXattrs) probed.noXattrs.add(id);
    if (id === 0) continue;
    if (bits & sysx.WalkDirBits.Mount) mountPoints.push([id, w.dirPaths[i]!]);
    else t.dirPaths.set(id, w.dirPaths[i]!);
  }
  // Rows the walk left to the checked path (device numbers, times beyond 32 bits), before a
  // mount point's row becomes a junction's.
  for (let i = 0; i < w.slow.length; i++) {
    const o = w.slow[i]! * ROW;
    const links = t.rows.slice(o + XCol.parent, o + XCol.dumpFlags + 1);
    fillRow(t.rows, o, w.slowRows, i * WALK_COLS, warnings);
    t.rows.set(links, o + XCol.parent);
    if (warnings.length) flushWarnings(t.path(w.slow[i]!));
  }
  for (const [id, p] of mountPoints) recordMountPoint(id, p);
  reportIssues(w, t, notices);
  const foreign = new Set(w.foreign);

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
    return planDump(t, numbering, since, opts.ignoreCtime ?? false, w.hardLinks, notices, mountIds, mountDirs, probed, w.excluded);
  } catch (e) {
    await numbering.map?.handle.release();
    throw e;
  }
}

/** Shapes of src/select/exclude.ts in the order native/walk-tree.c numbers them. */
const PATTERN_SHAPES = ['any', 'exact', 'prefix', 'suffix', 'contains'] as const;

/** Notices for the entries the walk left out or flagged (native/walk-tree.c issues). */
function reportIssues(w: sysx.WalkedTree, t: EntryTable, notices: Notice[]): void {
  const f = sysx.WALK_ISSUE_FIELDS;
  for (let i = 0; i < w.issues.length / f; i++) {
    const [code, errno, parent, start, length, raw] = w.issues.subarray(i * f, i * f + f) as unknown as number[];
    const dirPath = t.dirPaths.get(parent!)!;
    if (code === sysx.WalkIssue.UnreadableDir) {
      notices.push({ code: 'UNREADABLE_DIR', path: displayPath(dirPath), message: `cannot read directory: ${w.dirErrors[i]!.message}; dumped empty`, skipped: true });
      continue;
    }
    const name = raw ? Buffer.from(w.issueNames.subarray(start!, start! + length!)) : w.issueNames.toString('utf8', start!, start! + length!);
    const p = displayPath(joinPath(dirPath, name));
    switch (code) {
      case sysx.WalkIssue.Stat: {
        const gone = errnoName(errno!) === 'ENOENT';
        notices.push({ code: gone ? 'VANISHED' : 'UNREADABLE', path: p, message: gone ? 'file removed before we read it; skipped' : `cannot stat: ${errnoName(errno!)}: lstat '${p}'; skipped`, skipped: true });
        break;
      }
      case sysx.WalkIssue.NameTooLong:
        notices.push({ code: 'NAME_TOO_LONG', path: p, message: 'name longer than 255 bytes; skipped', skipped: true });
        break;
      case sysx.WalkIssue.Unreadable:
        notices.push({ code: 'UNREADABLE', path: p, message: 'cannot read: permission denied; skipped', skipped: true });
        break;
      case sysx.WalkIssue.Name255:
        notices.push({ code: 'NAME_255', path: p, message: 'a 255-byte name is dumped correctly, but Linux restore 0.4b47 cannot restore it', skipped: false });
        break;
    }
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
  const rows = t.rows.subarray(0, t.count * ROW);
  const directories = new Int32Array(t.count);
  const others = new Int32Array(t.count);
  // The in-use map lists everything present, so a restore can delete what is gone.
  const n = sysx.inodeMaps(rows, selected, inUse.storage, dumped.storage, directories, others);
  const dirIds = directories.subarray(0, n.directories);
  for (const id of dirIds) {
    // A mount point recorded as a directory: the mounted root's flags and EAs are not its own.
    if (mountDirs.has(id)) continue;
    // Directory flags and EAs are read here; the workers read those of everything else.
    const p = t.dirPaths.get(id)!;
    if (!probed.flags.has(id)) t.set(id, XCol.dumpFlags, readInodeFlags(p, true));
    if (probed.noXattrs.has(id)) continue;
    const x = readXattrs(p);
    if (x.attrs.length) t.xattrs.set(id, x.attrs);
    for (const err of x.errors) notices.push({ code: 'XATTR', path: displayPath(p), message: err, skipped: true });
  }
  const bytes = n.bytes;
  return {
    table: t, root: 0, directories: dirIds, others: others.subarray(0, n.others), inUse, dumped, maxino, notices, numbering,
    totals: { files: n.others, directories: n.directories, bytes, excluded },
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
  sysx.selectChanged(r.subarray(0, t.count * ROW), since, ignoreCtime ? Infinity : since, selected);
  if (!hardLinks) return selected;
  // Mark it and its ancestors; stop at an ancestor already marked (its own are too).
  const mark = (id: number) => {
    for (let a = id; !selected[a]; a = r[a * ROW + XCol.parent]!) {
      selected[a] = 1;
      if (a === 0) break;
    }
  };
  for (let dir = 0; dir < t.count; dir++) {
    const start = t.get(dir, XCol.childStart);
    const end = start + t.get(dir, XCol.childCount);
    for (let l = start; l < end; l++) {
      const child = t.linkChild[l]!;
      if (selected[child] && !selected[dir] && t.get(child, Col.nlink) > 1 && !t.isDir(child)) mark(dir);
    }
  }
  return selected;
}
