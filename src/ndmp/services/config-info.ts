/** CONFIG_GET_*: what this server is and offers (host, server, connection types, butypes, volumes, tapes). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import { AddrType, AuthType, ButypeAttr, NdmpErr } from '../codec/constants.js';
import { DUMP_DEFAULT_ENV } from './dump-env.js';
import type { HandlerTable, SessionContext } from './context.js';

export const DUMP_ATTRS = ButypeAttr.RECOVER_FILELIST | ButypeAttr.BACKUP_DIRECT | ButypeAttr.RECOVER_DIRECT
  | ButypeAttr.BACKUP_INCREMENTAL | ButypeAttr.RECOVER_INCREMENTAL | ButypeAttr.BACKUP_FH_DIR | ButypeAttr.RECOVER_FILEHIST;

const FS_UNS_INODES = 0x8 | 0x10;

function hostId(): string {
  let seed = os.hostname();
  try { seed = fs.readFileSync('/etc/machine-id', 'utf8').trim() || seed; } catch { /* no machine id */ }
  return createHash('sha256').update(seed).digest('hex').slice(0, 8);
}

export function configHandlers(s: SessionContext): HandlerTable {
  const cfg = s.server.config;
  return {
    CONFIG_GET_HOST_INFO: () => ({ error: NdmpErr.NO_ERR, hostname: os.hostname(), os_type: os.type(), os_vers: os.release(), hostid: hostId() }),
    CONFIG_GET_SERVER_INFO: () => ({
      error: NdmpErr.NO_ERR, vendor_name: s.server.product.vendor, product_name: s.server.product.name,
      revision_number: s.server.product.revision,
      auth_type: cfg.allowNoneAuth ? [AuthType.NONE, AuthType.TEXT, AuthType.MD5] : [AuthType.TEXT, AuthType.MD5],
    }),
    CONFIG_GET_CONNECTION_TYPE: () => ({ error: NdmpErr.NO_ERR, addr_types: [AddrType.LOCAL, AddrType.TCP] }),
    CONFIG_GET_BUTYPE_INFO: () => ({
      error: NdmpErr.NO_ERR,
      butype_info: [{ butype_name: 'dump', default_env: DUMP_DEFAULT_ENV.map(([name, value]) => ({ name, value })), attrs: DUMP_ATTRS }],
    }),
    CONFIG_GET_FS_INFO: () => ({
      error: NdmpErr.NO_ERR,
      fs_info: [...cfg.volumes].map(([name, dir]) => {
        let sizes = { total: 0n, used: 0n, avail: 0n, files: 0n, ffree: 0n };
        let unsupported = 0;
        let status = 'online';
        try {
          const st = fs.statfsSync(dir, { bigint: true });
          sizes = { total: st.blocks * st.bsize, used: (st.blocks - st.bfree) * st.bsize, avail: st.bavail * st.bsize, files: st.files, ffree: st.ffree };
          if (st.files === 0n) unsupported |= FS_UNS_INODES;
        } catch (e) {
          unsupported = 0x1f;
          status = `offline: ${(e as Error).message}`;
        }
        return {
          unsupported, fs_type: 'snapdump', fs_logical_device: dir, fs_physical_device: `/${name}`,
          total_size: sizes.total, used_size: sizes.used, avail_size: sizes.avail, total_inodes: sizes.files,
          used_inodes: sizes.files - sizes.ffree, fs_env: [{ name: 'VOLUME', value: name }], fs_status: status,
        };
      }),
    }),
    CONFIG_GET_TAPE_INFO: () => ({
      error: NdmpErr.NO_ERR,
      tape_info: [...cfg.tapes].map(([name, file]) => ({
        model: 'snapdump virtual tape',
        caplist: [{ device: name, attr: 0, capability: [{ name: 'FILE', value: file }] }],
      })),
    }),
  };
}
