/**
 * Dump-style file history (NDMP.md §4): read from the image itself, so a backup (image teed as
 * it is written) and a table of contents (image read back from tape) report exactly the same
 * thing. Each directory's entries become FH_ADD_DIR (name, node, parent), each inode an
 * FH_ADD_NODE with its stat and fh_info = the byte offset of its TS_INODE header in the stream.
 * The first two entries are "." and ".." of the root, as ndmjob requires.
 */
import { S_IFDIR, S_IFMT, kindOfMode, type FileKind } from '../../format/constants.js';
import { decodeDirectory } from '../../format/directory.js';
import type { DumpInode } from '../../format/header.js';
import { ImageReader } from '../../read/image-reader.js';
import type { TapeSource } from '../../tape/source.js';
import { HeaderScanner } from '../../read/header-scan.js';
import { FileType, FsType } from '../codec/constants.js';
import type { FileStat, RequestBody } from '../codec/messages.js';

const ROOT_INO = 2;
const BATCH = 512;

export interface FhPoster {
  dirs(body: RequestBody<'FH_ADD_DIR'>): void;
  nodes(body: RequestBody<'FH_ADD_NODE'>): void;
  /** Resolves when the control connection has room again. */
  drained(): Promise<void>;
}

const FTYPE: Record<FileKind, number> = {
  dir: FileType.DIR, fifo: FileType.FIFO, chr: FileType.CSPEC, blk: FileType.BSPEC, file: FileType.REG,
  symlink: FileType.SLINK, socket: FileType.SOCK, unknown: FileType.OTHER,
};

export function fileStat(inode: DumpInode): FileStat {
  return {
    unsupported: 0, fs_type: FsType.UNIX, ftype: FTYPE[kindOfMode(inode.mode)], mtime: inode.mtime >>> 0, atime: inode.atime >>> 0,
    ctime: inode.ctime >>> 0, owner: inode.uid >>> 0, group: inode.gid >>> 0, fattr: inode.mode & 0o7777,
    size: BigInt(inode.size), links: inode.nlink >>> 0,
  };
}

type DirEntry = RequestBody<'FH_ADD_DIR'>['dirs'][number];
type NodeEntry = RequestBody<'FH_ADD_NODE'>['nodes'][number];

/**
 * Turns the inodes of an image, in tape order, into FH_ADD_DIR and FH_ADD_NODE posts of up to
 * BATCH entries. Both ways of reading an image (a backup's own stream, a tape read back) feed it.
 */
class FileHistoryBuilder {
  private dirs: DirEntry[] = [];
  private nodes: NodeEntry[] = [];
  private rootDone = false;
  count = 0;

  constructor(private readonly out: FhPoster, private readonly le: () => boolean) {}

  /** One TS_INODE: its number, header offset and fields, and for a directory its contents. */
  add(ino: number, offset: number, inode: DumpInode, contents: Buffer | null): void {
    if (contents !== null) {
      if (ino === ROOT_INO && !this.rootDone) {
        this.rootDone = true;
        this.dir(DOT, ROOT_INO, ROOT_INO);
        this.dir(DOTDOT, ROOT_INO, ROOT_INO);
      }
      for (const e of decodeDirectory(contents, contents.length, this.le(), false).entries) {
        if (e.ino === 0 || e.name.length === 0) continue;
        const name = Buffer.from(e.name);
        if (name.equals(DOT) || name.equals(DOTDOT)) continue;
        this.dir(name, e.ino, ino);
      }
    }
    this.nodes.push({ stats: [fileStat(inode)], node: BigInt(ino), fh_info: BigInt(offset) });
    this.count++;
    if (this.dirs.length >= BATCH || this.nodes.length >= BATCH) this.post(false);
  }

  /** Posts what is batched, then waits until the control connection has room. */
  async flush(): Promise<void> {
    this.post(true);
    await this.out.drained();
  }

  /** Posts full batches (every batch when `all`); posting never waits. */
  private post(all: boolean): void {
    // Directories first: a DMA links a node to its name by the FH_ADD_DIR it has already seen.
    if (this.dirs.length && (all || this.dirs.length >= BATCH || this.nodes.length >= BATCH)) { this.out.dirs({ dirs: this.dirs }); this.dirs = []; }
    if (this.nodes.length && (all || this.nodes.length >= BATCH)) { this.out.nodes({ nodes: this.nodes }); this.nodes = []; }
  }

  private dir(name: Buffer, node: number, parent: number): void {
    this.dirs.push({ names: [{ type: FsType.UNIX, body: name }], node: BigInt(node), parent: BigInt(parent) });
  }
}

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/** Reads the image to its end and posts its file history. Returns the number of inodes reported. */
export async function postFileHistory(source: TapeSource, out: FhPoster): Promise<number> {
  const reader = new ImageReader(source);
  const le = source.byteOrder === 'le';
  const fh = new FileHistoryBuilder(out, () => le);
  let posted = 0;
  for await (const item of reader) {
    if (item.kind !== 'inode') continue;
    const inode = item.header.inode;
    const contents = (inode.mode & S_IFMT) === S_IFDIR ? await item.readAll({ dropHoles: true }) : null;
    fh.add(item.ino, item.offset, inode, contents);
    // Wait for the connection now and then, not for every inode.
    if (fh.count - posted >= BATCH) { posted = fh.count; await out.drained(); }
  }
  await fh.flush();
  return fh.count;
}

/**
 * The file history of a backup, from its own image stream as the engine writes it (no copy of
 * the image: file data is skipped, see HeaderScanner). The backup's sink calls push() with
 * each write before its buffers are reused; push() resolves once the control connection has
 * room, so a slow DMA slows the backup rather than filling memory.
 */
export class BackupFileHistory {
  private readonly fh: FileHistoryBuilder;
  private readonly scan: HeaderScanner;

  constructor(private readonly out: FhPoster) {
    this.scan = new HeaderScanner((i) => this.fh.add(i.header.inumber, i.offset, i.header.inode, i.contents));
    this.fh = new FileHistoryBuilder(out, () => this.scan.byteOrder === 'le');
  }

  get count(): number { return this.fh.count; }

  /** Why the history stopped short (the stream was not a well-formed image), or null. */
  get failure(): string | null { return this.scan.failure; }

  async push(parts: readonly Uint8Array[]): Promise<void> {
    for (const p of parts) this.scan.push(p);
    await this.out.drained();
  }

  /** `prefix`, then `skipped` bytes of file data the sink does not see (copied in the kernel). */
  async pushRange(prefix: readonly Uint8Array[], skipped: number): Promise<void> {
    for (const p of prefix) this.scan.push(p);
    this.scan.skip(skipped);
    await this.out.drained();
  }

  /** The image is complete: posts the rest. */
  async end(): Promise<void> {
    this.scan.end();
    await this.fh.flush();
  }
}
