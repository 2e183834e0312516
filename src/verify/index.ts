/**
 * `snapdump verify`: compares an image with a directory tree and lists every difference
 * (missing, extra, type, mode, owner, times, size, content, link target, device, hard links,
 * xattrs/ACLs, user-settable inode flags). It reads the image once, in tape order, and the tree
 * only through ./read-only-fs.ts: it can never write to the tree.
 */
import { EXT_XATTR, S_IFDIR, S_IFMT, kindOfMode, type FileKind } from '../format/constants.js';
import { decodeDirectory } from '../format/directory.js';
import type { DumpInode } from '../format/header.js';
import type { InodeMap } from '../format/bitmap.js';
import { decodeXattrs } from '../format/xattr.js';
import { decodeRdev } from '../format/inode-fields.js';
import { formatExactTime } from '../format/exact-times.js';
import { ImageReader, type ObjectItem } from '../read/image-reader.js';
import { NameTree, nodePath, type TreeNode } from '../restore/tree.js';
import { openTapeSource, type TapeInput } from '../tape/source.js';
import { SnapdumpError } from '../errors.js';
import * as rofs from './read-only-fs.js';
import { StatField as F } from './read-only-fs.js';

export type DifferenceKind =
  | 'missing' | 'extra' | 'type' | 'mode' | 'owner' | 'times' | 'size' | 'content' | 'target'
  | 'rdev' | 'links' | 'xattrs' | 'flags' | 'birthtime';

export interface Difference {
  /** './a/b' as in the image (UTF-8 for display). */
  path: string;
  kind: DifferenceKind;
  detail: string;
}

export interface VerifyOptions {
  files: string[];
  dir: string;
  inputs?: TapeInput[];
  signal?: AbortSignal;
  onDifference?: (d: Difference) => void;
  /**
   * Compare mtimes only to the microsecond (what Linux restore restores). By default an image
   * with snapdump's exact times is compared to the nanosecond; one without (Linux dump) to the
   * microsecond, or to the second when it has no microseconds.
   */
  microseconds?: boolean;
  /**
   * Also compare birth times (kind `birthtime`). Off by default: no restore can set them on
   * Linux, so this is for checking an image against its source tree.
   */
  birthTime?: boolean;
}

export interface VerifySummary {
  /** 0: everything matches; 1: differences or damage found. */
  exitStatus: 0 | 1;
  differences: Difference[];
  damage: Array<{ offset: number; message: string }>;
  objects: number;
  bytes: number;
}

/** Flags a user sets with chattr (file-system bookkeeping flags such as EXTENTS are not compared). */
const USER_FLAGS = 0x08 | 0x10 | 0x20 | 0x40 | 0x80 | 0x10000;
const CHUNK = 1 << 20;

function typeOfStat(mode: number): FileKind {
  return kindOfMode(mode);
}

class Verifier {
  readonly differences: Difference[] = [];
  readonly damage: Array<{ offset: number; message: string }> = [];
  objects = 0;
  bytes = 0;
  private tree: NameTree | null = null;
  private dumped: InodeMap | null = null;
  private maxino = 0;
  private byIno: Map<number, TreeNode[]> | null = null;
  private inFiles = false;
  private lastDir = -1;
  private pendingXattrs: { ino: number; nodes: TreeNode[]; blobs: Buffer[] } | null = null;
  private readonly root: Buffer;
  private readonly buf = Buffer.allocUnsafe(CHUNK);

  constructor(private readonly opts: VerifyOptions) {
    this.root = Buffer.from(opts.dir.replace(/\/+$/, '') || '/');
  }

  private diff(path: Buffer, kind: DifferenceKind, detail: string): void {
    const d = { path: path.toString('utf8'), kind, detail };
    this.differences.push(d);
    this.opts.onDifference?.(d);
  }

  private diskPath(imagePath: Buffer): Buffer {
    return Buffer.concat([this.root, imagePath.subarray(1)]);
  }

