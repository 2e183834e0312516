/** Constants of the BSD/Linux dump tape format (see ../shared/ref/DUMP-FORMAT.md §1.1). */
export const TP_BSIZE = 1024;
export const TP_NINDIR = 512;
export const LBLSIZE = 16;
export const NAMELEN = 64;
export const DIRBLKSIZ = 512;
export const ROOTINO = 2;

export const NFS_MAGIC = 60012;
export const OFS_MAGIC = 60011;
export const MTB_MAGIC = 60013;
export const FS_UFS2_MAGIC = 0x19540119;
export const CHECKSUM = 84446;

export const enum RecordType {
  TAPE = 1,
  INODE = 2,
  BITS = 3,
  ADDR = 4,
  END = 5,
  CLRI = 6,
}

export const RECORD_TYPE_NAMES: Record<number, string> = {
  1: 'TS_TAPE', 2: 'TS_INODE', 3: 'TS_BITS', 4: 'TS_ADDR', 5: 'TS_END', 6: 'TS_CLRI',
};

export const DR_NEWHEADER = 0x0001;
export const DR_NEWINODEFMT = 0x0002;
export const DR_COMPRESSED = 0x0080;
export const DR_METAONLY = 0x0100;
export const DR_EXTATTRIBUTES = 0x8000;

export const EXT_REGULAR = 0;
export const EXT_XATTR = 3;

/** Blocking factors we write; readers accept anything. */
export const MIN_NTREC = 4;
export const MAX_NTREC = 256;
export const DEFAULT_NTREC = 10;
export const MAX_LEVEL = 31;

// File type bits of st_mode.
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// d_type values of BSD directory entries.
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export function dtypeOfMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}

export type FileKind = 'file' | 'dir' | 'symlink' | 'chr' | 'blk' | 'fifo' | 'socket' | 'unknown';

export function kindOfMode(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFCHR: return 'chr';
    case S_IFBLK: return 'blk';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    default: return 'unknown';
  }
}
