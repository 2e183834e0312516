/**
 * The TAPE service (NDMP.md §3.1): opens a configured virtual tape by name or path and drives
 * it. Errors go in reply bodies. While this session's MOVER is ACTIVE the tape is its own and
 * tape requests are ILLEGAL_STATE; when it is paused or halted they are allowed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MtioOp, NdmpErr, QUAD_ALL_ONES, TapeMode, TapeStateFlag, TapeStateUns, U32_ALL_ONES } from '../codec/constants.js';
import { TapeFullError, TapeMediaError, VirtualTape } from '../../tape/virtual-tape.js';
import type { HandlerTable, SessionContext, SessionService } from './context.js';

/** Largest TAPE_READ / TAPE_WRITE / record size accepted. */
export const MAX_RECORD = 256 * 1024;

export class TapeService implements SessionService {
  tape: VirtualTape | null = null;
  mode = TapeMode.READ as number;
  private device: string | null = null;
  /**
   * v4: after a read stops at a filemark the drive's block number is reported as unknown
   * (all ones) until the tape moves again; ndmjob's test-tape checks exactly that.
   */
  private blocknoUnknown = false;
  /** Set by the mover: true while it owns the tape. */
  moverActive: () => boolean = () => false;

  constructor(private readonly s: SessionContext) {}

  get canWrite(): boolean { return this.tape !== null && this.mode !== TapeMode.READ; }

  /** The configured tape named by a TAPE_OPEN device string: its name or its file path. */
  private resolve(device: string): { name: string; file: string } | null {
    const tapes = this.s.server.config.tapes;
    const byName = tapes.get(device);
    if (byName) return { name: device, file: byName };
    if (path.isAbsolute(device)) {
      const want = path.normalize(device);
      for (const [name, file] of tapes) if (path.normalize(file) === want) return { name, file };
    }
    return null;
  }

  /** The configured name of the open tape. */
  get deviceName(): string | null { return this.device; }

  private close(): void {
    const { tape, device } = this;
    this.tape = null;
    this.device = null;
    const release = () => {
      if (tape) { try { tape.close(); } catch { /* already closed */ } }
      if (device) this.s.server.tapesInUse.delete(device);
    };
    // A mover halted mid-write (an aborted session): the tape stays busy until the write is done.
    const writing = tape?.writing;
    if (writing) void writing.then(release); else release();
  }

  shutdown(): void { this.close(); }

  /** Runs a tape operation, mapping a damaged container or I/O failure to IO_ERR. */
  private guarded<T extends { error: number }>(what: string, fn: () => T, onError: T): T {
    try {
      return fn();
    } catch (e) {
      this.s.log(`tape ${what}: ${(e as Error).message}`);
      if (e instanceof TapeMediaError || (e as NodeJS.ErrnoException).code) return { ...onError, error: NdmpErr.IO };
      throw e;
    }
  }