  async run(): Promise<VerifySummary> {
    const source = await openTapeSource([...this.opts.files, ...(this.opts.inputs ?? [])], { signal: this.opts.signal });
    try {
      for await (const item of new ImageReader(source)) {
        this.opts.signal?.throwIfAborted();
        switch (item.kind) {
          case 'label': this.tree = new NameTree(item.byteOrder === 'le', item.oldInodeFormat); break;
          case 'clri': this.maxino = item.maxino; break;
          case 'bits': this.dumped = item.map; break;
          case 'damage': this.damage.push({ offset: item.offset, message: item.message }); break;
          case 'inode': await this.object(item); break;
          case 'xattr': await this.xattr(item); break;
          default: break;
        }
      }
      this.flushXattrs();
      if (!this.inFiles) this.endDirectories();
    } finally {
      await source.close();
    }
    return {
      exitStatus: this.differences.length || this.damage.length ? 1 : 0,
      differences: this.differences, damage: this.damage, objects: this.objects, bytes: this.bytes,
    };
  }

  private async object(item: ObjectItem): Promise<void> {
    this.flushXattrs();
    this.objects++;
    const isDir = (item.header.inode.mode & S_IFMT) === S_IFDIR;
    if (!this.inFiles && isDir) {
      const data = await item.readAll({ dropHoles: true });
      this.tree?.addDirectory(item.ino, data, item.header.inode, item.offset, item.complete);
      this.lastDir = item.ino;
      return;
    }
    if (!this.inFiles) this.endDirectories();
    const nodes = this.byIno?.get(item.ino) ?? [];
    if (nodes.length === 0) return;
    const junctions = await this.compareObject(item, nodes);
    // A junction's attributes are not compared with the mounted root's.
    this.pendingXattrs = { ino: item.ino, nodes: nodes.filter((n) => !junctions.has(n)), blobs: [] };
  }

  private async xattr(item: ObjectItem): Promise<void> {
    if (item.header.extattributes !== EXT_XATTR) return;
    const blob = await item.readAll({ maxBytes: 1 << 20 });
    if (!this.inFiles) {
      if (item.ino === this.lastDir) this.tree?.addXattr(item.ino, blob);
      return;
    }
    if (this.pendingXattrs?.ino === item.ino) this.pendingXattrs.blobs.push(blob);
  }

  private flushXattrs(): void {
    const p = this.pendingXattrs;
    this.pendingXattrs = null;
    if (!p) return;
    for (const node of p.nodes) this.compareXattrs(nodePath(node), p.blobs);
  }

  /** The directory phase is over: build the tree, compare every directory and its names. */
  private endDirectories(): void {
    this.inFiles = true;
    if (!this.tree) throw new SnapdumpError('ERR_NOT_DUMP', 'the image has no label');
    const isDumped = (ino: number) => this.dumped === null || this.dumped.has(ino);
    const built = this.tree.build({ maxino: this.maxino, isDumped, onWarning: () => undefined });
    if (!built) throw new SnapdumpError('ERR_CORRUPT', 'the root directory is not in the image');
    this.byIno = new Map();
    const stack: TreeNode[] = [built.root];
    while (stack.length) {
      const node = stack.pop()!;
      const list = this.byIno.get(node.ino) ?? [];
      list.push(node);
      this.byIno.set(node.ino, list);
      if (node.children) stack.push(...node.children);
      if (node.dir) this.compareDirectory(node);
    }
    this.tree.releaseData();
  }

  private compareDirectory(node: TreeNode): void {
    const rec = node.dir!;
    const p = nodePath(node);
    const st = rofs.lstat(this.diskPath(p));
    if (!st) { this.diff(p, 'missing', 'directory not in the tree'); return; }
    if (typeOfStat(st[F.mode]!) !== 'dir') { this.diff(p, 'type', `image has a directory, tree has a ${typeOfStat(st[F.mode]!)}`); return; }
    this.compareCommon(p, rec.inode, st, true);
    this.compareXattrs(p, rec.xattrs);
    // Names in the tree that the image's listing does not have (the listing names every entry,
    // dumped or not, so names of unchanged files of an incremental are not "extra").
    const imageNames = new Set<string>();
    if (rec.data) {
      for (const e of decodeDirectory(rec.data, rec.data.length, true).entries) imageNames.add(Buffer.from(e.name).toString('latin1'));
    }
    let diskNames: Buffer[];
    try { diskNames = rofs.readdir(this.diskPath(p)); } catch (e) { this.diff(p, 'missing', `cannot list: ${(e as Error).message}`); return; }
    for (const name of diskNames) {
      if (!imageNames.has(name.toString('latin1'))) this.diff(Buffer.concat([p, Buffer.from('/'), name]), 'extra', 'in the tree, not in the image');
    }
  }

