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

/** Reads the image to its end and posts its file history. Returns the number of inodes reported. */
export async function postFileHistory(source: TapeSource, out: FhPoster): Promise<number> {
  const reader = new ImageReader(source);
  let dirs: DirEntry[] = [];
  let nodes: NodeEntry[] = [];
  let count = 0;
  let rootDone = false;
  const le = source.byteOrder === 'le';
  const flush = async (force: boolean) => {
    if (dirs.length && (force || dirs.length >= BATCH || nodes.length >= BATCH)) { out.dirs({ dirs }); dirs = []; }
    if (nodes.length && (force || nodes.length >= BATCH)) { out.nodes({ nodes }); nodes = []; }
    await out.drained();
  };
  const dir = (name: Buffer, node: number, parent: number) => dirs.push({ names: [{ type: FsType.UNIX, body: name }], node: BigInt(node), parent: BigInt(parent) });
  for await (const item of reader) {
    if (item.kind !== 'inode') continue;
    const inode = item.header.inode;
    if ((inode.mode & S_IFMT) === S_IFDIR) {
      const data = await item.readAll({ dropHoles: true });
      const isRoot = item.ino === ROOT_INO && !rootDone;
      if (isRoot) {
        rootDone = true;
        dir(Buffer.from('.'), ROOT_INO, ROOT_INO);
        dir(Buffer.from('..'), ROOT_INO, ROOT_INO);
      }
      for (const e of decodeDirectory(data, data.length, le, false).entries) {
        if (e.ino === 0 || e.name.length === 0) continue;
        const name = Buffer.from(e.name);
        if (name.equals(Buffer.from('.')) || name.equals(Buffer.from('..'))) continue;
        dir(name, e.ino, item.ino);
      }
    }
    nodes.push({ stats: [fileStat(inode)], node: BigInt(item.ino), fh_info: BigInt(item.offset) });
    count++;
    if (dirs.length >= BATCH || nodes.length >= BATCH) await flush(false);
  }
  await flush(true);
  return count;
}
