/**
 * The one table of NDMP v4 messages: code, request body, reply body (null for posts, which get
 * no reply). Everything that encodes or decodes a message reads it from here.
 */
import { AddrType, AuthType, FsType } from './constants.js';
import { VOID, array, bytes, fixed, i32, str, struct, u32, u64, union, type Codec, type Infer } from './schema.js';

const pval = struct({ name: str, value: str });
const errorOnly = struct({ error: i32 });

const authData = union({
  [AuthType.NONE]: VOID,
  [AuthType.TEXT]: struct({ auth_id: str, auth_password: str }),
  [AuthType.MD5]: struct({ auth_id: str, auth_digest: fixed(16) }),
});
const authAttr = union({ [AuthType.NONE]: VOID, [AuthType.TEXT]: VOID, [AuthType.MD5]: fixed(64) });

const tcpAddr = struct({ ip_addr: u32, port: u32, addr_env: array(pval) });
export const addrCodec = union({ [AddrType.LOCAL]: VOID, [AddrType.TCP]: array(tcpAddr), [AddrType.IPC]: bytes });

const fsInfo = struct({
  unsupported: u32, fs_type: str, fs_logical_device: str, fs_physical_device: str,
  total_size: u64, used_size: u64, avail_size: u64, total_inodes: u64, used_inodes: u64,
  fs_env: array(pval), fs_status: str,
});
const deviceInfo = struct({ model: str, caplist: array(struct({ device: str, attr: u32, capability: array(pval) })) });
const nameEntry = struct({ original_path: bytes, destination_path: bytes, name: bytes, other_name: bytes, node: u64, fh_info: u64 });
const recoverRequest = struct({ env: array(pval), nlist: array(nameEntry), butype_name: str });
const fileName = union({ [FsType.UNIX]: bytes, [FsType.NT]: struct({ nt_path: bytes, dos_path: bytes }), [FsType.OTHER]: bytes });
export const fileStatCodec = struct({
  unsupported: u32, fs_type: i32, ftype: i32, mtime: u32, atime: u32, ctime: u32, owner: u32, group: u32,
  fattr: u32, size: u64, links: u32,
});
const cdbRequest = struct({ flags: u32, timeout: u32, datain_len: u32, cdb: bytes, dataout: bytes });
const cdbReply = struct({ error: i32, status: u32, dataout_len: u32, datain: bytes, ext_sense: bytes });

interface Call { readonly code: number; readonly request: Codec; readonly reply: Codec }
interface Post { readonly code: number; readonly request: Codec; readonly reply: null }

