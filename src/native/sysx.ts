/**
 * Typed wrapper around the `sysx` N-API addon (native/; native/sysx.c registers
 * each function and names the file that holds it): Linux syscalls
 * a dump/restore engine needs that Node's fs module does not expose.
 *
 * All calls are synchronous except walkTreeAsync and writeFilesAsync (libuv thread pool). Failures throw an Error shaped like Node's fs
 * errors: `.code` is the errno name ('ENOENT', 'ENODATA', ...), `.errno` is
 * the negative errno, `.syscall` names the call and `.path` is set for
 * path-based calls. Invalid arguments throw TypeError/RangeError with Node's
 * ERR_* codes.
 *
 * The addon is loaded lazily on first use, so importing this module never
 * fails just because `npm run build:native` has not been run yet.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Error thrown by the native calls (same shape as Node's fs errors). */
export interface SysxError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** A data region of a sparse file: bytes [start, end) may be non-zero. */
export type Extent = [start: number, end: number];

/** Birth (creation) time as reported by statx. */
export interface BirthTime {
  sec: number;
  nsec: number;
}

/** Inode flags (chattr) from <linux/fs.h>, for getFlags/setFlags. */
export const FS_SECRM_FL = 0x00000001;
export const FS_UNRM_FL = 0x00000002;
export const FS_COMPR_FL = 0x00000004;
export const FS_SYNC_FL = 0x00000008;
export const FS_IMMUTABLE_FL = 0x00000010;
export const FS_APPEND_FL = 0x00000020;
export const FS_NODUMP_FL = 0x00000040;
export const FS_NOATIME_FL = 0x00000080;

