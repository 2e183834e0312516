/**
 * The catalog of a dump: label, inode maps, the directory tree of the directory phase and the
 * metadata of every inode seen, plus the name walk of `restore -t` (restore's treescan()).
 *
 * Compatibility choices (restore 0.4b47 source, restore/dirs.c):
 * - only the directories of the directory phase (those before the first non-directory) are
 *   descended into; a name is listed when its inode is in the dumped map (TS_BITS);
 * - entries with d_ino ≥ maxino are dropped; "." and ".." are skipped only as the first two
 *   entries; names stop at a NUL byte; paths that would exceed 4,096 bytes are skipped;
 * - the broken records Linux dump writes for 255-byte names (§4.4) get the name restore shows,
 *   taken from the bytes that follow the record in restore's re-packed directory file.
 * Deliberate deviations:
 * - a correctly written 255-byte name (d_reclen 264, as snapdump writes it) is shown as it is;
 *   restore mangles it the same way as the broken record, which is no use to anyone.
 * For hostile or damaged images only:
 * - a directory reachable under several names is descended into once; later names are listed,
 *   not descended (restore re-enters it under every name: on a cycle that only stops at the
 *   4,096-byte path limit, and shared subtrees can make the output grow exponentially);
 * - without a readable TS_BITS map, every inode whose header was seen counts as dumped;
 * - without a "." entry in the root, the walk starts at inode 2 (restore lists nothing).
 */
import type { InodeMap } from '../format/bitmap.js';
import { DR_NEWINODEFMT, S_IFDIR, S_IFMT, kindOfMode, type FileKind } from '../format/constants.js';
import { decodeDirectory, restoreMinLength, type DecodedDirEntry } from '../format/directory.js';
import type { ByteOrder, Header } from '../format/header.js';
import type { CompressionMethod, TapeSource } from '../tape/source.js';
import { ImageReader, type DamageItem, type ReadItem } from './image-reader.js';

export interface DumpLabel {
  date: number;
  ddate: number;
  level: number;
  label: string;
  filesys: string;
  dev: string;
  host: string;
  flags: number;
  ntrec: number;
  byteOrder: ByteOrder;
  compressed: boolean;
  /** Method of the compressed records (null when not compressed or no record was compressed). */
  compression: CompressionMethod | null;
  volumes: number;
  oldInodeFormat: boolean;
  /** restore's inode limit from TS_CLRI; 0 when the map was not found. */
  maxino: number;
  /** DR_INODEINFO "Starting inode numbers by volume" (restore prints them when the first is 2). */
  volumeStartInodes: number[];
  /** The label came from a later header because the volume header was damaged. */
  recovered: boolean;
}

export interface InodeInfo {
  ino: number;
  mode: number;
  type: FileKind;
  size: number;
  uid: number;
  gid: number;
  nlink: number;
  atime: number;
  mtime: number;
  ctime: number;
  flags: number;
  rdev: number;
}

/** Modification and birth time of an inode, to the nanosecond where the image has it. */
export interface InodeTimes {
  mtime: { sec: number; nsec: number };
  /** Only snapdump images carry it (src/format/exact-times.ts); null when unknown. */
  birth: { sec: number; nsec: number } | null;
}

export interface CatalogEntry {
  /** "./a/b" as raw bytes (names need not be UTF-8). */
  path: Buffer;
  ino: number;
  type: FileKind;
  size: number;
}

const MAXPATHLEN = 4096;
/** DR_INODEINFO is the same bit as DR_NEWINODEFMT (§2.6). */
const DR_INODEINFO = DR_NEWINODEFMT;
const ROOTINO = 2;
const WINO = 1;
const DOT = 0x2e;
const SLASH = Buffer.from('/');

/** Per-inode metadata in columns: a Map of objects costs several times more for millions of inodes. */
class InodeTable {
  private readonly slots = new Map<number, number>();
  private cap = 0;
  private n = 0;
  private mode = new Uint16Array(0);
  private nlink = new Int16Array(0);
  private size = new Float64Array(0);
  private u32 = new Uint32Array(0); // uid, gid, atime, mtime, ctime, flags, rdev
  private static readonly W = 7;
  private exact = new Float64Array(0); // mtime sec, nsec, birth sec, nsec (NaN: none)
  private static readonly X = 4;

  get count(): number {
    return this.n;
  }

  has(ino: number): boolean {
    return this.slots.has(ino);
  }

