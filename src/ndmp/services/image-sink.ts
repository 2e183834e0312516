/**
 * The backup engine's sink for NDMP: the image goes to the data connection (to the mover) with
 * backpressure, and optionally through the file-history scan (which reads each write before it
 * resolves). The engine reuses its buffers once a write resolves, so what goes into the data
 * connection's stream is copied once before it is queued.
 *
 * With a `medium` (a LOCAL backup whose image starts a tape file of a virtual tape) the backup
 * is restartable: the mover reports how far records are on tape, checkpoints never go past that,
 * and a stopped backup leaves the tape file for `snapdump backup --restart`.
 *
 * LOCAL, the sink also takes file ranges (copyFrom): the mover puts their whole records on the
 * virtual tape as runs the kernel copies, as the CLI's file sink does. The file history needs
 * only the headers, so it scans what is in memory and is told how much file data it did not see.
 */
import * as fs from 'node:fs';
import { SnapdumpError } from '../../errors.js';
import type { TapeSink } from '../../tape/sink.js';
import type { TapeFileMedium } from '../../tape/virtual-tape.js';
import { syncTapeFile } from '../../tape/virtual-tape-resume.js';
import { writeWithBackpressure, type DataChannel } from './data-channel.js';
import type { BackupFileHistory } from './file-history.js';

export interface ImageTarget {
  /** The tape file the mover writes the image to, when a restart can continue it there. */
  medium: TapeFileMedium | null;
  /** Why not, otherwise. */
  notResumable: string;
  /**
   * LOCAL: hands the image to this session's mover directly (resolves once on tape; false when
   * the mover stopped), instead of through the data connection's stream.
   */
  direct: ((parts: readonly Buffer[]) => Promise<boolean>) | null;
  /**
   * LOCAL: hands a range of an open file to this session's mover (MoverService.copyDirect):
   * the bytes that came from the file, -1 when the mover stopped.
   */
  copy: ((prefix: readonly Buffer[], src: number, offset: number, length: number, padTo: number) => number | Promise<number>) | null;
}

export class NdmpImageSink implements TapeSink {
  readonly identity = null;
  bytes = 0;
  private onTape = 0;
  readonly medium?: TapeFileMedium;
  readonly notResumable?: string;
  private readonly direct: ImageTarget['direct'];
  /** Only where the mover can take file ranges (LOCAL). */
  readonly copyFrom?: (prefix: readonly Buffer[], path: string | Buffer, offset: number, length: number, padTo: number) => number | Promise<number>;

  constructor(readonly name: string, private readonly channel: DataChannel, private readonly history: BackupFileHistory | null, target: ImageTarget) {
    if (target.medium) this.medium = target.medium; else this.notResumable = target.notResumable;
    this.direct = target.direct;
    const copy = target.copy;
    if (copy && target.direct) this.copyFrom = (prefix, path, offset, length, padTo) => this.copyRange(copy, prefix, path, offset, length, padTo);
  }

  private copyRange(copy: NonNullable<ImageTarget['copy']>, prefix: readonly Buffer[], path: string | Buffer, offset: number, length: number, padTo: number): number | Promise<number> {
    let src: number;
    try {
      src = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      // A file that vanished becomes zeros, which the caller reports (as the CLI's file sink does).
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SnapdumpError('ERR_OUTPUT', `cannot copy ${String(path)} to the tape: ${(e as Error).message}`, { path: this.name }, { cause: e });
      }
      return this.write([...prefix, Buffer.alloc(padTo)]).then(() => 0);
    }
    const bytes = prefix.reduce((n, p) => n + p.length, padTo);
    const done = (copied: number): number => {
      if (copied < 0) throw new SnapdumpError('ERR_OUTPUT', 'the mover stopped taking the image', { path: this.name });
      this.bytes += bytes;
      return copied;
    };
    // The scan reads the prefix now, before its buffers can be reused.
    const scanned = this.history?.pushRange(prefix, padTo);
    let r: number | Promise<number>;
    try {
      r = copy(prefix, src, offset, length, padTo);
    } finally {
      // Both ways have read what they need from the file before they return.
      fs.closeSync(src);
    }
    if (scanned) return Promise.all([r, scanned]).then(([copied]) => done(copied));
    return typeof r === 'number' ? done(r) : r.then(done);
  }

  /** From the mover: image bytes now on tape. */
  noteOnTape(bytes: number): void { this.onTape = bytes; }

  durableBytes(): number { return this.onTape; }

  async syncData(): Promise<void> {
    if (this.medium) syncTapeFile(this.medium.path);
  }

  async write(parts: readonly Buffer[]): Promise<void> {
    const length = parts.reduce((n, p) => n + p.length, 0);
    if (length === 0) return;
    // The file history scans the parts before this resolves (push() scans at once).
    const scanned = this.history?.push(parts);
    // The stream keeps what it is given: it gets a copy. The direct path does not.
    const sent = this.direct ? this.direct(parts) : writeWithBackpressure(this.channel, Buffer.concat(parts, length));
    const [ok] = await Promise.all([sent, scanned]);
    if (!ok) throw new SnapdumpError('ERR_OUTPUT', 'the data connection to the mover closed', { path: this.name });
    this.bytes += length;
  }

  async commit(): Promise<void> {
    // Direct: the DATA service ends the image on tape when it halts (MoverService.endLocalImage).
    if (!this.direct) this.channel.end();
  }

  async abort(): Promise<void> {
    this.channel.destroy();
  }

  /** Stops sending; what the mover put on tape stays there for a restart. */
  async detach(): Promise<void> {
    await this.abort();
  }
}
