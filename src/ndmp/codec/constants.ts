/** NDMP v4 constants (draft-skardal-ndmpv4, Amanda's ndmp4.x). */

export const NDMP_VERSION = 4;

export const MessageType = { REQUEST: 0, REPLY: 1 } as const;

export const NdmpErr = {
  NO_ERR: 0, NOT_SUPPORTED: 1, DEVICE_BUSY: 2, DEVICE_OPENED: 3, NOT_AUTHORIZED: 4, PERMISSION: 5,
  DEV_NOT_OPEN: 6, IO: 7, TIMEOUT: 8, ILLEGAL_ARGS: 9, NO_TAPE_LOADED: 10, WRITE_PROTECT: 11, EOF: 12,
  EOM: 13, FILE_NOT_FOUND: 14, BAD_FILE: 15, NO_DEVICE: 16, NO_BUS: 17, XDR_DECODE: 18, ILLEGAL_STATE: 19,
  UNDEFINED: 20, XDR_ENCODE: 21, NO_MEM: 22, CONNECT: 23, SEQUENCE_NUM: 24, READ_IN_PROGRESS: 25,
  PRECONDITION: 26,
} as const;
export type NdmpErrCode = (typeof NdmpErr)[keyof typeof NdmpErr];

export const AuthType = { NONE: 0, TEXT: 1, MD5: 2 } as const;
export const AddrType = { LOCAL: 0, TCP: 1, IPC: 3 } as const;

export const TapeMode = { READ: 0, RDWR: 1, RAW: 2 } as const;
export const MtioOp = { FSF: 0, BSF: 1, FSR: 2, BSR: 3, REW: 4, EOF: 5, OFF: 6, TUR: 7 } as const;
export const TapeStateFlag = { NOREWIND: 0x8, WR_PROT: 0x10, ERROR: 0x20, UNLOAD: 0x40 } as const;
export const TapeStateUns = { FILE_NUM: 0x1, SOFT_ERRORS: 0x2, BLOCK_SIZE: 0x4, BLOCKNO: 0x8, TOTAL_SPACE: 0x10, SPACE_REMAIN: 0x20 } as const;

export const DataOp = { NOACTION: 0, BACKUP: 1, RECOVER: 2, RECOVER_FILEHIST: 3 } as const;
export const DataState = { IDLE: 0, ACTIVE: 1, HALTED: 2, LISTEN: 3, CONNECTED: 4 } as const;
export const DataHalt = { NA: 0, SUCCESSFUL: 1, ABORTED: 2, INTERNAL_ERROR: 3, CONNECT_ERROR: 4 } as const;

export const MoverMode = { READ: 0, WRITE: 1, NOACTION: 2 } as const;
export const MoverState = { IDLE: 0, LISTEN: 1, ACTIVE: 2, PAUSED: 3, HALTED: 4 } as const;
export const MoverPause = { NA: 0, EOM: 1, EOF: 2, SEEK: 3, EOW: 5 } as const;
export const MoverHalt = { NA: 0, CONNECT_CLOSED: 1, ABORTED: 2, INTERNAL_ERROR: 3, CONNECT_ERROR: 4, MEDIA_ERROR: 5 } as const;

export const ConnectionStatus = { CONNECTED: 0, SHUTDOWN: 1, REFUSED: 2 } as const;
export const LogType = { NORMAL: 0, DEBUG: 1, ERROR: 2, WARNING: 3 } as const;
export const RecoveryStatus = {
  SUCCESSFUL: 0, FAILED_PERMISSION: 1, FAILED_NOT_FOUND: 2, FAILED_NO_DIRECTORY: 3, FAILED_OUT_OF_MEMORY: 4,
  FAILED_IO_ERROR: 5, FAILED_UNDEFINED_ERROR: 6,
} as const;

export const FsType = { UNIX: 0, NT: 1, OTHER: 2 } as const;
export const FileType = { DIR: 0, FIFO: 1, CSPEC: 2, BSPEC: 3, REG: 4, SLINK: 5, SOCK: 6, REGISTRY: 7, OTHER: 8 } as const;

export const ButypeAttr = {
  BACKUP_FILELIST: 0x2, RECOVER_FILELIST: 0x4, BACKUP_DIRECT: 0x8, RECOVER_DIRECT: 0x10,
  BACKUP_INCREMENTAL: 0x20, RECOVER_INCREMENTAL: 0x40, BACKUP_UTF8: 0x80, RECOVER_UTF8: 0x100,
  BACKUP_FH_FILE: 0x200, BACKUP_FH_DIR: 0x400, RECOVER_FILEHIST: 0x800, RECOVER_FH_FILE: 0x1000, RECOVER_FH_DIR: 0x2000,
} as const;

/** u_quad "unknown" and NDMP_LENGTH_INFINITY. */
export const QUAD_ALL_ONES = 0xffff_ffff_ffff_ffffn;
export const U32_ALL_ONES = 0xffff_ffff;
