/**
 * The MOVER service (NDMP.md §3.3): moves the image between the data connection and this
 * session's tape, in records of `record_size` bytes, inside the window the DMA set.
 *
 * READ mode (backup, data → tape): bytes are cut into records; the last short record is padded
 * with zeros and counted. The window end pauses with EOW. WRITE mode (recover, tape → data):
 * nothing flows until a read request (MOVER_READ, or a direct call from this session's DATA
 * in LOCAL mode); the mover then positions to the record holding the offset (which need not be
 * record-aligned), skips into it, and sends exactly the requested bytes; a filemark pauses
 * with EOF, an offset outside the window with SEEK. Every transition to HALTED is posted.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  AddrType, MoverHalt, MoverMode, MoverPause, MoverState, NdmpErr, QUAD_ALL_ONES, TapeMode,
} from '../codec/constants.js';
import type { Addr } from '../codec/messages.js';
import { ENTRY_HEADER, MAX_RUN_BYTES, RUN_HEADER, TapeMediaError, type TapeRecord } from '../../tape/virtual-tape.js';
import type { HandlerTable, SessionContext, SessionService } from './context.js';
import { connectTcp, ipv4ToNumber, localPair, socketChannel, writeWithBackpressure, type DataChannel } from './data-channel.js';
import { MAX_RECORD, type TapeService } from './tape.js';

class Stopped extends Error {}

/** Reads `into.length` bytes of `fd` from `offset`, fewer at its end (the rest stays as it was). */
function readFull(fd: number, into: Buffer, offset: number): number {
  let got = 0;
  while (got < into.length) {
    const n = fs.readSync(fd, into, got, into.length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

const DEFAULT_RECORD = 10240;
/** Records gathered into one write to the tape. */
const BATCH_BYTES = 1 << 20;
const LOCAL_ADDR: Addr = { type: AddrType.LOCAL, body: undefined };

export class MoverService implements SessionService {
  state: number = MoverState.IDLE;
  mode: number = MoverMode.NOACTION;
  pauseReason: number = MoverPause.NA;
  haltReason: number = MoverHalt.NA;
  recordSize = DEFAULT_RECORD;
  recordNum = 0;
  bytesMoved = 0n;
  seekPosition = 0n;
  windowOffset = 0n;
  windowLength = QUAD_ALL_ONES;
  /** Recover: the stream offset of the next byte to send, and how many are still wanted. */
  readOffset = 0n;
  bytesLeftToRead = 0n;
  /** This session's TAPE service (the data service asks which tape an image lands on). */
  readonly tapeService: TapeService;
  private addr: Addr = LOCAL_ADDR;
  private listener: net.Server | null = null;
  private listenType: number = AddrType.LOCAL;
  private channel: DataChannel | null = null;
  private resume: { go: () => void; stop: (e: Error) => void } | null = null;
  private readKick: (() => void) | null = null;

  constructor(private readonly s: SessionContext, private readonly tape: TapeService) {
    this.tapeService = tape;
    tape.moverActive = () => this.state === MoverState.ACTIVE;
  }

  /** Stream offset of the next record boundary on tape. */
  private get position(): bigint { return BigInt(this.recordNum) * BigInt(this.recordSize); }
  private get windowEnd(): bigint {
    const end = this.windowOffset + this.windowLength;
    return this.windowLength === QUAD_ALL_ONES || end > QUAD_ALL_ONES ? QUAD_ALL_ONES : end;
  }

  // ---- transitions ----

  private halt(reason: number, noticeSoon = false): void {
    if (this.state === MoverState.HALTED || this.state === MoverState.IDLE) return;
    if (this.mode === MoverMode.READ && this.kernelBytes !== null) {
      // One line per backup (bench/ and the tests read it): how much of the image the kernel copied.
      this.s.log(`mover: ${this.bytesMoved} bytes on tape, ${this.kernelBytes} of them copied from files in the kernel`);
    }
    this.kernelBytes = null;
    this.state = MoverState.HALTED;
    this.haltReason = reason;
    this.pauseReason = MoverPause.NA;
    this.listener?.close();
    this.listener = null;
    const ch = this.channel;
    if (ch) {
      // CONNECT_CLOSED: let the peer read what is buffered; anything else tears it down.
      if (reason === MoverHalt.CONNECT_CLOSED) ch.end(); else ch.destroy();
    }
    this.resume?.stop(new Stopped());
    this.resume = null;
    this.readKick?.();
    if (noticeSoon) this.s.conn.postSoon('NOTIFY_MOVER_HALTED', { reason }); else this.s.conn.post('NOTIFY_MOVER_HALTED', { reason });
  }

  private pause(reason: number, seek: bigint): Promise<void> {
    this.state = MoverState.PAUSED;
    this.pauseReason = reason;
    this.seekPosition = seek;
    const p = new Promise<void>((go, stop) => { this.resume = { go, stop }; });
    this.s.conn.post('NOTIFY_MOVER_PAUSED', { reason, seek_position: seek });
    return p;
  }

  private reset(): void {
    this.state = MoverState.IDLE;
    this.mode = MoverMode.NOACTION;
    this.pauseReason = MoverPause.NA;
    this.haltReason = MoverHalt.NA;
    this.recordNum = 0;
    this.bytesMoved = 0n;
    this.seekPosition = 0n;
    this.windowOffset = 0n;
    this.windowLength = QUAD_ALL_ONES;
    this.readOffset = 0n;
    this.bytesLeftToRead = 0n;
    this.addr = LOCAL_ADDR;
    this.channel = null;
    this.onRecordsWritten = null;
    this.tail = [];
    this.fill = 0;
  }

  shutdown(): void {
    if (this.state === MoverState.LISTEN || this.state === MoverState.ACTIVE || this.state === MoverState.PAUSED) this.halt(MoverHalt.ABORTED);
    this.listener?.close();
    this.channel?.destroy();
  }

  /** DATA_CONNECT(LOCAL) from this session's DATA: the mover must be listening on LOCAL. */
  connectLocal(): DataChannel | null {
    if (this.state !== MoverState.LISTEN || this.listenType !== AddrType.LOCAL) return null;
    const [dataEnd, moverEnd] = localPair();
    this.start(moverEnd);
    return dataEnd;
  }

  get isListeningLocal(): boolean { return this.state === MoverState.LISTEN && this.listenType === AddrType.LOCAL; }

  /** Backup: image bytes the kernel copied from files onto the tape so far (null: no backup running). */
  private kernelBytes: number | null = null;

  private start(ch: DataChannel): void {
    this.kernelBytes = this.mode === MoverMode.READ ? 0 : null;
    this.channel = ch;
    this.listener?.close();
    this.listener = null;
    this.state = MoverState.ACTIVE;
    const run = this.mode === MoverMode.READ ? this.runBackup(ch) : this.runRecover(ch);
    run.catch((e: unknown) => {
      if (e instanceof Stopped) return;
      this.s.log(`mover: ${(e as Error).message}`);
      this.halt(e instanceof TapeMediaError || (e as NodeJS.ErrnoException).code ? MoverHalt.MEDIA_ERROR : MoverHalt.INTERNAL_ERROR);
    });
  }

  // ---- backup: data → tape ----

  /**
   * The record being gathered: image bytes not yet a whole record, as views of the sender's
   * buffers until `keepTail` copies them (the sender reuses its buffers once a write resolves).
   */
  private tail: Buffer[] = [];
  private fill = 0;

  /**
   * Cuts bytes into records without copying: a record inside `chunk` is a view of it, one that
   * spans chunks is the list of its pieces (the tape writes them with one gathered write).
   */
  private cut(chunk: Buffer, out: TapeRecord[]): void {
    const rs = this.recordSize;
    let off = 0;
    while (off < chunk.length) {
      if (this.fill === 0 && chunk.length - off >= rs) {
        out.push(chunk.subarray(off, off + rs));
        off += rs;
        continue;
      }
      const take = Math.min(chunk.length - off, rs - this.fill);
      this.tail.push(chunk.subarray(off, off + take));
      this.fill += take;
      off += take;
      if (this.fill === rs) { out.push(this.tail.length === 1 ? this.tail[0]! : this.tail); this.tail = []; this.fill = 0; }
    }
  }

  /** The unfinished record's pieces become one copy of its own. */
  private keepTail(): void {
    if (this.tail.length > 0) this.tail = [Buffer.concat(this.tail, this.fill)];
  }

  /** Writes whole records, pausing with EOW whenever the window is full and with EOM when the tape is. */
  private async writeRecords(records: TapeRecord[]): Promise<void> {
    const rs = BigInt(this.recordSize);
    let i = 0;
    while (i < records.length) {
      const end = this.windowEnd;
      const room = end === QUAD_ALL_ONES ? records.length : Number((end - this.position) / rs);
      if (room <= 0) {
        await this.pause(MoverPause.EOW, this.position);
        continue;
      }
      const t = this.tape.tape;
      if (!t || !this.tape.canWrite) throw new Error('the tape is not open for writing');
      const batch = i === 0 && room >= records.length ? records : records.slice(i, i + Math.min(room, records.length - i));
      // In the background: the engine prepares the next records meanwhile.
      const n = await t.writeRecordsAsync(batch);
      if (this.state === MoverState.HALTED) throw new Stopped();
      this.recordNum += n;
      this.bytesMoved += BigInt(n) * rs;
      i += n;
      this.onRecordsWritten?.(this.position);
      // End of medium: the DMA changes the tape (or gives up); what did not fit is written after CONTINUE.
      if (n < batch.length) await this.pause(MoverPause.EOM, this.position);
    }
  }

  private async runBackup(ch: DataChannel): Promise<void> {
    let batch: TapeRecord[] = [];
    try {
      for await (const chunk of ch.input as AsyncIterable<Buffer>) {
        if (this.state === MoverState.HALTED) return;
        this.cut(chunk, batch);
        if (batch.length * this.recordSize >= BATCH_BYTES) { const b = batch; batch = []; await this.writeRecords(b); }
      }
    } catch (e) {
      if (e instanceof Stopped || this.state === MoverState.HALTED) return;
      if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE' && (e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
    }
    if (this.state === MoverState.HALTED) return;
    const pad = this.padLastRecord(batch);
    await this.writeRecords(batch);
    // The padding is not image: what is on tape of the image ends before it.
    if (pad > 0) this.onRecordsWritten?.(this.position - BigInt(pad));
    this.halt(MoverHalt.CONNECT_CLOSED);
  }

  /** The last short record, padded with zeros, joins `out`; returns the padding. */
  private padLastRecord(out: TapeRecord[]): number {
    if (this.fill === 0) return 0;
    const pad = this.recordSize - this.fill;
    out.push([...this.tail, Buffer.alloc(pad)]);
    this.tail = [];
    this.fill = 0;
    return pad;
  }

  /**
   * LOCAL backup: this session's DATA hands the image over directly, without the stream (no copy,
   * records straight from its buffers). Resolves once the records are on tape (the sender may
   * then reuse its buffers), false when the mover has stopped.
   */
  async writeDirect(parts: readonly Buffer[]): Promise<boolean> {
    if (this.state !== MoverState.ACTIVE && this.state !== MoverState.PAUSED) return false;
    const records: TapeRecord[] = [];
    for (const p of parts) this.cut(p, records);
    this.keepTail();
    try {
      await this.writeRecords(records);
    } catch (e) {
      if (e instanceof Stopped || this.halted) return false;
      this.s.log(`mover: ${(e as Error).message}`);
      this.halt(e instanceof TapeMediaError || (e as NodeJS.ErrnoException).code ? MoverHalt.MEDIA_ERROR : MoverHalt.INTERNAL_ERROR);
      return false;
    }
    return !this.halted;
  }

  /**
   * LOCAL backup, a range of a file that the engine would otherwise read (TapeSink.copyFrom):
   * `prefix`, then `length` bytes of the open file `src` from `offset`, then zeros up to `padTo`.
   * The whole records that lie inside the file's bytes go on tape as one run that the kernel
   * copies from the file straight into the tape (never through this process); the records around
   * it (headers, the ends of the range) are written as usual. Returns the bytes that came from
   * the file (fewer when it shrank), -1 when the mover stopped. It goes the ordinary way, through
   * buffers, and returns a promise, when a run cannot be written here and now: the mover paused,
   * the window or the tape too close to its end (the ordinary way pauses there as it must), or
   * too few bytes for a record of their own.
   */
  copyDirect(prefix: readonly Buffer[], src: number, offset: number, length: number, padTo: number): number | Promise<number> {
    const rs = this.recordSize;
    const t = this.tape.tape;
    const prefixBytes = prefix.reduce((n, b) => n + b.length, 0);
    // File bytes that complete the record under way; whole records of the file; what is left.
    const lead = (rs - ((this.fill + prefixBytes) % rs)) % rs;
    const count = Math.floor((length - lead) / rs);
    const rest = padTo - lead - count * rs;
    const before = (this.fill + prefixBytes + lead) / rs;
    const after = Math.floor((this.fill + prefixBytes + padTo) / rs) - before - count;
    const records = before + count + after;
    const tapeBytes = (before + after) * (ENTRY_HEADER + rs) + RUN_HEADER + count * rs;
    const fits = t !== null && (this.windowEnd === QUAD_ALL_ONES || this.position + BigInt(records * rs) <= this.windowEnd)
      && (t.spaceRemaining === null || tapeBytes <= t.spaceRemaining);
    if (this.state !== MoverState.ACTIVE || this.mode !== MoverMode.READ || !t || !this.tape.canWrite || t.writing
      || count <= 0 || count * rs > MAX_RUN_BYTES || !fits) {
      return this.copyThroughBuffers(prefix, src, offset, length, padTo);
    }
    try {
      const head = Buffer.alloc(lead);
      let copied = readFull(src, head, offset);
      const whole: TapeRecord[] = [];
      for (const p of prefix) this.cut(p, whole);
      this.cut(head, whole);
      const kernelBefore = t.kernelCopiedBytes;
      const fromRun = t.writeRun(whole, src, offset + lead, rs, count);
      if (this.kernelBytes !== null) this.kernelBytes += t.kernelCopiedBytes - kernelBefore;
      if (fromRun < 0) throw new Error('the tape refused a run that fit');
      copied += fromRun;
      // The end of the range: the start of the next record (views of our own buffer).
      const tailBytes = Buffer.alloc(rest);
      copied += readFull(src, tailBytes.subarray(0, length - lead - count * rs), offset + lead + count * rs);
      const more: TapeRecord[] = [];
      this.cut(tailBytes, more);
      if (more.length > 0 && t.writeRecords(more) !== more.length) throw new Error('the tape refused records that fit');
      this.recordNum += records;
      this.bytesMoved += BigInt(records) * BigInt(rs);
      this.onRecordsWritten?.(this.position);
      return copied;
    } catch (e) {
      this.s.log(`mover: ${(e as Error).message}`);
      this.halt(e instanceof TapeMediaError || (e as NodeJS.ErrnoException).code ? MoverHalt.MEDIA_ERROR : MoverHalt.INTERNAL_ERROR);
      return -1;
    }
  }

  /** copyDirect the ordinary way: the range read into a buffer and handed over as image bytes. */
  private copyThroughBuffers(prefix: readonly Buffer[], src: number, offset: number, length: number, padTo: number): Promise<number> {
    const data = Buffer.alloc(padTo);
    const copied = readFull(src, data.subarray(0, length), offset);
    return this.writeDirect([...prefix, data]).then((ok) => (ok ? copied : -1));
  }

  /** (A method, so the compiler does not narrow the state across awaits.) */
  private get halted(): boolean { return this.state === MoverState.HALTED; }

  /**
   * LOCAL backup, the DATA has all of its image handed over (writeDirect): the padded last
   * record goes on tape now and the mover halts at once, so DATA and MOVER halt together. Its
   * NOTIFY_MOVER_HALTED goes out after the DMA's next request: ndmjob wakes on the DATA's notice,
   * polls, and must find the MOVER's still pending, or it waits up to 2 s before winding down
   * (ndma_cops_backreco.c, ndmca_monitor_shutdown → ndmca_mon_wait_for_something(sess, 2), which
   * only returns early on a pending halt notice). Returns false when that cannot be done here
   * (window or tape full: the stream path pauses as usual).
   */
  endLocalImage(): boolean {
    if (this.state !== MoverState.ACTIVE || this.mode !== MoverMode.READ) return false;
    const t = this.tape.tape;
    const records: TapeRecord[] = [];
    const pad = this.padLastRecordIfFits(records);
    if (pad < 0 || !t) return false;
    if (records.length > 0) {
      try {
        if (t.writeRecords(records) !== 1) return false;
      } catch (e) {
        this.s.log(`mover: ${(e as Error).message}`);
        this.halt(MoverHalt.MEDIA_ERROR);
        return true;
      }
      this.recordNum++;
      this.bytesMoved += BigInt(this.recordSize);
      this.onRecordsWritten?.(this.position - BigInt(pad));
    }
    this.halt(MoverHalt.CONNECT_CLOSED, true);
    return true;
  }

  /** padLastRecord, unless the window has no room for it (-1: the record stays). */
  private padLastRecordIfFits(out: TapeRecord[]): number {
    if (this.fill === 0) return 0;
    if (this.windowEnd !== QUAD_ALL_ONES && this.position + BigInt(this.recordSize) > this.windowEnd) return -1;
    const t = this.tape.tape;
    if (t && t.spaceRemaining !== null && t.spaceRemaining < this.recordSize + ENTRY_HEADER) return -1;
    return this.padLastRecord(out);
  }

  // ---- recover: tape → data ----

  /** A read request: from MOVER_READ, or directly from this session's DATA (LOCAL). */
  requestRead(offset: bigint, length: bigint): number {
    if (this.bytesLeftToRead > 0n && this.state !== MoverState.HALTED) return NdmpErr.READ_IN_PROGRESS;
    if (this.state !== MoverState.ACTIVE || this.mode !== MoverMode.WRITE) return NdmpErr.ILLEGAL_STATE;
    this.readOffset = offset;
    this.bytesLeftToRead = length;
    this.readKick?.();
    return NdmpErr.NO_ERR;
  }

  private async runRecover(ch: DataChannel): Promise<void> {
    let peerDone = false;
    const finished = () => { peerDone = true; this.readKick?.(); };
    ch.input.on('end', finished);
    ch.input.on('close', finished);
    ch.input.resume();
    for (;;) {
      while (this.bytesLeftToRead === 0n && !peerDone && this.state !== MoverState.HALTED) {
        await new Promise<void>((r) => { this.readKick = r; });
        this.readKick = null;
      }
      if (this.state === MoverState.HALTED) return;
      if (peerDone) { this.halt(MoverHalt.CONNECT_CLOSED); return; }
      await this.sendRequested(ch, () => peerDone);
    }
  }

  private async sendRequested(ch: DataChannel, peerDone: () => boolean): Promise<void> {
    const rs = BigInt(this.recordSize);
    const buf = Buffer.allocUnsafe(this.recordSize);
    while (this.bytesLeftToRead > 0n && !peerDone()) {
      if (this.state === MoverState.HALTED) return;
      const pos = this.readOffset;
      if (pos < this.windowOffset || pos >= this.windowEnd) {
        await this.pause(MoverPause.SEEK, pos);
        continue;
      }
      const t = this.tape.tape;
      if (!t) throw new Error('the tape is not open');
      const want = pos / rs;
      const here = BigInt(this.recordNum);
      if (want > here) {
        const resid = t.fsr(Number(want - here));
        this.recordNum += Number(want - here) - resid;
        if (resid > 0) { await this.pause(MoverPause.EOF, pos); continue; }
      } else if (want < here) {
        const resid = t.bsr(Number(here - want));
        this.recordNum -= Number(here - want) - resid;
        if (resid > 0) throw new TapeMediaError(`cannot space back to record ${want}`, 0);
      }
      const r = t.read(this.recordSize, buf);
      if (r.kind === 'filemark') { await this.pause(MoverPause.EOF, pos); continue; }
      if (r.kind === 'eod') { await this.pause(MoverPause.EOM, pos); continue; }
      this.recordNum++;
      const skip = Number(pos % rs);
      const avail = BigInt(r.data.length - Math.min(skip, r.data.length));
      const n = Number(avail < this.bytesLeftToRead ? avail : this.bytesLeftToRead);
      if (n <= 0) continue;
      const chunk = Buffer.from(r.data.subarray(skip, skip + n));
      this.readOffset += BigInt(n);
      this.bytesLeftToRead -= BigInt(n);
      this.bytesMoved += BigInt(n);
      if (!(await writeWithBackpressure(ch, chunk))) return;
    }
  }

  // ---- requests ----

  private async listen(mode: number, addrType: number): Promise<{ error: number; connect_addr: Addr }> {
    const fail = (error: number) => ({ error, connect_addr: LOCAL_ADDR });
    if (mode !== MoverMode.READ && mode !== MoverMode.WRITE) return fail(NdmpErr.ILLEGAL_ARGS);
    if (addrType !== AddrType.LOCAL && addrType !== AddrType.TCP) return fail(NdmpErr.ILLEGAL_ARGS);
    if (this.state !== MoverState.IDLE) return fail(NdmpErr.ILLEGAL_STATE);
    if (!this.tape.tape) return fail(NdmpErr.DEV_NOT_OPEN);
    if (mode === MoverMode.READ && this.tape.mode === TapeMode.READ) return fail(NdmpErr.PERMISSION);
    this.mode = mode;
    this.listenType = addrType;
    if (addrType === AddrType.LOCAL) {
      this.state = MoverState.LISTEN;
      this.addr = LOCAL_ADDR;
      return { error: NdmpErr.NO_ERR, connect_addr: this.addr };
    }
    const r = await this.listenTcp();
    if (r.error !== NdmpErr.NO_ERR) this.mode = MoverMode.NOACTION;
    return r;
  }

  private async listenTcp(): Promise<{ error: number; connect_addr: Addr }> {
    const host = this.s.conn.localAddress.replace(/^::ffff:/, '');
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      if (this.state !== MoverState.LISTEN || this.listener !== server) { socket.destroy(); return; }
      this.start(socketChannel(socket));
    });
    try {
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, host, () => resolve()); });
    } catch (e) {
      this.s.log(`MOVER_LISTEN: ${(e as Error).message}`);
      return { error: NdmpErr.CONNECT, connect_addr: LOCAL_ADDR };
    }
    server.on('error', () => undefined);
    const port = (server.address() as net.AddressInfo).port;
    this.listener = server;
    this.state = MoverState.LISTEN;
    this.addr = { type: AddrType.TCP, body: [{ ip_addr: ipv4ToNumber(host), port, addr_env: [] }] };
    return { error: NdmpErr.NO_ERR, connect_addr: this.addr };
  }

  private async connectTcp(addr: Addr): Promise<number> {
    if (addr.type !== AddrType.TCP || addr.body.length === 0) return NdmpErr.ILLEGAL_ARGS;
    const a = addr.body[0]!;
    try {
      const socket = await connectTcp(a.ip_addr, a.port);
      this.addr = addr;
      this.start(socketChannel(socket));
      return NdmpErr.NO_ERR;
    } catch (e) {
      this.s.log(`MOVER_CONNECT: ${(e as Error).message}`);
      return NdmpErr.CONNECT;
    }
  }

  /** Backup: told the stream offset up to which records are on tape, after each write. */
  onRecordsWritten: ((streamOffset: bigint) => void) | null = null;

  /** Set by the session: this session's DATA in LISTEN(LOCAL) accepting the mover. */
  acceptLocalFromData: (() => DataChannel | null) | null = null;

  handlers(): HandlerTable {
    const ok = { error: NdmpErr.NO_ERR };
    const illegal = { error: NdmpErr.ILLEGAL_STATE };
    return {
      MOVER_GET_STATE: () => ({
        error: NdmpErr.NO_ERR, mode: this.mode, state: this.state,
        pause_reason: this.state === MoverState.PAUSED ? this.pauseReason : MoverPause.NA,
        halt_reason: this.state === MoverState.HALTED ? this.haltReason : MoverHalt.NA,
        record_size: this.recordSize, record_num: this.recordNum, bytes_moved: this.bytesMoved,
        seek_position: this.seekPosition, bytes_left_to_read: this.bytesLeftToRead,
        window_offset: this.windowOffset, window_length: this.windowLength, data_connection_addr: this.addr,
      }),
      MOVER_LISTEN: ({ mode, addr_type }) => this.listen(mode, addr_type),
      MOVER_CONNECT: async ({ mode, addr }) => {
        if (mode !== MoverMode.READ && mode !== MoverMode.WRITE) return { error: NdmpErr.ILLEGAL_ARGS };
        if (addr.type !== AddrType.LOCAL && addr.type !== AddrType.TCP) return { error: NdmpErr.ILLEGAL_ARGS };
        if (this.state !== MoverState.IDLE) return illegal;
        if (!this.tape.tape) return { error: NdmpErr.DEV_NOT_OPEN };
        if (mode === MoverMode.READ && this.tape.mode === TapeMode.READ) return { error: NdmpErr.PERMISSION };
        this.mode = mode;
        if (addr.type === AddrType.LOCAL) {
          const ch = this.acceptLocalFromData?.() ?? null;
          if (!ch) { this.mode = MoverMode.NOACTION; return illegal; }
          this.addr = LOCAL_ADDR;
          this.start(ch);
          return ok;
        }
        const error = await this.connectTcp(addr);
        if (error !== NdmpErr.NO_ERR) this.mode = MoverMode.NOACTION;
        return { error };
      },
      MOVER_CONTINUE: () => {
        if (this.state !== MoverState.PAUSED) return illegal;
        this.state = MoverState.ACTIVE;
        this.pauseReason = MoverPause.NA;
        const r = this.resume;
        this.resume = null;
        r?.go();
        return ok;
      },
      MOVER_ABORT: () => {
        if (this.state !== MoverState.LISTEN && this.state !== MoverState.ACTIVE && this.state !== MoverState.PAUSED) return illegal;
        this.halt(MoverHalt.ABORTED);
        return ok;
      },
      MOVER_STOP: () => {
        if (this.state !== MoverState.HALTED) return illegal;
        this.channel?.destroy();
        this.reset();
        return ok;
      },
      MOVER_CLOSE: () => {
        if (this.state !== MoverState.ACTIVE && this.state !== MoverState.PAUSED) return illegal;
        this.halt(MoverHalt.CONNECT_CLOSED);
        return ok;
      },
      MOVER_SET_WINDOW: ({ offset, length }) => {
        if (this.state !== MoverState.IDLE && this.state !== MoverState.PAUSED) return illegal;
        const rs = BigInt(this.recordSize);
        if (offset % rs !== 0n) return { error: NdmpErr.ILLEGAL_ARGS };
        if (length !== QUAD_ALL_ONES && offset + length !== QUAD_ALL_ONES && length % rs !== 0n) return { error: NdmpErr.ILLEGAL_ARGS };
        this.windowOffset = offset;
        this.windowLength = length;
        this.recordNum = Number(offset / rs);
        return ok;
      },
      MOVER_SET_RECORD_SIZE: ({ len }) => {
        if (this.state !== MoverState.IDLE && this.state !== MoverState.PAUSED) return illegal;
        if (len === 0 || len > MAX_RECORD) return { error: NdmpErr.ILLEGAL_ARGS };
        this.recordSize = len;
        return ok;
      },
      MOVER_READ: ({ offset, length }) => ({ error: this.requestRead(offset, length) }),
    };
  }
}