  private compareCommon(p: Buffer, ino: DumpInode, st: Float64Array, isDir: boolean): void {
    const kind = typeOfStat(ino.mode);
    if (kind !== 'symlink' && (st[F.mode]! & 0o7777) !== (ino.mode & 0o7777)) {
      this.diff(p, 'mode', `image ${(ino.mode & 0o7777).toString(8)}, tree ${(st[F.mode]! & 0o7777).toString(8)}`);
    }
    if (st[F.uid] !== ino.uid || st[F.gid] !== ino.gid) {
      this.diff(p, 'owner', `image ${ino.uid}:${ino.gid}, tree ${st[F.uid]}:${st[F.gid]}`);
    }
    // Symlink times are not set by Linux restore; an image without microseconds (Linux dump)
    // is compared to the second, one with snapdump's exact times to the nanosecond.
    const x = ino.exact;
    if (kind !== 'symlink') {
      const sec = st[F.mtimeSec]!;
      const nsec = st[F.mtimeNsec]!;
      if (x && !this.opts.microseconds) {
        if (sec !== x.mtimeSec || nsec !== x.mtimeNsec) this.diff(p, 'times', `mtime: image ${formatExactTime(x.mtimeSec, x.mtimeNsec)}, tree ${formatExactTime(sec, nsec)}`);
      } else {
        const usec = Math.floor(nsec / 1000);
        const want = x ? { sec: x.mtimeSec, usec: Math.floor(x.mtimeNsec / 1000) } : { sec: ino.mtime, usec: ino.mtimeUsec };
        const same = !x && ino.mtimeUsec === 0 ? sec === want.sec : sec === want.sec && usec === want.usec;
        if (!same) this.diff(p, 'times', `mtime: image ${want.sec}.${String(want.usec).padStart(6, '0')}, tree ${sec}.${String(usec).padStart(6, '0')}`);
      }
    }
    if (this.opts.birthTime && x?.birth) {
      const b = rofs.birthTime(this.diskPath(p));
      if (!b || b.sec !== x.birth.sec || b.nsec !== x.birth.nsec) {
        this.diff(p, 'birthtime', `image ${formatExactTime(x.birth.sec, x.birth.nsec)}, tree ${b ? formatExactTime(b.sec, b.nsec) : 'none'}`);
      }
    }
    if (!isDir && kind === 'file' && st[F.size] !== ino.size) this.diff(p, 'size', `image ${ino.size} bytes, tree ${st[F.size]}`);
    if ((kind === 'file' || kind === 'dir') && (ino.flags & USER_FLAGS) !== 0) {
      let flags = 0;
      try { const f = rofs.ReadOnlyFile.open(this.diskPath(p)); try { flags = f.flags(); } finally { f.close(); } } catch { /* unreadable: reported elsewhere */ }
      if ((flags & USER_FLAGS) !== (ino.flags & USER_FLAGS)) this.diff(p, 'flags', `image 0x${(ino.flags & USER_FLAGS).toString(16)}, tree 0x${(flags & USER_FLAGS).toString(16)}`);
    }
  }

  private compareXattrs(p: Buffer, blobs: Buffer[]): void {
    const image = new Map<string, Buffer>();
    for (const b of blobs) for (const a of decodeXattrs(b).attrs) image.set(a.name, a.value);
    let disk: Map<string, Buffer>;
    try { disk = rofs.xattrs(this.diskPath(p)); } catch { return; }
    const names = new Set([...image.keys(), ...disk.keys()]);
    for (const name of [...names].sort()) {
      const a = image.get(name);
      const b = disk.get(name);
      if (!a) this.diff(p, 'xattrs', `${name}: only in the tree`);
      else if (!b) this.diff(p, 'xattrs', `${name}: only in the image`);
      else if (!a.equals(b)) this.diff(p, 'xattrs', `${name}: values differ`);
    }
  }