  add(h: Header): void {
    let s = this.slots.get(h.inumber);
    if (s === undefined) {
      if (this.n === this.cap) this.grow();
      s = this.n++;
      this.slots.set(h.inumber, s);
    }
    const i = h.inode;
    this.mode[s] = i.mode;
    this.nlink[s] = i.nlink;
    this.size[s] = i.size;
    const o = s * InodeTable.W;
    const u = this.u32;
    u[o] = i.uid; u[o + 1] = i.gid; u[o + 2] = i.atime; u[o + 3] = i.mtime; u[o + 4] = i.ctime;
    u[o + 5] = i.flags; u[o + 6] = i.rdev;
    const x = s * InodeTable.X;
    const e = i.exact;
    this.exact[x] = e ? e.mtimeSec : i.mtime;
    this.exact[x + 1] = e ? e.mtimeNsec : Math.min(i.mtimeUsec, 999999) * 1000;
    this.exact[x + 2] = e?.birth ? e.birth.sec : NaN;
    this.exact[x + 3] = e?.birth ? e.birth.nsec : NaN;
  }

  times(ino: number): InodeTimes | undefined {
    const s = this.slots.get(ino);
    if (s === undefined) return undefined;
    const x = s * InodeTable.X;
    const t = this.exact;
    return { mtime: { sec: t[x]!, nsec: t[x + 1]! }, birth: Number.isNaN(t[x + 2]) ? null : { sec: t[x + 2]!, nsec: t[x + 3]! } };
  }

  /** Type and size without building an InodeInfo (the listing asks for every entry). */
  typeAndSize(ino: number): [FileKind, number] | undefined {
    const s = this.slots.get(ino);
    return s === undefined ? undefined : [kindOfMode(this.mode[s]!), this.size[s]!];
  }

  get(ino: number): InodeInfo | undefined {
    const s = this.slots.get(ino);
    if (s === undefined) return undefined;
    const o = s * InodeTable.W;
    const u = this.u32;
    const mode = this.mode[s]!;
    return {
      ino, mode, type: kindOfMode(mode), size: this.size[s]!, uid: u[o]!, gid: u[o + 1]!, nlink: this.nlink[s]!,
      atime: u[o + 2]!, mtime: u[o + 3]!, ctime: u[o + 4]!, flags: u[o + 5]!, rdev: u[o + 6]!,
    };
  }

  *inodes(): IterableIterator<number> {
    yield* this.slots.keys();
  }

  private grow(): void {
    const cap = Math.max(1024, this.cap * 2);
    const grow = <T extends Uint16Array | Int16Array | Float64Array | Uint32Array>(a: T, size: number, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a as never);
      return b;
    };
    this.mode = grow(this.mode, cap, (k) => new Uint16Array(k));
    this.nlink = grow(this.nlink, cap, (k) => new Int16Array(k));
    this.size = grow(this.size, cap, (k) => new Float64Array(k));
    this.u32 = grow(this.u32, cap * InodeTable.W, (k) => new Uint32Array(k));
    this.exact = grow(this.exact, cap * InodeTable.X, (k) => new Float64Array(k));
    this.cap = cap;
  }
}

export class Catalog {
  label!: DumpLabel;
  /** TS_CLRI: inodes in use at dump time (null when missing). */
  used: InodeMap | null = null;
  /** TS_BITS: inodes on this tape (null when missing). */
  dumped: InodeMap | null = null;
  readonly damage: DamageItem[] = [];
  /** What restore would print on stderr while walking (missing ".", names too long...); set by the last walk. */
  readonly warnings: string[] = [];
  /** The stream ended with TS_END. */
  complete = false;
  private readonly table = new InodeTable();
  /** Directory-phase directories: their data as restore received it (holes left out). */
  private readonly dirs = new Map<number, Buffer>();

  /** Metadata from the inode's header, if it was on the tape. */
  inode(ino: number): InodeInfo | undefined {
    return this.table.get(ino);
  }

  /** Modification and birth time of an inode whose header was seen. */
  times(ino: number): InodeTimes | undefined {
    return this.table.times(ino);
  }

  /** @internal */
  typeAndSize(ino: number): [FileKind, number] | undefined {
    return this.table.typeAndSize(ino);
  }

  /** Inodes whose header was seen, in tape order. */
  seenInodes(): IterableIterator<number> {
    return this.table.inodes();
  }

  /** Whether restore would descend into this inode (a directory of the directory phase). */
  isDirectory(ino: number): boolean {
    return this.dirs.has(ino);
  }

  /** The entries of a directory-phase directory, as restore reads them (see decodeDirectory). */
  directory(ino: number): DecodedDirEntry[] | undefined {
    const data = this.dirs.get(ino);
    if (!data) return undefined;
    return decodeDirectory(data, data.length, this.label.byteOrder === 'le', this.label.oldInodeFormat).entries;
  }

