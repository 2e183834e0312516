/**
 * Creating entries below DEST without ever writing outside it.
 *
 * Node has no openat(), so safety rests on one invariant instead of fd-relative calls: every
 * directory the restore writes into was made (or checked with lstat) by the restore itself, in
 * pre-order from DEST (realpath'd, so symlink-free), and a directory is never removed or
 * replaced afterwards. A symlink or file found where a directory must be is unlinked (never
 * followed) and the directory made in its place. Names come from the tree, which refuses '/',
 * '.', '..' and empty names, so every path is DEST + '/' + checked names.
 * Entries are then created with calls that do not follow a symlink in the last component:
 * open(O_CREAT|O_EXCL|O_NOFOLLOW), symlink(), mknod(), link(), mkdir(), rename(); an existing
 * non-directory is replaced (renamed over, or unlinked first), never written through, so a
 * planted symlink or a hard link to a file outside DEST is never followed or modified.
 * Out of scope: another process racing the restore inside DEST.
 */
import * as fs from 'node:fs';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;

/** An existing directory (or an entry that cannot be removed) occupies the name. */
export class InTheWay extends Error {
  constructor(readonly path: Buffer, message: string) {
    super(message);
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Removes a non-directory that occupies `path`; InTheWay when it is a directory or cannot go. */
export function removeNonDirectory(path: Buffer): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  if (st.isDirectory()) throw new InTheWay(path, 'an existing directory has this name');
  try {
    fs.unlinkSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    if (errno(e) === 'EPERM' || errno(e) === 'EACCES') throw new InTheWay(path, `the existing entry cannot be replaced (${errno(e)}; immutable or append-only?)`);
    throw e;
  }
}

/**
 * Makes the directory `path` (its parent is a checked directory). Returns true when it was
 * created, false when a real directory was already there (kept as it is).
 */
export function ensureDirectory(path: Buffer, mode: number): boolean {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(path, { mode });
      return true;
    } catch (e) {
      if (errno(e) !== 'EEXIST' || attempt > 0) throw e;
    }
    const st = fs.lstatSync(path);
    if (st.isDirectory()) return false;
    // A symlink (perhaps planted to lead outside), a file, a device...: replaced, never followed.
    removeNonDirectory(path);
  }
}

/** Opens a directory of ours without following a symlink (for fchown/fchmod/ioctl). */
export function openDirectory(path: Buffer): number {
  return fs.openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

let tempCounter = 0;

function tempName(path: Buffer): Buffer {
  const dir = path.subarray(0, path.lastIndexOf(0x2f));
  return Buffer.concat([dir, Buffer.from(`/.snapdump-restore.${process.pid}.${++tempCounter}`)]);
}

export interface NewFile {
  fd: number;
  /** The name the data is written under: `path` itself, or a temporary name renamed over it by commit. */
  writePath: Buffer;
  path: Buffer;
}

/**
 * Creates a regular file for writing. When the name is free, the file is created under it
 * directly (removed again if the restore of it fails); when another file is there, the new one
 * is written under a temporary name in the same directory and renamed over the old one only when
 * complete, so the old contents survive a failure and a hard link to a file elsewhere is never
 * written through.
 */
export function createFile(path: Buffer, perm: number): NewFile {
  try {
    return { fd: fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, perm), writePath: path, path };
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(path);
  if (st.isDirectory()) throw new InTheWay(path, 'an existing directory has this name');
  for (;;) {
    const tmp = tempName(path);
    try {
      return { fd: fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, perm), writePath: tmp, path };
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
  }
}

/** Puts a completed file in place (renames the temporary name over the old entry). */
export function commitFile(f: NewFile): void {
  if (f.writePath === f.path) return;
  try {
    fs.renameSync(f.writePath, f.path);
  } catch (e) {
    if (errno(e) === 'EISDIR' || errno(e) === 'ENOTEMPTY' || errno(e) === 'EEXIST') {
      throw new InTheWay(f.path, 'an existing directory has this name');
    }
    if (errno(e) === 'EPERM' || errno(e) === 'EACCES') throw new InTheWay(f.path, `the existing entry cannot be replaced (${errno(e)}; immutable or append-only?)`);
    throw e;
  }
  f.writePath = f.path;
}

/** Removes whatever `f` left (its temporary or its final name); errors are ignored. */
export function discardFile(f: NewFile): void {
  try { fs.unlinkSync(f.writePath); } catch { /* already gone */ }
}

/**
 * Runs `make` (symlink, mknod, link) at `path`; when something is already there, it is removed
 * (a directory is kept: InTheWay) and `make` runs once more.
 */
export function createReplacing(path: Buffer, make: () => void): void {
  try {
    make();
    return;
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
  }
  removeNonDirectory(path);
  make();
}
