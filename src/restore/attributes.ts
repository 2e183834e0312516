/**
 * Setting what an entry carries besides its data, in the order that works (DUMP-FORMAT.md §3,
 * §6): owner first (chown clears set-id bits), then the mode, extended attributes and ACLs
 * (ACLs in kernel form from decodeXattrs), then the times (atime and mtime to the nanosecond),
 * then the ext2 flags last, because an immutable or append-only entry refuses everything after.
 * A failure to set an attribute is a warning; running out of space or an I/O error is not
 * handled here (the caller stops the restore).
 */
import * as fs from 'node:fs';
import { decodeXattrs } from '../format/xattr.js';
import type { DumpInode } from '../format/header.js';
import * as sysx from '../native/sysx.js';
import type { RestoreNoticeCode } from './types.js';

/**
 * ext2 flags a restore can set with FS_IOC_SETFLAGS: the chattr flags. Others (EXTENTS, INDEX,
 * INLINE_DATA, HUGE_FILE...) describe the source file system's layout; they are left as the
 * destination has them.
 */
export const SETTABLE_FLAGS =
  0x00000001 | // s secure deletion
  0x00000002 | // u undelete
  0x00000008 | // S synchronous updates
  0x00000010 | // i immutable
  0x00000020 | // a append only
  0x00000040 | // d no dump
  0x00000080 | // A no atime updates
  0x00004000 | // j data journalling
  0x00008000 | // t no tail merging
  0x00010000 | // D synchronous directory updates
  0x00020000 | // T top of directory hierarchy
  0x00800000 | // C no copy on write
  0x20000000; // P project inheritance

export interface AttrEnv {
  /** Owners are set only when running as root (as tar and restore do). */
  isRoot: boolean;
  euid: number;
  egid: number;
  umask: number;
  warn(code: RestoreNoticeCode, path: Buffer, message: string, ino: number): void;
}

/** Errors that mean the destination cannot take more: the restore stops instead of warning. */
export function isStopError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EROFS';
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

function attempt(env: AttrEnv, code: RestoreNoticeCode, path: Buffer, ino: number, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (isStopError(e)) throw e;
    env.warn(code, path, `${what}: ${why(e)}`, ino);
  }
}

/** Owner and permission bits of an open regular file or directory. */
export function ownerModeFd(fd: number, path: Buffer, inode: DumpInode, env: AttrEnv, ino: number, opts: { chown: boolean; chmod: boolean }): void {
  const perm = inode.mode & 0o7777;
  if (opts.chown && env.isRoot) attempt(env, 'OWNER', path, ino, `cannot set owner ${inode.uid}:${inode.gid}`, () => fs.fchownSync(fd, inode.uid, inode.gid));
  if (opts.chmod) attempt(env, 'MODE', path, ino, `cannot set mode ${perm.toString(8)}`, () => fs.fchmodSync(fd, perm));
}

/**
 * Whether a file created with open(..., perm) still needs fchmod: the umask took bits away, or
 * set-id bits are to be kept through a chown.
 */
export function needsChmod(perm: number, umask: number): boolean {
  return (perm & 0o7000) !== 0 || (perm & umask & 0o777) !== 0;
}

/** Owner and mode by path, for entries that cannot be opened (symlinks: owner only; FIFOs, sockets, devices). */
export function ownerModePath(path: Buffer, inode: DumpInode, isSymlink: boolean, env: AttrEnv, ino: number): void {
  if (env.isRoot) attempt(env, 'OWNER', path, ino, `cannot set owner ${inode.uid}:${inode.gid}`, () => fs.lchownSync(path, inode.uid, inode.gid));
  if (!isSymlink) {
    const perm = inode.mode & 0o7777;
    // The entry was just made by mknod in a checked directory: chmod cannot be led elsewhere.
    attempt(env, 'MODE', path, ino, `cannot set mode ${perm.toString(8)}`, () => fs.chmodSync(path, perm));
  }
}

/** Applies the attributes of EA blobs (lsetxattr: a symlink itself, never its target). */
export function applyXattrs(path: Buffer, blobs: readonly Uint8Array[], env: AttrEnv, ino: number): void {
  for (const blob of blobs) {
    const { attrs, errors } = decodeXattrs(blob);
    for (const err of errors) env.warn('XATTR', path, `extended attributes damaged in the image: ${err}`, ino);
    for (const a of attrs) {
      attempt(env, 'XATTR', path, ino, `cannot set extended attribute ${a.name}`, () => sysx.setXattr(path, a.name, a.value));
    }
  }
}

/**
 * The atime and mtime a restored entry gets (the batched writer of file-batch.ts sets these
 * too): to the nanosecond, with the exact seconds, from snapdump's extension when the image has
 * it (src/format/exact-times.ts), else the microseconds of the Linux fields. A birth time in the
 * image is not applied: no Linux system call sets it (README "Format notes").
 */
export function inodeTimes(inode: DumpInode): { atimeSec: number; atimeNsec: number; mtimeSec: number; mtimeNsec: number } {
  const x = inode.exact;
  if (x) return { atimeSec: x.atimeSec, atimeNsec: x.atimeNsec, mtimeSec: x.mtimeSec, mtimeNsec: x.mtimeNsec };
  return {
    atimeSec: inode.atime, atimeNsec: Math.min(inode.atimeUsec, 999999) * 1000,
    mtimeSec: inode.mtime, mtimeNsec: Math.min(inode.mtimeUsec, 999999) * 1000,
  };
}

/** atime and mtime on the entry itself (symlinks included). */
export function setTimes(path: Buffer, inode: DumpInode, env: AttrEnv, ino: number): void {
  const t = inodeTimes(inode);
  attempt(env, 'TIMES', path, ino, 'cannot set times', () => sysx.lutimesNs(path, t.atimeSec, t.atimeNsec, t.mtimeSec, t.mtimeNsec));
}

/**
 * The chattr flags of the image on an open file or directory (keeps the destination's layout
 * flags). `mayHaveFlags` false (made in a directory without inheritable flags) skips the check
 * where the image has none, saving a system call per file.
 */
export function setFlags(fd: number, path: Buffer, flags: number, env: AttrEnv, ino: number, mayHaveFlags = true): void {
  const wanted = flags & SETTABLE_FLAGS;
  if (wanted === 0 && !mayHaveFlags) return;
  attempt(env, 'FLAGS', path, ino, `cannot set flags 0x${(flags >>> 0).toString(16)}`, () => {
    const cur = sysx.getFlags(fd);
    const next = ((cur & ~SETTABLE_FLAGS) | wanted) >>> 0;
    if (next !== cur) sysx.setFlags(fd, next);
  });
}

/** Whether open directory `fd` has flags that entries made in it inherit (any settable flag: a check too many costs one ioctl per file). */
export function hasInheritableFlags(fd: number): boolean {
  try {
    return (sysx.getFlags(fd) & SETTABLE_FLAGS) !== 0;
  } catch {
    return false; // a file system without flags
  }
}
