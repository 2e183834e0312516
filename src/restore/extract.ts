/**
 * Extracting one non-directory object of the file phase to all of its destination names:
 * regular files (data streamed to disk piece by piece, holes left as holes), symlinks, devices,
 * FIFOs and sockets; further names become hard links. The object stays "pending" until the
 * next item of the tape, because its EA records follow it: times and flags are set in
 * {@link finishObject}, after them.
 *
 * Nothing incomplete is left looking complete: a file whose data is cut short by damage, or that
 * runs out of space, is removed with every name made for it (an older file it was to replace is
 * kept), and reported.
 */
import * as fs from 'node:fs';
import { DR_METAONLY, S_IFBLK, S_IFCHR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, kindOfMode } from '../format/constants.js';
import type { DumpInode } from '../format/header.js';
import { decodeRdev } from '../format/inode-fields.js';
import type { DataPiece, ObjectItem, RangePiece } from '../read/image-reader.js';
import * as sysx from '../native/sysx.js';
import { SnapdumpError } from '../errors.js';
import {
  applyXattrs, isStopError, needsChmod, ownerModeFd, ownerModePath, setFlags, setTimes, type AttrEnv,
} from './attributes.js';
import { InTheWay, commitFile, createFile, createReplacing, discardFile, type NewFile } from './safe-path.js';
import type { LeafTarget } from './selection.js';
import type { SpaceGuard } from './space-check.js';
import type { RestoreNoticeCode } from './types.js';

/** Thrown to stop the whole restore cleanly (no space, I/O error on the destination). */
export class StopRestore extends Error {
  constructor(readonly code: 'NO_SPACE' | 'WRITE', message: string) {
    super(message);
  }
}

export interface ExtractContext {
  env: AttrEnv;
  /** Not restored: reported with skipped = true. */
  skip(code: RestoreNoticeCode, path: Buffer, message: string, ino: number, offset?: number): void;
  onData(bytes: number): void;
  guard: SpaceGuard | null;
  /** New files take their group from their directory when it is not one we made (or DEST is set-gid). */
  inheritsGroup(target: LeafTarget): boolean;
}

export interface Pending {
  ino: number;
  inode: DumpInode;
  /** Byte offset of the object's first header. */
  offset: number;
  targets: LeafTarget[];
  /** Open regular file (for the flags), null for other kinds. */
  file: NewFile | null;
  /** Names created so far, the first one being the object itself. */
  made: Buffer[];
  /** Index in targets of the first name (the ones before it could not be made). */
  firstIndex: number;
  /** The data was cut short by damage: removed, to be reported with the damage that follows. */
  lost: boolean;
  damageOffsets: number[];
  /** Only attributes are applied (DR_METAONLY). */
  metaOnly: boolean;
  /** Data bytes written for it (taken back from the count when it is removed). */
  bytes: number;
}

const MAX_SYMLINK = 4096;

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err.message ?? e);
  return err.code && !msg.startsWith(err.code) ? `${err.code}: ${msg}` : msg;
}

export function stopFor(e: unknown, path: Buffer): StopRestore {
  const code = (e as NodeJS.ErrnoException).code;
  const where = path.toString('utf8');
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StopRestore('NO_SPACE', `the destination ran out of ${code === 'EDQUOT' ? 'quota' : 'space or inodes'} while writing ${where}`);
  return new StopRestore('WRITE', `the destination cannot be written (${code}) at ${where}`);
}

/** Reports a per-entry failure, or turns a destination-wide one into a stop. */
function failed(ctx: ExtractContext, e: unknown, path: Buffer, ino: number): void {
  // Cancellation, unreadable input and stops concern the whole restore, not this entry.
  if (e instanceof SnapdumpError || e instanceof StopRestore) throw e;
  if (isStopError(e)) throw stopFor(e, path);
  if (e instanceof InTheWay) ctx.skip('IN_THE_WAY', path, `not restored: ${e.message}`, ino);
  else ctx.skip('WRITE', path, `not restored: ${errText(e)}`, ino);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, position + off);
}

/** Further names of the object: hard links to its first name (a symlink is linked itself, not followed). */
function linkOthers(p: Pending, ctx: ExtractContext): void {
  const first = p.made[0]!;
  for (let i = p.firstIndex + 1; i < p.targets.length; i++) {
    const t = p.targets[i]!;
    try {
      createReplacing(t.path, () => fs.linkSync(first, t.path));
      p.made.push(t.path);
    } catch (e) {
      failed(ctx, e, t.path, p.ino);
    }
  }
}

/** Data estimate for the space guard: allocated blocks when the header has them. */
function estimate(inode: DumpInode): number {
  const allocated = inode.blocks > 0 ? inode.blocks * 512 : Math.min(inode.size, 4096);
  return Math.min(inode.size, allocated);
}

/** A pending object before anything is made for it. */
export function newPending(ino: number, inode: DumpInode, offset: number, targets: LeafTarget[]): Pending {
  return { ino, inode, offset, targets, file: null, made: [], firstIndex: 0, lost: false, damageOffsets: [], metaOnly: false, bytes: 0 };
}