  handlers(): HandlerTable {
    return {
      TAPE_OPEN: ({ device, mode }) => {
        if (this.tape) return { error: NdmpErr.DEVICE_OPENED };
        if (mode !== TapeMode.READ && mode !== TapeMode.RDWR && mode !== TapeMode.RAW) return { error: NdmpErr.ILLEGAL_ARGS };
        const dev = this.resolve(device);
        if (!dev) return { error: NdmpErr.NO_DEVICE };
        if (this.s.server.tapesInUse.has(dev.name)) return { error: NdmpErr.DEVICE_BUSY };
        const writable = mode !== TapeMode.READ;
        try {
          if (!fs.existsSync(dev.file)) fs.writeFileSync(dev.file, '', { flag: 'a' });
          this.tape = VirtualTape.open(dev.file, writable, this.s.server.config.tapeCapacity.get(dev.name) ?? null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          this.s.log(`TAPE_OPEN ${device}: ${(e as Error).message}`);
          if (writable && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) return { error: NdmpErr.WRITE_PROTECT };
          return { error: code === 'ENOENT' || code === 'EINVAL' ? NdmpErr.NO_DEVICE : NdmpErr.IO };
        }
        this.mode = mode;
        this.blocknoUnknown = false;
        this.device = dev.name;
        this.s.server.tapesInUse.add(dev.name);
        return { error: NdmpErr.NO_ERR };
      },
      TAPE_CLOSE: () => {
        if (!this.tape) return { error: NdmpErr.DEV_NOT_OPEN };
        if (this.moverActive()) return { error: NdmpErr.ILLEGAL_STATE };
        this.close();
        return { error: NdmpErr.NO_ERR };
      },
      TAPE_GET_STATE: () => {
        const t = this.tape;
        if (!t) {
          return {
            unsupported: 0x3f, error: NdmpErr.DEV_NOT_OPEN, flags: 0, file_num: U32_ALL_ONES, soft_errors: U32_ALL_ONES,
            block_size: U32_ALL_ONES, blockno: U32_ALL_ONES, total_space: QUAD_ALL_ONES, space_remain: QUAD_ALL_ONES,
          };
        }
        let flags = TapeStateFlag.NOREWIND as number;
        if (!t.writable && !isWritable(t.path)) flags |= TapeStateFlag.WR_PROT;
        const remain = t.spaceRemaining;
        return {
          unsupported: remain === null ? TapeStateUns.TOTAL_SPACE | TapeStateUns.SPACE_REMAIN : 0, error: NdmpErr.NO_ERR, flags,
          file_num: t.fileNum, soft_errors: 0, block_size: 0, blockno: this.blocknoUnknown ? U32_ALL_ONES : t.blockNo,
          total_space: t.capacity === null ? QUAD_ALL_ONES : BigInt(t.capacity), space_remain: remain === null ? QUAD_ALL_ONES : BigInt(remain),
        };
      },
      TAPE_MTIO: ({ tape_op, count }) => {
        const t = this.tape;
        if (!t) return { error: NdmpErr.DEV_NOT_OPEN, resid_count: count };
        if (this.moverActive()) return { error: NdmpErr.ILLEGAL_STATE, resid_count: count };
        this.blocknoUnknown = false;
        return this.guarded<{ error: number; resid_count: number }>('MTIO', () => {
          switch (tape_op) {
            case MtioOp.FSF: return { error: NdmpErr.NO_ERR, resid_count: t.fsf(count) };
            case MtioOp.BSF: return { error: NdmpErr.NO_ERR, resid_count: t.bsf(count) };
            case MtioOp.FSR: return { error: NdmpErr.NO_ERR, resid_count: t.fsr(count) };
            case MtioOp.BSR: return { error: NdmpErr.NO_ERR, resid_count: t.bsr(count) };
            case MtioOp.REW: case MtioOp.OFF: t.rewind(); return { error: NdmpErr.NO_ERR, resid_count: 0 };
            case MtioOp.TUR: return { error: NdmpErr.NO_ERR, resid_count: 0 };
            case MtioOp.EOF:
              if (!this.canWrite) return { error: NdmpErr.PERMISSION, resid_count: count };
              t.writeFilemarks(count);
              return { error: NdmpErr.NO_ERR, resid_count: 0 };
            default: return { error: NdmpErr.ILLEGAL_ARGS, resid_count: count };
          }
        }, { error: NdmpErr.IO, resid_count: count });
      },
      TAPE_WRITE: ({ data_out }) => {
        const t = this.tape;
        if (!t) return { error: NdmpErr.DEV_NOT_OPEN, count: 0 };
        if (this.moverActive()) return { error: NdmpErr.ILLEGAL_STATE, count: 0 };
        if (!this.canWrite) return { error: NdmpErr.PERMISSION, count: 0 };
        if (data_out.length > MAX_RECORD) return { error: NdmpErr.ILLEGAL_ARGS, count: 0 };
        if (data_out.length === 0) return { error: NdmpErr.NO_ERR, count: 0 };
        this.blocknoUnknown = false;
        return this.guarded<{ error: number; count: number }>('WRITE', () => {
          try {
            t.write(data_out);
          } catch (e) {
            if (e instanceof TapeFullError) return { error: NdmpErr.EOM, count: 0 };
            throw e;
          }
          return { error: NdmpErr.NO_ERR, count: data_out.length };
        }, { error: NdmpErr.IO, count: 0 });
      },
      TAPE_READ: ({ count }) => {
        const t = this.tape;
        const none = Buffer.alloc(0);
        if (!t) return { error: NdmpErr.DEV_NOT_OPEN, data_in: none };
        if (this.moverActive()) return { error: NdmpErr.ILLEGAL_STATE, data_in: none };
        if (count > MAX_RECORD) return { error: NdmpErr.ILLEGAL_ARGS, data_in: none };
        if (count === 0) return { error: NdmpErr.NO_ERR, data_in: none };
        return this.guarded<{ error: number; data_in: Buffer }>('READ', () => {
          const r = t.read(count);
          if (r.kind === 'filemark') { this.blocknoUnknown = true; return { error: NdmpErr.EOF, data_in: none }; }
          this.blocknoUnknown = false;
          if (r.kind === 'eod') return { error: NdmpErr.EOM, data_in: none };
          return { error: NdmpErr.NO_ERR, data_in: r.data };
        }, { error: NdmpErr.IO, data_in: none });
      },
    };
  }
}

function isWritable(file: string): boolean {
  try { fs.accessSync(file, fs.constants.W_OK); return true; } catch { return false; }
}
