/**
 * Phase "ACL/xattr emit": reads an object's extended attributes (POSIX ACLs included) and turns
 * them into the EA extension records Linux dump writes right after the object (DUMP-FORMAT.md §6).
 * Linux restore only accepts EA records directly behind their object, so this stage runs where
 * each object is produced: on the main thread for directories, inside the read workers for the
 * rest (see src/workers/read-files.ts).
 */
import * as fs from 'node:fs';
import * as sysx from '../native/sysx.js';
import type { InodeFields } from '../format/header.js';
import { joinChunks, xattrChunk, type TapeChunk } from '../format/object-headers.js';
import { type VolumeInfo } from '../format/volume.js';
import { encodeXattrs, EA_MAX_BLOB, type Xattr } from '../format/xattr.js';

export interface ReadXattrsResult {
  attrs: Xattr[];
  errors: string[];
}

/** All attributes of `p` (not following symlinks), names sorted for a stable image. */
export function readXattrs(p: string | Buffer): ReadXattrsResult {
  const attrs: Xattr[] = [];
  const errors: string[] = [];
  let names: string[];
  try {
    names = sysx.listXattrs(p);
  } catch (e) {
    // A file that vanished is reported by whoever reads its data; here it simply has no EAs.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') errors.push(`cannot list extended attributes: ${(e as Error).message}`);
    return { attrs, errors };
  }
  names.sort();
  for (const name of names) {
    try {
      attrs.push({ name, value: sysx.getXattr(p, name) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENODATA' && code !== 'ENOENT') errors.push(`cannot read extended attribute ${name}: ${(e as Error).message}`);
    }
  }
  return { attrs, errors };
}

/** ext2 inode flags of a directory or regular file by path (0 where the fs has none). */
export function readInodeFlags(p: string | Buffer, directory: boolean): number {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | (directory ? fs.constants.O_DIRECTORY : 0));
  } catch {
    return 0;
  }
  try {
    return sysx.getFlags(fd);
  } catch {
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}

export interface XattrRecords {
  chunk: TapeChunk | null;
  /** Human-readable problems: attributes that Linux restore will not see or apply. */
  notes: string[];
}

/** EA records for one object. */
export function xattrRecords(vol: VolumeInfo, ino: number, inode: InodeFields, attrs: readonly Xattr[]): XattrRecords {
  if (attrs.length === 0) return { chunk: null, notes: [] };
  const notes: string[] = [];
  let encoded;
  try {
    encoded = encodeXattrs(attrs);
  } catch (e) {
    return { chunk: null, notes: [`extended attributes not dumped: ${(e as Error).message}`] };
  }
  for (const name of encoded.unsupported) notes.push(`extended attribute ${name} has no ext2 name index; not dumped`);
  for (const blob of encoded.blobs) {
    if (blob.length > EA_MAX_BLOB) notes.push(`extended attributes of ${blob.length} bytes exceed 4 KiB: snapdump restores them, Linux restore skips them`);
  }
  const chunks = encoded.blobs.map((blob) => xattrChunk(vol, ino, inode, blob));
  return { chunk: chunks.length ? joinChunks(chunks) : null, notes };
}