  /** Compares an object under each of its names; returns the names that matched a mount point (junctions). */
  private async compareObject(item: ObjectItem, nodes: TreeNode[]): Promise<Set<TreeNode>> {
    const junctions = new Set<TreeNode>();
    const ino = item.header.inode;
    const kind = typeOfStat(ino.mode);
    let first: { path: Buffer; st: Float64Array } | null = null;
    const target = kind === 'symlink' ? (await item.readAll()).subarray(0, ino.size) : null;
    // In path order, so a broken hard link is reported on the later names, deterministically.
    const named = nodes.map((node) => ({ node, p: nodePath(node) })).sort((a, b) => Buffer.compare(a.p, b.p));
    for (const { node, p } of named) {
      const st = rofs.lstat(this.diskPath(p));
      if (!st) { this.diff(p, 'missing', `${kind} not in the tree`); continue; }
      const diskKind = typeOfStat(st[F.mode]!);
      // A junction (a mount point recorded as a link to its own path) matches that mount point.
      if (target && diskKind === 'dir' && target.equals(rofs.realpath(this.diskPath(p)))) { junctions.add(node); continue; }
      if (diskKind !== kind) { this.diff(p, 'type', `image has a ${kind}, tree has a ${diskKind}`); continue; }
      this.compareCommon(p, ino, st, false);
      if (kind === 'chr' || kind === 'blk') {
        const want = decodeRdev(ino.rdev);
        const rdev = st[F.rdev]!;
        const major = Number((BigInt(rdev) >> 8n) & 0xfffn);
        const minor = Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xffffff00n));
        if (major !== want.major || minor !== want.minor) this.diff(p, 'rdev', `image ${want.major}:${want.minor}, tree ${major}:${minor}`);
      }
      if (first === null) first = { path: p, st };
      else if (first.st[F.ino] !== st[F.ino] || first.st[F.dev] !== st[F.dev]) {
        this.diff(p, 'links', `a hard link of ${first.path.toString('utf8')} in the image, a separate file in the tree`);
      }
    }
    if (!first || nodes.length === 0) return junctions;
    if (kind === 'file') await this.compareContent(item, first.path);
    else if (target) {
      let disk: Buffer;
      try { disk = rofs.readlink(this.diskPath(first.path)); } catch { return junctions; }
      const want = target;
      if (!disk.equals(want)) this.diff(first.path, 'target', `image -> ${want.toString('utf8')}, tree -> ${disk.toString('utf8')}`);
    }
    return junctions;
  }

  private async compareContent(item: ObjectItem, p: Buffer): Promise<void> {
    let file: rofs.ReadOnlyFile;
    try { file = rofs.ReadOnlyFile.open(this.diskPath(p)); } catch (e) { this.diff(p, 'content', `cannot read: ${(e as Error).message}`); return; }
    const size = item.size;
    let firstDiff: number | null = null;
    try {
      for await (const piece of item.data()) {
        if (firstDiff !== null) continue;
        const length = Math.min(piece.data ? piece.data.length : piece.hole, Math.max(0, size - piece.offset));
        for (let done = 0; done < length && firstDiff === null; done += CHUNK) {
          const n = Math.min(CHUNK, length - done);
          const got = file.read(this.buf, n, piece.offset + done);
          for (let i = 0; i < n; i++) {
            const want = piece.data ? piece.data[done + i]! : 0;
            if (i >= got || this.buf[i] !== want) { firstDiff = piece.offset + done + i; break; }
          }
          this.bytes += n;
        }
      }
    } finally {
      file.close();
    }
    if (firstDiff !== null) this.diff(p, 'content', `contents differ from byte ${firstDiff}`);
  }
}

export async function verify(opts: VerifyOptions): Promise<VerifySummary> {
  const st = rofs.lstat(opts.dir);
  if (!st || typeOfStat(st[F.mode]!) !== 'dir') throw new SnapdumpError('ERR_SOURCE', `cannot verify against ${opts.dir}: not a directory`, { path: opts.dir });
  return new Verifier(opts).run();
}
