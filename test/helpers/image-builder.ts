/**
 * Hand-made dump images for restore tests, including hostile ones: directory entries with any
 * bytes as names (empty, '/', '..'), '.' entries pointing anywhere, the same name twice, objects
 * of any type in any order, holes, EA records. Built with the codec of src/format, so the images
 * are valid dumps unless a test breaks them on purpose.
 */
import { InodeMap, mapSizeFor } from '../../src/format/bitmap.js';
import { DIRBLKSIZ, RecordType, TP_BSIZE } from '../../src/format/constants.js';
import { entryLength } from '../../src/format/directory.js';
import { patchTapea } from '../../src/format/header.js';
import type { InodeFields } from '../../src/format/header-template.js';
import {
  chunkBlocks, endRecord, mapRecord, objectChunk, volumeLabel, xattrChunk, type TapeChunk,
} from '../../src/format/object-headers.js';
import type { VolumeInfo } from '../../src/format/volume.js';
import { encodeXattrs, type Xattr } from '../../src/format/xattr.js';

export const S_DIR = 0o040000;
export const S_REG = 0o100000;
export const S_LNK = 0o120000;
export const S_FIFO = 0o010000;
export const S_CHR = 0o020000;
export const S_SOCK = 0o140000;

export interface ImgEntry {
  ino: number;
  /** Raw bytes or UTF-8; anything goes (empty, '/', '..'). */
  name: string | Buffer;
  type?: number;
}

export interface ImgObject {
  ino: number;
  /** Full st_mode (type and permission bits). */
  mode: number;
  /** Directory entries, in order, exactly as given (see {@link dir} for '.' and '..'). */
  entries?: ImgEntry[];
  /** File contents, symlink target, or raw directory data. */
  data?: Buffer;
  /** Block indexes (KiB) of the data that are holes (absent from the tape). */
  holes?: number[];
  /** di_size when it must differ from the data length. */
  size?: number;
  uid?: number;
  gid?: number;
  atime?: number;
  atimeUsec?: number;
  mtime?: number;
  mtimeUsec?: number;
  rdev?: number;
  flags?: number;
  xattrs?: Xattr[];
}

export interface ImageOptions {
  date?: number;
  ntrec?: number;
  /** Inodes in TS_BITS (default: every object). */
  bits?: number[];
  maxino?: number;
}

/** BSD direct records in 512-byte chunks, with no check on the names. */
export function rawDirectory(entries: readonly ImgEntry[]): Buffer {
  const recs = entries.map((e) => ({ ...e, bytes: typeof e.name === 'string' ? Buffer.from(e.name) : e.name }));
  const chunks: Buffer[] = [];
  let chunk = Buffer.alloc(DIRBLKSIZ);
  let pos = 0;
  let last = -1;
  const close = () => {
    if (last >= 0) chunk.writeUInt16LE(DIRBLKSIZ - last, last + 4);
    else chunk.writeUInt16LE(DIRBLKSIZ, 4);
    chunks.push(chunk);
  };
  for (const r of recs) {
    const len = entryLength(r.bytes.length);
    if (pos + len > DIRBLKSIZ) {
      close();
      chunk = Buffer.alloc(DIRBLKSIZ);
      pos = 0;
      last = -1;
    }
    chunk.writeUInt32LE(r.ino, pos);
    chunk.writeUInt16LE(len, pos + 4);
    chunk[pos + 6] = r.type ?? 0;
    chunk[pos + 7] = r.bytes.length;
    r.bytes.copy(chunk, pos + 8);
    last = pos;
    pos += len;
  }
  close();
  return Buffer.concat(chunks);
}

function fields(o: ImgObject, size: number): InodeFields {
  return {
    mode: o.mode, nlink: 1, size, atime: o.atime ?? 1600000000, atimeUsec: o.atimeUsec ?? 0,
    mtime: o.mtime ?? 1600000000, mtimeUsec: o.mtimeUsec ?? 0, ctime: 1600000000, ctimeUsec: 0,
    rdev: o.rdev ?? 0, flags: o.flags ?? 0, blocks: Math.ceil(size / 512), uid: o.uid ?? 0, gid: o.gid ?? 0,
  };
}

function objectChunks(vol: VolumeInfo, o: ImgObject): TapeChunk[] {
  const data = o.entries ? rawDirectory(o.entries) : o.data ?? Buffer.alloc(0);
  const size = o.size ?? data.length;
  const nblocks = Math.ceil(data.length / TP_BSIZE);
  const holes = new Set(o.holes ?? []);
  const present = new Uint8Array(nblocks);
  const packed: Buffer[] = [];
  for (let i = 0; i < nblocks; i++) {
    if (holes.has(i)) continue;
    present[i] = 1;
    const b = Buffer.alloc(TP_BSIZE);
    data.copy(b, 0, i * TP_BSIZE, Math.min(data.length, (i + 1) * TP_BSIZE));
    packed.push(b);
  }
  const inode = fields(o, size);
  const out = [objectChunk(vol, o.ino, inode, nblocks, Buffer.concat(packed), present)];
  if (o.xattrs?.length) for (const blob of encodeXattrs(o.xattrs).blobs) out.push(xattrChunk(vol, o.ino, inode, blob));
  return out;
}

