/**
 * The backup engine's sink for NDMP: the image goes to the data connection (to the mover) with
 * backpressure, and optionally to a tee read by the file-history parser. The engine reuses its
 * buffers once a write resolves, so each write is copied once before it is queued.
 */
import type { PassThrough } from 'node:stream';
import { SnapdumpError } from '../../errors.js';
import type { TapeSink } from '../../tape/sink.js';
import { writeWithBackpressure, type DataChannel } from './data-channel.js';

export class NdmpImageSink implements TapeSink {
  readonly identity = null;
  bytes = 0;

  constructor(readonly name: string, private readonly channel: DataChannel, private readonly tee: PassThrough | null) {}

  async write(parts: readonly Buffer[]): Promise<void> {
    const chunk = Buffer.concat(parts);
    if (chunk.length === 0) return;
    const sent = writeWithBackpressure(this.channel, chunk);
    const tee = this.tee;
    const teed = tee && !tee.destroyed && !tee.writableEnded
      ? (tee.write(chunk) ? Promise.resolve() : new Promise<void>((r) => { tee.once('drain', r); tee.once('close', r); }))
      : Promise.resolve();
    const [ok] = await Promise.all([sent, teed]);
    if (!ok) throw new SnapdumpError('ERR_OUTPUT', 'the data connection to the mover closed', { path: this.name });
    this.bytes += chunk.length;
  }

  async commit(): Promise<void> {
    this.tee?.end();
    this.channel.end();
  }

  async abort(): Promise<void> {
    this.tee?.destroy();
    this.channel.destroy();
  }
}