interface SysxBinding {
  seekData(fd: number, offset: number): number;
  seekHole(fd: number, offset: number): number;
  dataExtents(fd: number, size: number): Extent[];
  listXattrs(path: string | Uint8Array): string[];
  getXattr(path: string | Uint8Array, name: string): Buffer;
  setXattr(path: string | Uint8Array, name: string, value: Uint8Array): void;
  removeXattr(path: string | Uint8Array, name: string): void;
  getFlags(fd: number): number;
  setFlags(fd: number, flags: number): void;
  mknod(path: string | Uint8Array, mode: number, rdev: number): void;
  statxBirth(path: string | Uint8Array): BirthTime | null;
  lstatInto(path: string | Uint8Array, out: Float64Array): void;
  fstatInto(fd: number, out: Float64Array): void;
  lstatAt(dir: string | Uint8Array, names: Uint8Array, out: Float64Array, first: number, stride: number, errors: Int32Array): number;
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number;
  sendfileAt(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number;
  writeFiles(batch: Uint8Array, used: number, results: Int32Array): number;
  writeFilesAsync(batch: Uint8Array, used: number, results: Int32Array, callback: (err: Error | undefined, count: number) => void): void;
  readFileBatch(paths: Uint8Array, plan: Float64Array, buffer: Uint8Array, results: Float64Array, template: Uint8Array, rows: Float64Array): void;
  walkDir(dir: string | Uint8Array, birth: boolean, checkAccess: boolean): WalkedDir;
  walkTreeAsync(options: WalkTreeOptions, cb: (err: SysxError | null, result: WalkedTree) => void): void;
  tableLayout(): Record<string, number>;
  identityNumbers(rows: Float64Array, limit: number): number;
  selectChanged(rows: Float64Array, since: number, ctimeSince: number, selected: Uint8Array): void;
  inodeMaps(rows: Float64Array, selected: Uint8Array | null, inUse: Uint8Array, dumped: Uint8Array, directories: Int32Array, others: Int32Array): Float64Array;
  adviseHugePages(view: ArrayBufferView): number;
  directoryRecords(names: Buffer, linkChild: Int32Array, linkStart: Int32Array, linkLength: Int16Array, rows: Float64Array,
    dirs: Int32Array, from: number, special: Uint8Array, template: Buffer, out: Buffer, at: number, blockBase: number, marks: Float64Array): Float64Array;
  encodeDirectory(out: Buffer | null, at: number, names: Buffer, linkChild: Int32Array, linkStart: Int32Array,
    linkLength: Int16Array, rows: Float64Array, geometry: Int32Array, first: number, count: number, dirIno: number, parentIno: number): number;
  lutimesNs(
    path: string | Uint8Array,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
  ): void;
}

const ADDON = join('build', 'Release', 'sysx.node');

/**
 * The compiled file lives at dist/src/native/sysx.js, but walking up to the
 * package root (rather than hard-coding ../../../) keeps this working if the
 * output layout changes or the module is run from the source tree by a
 * TS-aware loader. A directory only counts if it holds package.json plus the
 * addon or binding.gyp, so a stray dist/package.json does not stop the walk.
 */
function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; ) {
    if (
      existsSync(join(dir, 'package.json')) &&
      (existsSync(join(dir, ADDON)) || existsSync(join(dir, 'binding.gyp')))
    ) {
      return join(dir, ADDON);
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(here, '..', '..', '..', ADDON);
}

let binding: SysxBinding | undefined;

function native(): SysxBinding {
  if (binding === undefined) {
    const file = addonPath();
    try {
      binding = createRequire(import.meta.url)(file) as SysxBinding;
    } catch (cause) {
      throw new Error(
        `snapdump: cannot load native addon ${file} (build it with \`npm run build:native\`)`,
        { cause },
      );
    }
  }
  return binding;
}

/** Loads the addon now; throws if it is missing or broken. */
export function loadNative(): void {
  native();
}

/**
 * lseek(fd, offset, SEEK_DATA): the first data byte at or after `offset`,
 * or -1 if only holes remain (ENXIO). Moves the file position.
 */
export function seekData(fd: number, offset: number): number {
  return native().seekData(fd, offset);
}

/**
 * lseek(fd, offset, SEEK_HOLE): the first hole at or after `offset` (EOF
 * counts as a hole), or -1 if `offset` is at/after EOF (ENXIO). Moves the
 * file position.
 */
export function seekHole(fd: number, offset: number): number {
  return native().seekHole(fd, offset);
}

/**
 * The data regions of the first `size` bytes of `fd`, in order, clipped to
 * `size`. Filesystem block granularity applies: regions may include zeros
 * around the written bytes. If the filesystem cannot report holes, the whole
 * file is one extent. The file position is restored afterwards.
 */
export function dataExtents(fd: number, size: number): Extent[] {
  return native().dataExtents(fd, size);
}

/** llistxattr: attribute names of `path` itself (symlinks not followed); [] if unsupported. */
export function listXattrs(path: string | Uint8Array): string[] {
  return native().listXattrs(path);
}

/** lgetxattr: the value of attribute `name`; throws ENODATA if absent. */
export function getXattr(path: string | Uint8Array, name: string): Buffer {
  return native().getXattr(path, name);
}

/** lsetxattr with flags 0 (create or replace). */
export function setXattr(path: string | Uint8Array, name: string, value: Buffer | Uint8Array): void {
  native().setXattr(path, name, value);
}

/** lremovexattr; throws ENODATA if absent. */
export function removeXattr(path: string | Uint8Array, name: string): void {
  native().removeXattr(path, name);
}

/** FS_IOC_GETFLAGS as an unsigned 32-bit number; 0 where the fs has no inode flags. */
export function getFlags(fd: number): number {
  return native().getFlags(fd);
}

/**
 * FS_IOC_SETFLAGS. Setting FS_APPEND_FL/FS_IMMUTABLE_FL needs
 * CAP_LINUX_IMMUTABLE. Negative int32 values (what `flags & ~X` yields in JS
 * when bit 31 is set) are taken as their unsigned 32-bit equivalent.
 */
export function setFlags(fd: number, flags: number): void {
  const unsigned = Number.isInteger(flags) && flags < 0 && flags >= -0x8000_0000 ? flags >>> 0 : flags;
  native().setFlags(fd, unsigned);
}

/**
 * mknod(2). `mode` includes the file type (fs.constants.S_IFCHR etc.); the
 * process umask applies to the permission bits. `rdev` is a Linux dev_t as
 * built by makedev() (or taken from fs.Stats.rdev).
 */
export function mknod(path: string | Uint8Array, mode: number, rdev: number | bigint): void {
  native().mknod(path, mode, toDevNumber(rdev, 'rdev'));
}

/** statx(AT_SYMLINK_NOFOLLOW, STATX_BTIME) birth time, or null if the fs has none. */
export function statxBirth(path: string | Uint8Array): BirthTime | null {
  return native().statxBirth(path);
}

/**
 * utimensat(AT_FDCWD, path, ..., AT_SYMLINK_NOFOLLOW) with exact
 * nanoseconds; does not follow symlinks.
 */
export function lutimesNs(path: string | Uint8Array,
  atimeSec: number,
  atimeNsec: number,
  mtimeSec: number,
  mtimeNsec: number,
): void {
  native().lutimesNs(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec);
}

// ---------------------------------------------------------------------------
// dev_t encoding (glibc layout, as used by the Linux kernel's 32-bit new_encode_dev
// for values that fit):
//   bits  0..7   minor bits 0..7
//   bits  8..19  major bits 0..11
//   bits 20..43  minor bits 8..31
//   bits 44..63  major bits 12..31
// Numbers are handled with arithmetic instead of bit operators above bit 31,
// since JS bitwise operators truncate to 32 bits.
// ---------------------------------------------------------------------------

const TWO_32 = 0x1_0000_0000;

function checkUint32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    const err = new RangeError(
      `The value of "${name}" is out of range. It must be >= 0 && <= 4294967295. Received ${value}`,
    );
    (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  return value;
}

function toDevNumber(dev: number | bigint, name: string): number {
  const n = typeof dev === 'bigint' ? Number(dev) : dev;
  if (!Number.isSafeInteger(n) || n < 0 || (typeof dev === 'bigint' && BigInt(n) !== dev)) {
    const err = new RangeError(
      `The value of "${name}" is out of range. It must be a non-negative safe integer. Received ${String(dev)}`,
    );
    (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  return n;
}

/**
 * Builds a dev_t from major and minor numbers (glibc makedev). The result is
 * a plain number; majors >= 2**21 would not fit exactly and throw RangeError
 * (Linux itself only supports 12-bit majors and 20-bit minors).
 */
export function makedev(major: number, minor: number): number {
  checkUint32(major, 'major');
  checkUint32(minor, 'minor');
  const dev =
    (minor & 0xff) +
    (major & 0xfff) * 0x100 +
    Math.floor(minor / 0x100) * 0x10_0000 +
    Math.floor(major / 0x1000) * 0x1000_0000_0000;
  return toDevNumber(dev, 'dev');
}

function splitDev(dev: number | bigint): { hi: number; lo: number } {
  const n = toDevNumber(dev, 'dev');
  return { hi: Math.floor(n / TWO_32), lo: n % TWO_32 };
}

/** The major number of a dev_t (e.g. fs.Stats.rdev). */
export function major(dev: number | bigint): number {
  const { hi, lo } = splitDev(dev);
  return (((lo >>> 8) & 0xfff) | (hi & 0xffff_f000)) >>> 0;
}

/** The minor number of a dev_t (e.g. fs.Stats.rdev). */
export function minor(dev: number | bigint): number {
  const { hi, lo } = splitDev(dev);
  return ((lo & 0xff) | ((lo >>> 20) << 8) | ((hi & 0xfff) << 20)) >>> 0;
}

/** Indexes into the Float64Array filled by {@link lstatInto} / {@link fstatInto}. */
export const enum StatField {
  dev = 0, ino, mode, nlink, uid, gid, rdev, size, blocks,
  atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec,
}
export const STAT_FIELDS = 15;

/**
 * lstat(2) into `out` (a Float64Array of STAT_FIELDS): exact seconds and nanoseconds without
 * the cost of a Node Stats object. Numbers above 2^53 (device or inode) lose precision.
 */
export function lstatInto(path: string | Uint8Array, out: Float64Array): void {
  native().lstatInto(path, out);
}

/**
 * lstat of every entry of a directory at once (fstatat on one descriptor): `names` holds the
 * names, each followed by a NUL byte; entry i goes to out[first + i * stride ...] and
 * errors[i] gets 0 or its errno. Returns the number of names. Throws if `dir` cannot be opened.
 */
export function lstatAt(dir: string | Uint8Array, names: Uint8Array, out: Float64Array, first: number, stride: number, errors: Int32Array): number {
  return native().lstatAt(dir, names, out, first, stride, errors);
}

/** fstat(2) into `out`, like {@link lstatInto}. */
export function fstatInto(fd: number, out: Float64Array): void {
  native().fstatInto(fd, out);
}

/**
 * copy_file_range(2) at explicit offsets until `length` bytes are copied or the source ends;
 * returns the bytes copied. Throws (EXDEV, EINVAL, ENOSYS...) where the kernel cannot do it.
 */
export function copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number {
  return native().copyFileRange(fdIn, offIn, fdOut, offOut, length);
}

/**
 * sendfile(2) from `offIn` of `fdIn` (its position unchanged) to `offOut` of `fdOut` (its position
 * set there and moved on) until `length` bytes are copied or the source ends; returns the bytes
 * copied. Works across file systems, where copy_file_range gives EXDEV.
 */
export function sendfileAt(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number {
  return native().sendfileAt(fdIn, offIn, fdOut, offOut, length);
}

/** Fields per record in the results of {@link writeFiles}: [status, stage, chownErrno, chmodErrno, timesErrno]. */
export const WRITE_RESULT_FIELDS = 5;

/**
 * Creates and writes the regular files described by the records of batch[0, used) (layout in
 * src/restore/file-batch.ts), each relative to an open directory, never following a symlink
 * nor replacing an entry. Fills `results` (WRITE_RESULT_FIELDS int32 per record: status 0 =
 * written, > 0 = errno of the failed stage (the file removed again), -1 = not attempted after
 * ENOSPC/EDQUOT/EIO/EROFS) and returns the number of records.
 */
export function writeFiles(batch: Uint8Array, used: number, results: Int32Array): number {
  return native().writeFiles(batch, used, results);
}

/**
 * {@link writeFiles} on the libuv thread pool. `batch` and `results` must not be touched
 * until the callback runs.
 */
export function writeFilesAsync(batch: Uint8Array, used: number, results: Int32Array): Promise<number> {
  return new Promise((resolve, reject) => {
    native().writeFilesAsync(batch, used, results, (err, count) => (err ? reject(err) : resolve(count)));
  });
}

/** Values per item of the plan of {@link readFileBatch}: [at, length]. */
export const READ_PLAN_FIELDS = 2;
/** Values per item of the results of {@link readFileBatch}. */
export const READ_RESULT_FIELDS = 9;
/** The columns of a result of {@link readFileBatch}. */
export const enum ReadField { status = 0, flags, xattrBytes, bytes, size, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec }
/** {@link ReadField.status} of an item the plan did not ask for. */
export const READ_SKIPPED = -1;

/**
 * Reads and encodes small whole files into a read task's output: for each item i whose plan
 * length is >= 0 (at most 512 KiB), opens the i-th NUL-terminated path of `paths` (O_NOFOLLOW),
 * reads its inode flags and the size of its xattr name list, reads its first `length` bytes into
 * buffer[at + 1024...) with the rest of the last 1 KiB block zeroed, fstats it, and writes its
 * TS_INODE header at buffer[at] from `template` (1 KiB, checksum word 0) and rows[i * COLS...]
 * (src/workers/read-protocol.ts), as HeaderTemplate.write would with all blocks present.
 * results[i * READ_RESULT_FIELDS + ReadField.status] is 0 (done), the errno of the call that
 * failed (nothing written but maybe part of the data), or READ_SKIPPED.
 */
export function readFileBatch(paths: Uint8Array, plan: Float64Array, buffer: Uint8Array, results: Float64Array, template: Uint8Array, rows: Float64Array): void {
  native().readFileBatch(paths, plan, buffer, results, template, rows);
}

/** One directory as {@link walkDir} returns it. */
export interface WalkedDir {
  /** The names sorted by their bytes (the tape's order), each followed by a NUL byte. */
  names: Buffer;
  /**
   * STAT_FIELDS + 3 values per entry: the lstat fields, 1/0 whether a regular file is readable
   * (always 1 without checkAccess), birth seconds, birth nanoseconds (-1: none).
   */
  rows: Float64Array;
  /** Per entry: 0, or the errno of its stat (its row is zeros). */
  errors: Int32Array;
  /** Indexes of the names a JavaScript string cannot hold exactly (not valid UTF-8, or U+FFFD). */
  raw: Int32Array;
  /** Per entry: the offset of its name in `names` (it ends at the next NUL). */
  starts: Int32Array;
  /**
   * The directory's own inode flags (FS_IOC_GETFLAGS on the descriptor the listing used; 0 where
   * the file system has none), or -1 when they could not be read.
   */
  flags: number;
  /** Bytes of the directory's extended attribute name list: 0 when it has none, -1: unknown. */
  xattrBytes: number;
}

/**
 * Lists directory `dir` and stats every entry in one native call (readdir, then statx on a
 * descriptor of it, with the birth time when `birth`; access(R_OK) of regular files when
 * `checkAccess`). Throws, like readdir ("scandir"), when the directory cannot be read, and
 * when `dir` itself is a symbolic link (ELOOP or ENOTDIR): it is never followed. This is one
 * directory of walkTreeAsync's walk (native/walk.c walk_collect), on its own for its tests.
 */
export function walkDir(dir: string | Uint8Array, birth: boolean, checkAccess: boolean): WalkedDir {
  return native().walkDir(dir, birth, checkAccess);
}


/** A walk pattern (src/select/exclude.ts ExcludePattern): shape 0 any, 1 exact, 2 prefix, 3 suffix, 4 contains. */
export interface WalkPattern { path: boolean; shape: number; text: string }

export interface WalkTreeOptions {
  root: string;
  /** The root's row of the entry table (filled by the caller); it becomes row 0. */
  rootRow: Float64Array;
  birth: boolean;
  checkAccess: boolean;
  /** Threads listing directories (one of the libuv pool's, the others its own). */
  threads: number;
  rootDev: number;
  /** Rows to reserve (memory is mapped, so reserved rows cost nothing until written). */
  capacity: number;
  /** Objects left out: (dev, ino) pairs. */
  exclude: Float64Array;
  /** Mount point paths below the root (not walked). */
  mounts: string[];
  patterns: WalkPattern[];
  /** Bytes of "root/" (1 for "/"): what path patterns do not see of a path. */
  rootPrefix: number;
  /**
   * [entries so far (written by the walk), cancel (set to non-zero to stop it), hold (a test's:
   * 1 makes the walk wait after the root's listing, setting it to 2, until it is 0 again)];
   * over an ArrayBuffer of its own (a small typed array's memory may move).
   */
  progress: Int32Array;
}

/** Issue codes of {@link WalkedTree.issues}. */
export const enum WalkIssue { Stat = 1, NameTooLong, Unreadable, Name255, UnreadableDir }
export const WALK_ISSUE_FIELDS = 6;
/** Bits of {@link WalkedTree.dirBits}. */
export const enum WalkDirBits { FlagsRead = 1, NoXattrs = 2, Mount = 4, Raw = 8 }

/** The entry table of a whole walk (src/stages/entry-table.ts layout) and what it found. */
export interface WalkedTree {
  count: number;
  rows: Float64Array;
  firstLink: Int32Array;
  linkChild: Int32Array;
  linkStart: Int32Array;
  linkLength: Int16Array;
  names: Buffer;
  /** Every directory of the table (walked ones and mount points): id, WalkDirBits, path. */
  dirIds: Int32Array;
  dirBits: Uint8Array;
  dirPaths: Array<string | Buffer>;
  /** By issue index: the error of an UnreadableDir issue. */
  dirErrors: Array<SysxError | undefined>;
  /** Ids of objects on another device than the root. */
  foreign: Int32Array;
  /** Ids whose rows the caller must fill (fillRow's checked path) from slowRows (walk rows). */
  slow: Int32Array;
  slowRows: Float64Array;
  /** WALK_ISSUE_FIELDS per issue: code, errno, parent id, name start and length in issueNames, raw. */
  issues: Int32Array;
  issueNames: Buffer;
  /** Entries left out by a pattern. */
  excluded: number;
  /** Whether some object has several names. */
  hardLinks: boolean;
}

/**
 * The backup's whole walk in native code (native/walk-tree.c): threads list and stat every
 * directory below `root` and build the entry table, with no JavaScript per entry.
 */
export function walkTreeAsync(options: WalkTreeOptions): Promise<WalkedTree> {
  return new Promise((resolve, reject) => {
    native().walkTreeAsync(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The entry table columns native/walk-tree.c writes (for the test that checks them). */
export function tableLayout(): Record<string, number> {
  return native().tableLayout();
}

/*
 * Passes over every row of the entry table (native/table-scan.c); `rows` holds whole rows only
 * (a table's rows.subarray(0, count * ROW)).
 */

/**
 * The identity numbering (src/stages/inode-numbers.ts): the root becomes 2, every other object
 * its source number, if all are in 3 .. limit - 1 and none equals the root's. Returns maxino,
 * or 0 when the rule does not apply.
 */
export function identityNumbers(rows: Float64Array, limit: number): number {
  return native().identityNumbers(rows, limit);
}

/**
 * Marks in `selected` (a byte per row) every object changed since `since` (mtime) or
 * `ctimeSince` (ctime; Infinity: not considered), every directory on the path to one, and the root.
 */
export function selectChanged(rows: Float64Array, since: number, ctimeSince: number, selected: Uint8Array): void {
  native().selectChanged(rows, since, ctimeSince, selected);
}

/**
 * Sets the in-use bit of every object's dump number and the dumped bit of every selected one
 * (all when `selected` is null) in the two maps (bit n - 1 for number n), and writes the ids of
 * the selected directories and other objects, each in ascending dump number, to the start of
 * `directories` and `others` (a slot per row each). Returns how many of each, and the bytes of
 * the selected files.
 */
export function inodeMaps(rows: Float64Array, selected: Uint8Array | null, inUse: Uint8Array, dumped: Uint8Array, directories: Int32Array, others: Int32Array): { directories: number; others: number; bytes: number } {
  const r = native().inodeMaps(rows, selected, inUse, dumped, directories, others);
  return { directories: r[0]!, others: r[1]!, bytes: r[2]! };
}

/**
 * Asks the kernel to back the whole 2 MiB pages of `view`'s memory with transparent huge pages
 * (madvise MADV_HUGEPAGE), before it is first written. Returns the bytes advised (0: none; a
 * hint that may be ignored, never an error).
 */
export function adviseHugePages(view: ArrayBufferView): number {
  return native().adviseHugePages(view);
}

/** Where encodeDirectory finds a directory's entries: the backup's entry table, column-wise. */
export interface DirectoryTable {
  names: Buffer;
  linkChild: Int32Array;
  linkStart: Int32Array;
  /** Name length in bytes, negative for a name that is not UTF-8. */
  linkLength: Int16Array;
  rows: Float64Array;
  /** [row stride, ino column, mode column] */
  geometry: Int32Array;
}

/**
 * The records of directories dirs[from], dirs[from + 1], ... (native/direnc.c): each its TS_INODE
 * header (`template`: a HeaderTemplate's with c_type TS_INODE) and its listing padded to whole
 * blocks, one after the other into `out` from `at` (a whole block). Stops before the first that
 * is `special` (a byte per dirs index), needs more than one header, or does not fit `out`.
 * Returns the index it stopped at (dirs.length: done), where the next record would start, and
 * how many it wrote; marks gets (inode, blockBase + offset / 1024) for each.
 */
export function directoryRecords(t: DirectoryTable, dirs: Int32Array, from: number, special: Uint8Array, template: Buffer, out: Buffer, at: number, blockBase: number, marks: Float64Array): { next: number; at: number; written: number } {
  const r = native().directoryRecords(t.names, t.linkChild, t.linkStart, t.linkLength, t.rows, dirs, from, special, template, out, at, blockBase, marks);
  return { next: r[0]!, at: r[1]!, written: r[2]! };
}

/**
 * The tape form of one directory (native/direnc.c; the same bytes as encodeDirectoryFrom):
 * ".", "..", then links `first` .. `first + count - 1` of the table. Returns its size in bytes
 * (whole 512-byte chunks); with `out`, also writes it there at `at` if it fits (nothing
 * otherwise: compare the size with the room).
 */
export function encodeDirectory(out: Buffer | null, at: number, t: DirectoryTable, first: number, count: number, dirIno: number, parentIno: number): number {
  return native().encodeDirectory(out, at, t.names, t.linkChild, t.linkStart, t.linkLength, t.rows, t.geometry, first, count, dirIno, parentIno);
}