/** A whole image: TS_TAPE, TS_CLRI, TS_BITS, the objects in the order given, TS_END padding. */
export function buildImage(objects: readonly ImgObject[], opts: ImageOptions = {}): Buffer {
  const maxIno = objects.reduce((m, o) => Math.max(m, o.ino), 2);
  const vol: VolumeInfo = {
    date: opts.date ?? 1700000000, ddate: 0, volume: 1, level: 0, label: 'builder', filesys: '/built', dev: 'dev',
    host: 'host', ntrec: opts.ntrec ?? 10, maxino: opts.maxino ?? Math.max(maxIno + 1, 64),
  };
  const used = new InodeMap();
  for (const o of objects) used.set(o.ino);
  const dumped = new InodeMap();
  for (const ino of opts.bits ?? objects.map((o) => o.ino)) dumped.set(ino);
  const mapBytes = mapSizeFor(vol.maxino);
  const chunks: TapeChunk[] = [
    volumeLabel(vol),
    mapRecord(vol, RecordType.CLRI, used.toBuffer(mapBytes), 0),
    mapRecord(vol, RecordType.BITS, dumped.toBuffer(mapBytes), objects[0]?.ino ?? 2),
  ];
  for (const o of objects) chunks.push(...objectChunks(vol, o));
  const parts: Buffer[] = [];
  let block = 0;
  for (const c of chunks) {
    const base = block;
    const buf = Buffer.concat(c.parts as Buffer[]);
    for (const h of c.headers) patchTapea(buf, h * TP_BSIZE, base + h);
    parts.push(buf);
    block += chunkBlocks(c);
  }
  do {
    const end = endRecord(vol);
    patchTapea(end, 0, block);
    parts.push(end);
    block++;
  } while (block % vol.ntrec !== 0);
  return Buffer.concat(parts);
}

/** A directory object with '.' and '..' first, then the entries. */
export function dir(ino: number, parent: number, entries: ImgEntry[], extra: Partial<ImgObject> = {}): ImgObject {
  return { ino, mode: S_DIR | 0o755, entries: [{ ino, name: '.', type: 4 }, { ino: parent, name: '..', type: 4 }, ...entries], ...extra };
}

export function file(ino: number, content: string | Buffer, extra: Partial<ImgObject> = {}): ImgObject {
  return { ino, mode: S_REG | 0o644, data: typeof content === 'string' ? Buffer.from(content) : content, ...extra };
}

export function symlink(ino: number, target: string, extra: Partial<ImgObject> = {}): ImgObject {
  return { ino, mode: S_LNK | 0o777, data: Buffer.from(target), ...extra };
}

/** Byte offsets of the valid little-endian headers of an image, with type and inode. */
export function headerOffsets(img: Buffer): Array<{ offset: number; type: number; ino: number }> {
  const out: Array<{ offset: number; type: number; ino: number }> = [];
  for (let off = 0; off + TP_BSIZE <= img.length; off += TP_BSIZE) {
    if (img.readInt32LE(off + 24) !== 60012) continue;
    let sum = 0;
    for (let i = 0; i < TP_BSIZE; i += 4) sum = (sum + img.readUInt32LE(off + i)) >>> 0;
    if (sum !== 84446) continue;
    out.push({ offset: off, type: img.readInt32LE(off), ino: img.readUInt32LE(off + 20) });
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Utilities shared by the restore tests.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sysx from '../../src/native/sysx.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface RestoreCliResult {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout as JSON lines (with --json). */
  events(): Array<Record<string, unknown>>;
}

/**
 * Runs `snapdump restore ARGS` as a child process: through bin/snapdump once src/cli/main.ts
 * dispatches to restoreCommand, until then through a shim that handles errors as main() does.
 */
export function restoreCli(args: string[], opts: { input?: Buffer; cwd?: string } = {}): RestoreCliResult {
  const wired = fs.readFileSync(path.join(repo, 'src/cli/main.ts'), 'utf8').includes('restoreCommand');
  const shim = `
    const { restoreCommand } = await import(${JSON.stringify(path.join(repo, 'dist/src/cli/restore-command.js'))});
    const args = process.argv.slice(1);
    const json = args.includes('--json');
    try { process.exitCode = await restoreCommand(args); }
    catch (e) {
      const code = e.code && String(e.code).startsWith('ERR_PARSE_ARGS') ? 'ERR_USAGE' : e.code ?? 'ERR_INTERNAL';
      if (json) process.stderr.write(JSON.stringify({ type: 'error', code, message: e.message, ...(e.details ?? {}) }) + '\\n');
      else process.stderr.write('snapdump: error [' + code + ']: ' + e.message + '\\n');
      process.exitCode = 2;
    }`;
  const argv = wired ? [path.join(repo, 'bin/snapdump'), 'restore', ...args] : ['--input-type=module', '-e', shim, '--', ...args];
  const r = spawnSync(process.execPath, argv, { input: opts.input, cwd: opts.cwd, maxBuffer: 256 << 20 });
  const stdout = r.stdout?.toString() ?? '';
  return {
    status: r.status ?? -1, stdout, stderr: r.stderr?.toString() ?? '',
    events: () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** An in-memory image as a restore/list input. */
export function memInput(buf: Uint8Array, name = 'image'): { name: string; stream: AsyncIterable<Uint8Array> } {
  return { name, stream: (async function* () { yield buf; })() };
}

/** Removes a restored tree, clearing immutable/append-only flags first (rm cannot remove those). */
export function removeRestored(dir: string): void {
  const clear = (p: string) => {
    let st: fs.Stats;
    try { st = fs.lstatSync(p); } catch { return; }
    if (!st.isFile() && !st.isDirectory()) return;
    try {
      const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      try {
        const f = sysx.getFlags(fd);
        if (f & 0x30) sysx.setFlags(fd, f & ~0x30);
      } finally {
        fs.closeSync(fd);
      }
    } catch { /* no flags here */ }
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) clear(path.join(p, n));
  };
  clear(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Every path below `root` (relative, sorted), for "nothing else was written" checks. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (fs.lstatSync(path.join(root, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}
