/**
 * The only file-system access `verify` has. Every function here reads; none can create,
 * change or remove anything (files are opened O_RDONLY|O_NOFOLLOW, metadata is read with
 * lstat/statx/readlink/llistxattr/lgetxattr). The comparison code receives this module and nothing
 * else, so verify is read-only by construction; test/verify checks that no other fs call
 * appears in src/verify.
 */
import * as fs from 'node:fs';
import * as sysx from '../native/sysx.js';
import { STAT_FIELDS } from '../native/sysx.js';

export { StatField } from '../native/sysx.js';

export type PathLike = string | Buffer;

/** lstat into a Float64Array of sysx.StatField columns, or null when the path does not exist. */
export function lstat(p: PathLike): Float64Array | null {
  const out = new Float64Array(STAT_FIELDS);
  try {
    sysx.lstatInto(p, out);
    return out;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/** Birth time (statx, symlinks not followed), or null where the file system has none. */
export function birthTime(p: PathLike): sysx.BirthTime | null {
  try { return sysx.statxBirth(p); } catch { return null; }
}

/** The canonical path (symlinks resolved), or an empty buffer when it cannot be resolved. */
export function realpath(p: PathLike): Buffer {
  try { return fs.realpathSync(p, { encoding: 'buffer' }); } catch { return Buffer.alloc(0); }
}

export function readlink(p: PathLike): Buffer {
  return fs.readlinkSync(p, { encoding: 'buffer' });
}

export function readdir(p: PathLike): Buffer[] {
  return fs.readdirSync(p, { encoding: 'buffer' });
}

export function xattrs(p: PathLike): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of sysx.listXattrs(p)) {
    try { out.set(name, sysx.getXattr(p, name)); } catch { /* removed meanwhile */ }
  }
  return out;
}

/** A file opened for reading only. */
export class ReadOnlyFile {
  private constructor(private readonly fd: number) {}

  static open(p: PathLike): ReadOnlyFile {
    return new ReadOnlyFile(fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK));
  }

  /** Fills `buf` from `position`; returns the bytes read (short at the end of the file). */
  read(buf: Buffer, length: number, position: number): number {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** ext2 inode flags. */
  flags(): number {
    return sysx.getFlags(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