  /** Whether restore -t would list this inode. */
  isDumped(ino: number): boolean {
    if (ino === WINO && !this.label.oldInodeFormat) return true; // restore marks the whiteout inode
    if (this.dumped) return this.dumped.has(ino);
    return this.table.has(ino);
  }

  /** The listing of `restore -t`, in its order. */
  entries(): Generator<CatalogEntry> {
    return catalogEntries(this);
  }

  /** @internal */
  addInode(h: Header): void {
    this.table.add(h);
  }

  /** @internal */
  addDirectory(ino: number, data: Buffer): void {
    this.dirs.set(ino, data);
  }
}

function inodeLimit(c: Catalog): number {
  return c.label.maxino > 0 ? c.label.maxino : Infinity;
}

/** Name bytes up to the first NUL: restore handles names as C strings. */
function cName(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul < 0 ? bytes : bytes.subarray(0, nul);
}

/**
 * The name restore shows for a record whose name is not inside it (255-byte names from Linux
 * dump, §4.4): restore re-packs the record with 8 bytes, so its name is read from the next records
 * of its directory file (host-order d_ino first, then d_reclen...), up to the first NUL.
 */
function brokenName(list: readonly DecodedDirEntry[], k: number): Buffer {
  const out: number[] = [];
  const limit = list[k]!.namlen;
  const put = (b: number): boolean => {
    if (b === 0 || out.length >= limit) return false;
    out.push(b);
    return true;
  };
  const putRecord = (ino: number, reclen: number, type: number, namlen: number, name: Uint8Array): boolean => {
    for (const b of [ino & 0xff, (ino >>> 8) & 0xff, (ino >>> 16) & 0xff, ino >>> 24, reclen & 0xff, reclen >>> 8, type, namlen]) {
      if (!put(b)) return false;
    }
    for (let i = 0; i < reclen - 8; i++) if (!put(i < name.length ? name[i]! : 0)) return false;
    return true;
  };
  for (let i = k + 1; i < list.length; i++) {
    const e = list[i]!;
    if (!putRecord(e.ino, restoreMinLength(e.namlen), e.type, e.namlen, e.name)) return Buffer.from(out);
  }
  // restore ends each directory with a d_ino 0 "/" record.
  putRecord(0, 12, 4, 1, SLASH);
  return Buffer.from(out);
}

interface Named {
  e: DecodedDirEntry;
  name: Uint8Array;
}

/** Entries as restore's rst_readdir() returns them: names resolved, d_ino ≥ maxino dropped. */
function readDir(c: Catalog, ino: number): Named[] {
  const list = c.directory(ino) ?? [];
  const max = inodeLimit(c);
  const out: Named[] = [];
  for (let k = 0; k < list.length; k++) {
    const e = list[k]!;
    if (e.ino >= max) continue;
    out.push({ e, name: e.name.length < e.namlen ? brokenName(list, k) : cName(e.name) });
  }
  return out;
}

function isName(b: Uint8Array, s: string): boolean {
  if (b.length !== s.length) return false;
  for (let i = 0; i < b.length; i++) if (b[i] !== s.charCodeAt(i)) return false;
  return true;
}

function entryFor(c: Catalog, path: Buffer, ino: number, dtype: number): CatalogEntry {
  const ts = c.typeAndSize(ino);
  if (ts) return { path, ino, type: ts[0], size: ts[1] };
  return { path, ino, type: kindOfDtype(dtype), size: 0 };
}

function kindOfDtype(t: number): FileKind {
  switch (t) {
    case 1: return 'fifo';
    case 2: return 'chr';
    case 4: return 'dir';
    case 6: return 'blk';
    case 8: return 'file';
    case 10: return 'symlink';
    case 12: return 'socket';
    default: return 'unknown';
  }
}

/**
 * restore -t's walk: depth first from the root's "." in on-tape entry order, every name whose
 * inode is dumped (hard links under each name).
 */
