/**
 * The DATA service (NDMP.md §3.2): the state machine, the data connection (LOCAL to this
 * session's mover, or TCP either way), and the operations of data-ops.ts run in the background
 * while the DMA polls. halt_reason is NA whenever the state is not HALTED.
 */
import * as net from 'node:net';
import { AddrType, DataHalt, DataOp, DataState, LogType, NdmpErr } from '../codec/constants.js';
import type { Addr, RequestBody } from '../codec/messages.js';
import type { HandlerTable, SessionContext, SessionService } from './context.js';
import { connectTcp, ipv4ToNumber, localPair, socketChannel, type DataChannel } from './data-channel.js';
import { planBackup, planRecover, runBackup, runRecover, runToc, type OpContext } from './data-ops.js';
import { DUMP_DEFAULT_ENV, envMap, type Env } from './dump-env.js';
import type { ImageTarget } from './image-sink.js';
import type { MoverService } from './mover.js';

const LOCAL_ADDR: Addr = { type: AddrType.LOCAL, body: undefined };
const OP_NAMES: Record<number, string> = { [DataOp.BACKUP]: 'backup', [DataOp.RECOVER]: 'recover', [DataOp.RECOVER_FILEHIST]: 'recover-filehist' };
const HALT_NAMES: Record<number, string> = { [DataHalt.SUCCESSFUL]: 'successful', [DataHalt.ABORTED]: 'aborted', [DataHalt.INTERNAL_ERROR]: 'internal-error', [DataHalt.CONNECT_ERROR]: 'connect-error' };

export class DataService implements SessionService {
  state: number = DataState.IDLE;
  operation: number = DataOp.NOACTION;
  haltReason: number = DataHalt.NA;
  bytesProcessed = 0n;
  private env: Env = new Map();
  private addr: Addr = LOCAL_ADDR;
  private local = false;
  private listener: net.Server | null = null;
  private channel: DataChannel | null = null;
  private abort: AbortController | null = null;
  private readOffset = 0n;
  private readLength = 0n;
  private holdsSlot = false;
  private startedAt = 0;

  constructor(private readonly s: SessionContext, private readonly mover: MoverService) {
    mover.acceptLocalFromData = () => this.acceptLocal();
  }

  private acceptLocal(): DataChannel | null {
    if (this.state !== DataState.LISTEN || !this.local) return null;
    const [dataEnd, moverEnd] = localPair();
    this.connected(dataEnd);
    return moverEnd;
  }

  private connected(ch: DataChannel): void {
    this.listener?.close();
    this.listener = null;
    this.channel = ch;
    this.state = DataState.CONNECTED;
  }

  private halt(reason: number): void {
    if (this.state === DataState.HALTED || this.state === DataState.IDLE) return;
    if (this.state === DataState.ACTIVE) {
      // One line per operation with its duration (bench/ reads it).
      const secs = ((performance.now() - this.startedAt) / 1000).toFixed(3);
      this.s.log(`data operation ${OP_NAMES[this.operation] ?? this.operation} halted ${HALT_NAMES[reason] ?? reason} after ${secs} s, ${this.bytesProcessed} bytes`);
    }
    this.state = DataState.HALTED;
    this.haltReason = reason;
    this.releaseSlot();
    this.listener?.close();
    this.listener = null;
    if (reason !== DataHalt.SUCCESSFUL) {
      this.abort?.abort();
      this.channel?.destroy();
    } else {
      // A LOCAL backup handed its image to the mover directly: the mover ends it on tape now.
      if (this.local && this.operation === DataOp.BACKUP) this.mover.endLocalImage();
      this.channel?.end();
    }
    this.s.conn.post('NOTIFY_DATA_HALTED', { reason });
  }

  shutdown(): void {
    if (this.state !== DataState.IDLE && this.state !== DataState.HALTED) this.halt(DataHalt.ABORTED);
    this.releaseSlot();
    this.abort?.abort();
    this.listener?.close();
    this.channel?.destroy();
  }

  private log(type: number, text: string): void {
    this.s.conn.post('LOG_MESSAGE', { log_type: type, message_id: 0, entry: text, associated_message_valid: 0, associated_message_sequence: 0 });
  }

  private opContext(ch: DataChannel, signal: AbortSignal): OpContext {
    const conn = this.s.conn;
    return {
      volumes: this.s.server.config.volumes, stateDir: this.s.server.config.stateDir, channel: ch, signal,
      fh: {
        dirs: (b) => conn.post('FH_ADD_DIR', b),
        nodes: (b) => conn.post('FH_ADD_NODE', b),
        drained: () => conn.drained(),
      },
      log: (t, text) => this.log(t, text),
      logFile: (name, status) => conn.post('LOG_FILE', { name, recovery_status: status }),
      requestRange: (offset, length) => {
        this.readOffset = offset;
        this.readLength = length;
        if (this.local) {
          const err = this.mover.requestRead(offset, length);
          if (err !== NdmpErr.NO_ERR) throw new Error(`the mover refused to send bytes ${offset}+${length} (error ${err})`);
        } else {
          conn.post('NOTIFY_DATA_READ', { offset, length });
        }
      },
      progress: (bytes) => { this.bytesProcessed = BigInt(bytes); },
      target: this.imageTarget(),
      watchTape: (cb) => {
        if (!this.local) return;
        this.mover.onRecordsWritten = (offset) => cb(Number(offset));
      },
    };
  }