/** The contents of a regular file: from the image, or already in memory. */
interface FileData {
  pieces: AsyncIterable<DataPiece | RangePiece> | Iterable<DataPiece>;
  complete(): boolean;
  size: number;
}

/**
 * Restores `item` at its targets. Returns the pending object (finish it after its EA records),
 * or null when nothing was made (each failure reported).
 */
export async function extractObject(item: ObjectItem, targets: LeafTarget[], ctx: ExtractContext): Promise<Pending | null> {
  const inode = item.header.inode;
  const ino = item.ino;
  const type = inode.mode & S_IFMT;
  const base = newPending(ino, inode, item.offset, targets);
  if (item.header.flags & DR_METAONLY) return metaOnly(base, ctx);
  switch (type) {
    case S_IFREG: return regular({ pieces: item.dataNow() ?? item.data({ ranges: true }), complete: () => item.complete, size: item.size }, base, ctx);
    case S_IFLNK: return symlink(item, base, ctx);
    case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: return special(base, type, ctx);
    default: {
      const what = kindOfMode(inode.mode) === 'dir' ? 'a directory outside the directory phase (its entries are not known)' : `unknown file type 0${(type >>> 12).toString(8)}`;
      for (const t of targets) ctx.skip('UNSUPPORTED', t.path, `not restored: ${what}`, ino, item.offset);
      return null;
    }
  }
}

/**
 * A regular file whose data is already in memory (a batched file taken back from its batch,
 * or redone because its name existed): written the ordinary way.
 */
export async function extractBuffered(ino: number, inode: DumpInode, offset: number, targets: LeafTarget[], pieces: DataPiece[], ctx: ExtractContext, reserved: boolean): Promise<Pending | null> {
  const p = newPending(ino, inode, offset, targets);
  return regular({ pieces, complete: () => true, size: inode.size }, p, ctx, reserved);
}

/** Takes the file's estimated space from the space guard; stops the restore when it would run short. */
export function reserveSpace(inode: DumpInode, path: Buffer, ctx: ExtractContext): void {
  if (ctx.guard && !ctx.guard.reserve(estimate(inode))) {
    throw new StopRestore('NO_SPACE', `less than 100 MiB would be left free after ${path.toString('utf8')} (${inode.size} bytes); stopped (--force goes on until the destination is full)`);
  }
}

async function regular(src: FileData, p: Pending, ctx: ExtractContext, reserved = false): Promise<Pending | null> {
  const perm = p.inode.mode & 0o7777;
  if (!reserved) reserveSpace(p.inode, p.targets[0]!.path, ctx);
  let f: NewFile | null = null;
  let first: LeafTarget | null = null;
  for (let i = 0; i < p.targets.length; i++) {
    const t = p.targets[i]!;
    try {
      f = createFile(t.path, perm);
      first = t;
      p.firstIndex = i;
      break;
    } catch (e) {
      failed(ctx, e, t.path, p.ino);
    }
  }
  if (!f || !first) return null;
  p.file = f;
  let end = 0;
  try {
    let cut = false;
    for await (const piece of src.pieces) {
      if (piece.data) {
        writeAll(f.fd, piece.data, piece.offset);
        end = piece.offset + piece.data.length;
        p.bytes += piece.data.length;
        ctx.onData(piece.data.length);
      } else if (piece.range) {
        // Straight from the image file to this one (one copy in the kernel, none in user space).
        const r = piece.range;
        const n = sysx.sendfileAt(r.fd, r.position, f.fd, piece.offset, r.length);
        end = piece.offset + n;
        p.bytes += n;
        ctx.onData(n);
        // The image file shrank since it was opened: the reader finds the end right after.
        if (n < r.length) { cut = true; break; }
      }
    }
    if (cut || !src.complete()) {
      closeQuietly(f.fd);
      discardFile(f);
      p.file = null;
      p.lost = true;
      ctx.onData(-p.bytes);
      return p;
    }
    // A trailing hole: the size comes from ftruncate, no zeros are written.
    if (end < src.size) fs.ftruncateSync(f.fd, src.size);
    ownerModeFd(f.fd, f.writePath, p.inode, ctx.env, p.ino, {
      chown: p.inode.uid !== ctx.env.euid || p.inode.gid !== ctx.env.egid || ctx.inheritsGroup(first),
      chmod: needsChmod(perm, ctx.env.umask),
    });
    commitFile(f);
  } catch (e) {
    closeQuietly(f.fd);
    discardFile(f);
    p.file = null;
    ctx.onData(-p.bytes);
    failed(ctx, e, first.path, p.ino);
    return null;
  }
  p.made.push(first.path);
  return p;
}