export const MESSAGES = {
  CONNECT_OPEN: { code: 0x900, request: struct({ protocol_version: u32 }), reply: errorOnly },
  CONNECT_CLIENT_AUTH: { code: 0x901, request: struct({ auth_data: authData }), reply: errorOnly },
  CONNECT_CLOSE: { code: 0x902, request: VOID, reply: VOID },
  CONNECT_SERVER_AUTH: { code: 0x903, request: struct({ client_attr: authAttr }), reply: struct({ error: i32, server_result: authData }) },

  CONFIG_GET_HOST_INFO: { code: 0x100, request: VOID, reply: struct({ error: i32, hostname: str, os_type: str, os_vers: str, hostid: str }) },
  CONFIG_GET_CONNECTION_TYPE: { code: 0x102, request: VOID, reply: struct({ error: i32, addr_types: array(i32) }) },
  CONFIG_GET_AUTH_ATTR: { code: 0x103, request: struct({ auth_type: i32 }), reply: struct({ error: i32, server_attr: authAttr }) },
  CONFIG_GET_BUTYPE_INFO: { code: 0x104, request: VOID, reply: struct({ error: i32, butype_info: array(struct({ butype_name: str, default_env: array(pval), attrs: u32 })) }) },
  CONFIG_GET_FS_INFO: { code: 0x105, request: VOID, reply: struct({ error: i32, fs_info: array(fsInfo) }) },
  CONFIG_GET_TAPE_INFO: { code: 0x106, request: VOID, reply: struct({ error: i32, tape_info: array(deviceInfo) }) },
  CONFIG_GET_SCSI_INFO: { code: 0x107, request: VOID, reply: struct({ error: i32, scsi_info: array(deviceInfo) }) },
  CONFIG_GET_SERVER_INFO: { code: 0x108, request: VOID, reply: struct({ error: i32, vendor_name: str, product_name: str, revision_number: str, auth_type: array(i32) }) },

  TAPE_OPEN: { code: 0x300, request: struct({ device: str, mode: i32 }), reply: errorOnly },
  TAPE_CLOSE: { code: 0x301, request: VOID, reply: errorOnly },
  TAPE_GET_STATE: {
    code: 0x302, request: VOID,
    reply: struct({ unsupported: u32, error: i32, flags: u32, file_num: u32, soft_errors: u32, block_size: u32, blockno: u32, total_space: u64, space_remain: u64 }),
  },
  TAPE_MTIO: { code: 0x303, request: struct({ tape_op: i32, count: u32 }), reply: struct({ error: i32, resid_count: u32 }) },
  TAPE_WRITE: { code: 0x304, request: struct({ data_out: bytes }), reply: struct({ error: i32, count: u32 }) },
  TAPE_READ: { code: 0x305, request: struct({ count: u32 }), reply: struct({ error: i32, data_in: bytes }) },
  TAPE_EXECUTE_CDB: { code: 0x307, request: cdbRequest, reply: cdbReply },

  DATA_GET_STATE: {
    code: 0x400, request: VOID,
    reply: struct({
      unsupported: u32, error: i32, operation: i32, state: i32, halt_reason: i32, bytes_processed: u64,
      est_bytes_remain: u64, est_time_remain: u32, data_connection_addr: addrCodec, read_offset: u64, read_length: u64,
    }),
  },
  DATA_START_BACKUP: { code: 0x401, request: struct({ butype_name: str, env: array(pval) }), reply: errorOnly },
  DATA_START_RECOVER: { code: 0x402, request: recoverRequest, reply: errorOnly },
  DATA_ABORT: { code: 0x403, request: VOID, reply: errorOnly },
  DATA_GET_ENV: { code: 0x404, request: VOID, reply: struct({ error: i32, env: array(pval) }) },
  DATA_STOP: { code: 0x407, request: VOID, reply: errorOnly },
  DATA_LISTEN: { code: 0x409, request: struct({ addr_type: i32 }), reply: struct({ error: i32, connect_addr: addrCodec }) },
  DATA_CONNECT: { code: 0x40a, request: struct({ addr: addrCodec }), reply: errorOnly },
  DATA_START_RECOVER_FILEHIST: { code: 0x40b, request: recoverRequest, reply: errorOnly },

  NOTIFY_DATA_HALTED: { code: 0x501, request: struct({ reason: i32 }), reply: null },
  NOTIFY_CONNECTION_STATUS: { code: 0x502, request: struct({ reason: i32, protocol_version: u32, text_reason: str }), reply: null },
  NOTIFY_MOVER_HALTED: { code: 0x503, request: struct({ reason: i32 }), reply: null },
  NOTIFY_MOVER_PAUSED: { code: 0x504, request: struct({ reason: i32, seek_position: u64 }), reply: null },
  NOTIFY_DATA_READ: { code: 0x505, request: struct({ offset: u64, length: u64 }), reply: null },

  LOG_FILE: { code: 0x602, request: struct({ name: bytes, recovery_status: i32 }), reply: null },
  LOG_MESSAGE: {
    code: 0x603, request: struct({ log_type: i32, message_id: u32, entry: str, associated_message_valid: i32, associated_message_sequence: u32 }),
    reply: null,
  },

  FH_ADD_FILE: { code: 0x703, request: struct({ files: array(struct({ names: array(fileName), stats: array(fileStatCodec), node: u64, fh_info: u64 })) }), reply: null },
  FH_ADD_DIR: { code: 0x704, request: struct({ dirs: array(struct({ names: array(fileName), node: u64, parent: u64 })) }), reply: null },
  FH_ADD_NODE: { code: 0x705, request: struct({ nodes: array(struct({ stats: array(fileStatCodec), node: u64, fh_info: u64 })) }), reply: null },

  MOVER_GET_STATE: {
    code: 0xa00, request: VOID,
    reply: struct({
      error: i32, mode: i32, state: i32, pause_reason: i32, halt_reason: i32, record_size: u32, record_num: u32,
      bytes_moved: u64, seek_position: u64, bytes_left_to_read: u64, window_offset: u64, window_length: u64,
      data_connection_addr: addrCodec,
    }),
  },
  MOVER_LISTEN: { code: 0xa01, request: struct({ mode: i32, addr_type: i32 }), reply: struct({ error: i32, connect_addr: addrCodec }) },
  MOVER_CONTINUE: { code: 0xa02, request: VOID, reply: errorOnly },
  MOVER_ABORT: { code: 0xa03, request: VOID, reply: errorOnly },
  MOVER_STOP: { code: 0xa04, request: VOID, reply: errorOnly },
  MOVER_SET_WINDOW: { code: 0xa05, request: struct({ offset: u64, length: u64 }), reply: errorOnly },
  MOVER_READ: { code: 0xa06, request: struct({ offset: u64, length: u64 }), reply: errorOnly },
  MOVER_CLOSE: { code: 0xa07, request: VOID, reply: errorOnly },
  MOVER_SET_RECORD_SIZE: { code: 0xa08, request: struct({ len: u32 }), reply: errorOnly },
  MOVER_CONNECT: { code: 0xa09, request: struct({ mode: i32, addr: addrCodec }), reply: errorOnly },
} as const satisfies Record<string, Call | Post>;

export type MessageName = keyof typeof MESSAGES;
export type PostName = { [N in MessageName]: (typeof MESSAGES)[N]['reply'] extends null ? N : never }[MessageName];
export type CallName = Exclude<MessageName, PostName>;
export type RequestBody<N extends MessageName> = Infer<(typeof MESSAGES)[N]['request']>;
export type ReplyBody<N extends CallName> = Infer<(typeof MESSAGES)[N]['reply']>;
export type Addr = Infer<typeof addrCodec>;
export type FileStat = Infer<typeof fileStatCodec>;

const byCode = new Map<number, MessageName>(Object.entries(MESSAGES).map(([name, m]) => [m.code, name as MessageName]));

export function messageByCode(code: number): MessageName | undefined {
  return byCode.get(code);
}

export function isPost(name: MessageName): name is PostName {
  return MESSAGES[name].reply === null;
}