  /**
   * Where a backup's image lands, as far as a restart is concerned: only a LOCAL backup knows its
   * tape, and only an image that starts a tape file (window at 0, nothing written yet, at a
   * file's first record) can be found and continued there later.
   */
  private imageTarget(): ImageTarget {
    if (!this.local) {
      return { medium: null, direct: null, copy: null, notResumable: 'the image goes over a TCP data connection to a mover this data service does not drive: only a LOCAL backup (DATA and TAPE in one session) onto a virtual tape can be restarted' };
    }
    const m = this.mover;
    const direct = (parts: readonly Buffer[]) => m.writeDirect(parts);
    const copy: ImageTarget['copy'] = (prefix, src, offset, length, padTo) => m.copyDirect(prefix, src, offset, length, padTo);
    const t = this.mover.tapeService.tape;
    if (!t || !t.writable || m.windowOffset !== 0n || m.recordNum !== 0 || t.blockNo !== 0) {
      return { medium: null, direct, copy, notResumable: 'the image does not start a tape file of a virtual tape (window offset 0, first record of a file), so a restart could not find it' };
    }
    return { medium: { kind: 'virtual-tape', path: t.path, tapeFile: t.fileNum, recordSize: m.recordSize }, direct, copy, notResumable: '' };
  }

  /** A slot under the server's operation limit, or a refusal the DMA can show. */
  private acquireSlot(): boolean {
    const ops = this.s.server.operations;
    if (ops.tryAcquire()) { this.holdsSlot = true; return true; }
    const text = `refused: ${ops.active} backup/restore operations are running, the limit of this server is ${ops.limit}`;
    this.s.log(text);
    this.log(LogType.ERROR, text);
    return false;
  }

  private releaseSlot(): void {
    if (this.holdsSlot) this.s.server.operations.release();
    this.holdsSlot = false;
  }

  private start(op: number, run: (ctx: OpContext) => Promise<void>): void {
    const ch = this.channel!;
    this.operation = op;
    this.state = DataState.ACTIVE;
    this.startedAt = performance.now();
    this.abort = new AbortController();
    const ctx = this.opContext(ch, this.abort.signal);
    const settling = this.s.server.settling;
    const done: Promise<void> = run(ctx).then(
      () => this.halt(DataHalt.SUCCESSFUL),
      (e: unknown) => {
        if (this.state !== DataState.ACTIVE) {
          // Aborted (DATA_ABORT, the session dropped): say what became of the image, e.g. that a
          // restartable context was kept, or why not.
          this.s.log(`data operation stopped: ${(e as Error).message}`);
          this.log(LogType.WARNING, `operation stopped: ${(e as Error).message}`);
          return;
        }
        this.s.log(`data operation failed: ${(e as Error).message}`);
        this.log(LogType.ERROR, `operation failed: ${(e as Error).message}`);
        this.halt(DataHalt.INTERNAL_ERROR);
      },
    ).finally(() => settling.delete(done));
    settling.add(done);
  }

  private startRecover(req: RequestBody<'DATA_START_RECOVER'>, toc: boolean): { error: number } {
    if (this.state !== DataState.CONNECTED) return { error: NdmpErr.ILLEGAL_STATE };
    if (req.butype_name !== 'dump') return { error: NdmpErr.ILLEGAL_ARGS };
    this.env = envMap(req.env);
    if (!this.acquireSlot()) return { error: NdmpErr.NO_MEM };
    if (toc) {
      this.start(DataOp.RECOVER_FILEHIST, (ctx) => runToc(ctx));
      return { error: NdmpErr.NO_ERR };
    }
    let plan: ReturnType<typeof planRecover>;
    try {
      plan = planRecover(this.env, req.nlist, this.s.server.config.volumes);
    } catch (e) {
      this.s.log(`DATA_START_RECOVER refused: ${(e as Error).message}`);
      this.log(LogType.ERROR, `recover refused: ${(e as Error).message}`);
      this.releaseSlot();
      return { error: NdmpErr.ILLEGAL_ARGS };
    }
    this.start(DataOp.RECOVER, (ctx) => runRecover(ctx, req.nlist, plan));
    return { error: NdmpErr.NO_ERR };
  }

