/**
 * Keeps a running backup's context current and makes its checkpoints: the image is flushed to
 * stable storage first, then the offset map, then the context names the object to continue
 * from — in that order, so a checkpoint never points past what is really on disk.
 */
import { atomicWrite, syncPath } from '../state/state-dir.js';
import type { TapeSink } from '../tape/sink.js';
import type { BackupContext, Checkpoint, ContextPhase, ContextStatus } from './context.js';
import { contextFile, removeContextFiles, writeContext } from './context-store.js';
import { encodeFileList, type FileListEntry } from './file-list.js';
import { OffsetMapWriter } from './offset-map.js';

/** Default time between checkpoints; SNAPDUMP_CHECKPOINT_MS overrides it (tests, benchmarks). */
export const CHECKPOINT_INTERVAL_MS = 5_000;

export function checkpointIntervalFromEnv(): number {
  const v = Number(process.env.SNAPDUMP_CHECKPOINT_MS);
  return Number.isFinite(v) && v >= 0 ? v : CHECKPOINT_INTERVAL_MS;
}

/** TP_BSIZE: a checkpoint's header must be wholly on the medium. */
const HEADER_BYTES = 1024;

export class Checkpointer {
  private readonly offsets: OffsetMapWriter | null;
  private lastStart: { ino: number; offset: number } | null = null;
  /** The latest object start known to be in the sink (reported before the last completed write). */
  private flushedStart: { ino: number; offset: number } | null = null;
  private lastCheckpointAt = 0;
  private inFiles = false;
  /**
   * Set once the backup completes or stops. The tape writer can still report a write that was in
   * flight; it must not start a checkpoint then, whose record (owner set) would land after the
   * stop's and leave the context looking busy, or bring back a removed context.
   */
  private closed = false;
  /** The object list (ID.files) is written without a sync; the first checkpoint syncs it. */
  private filesDurable = true;
  /** Checkpoints made (for tests and the summary). */
  count = 0;
  /** The checkpoint being made: the backup goes on writing meanwhile (the flush waits for the disk). */
  private inflight: Promise<void> | null = null;
  /**
   * Writes of the context and its object list, one after the other: the backup does not wait
   * for them, and two renames in flight could land in the wrong order.
   */
  private writes: Promise<void> = Promise.resolve();
  /**
   * Object starts not yet known to be on the medium, oldest first (only for sinks that say what
   * is: an NDMP mover keeps records in memory for a while after the write was handed over).
   */
  private readonly startsIno: number[] = [];
  private readonly startsOffset: number[] = [];
  private readonly trackDurable: boolean;
  /** Test hook: slows the file phase down so that tests can interrupt it at a chosen point. */
  private readonly testWriteDelayMs = Number(process.env.SNAPDUMP_TEST_WRITE_DELAY_MS) || 0;

  constructor(
    readonly stateDir: string,
    readonly ctx: BackupContext,
    private readonly sink: TapeSink,
    private readonly intervalMs: number,
    resumeFrom: number | null = null,
    private readonly onCheckpoint?: (c: Checkpoint) => void,
  ) {
    this.offsets = ctx.offsetMap ? new OffsetMapWriter(contextFile(stateDir, ctx.id, 'offsets'), resumeFrom) : null;
    if (resumeFrom !== null) { this.inFiles = true; this.lastCheckpointAt = Date.now(); }
    this.trackDurable = sink.durableBytes !== undefined && ctx.restartable;
  }

  /** From the tape writer: where each object's first header lands. */
  noteInode(ino: number, offset: number): void {
    this.offsets?.add(ino, offset);
    if (!this.inFiles) return;
    this.lastStart = { ino, offset };
    if (this.trackDurable) { this.startsIno.push(ino); this.startsOffset.push(offset); }
  }

  /** The latest start at or before `limit` whose header is on the medium; older ones are dropped. */
  private durableStart(limit: number, durable: number): { ino: number; offset: number } | null {
    for (let i = this.startsOffset.length - 1; i >= 0; i--) {
      const offset = this.startsOffset[i]!;
      if (offset > limit || offset + HEADER_BYTES > durable) continue;
      const ino = this.startsIno[i]!;
      this.startsIno.splice(0, i);
      this.startsOffset.splice(0, i);
      return { ino, offset };
    }
    return null;
  }

  /** Runs `write` after the context writes queued before it. */
  private queue(write: () => Promise<void>): Promise<void> {
    const done = this.writes.then(write);
    this.writes = done.catch(() => undefined);
    return done;
  }

  /**
   * Records the phase, without waiting and without a sync: a context is restartable only from
   * a checkpoint, whose record is synced (with the phase in it), so until then a lost phase
   * mark loses nothing a restart could use. A failed write is left to the next one.
   */
  setPhase(phase: ContextPhase): Promise<void> {
    this.ctx.phase = phase;
    return this.queue(() => writeContext(this.stateDir, this.ctx, false)).catch(() => undefined);
  }