async function symlink(item: ObjectItem, p: Pending, ctx: ExtractContext): Promise<Pending | null> {
  const data = await item.readAll({ maxBytes: MAX_SYMLINK + 1024 });
  if (!item.complete) { p.lost = true; return p; }
  const raw = data.subarray(0, item.size);
  const nul = raw.indexOf(0);
  const target = nul < 0 ? raw : raw.subarray(0, nul);
  if (target.length === 0 || target.length > MAX_SYMLINK) {
    for (const t of p.targets) ctx.skip('UNSUPPORTED', t.path, `not restored: symbolic link with ${target.length === 0 ? 'an empty target' : 'a target longer than 4096 bytes'}`, p.ino, item.offset);
    return null;
  }
  return makeThenLink(p, ctx, (path) => fs.symlinkSync(target, path), true);
}

function special(p: Pending, type: number, ctx: ExtractContext): Pending | null {
  let rdev = 0;
  if (type === S_IFCHR || type === S_IFBLK) {
    const d = decodeRdev(p.inode.rdev);
    rdev = sysx.makedev(d.major, d.minor);
  }
  const mode = type | (p.inode.mode & 0o777);
  return makeThenLink(p, ctx, (path) => sysx.mknod(path, mode, rdev), false);
}

/** Creates the object at its first possible name, links the others, sets owner and mode. */
function makeThenLink(p: Pending, ctx: ExtractContext, make: (path: Buffer) => void, isSymlink: boolean): Pending | null {
  for (let i = 0; i < p.targets.length; i++) {
    const t = p.targets[i]!;
    try {
      createReplacing(t.path, () => make(t.path));
      p.made.push(t.path);
      p.firstIndex = i;
      break;
    } catch (e) {
      failed(ctx, e, t.path, p.ino);
    }
  }
  if (p.made.length === 0) return null;
  // Owner and mode before the links: lchown/chmod act on the inode, whatever name.
  ownerModePath(p.made[0]!, p.inode, isSymlink, ctx.env, p.ino);
  linkOthers(p, ctx);
  return p;
}

/** dump -m: the inode changed but not its data: attributes on the existing file only. */
function metaOnly(p: Pending, ctx: ExtractContext): Pending | null {
  for (const t of p.targets) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(t.path);
    } catch {
      ctx.skip('UNSUPPORTED', t.path, 'not restored: the image holds only its attributes (dump -m) and there is no file to apply them to', p.ino, p.offset);
      continue;
    }
    if ((st.mode & S_IFMT) !== (p.inode.mode & S_IFMT)) {
      ctx.skip('UNSUPPORTED', t.path, 'not restored: the image holds only its attributes (dump -m) and the existing entry is of another type', p.ino, p.offset);
      continue;
    }
    if (p.made.length === 0) ownerModePath(t.path, p.inode, st.isSymbolicLink(), ctx.env, p.ino);
    p.made.push(t.path);
  }
  p.metaOnly = true;
  return p.made.length > 0 ? p : null;
}

/** Applies one EA record of the pending object. */
export function applyObjectXattrs(p: Pending, blob: Uint8Array, ctx: ExtractContext): void {
  if (p.lost || p.made.length === 0) return;
  try {
    applyXattrs(p.made[0]!, [blob], ctx.env, p.ino);
  } catch (e) {
    throw stopFor(e, p.made[0]!);
  }
}

/**
 * Completes the object once its EA records are done: hard links (regular files), times, then
 * flags, then closes it. Returns false when it turned out lost.
 */
export function finishObject(p: Pending, ctx: ExtractContext): boolean {
  if (p.lost) {
    const where = p.damageOffsets.length > 0 ? ` at byte ${p.damageOffsets[0]}` : '';
    for (const t of p.targets.slice(p.firstIndex)) {
      ctx.skip('LOST', t.path, `not restored: its data in the image is damaged or cut short${where} (object at byte ${p.offset})`, p.ino, p.damageOffsets[0] ?? p.offset);
    }
    return false;
  }
  try {
    const path = p.made[0]!;
    if (p.file) {
      // Links before the flags: an immutable or append-only file cannot get new names.
      if (!p.metaOnly) linkOthers(p, ctx);
      setTimes(path, p.inode, ctx.env, p.ino);
      setFlags(p.file.fd, path, p.inode.flags, ctx.env, p.ino, p.targets[p.firstIndex]!.dir.inheritsFlags ?? true);
      fs.closeSync(p.file.fd);
      p.file = null;
    } else {
      setTimes(path, p.inode, ctx.env, p.ino);
    }
  } catch (e) {
    if (isStopError(e)) throw stopFor(e, p.made[0]!);
    throw e;
  }
  return true;
}

/** After a stop: removes every name made for the object (nothing half-made stays). */
export function abandonObject(p: Pending, ctx: ExtractContext): void {
  if (!p.lost) ctx.onData(-p.bytes);
  if (p.file) {
    closeQuietly(p.file.fd);
    discardFile(p.file);
    p.file = null;
  }
  if (p.metaOnly) return;
  for (const path of p.made) {
    try { fs.unlinkSync(path); } catch { /* gone already */ }
  }
  p.made = [];
}

function closeQuietly(fd: number): void {
  try { fs.closeSync(fd); } catch { /* ignore */ }
}