export function* catalogEntries(c: Catalog): Generator<CatalogEntry> {
  c.warnings.length = 0;
  if (!c.isDirectory(ROOTINO)) {
    c.warnings.push('Root directory is not on tape');
    return;
  }
  // restore starts at dirlookup("."): the root's own "." entry.
  const dot = readDir(c, ROOTINO).find((n) => n.e.namlen === 1 && n.name[0] === DOT);
  if (!dot) c.warnings.push('. is not on the tape; listing from inode 2');
  const start = dot ? dot.e.ino : ROOTINO;
  const rootPath = Buffer.from('.');
  if (c.isDumped(start)) yield entryFor(c, rootPath, start, 4);
  if (!c.isDirectory(start)) return;

  const visited = new Set<number>([start]);
  interface Frame { path: Buffer; prefix: Buffer; list: Named[]; k: number }
  const open = (path: Buffer, ino: number): Frame => {
    const list = readDir(c, ino);
    let k = 0;
    const shown = path.toString('utf8');
    if (list[k] && isName(list[k]!.name, '.')) k++;
    else c.warnings.push(`Warning: \`.' missing from directory ${shown}`);
    if (list[k] && isName(list[k]!.name, '..')) k++;
    else c.warnings.push(`Warning: \`..' missing from directory ${shown}`);
    const prefix = Buffer.concat([path, SLASH]);
    return { path, prefix: prefix.length > MAXPATHLEN ? prefix.subarray(0, MAXPATHLEN) : prefix, list, k };
  };
  const stack: Frame[] = [open(rootPath, start)];
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.k >= f.list.length) { stack.pop(); continue; }
    const { e, name } = f.list[f.k++]!;
    if (f.prefix.length + e.namlen >= MAXPATHLEN + 1) {
      c.warnings.push(`${f.prefix.toString('utf8')}${Buffer.from(name).toString('utf8')}: name exceeds ${MAXPATHLEN} char`);
      continue;
    }
    const path = Buffer.concat([f.prefix, name]);
    if (c.isDumped(e.ino)) yield entryFor(c, path, e.ino, e.type);
    if (c.isDirectory(e.ino)) {
      if (visited.has(e.ino)) {
        c.warnings.push(`${path.toString('utf8')}: directory ${e.ino} already listed under another name; not descended again`);
        continue;
      }
      visited.add(e.ino);
      stack.push(open(path, e.ino));
    }
  }
}

/** C-struct c_inos[]: the c_addr bytes read as 128 inode numbers in the dump's byte order. */
function volumeInodes(h: Header, order: ByteOrder): number[] {
  const v = new DataView(h.addr.buffer, h.addr.byteOffset, h.addr.byteLength);
  const out: number[] = [];
  for (let i = 1; i < 128; i++) {
    const ino = v.getUint32(4 * i, order === 'le');
    if (ino === 0) break;
    out.push(ino);
  }
  return out;
}

export interface BuildCatalogOptions {
  /** Called for every item before the catalog looks at it (the object's data must not be read). */
  onItem?: (item: ReadItem) => void;
}

/**
 * Reads the whole image from `source` into a catalog. Damage is collected, not thrown; the
 * errors that do escape are the source's (not a dump, unsupported variant, wrong volume, I/O).
 */
export async function buildCatalog(source: TapeSource, opts: BuildCatalogOptions = {}): Promise<Catalog> {
  const c = new Catalog();
  const reader = new ImageReader(source);
  // Restore's extractdirs() reads directories until the first header that is not one.
  let dirPhase: 'maps' | 'dirs' | 'after' = 'maps';
  let volinfo: number[] = [];
  const takeVolinfo = (h: Header): void => {
    if (dirPhase !== 'after' && (h.flags & DR_INODEINFO) !== 0) volinfo = volumeInodes(h, reader.byteOrder);
  };
  for await (const item of reader) {
    opts.onItem?.(item);
    switch (item.kind) {
      case 'label': {
        const h = item.header;
        c.label = {
          date: h.date, ddate: h.ddate, level: h.level, label: h.label, filesys: h.filesys, dev: h.dev, host: h.host,
          flags: h.flags, ntrec: h.ntrec, byteOrder: item.byteOrder, compressed: item.compressed, compression: null,
          volumes: source.volumeCount, oldInodeFormat: item.oldInodeFormat, maxino: 0, volumeStartInodes: [],
          recovered: item.recovered,
        };
        if (h.type === 1) takeVolinfo(h);
        break;
      }
      case 'clri':
        c.used = item.map;
        c.label.maxino = item.maxino;
        if (dirPhase === 'dirs') dirPhase = 'after';
        break;
      case 'bits':
        c.dumped = item.map;
        if (dirPhase === 'dirs') dirPhase = 'after';
        break;
      case 'inode': {
        c.addInode(item.header);
        const isDir = (item.header.inode.mode & S_IFMT) === S_IFDIR;
        if (dirPhase !== 'after' && isDir) {
          dirPhase = 'dirs';
          c.addDirectory(item.ino, await item.readAll({ dropHoles: true }));
        } else {
          dirPhase = 'after';
        }
        break;
      }
      case 'volume':
        takeVolinfo(item.header);
        break;
      case 'end':
        takeVolinfo(item.header);
        c.complete = true;
        dirPhase = 'after';
        break;
      case 'damage':
        c.damage.push(item);
        break;
      case 'xattr':
        break;
    }
  }
  c.label.compression = source.compression;
  c.label.volumeStartInodes = volinfo;
  return c;
}