  /**
   * Saves what phase IV will write, so a restart knows what the image still owes; it can be
   * written while the directories are (the first checkpoint syncs it).
   */
  writeFileList(list: readonly FileListEntry[]): Promise<void> {
    if (!this.ctx.restartable) return Promise.resolve();
    this.filesDurable = false;
    const data = encodeFileList(list);
    return this.queue(() => atomicWrite(contextFile(this.stateDir, this.ctx.id, 'files'), data, 0o600, false));
  }

  /** Phase IV begins (its object list written). */
  enterFiles(): void {
    this.inFiles = true;
    // The first checkpoint, like the others, comes an interval into the phase: a backup whose
    // file phase is shorter (most incrementals) never waits for the disk, and one stopped
    // before it has less than an interval of file data to write again.
    this.lastCheckpointAt = Date.now();
    void this.setPhase('files');
  }

  /** From the tape writer after each write. */
  async afterFlush(written: number): Promise<void> {
    this.flushedStart = this.lastStart;
    if (this.testWriteDelayMs > 0 && this.inFiles) await new Promise((r) => setTimeout(r, this.testWriteDelayMs));
    if (this.closed || !this.inFiles || !this.ctx.restartable || this.lastStart === null) return;
    const now = Date.now();
    if (this.inflight || now - this.lastCheckpointAt < this.intervalMs) return;
    this.lastCheckpointAt = now;
    // Interval 0 (tests, the most careful setting): every write is checkpointed before the next.
    if (this.intervalMs === 0) { await this.checkpoint(written); return; }
    // Otherwise not awaited: fdatasync makes the bytes written before it durable, which is all this
    // checkpoint names, while the image keeps growing behind it. A failed one leaves the last.
    this.inflight = this.checkpoint(written).catch(() => undefined).finally(() => { this.inflight = null; });
  }

  /** Waits for a checkpoint and context writes in progress. */
  async settle(): Promise<void> {
    await this.inflight;
    await this.writes;
  }

  /** Image to disk, offset map to disk, then the context names the restart point. */
  async checkpoint(written: number): Promise<void> {
    let at = this.flushedStart;
    if (!this.ctx.restartable || at === null) return;
    // What is on the medium before the sync is what the sync makes durable; a write that ends
    // during it may not be covered.
    const onMedium = this.sink.durableBytes?.();
    await this.sink.syncData?.();
    if (onMedium !== undefined) {
      at = this.durableStart(at.offset, onMedium);
      if (at === null || at.offset === this.ctx.checkpoint?.offset) return;
    }
    this.offsets?.flush(true);
    const point = at;
    await this.queue(async () => {
      if (!this.filesDurable) {
        await syncPath(contextFile(this.stateDir, this.ctx.id, 'files'));
        this.filesDurable = true;
      }
      // Set only now: no unsynced write may carry a checkpoint whose object list is not on disk.
      this.ctx.checkpoint = { ino: point.ino, offset: point.offset, at: new Date().toISOString() };
      this.ctx.state = `checkpoint at inode ${point.ino} (image byte ${point.offset}; ${written} bytes written)`;
      await writeContext(this.stateDir, this.ctx);
    });
    this.lastCheckpointAt = Date.now();
    this.count++;
    this.onCheckpoint?.(this.ctx.checkpoint!);
  }

  /** The backup completed: the context and its files go. */
  async complete(): Promise<void> {
    this.closed = true;
    await this.settle();
    this.offsets?.discard();
    await removeContextFiles(this.stateDir, this.ctx.id);
  }

  /**
   * The backup stopped. Returns true when the context stays (restartable from its checkpoint),
   * false when it was removed.
   */
  async stop(status: ContextStatus, why: string, written: number): Promise<boolean> {
    this.closed = true;
    await this.settle();
    // A clean stop (a signal) moves the checkpoint up to what was written; after a write error
    // the disk may refuse even that, and the last checkpoint stands.
    if (this.flushedStart !== null && this.flushedStart.offset !== this.ctx.checkpoint?.offset) {
      try { await this.checkpoint(written); } catch { /* keep the previous checkpoint */ }
    }
    try { this.offsets?.close(); } catch { /* the context decides below */ }
    const keep = this.ctx.restartable && this.inFiles && this.ctx.checkpoint !== null;
    if (!keep) {
      await removeContextFiles(this.stateDir, this.ctx.id);
      return false;
    }
    this.ctx.status = status;
    this.ctx.owner = null;
    this.ctx.state = `${why}; restart from inode ${this.ctx.checkpoint!.ino} (image byte ${this.ctx.checkpoint!.offset}) with: snapdump backup --restart ${this.ctx.id}`;
    await this.queue(() => writeContext(this.stateDir, this.ctx));
    return true;
  }
}