  handlers(): HandlerTable {
    const ok = { error: NdmpErr.NO_ERR };
    const illegal = { error: NdmpErr.ILLEGAL_STATE };
    return {
      DATA_GET_STATE: () => ({
        unsupported: 0x3, error: NdmpErr.NO_ERR, operation: this.operation, state: this.state,
        halt_reason: this.state === DataState.HALTED ? this.haltReason : DataHalt.NA,
        bytes_processed: this.bytesProcessed, est_bytes_remain: 0n, est_time_remain: 0,
        data_connection_addr: this.addr, read_offset: this.readOffset, read_length: this.readLength,
      }),
      DATA_LISTEN: async ({ addr_type }) => {
        if (addr_type !== AddrType.LOCAL && addr_type !== AddrType.TCP) return { error: NdmpErr.ILLEGAL_ARGS, connect_addr: LOCAL_ADDR };
        if (this.state !== DataState.IDLE) return { error: NdmpErr.ILLEGAL_STATE, connect_addr: LOCAL_ADDR };
        if (addr_type === AddrType.LOCAL) {
          if (this.mover.state !== 0) return { error: NdmpErr.ILLEGAL_STATE, connect_addr: LOCAL_ADDR };
          this.local = true;
          this.addr = LOCAL_ADDR;
          this.state = DataState.LISTEN;
          return { error: NdmpErr.NO_ERR, connect_addr: this.addr };
        }
        const host = this.s.conn.localAddress.replace(/^::ffff:/, '');
        const server = net.createServer({ pauseOnConnect: true }, (socket) => {
          if (this.state !== DataState.LISTEN || this.listener !== server) { socket.destroy(); return; }
          this.connected(socketChannel(socket));
        });
        try {
          await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, host, () => resolve()); });
        } catch {
          return { error: NdmpErr.CONNECT, connect_addr: LOCAL_ADDR };
        }
        server.on('error', () => undefined);
        this.listener = server;
        this.local = false;
        this.state = DataState.LISTEN;
        this.addr = { type: AddrType.TCP, body: [{ ip_addr: ipv4ToNumber(host), port: (server.address() as net.AddressInfo).port, addr_env: [] }] };
        return { error: NdmpErr.NO_ERR, connect_addr: this.addr };
      },
      DATA_CONNECT: async ({ addr }) => {
        if (addr.type !== AddrType.LOCAL && addr.type !== AddrType.TCP) return { error: NdmpErr.ILLEGAL_ARGS };
        if (this.state !== DataState.IDLE) return illegal;
        if (addr.type === AddrType.LOCAL) {
          const ch = this.mover.connectLocal();
          if (!ch) return illegal;
          this.local = true;
          this.addr = LOCAL_ADDR;
          this.connected(ch);
          return ok;
        }
        const a = addr.body[0];
        if (!a) return { error: NdmpErr.ILLEGAL_ARGS };
        try {
          const socket = await connectTcp(a.ip_addr, a.port);
          this.local = false;
          this.addr = addr;
          this.connected(socketChannel(socket));
          return ok;
        } catch (e) {
          this.s.log(`DATA_CONNECT: ${(e as Error).message}`);
          return { error: NdmpErr.CONNECT };
        }
      },
      DATA_START_BACKUP: ({ butype_name, env }) => {
        if (this.state !== DataState.CONNECTED) return illegal;
        if (butype_name !== 'dump') return { error: NdmpErr.ILLEGAL_ARGS };
        const given = envMap(env);
        const full = new Map([...DUMP_DEFAULT_ENV.map(([k, v]) => [k, v] as [string, string]), ...given]);
        let plan: ReturnType<typeof planBackup>;
        try {
          plan = planBackup(full, this.s.server.config.volumes);
        } catch (e) {
          // A bad variable (EnvError), a path outside the volumes (VolumePathError), a missing FILESYSTEM.
          const why = (e as Error).message;
          this.s.log(`DATA_START_BACKUP refused: ${why}`);
          this.log(LogType.ERROR, `backup refused: ${why}`);
          return { error: NdmpErr.ILLEGAL_ARGS };
        }
        if (!this.acquireSlot()) return { error: NdmpErr.NO_MEM };
        this.env = full;
        this.start(DataOp.BACKUP, async (ctx) => { this.env = await runBackup(ctx, full, plan); });
        return ok;
      },
      DATA_START_RECOVER: (req) => this.startRecover(req, false),
      DATA_START_RECOVER_FILEHIST: (req) => this.startRecover(req, true),
      DATA_ABORT: () => {
        if (this.state !== DataState.LISTEN && this.state !== DataState.CONNECTED && this.state !== DataState.ACTIVE) return illegal;
        this.halt(DataHalt.ABORTED);
        return ok;
      },
      DATA_STOP: () => {
        if (this.state !== DataState.HALTED) return illegal;
        this.channel?.destroy();
        this.channel = null;
        this.state = DataState.IDLE;
        this.operation = DataOp.NOACTION;
        this.haltReason = DataHalt.NA;
        this.bytesProcessed = 0n;
        this.readOffset = 0n;
        this.readLength = 0n;
        this.env = new Map();
        this.addr = LOCAL_ADDR;
        this.abort = null;
        return ok;
      },
      DATA_GET_ENV: () => {
        if (this.state === DataState.IDLE) return { error: NdmpErr.ILLEGAL_STATE, env: [] };
        return { error: NdmpErr.NO_ERR, env: [...this.env].map(([name, value]) => ({ name, value })) };
      },
    };
  }
}

