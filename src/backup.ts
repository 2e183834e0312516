/**
 * The backup library API: what the CLI and the NDMP server call. Runs the phases as one
 * stream pipeline (traverse → directories → files → tape writer) with backpressure and an
 * AbortSignal, reports events, and returns a summary. It never prints.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Piscina } from 'piscina';
import { SnapdumpError, isSnapdumpError } from './errors.js';
import { DEFAULT_NTREC, MAX_LEVEL, MAX_NTREC, MIN_NTREC } from './format/constants.js';
import type { TapeChunk } from './format/object-headers.js';
import type { VolumeInfo } from './format/volume.js';
import { TapeWriter } from './pipeline/tape-writer.js';
import { directoryEmit, volumeHead } from './stages/directory-emit.js';
import { fileEmit } from './stages/file-emit.js';
import { displayPath, traverse, type DumpPlan, type Notice } from './stages/traverse.js';
import { sourceInfo } from './source-info.js';
import { openSink, type TapeSink } from './tape/sink.js';
import { findBase, readDumpdates, recordDump } from './state/dumpdates.js';
import { defaultStateDir } from './state/state-dir.js';

export type { Notice } from './stages/traverse.js';

export interface BackupOptions {
  source: string;
  /** File path, '-' for stdout, or a tape device; with `sink`, only the name shown for it. */
  output: string;
  /** Where the image goes instead of opening `output` (the NDMP server's mover connection). */
  sink?: TapeSink;
  level?: number;
  blockingFactor?: number;
  label?: string;
  /** Dump name whose history picks the base of an incremental (default: the source's real path). */
  name?: string;
  /** State directory holding the dumpdates history (default: see defaultStateDir). */
  stateDir?: string;
  /** Record this backup in the history (default true; ONTAP UPDATE=N is false). */
  update?: boolean;
  /**
   * Date-token mode (ONTAP BASE_DATE): dump what changed since this token (a previous backup's
   * dumpDate) instead of looking the base up by level.
   */
  baseDate?: number;
  /** Include a file only for mtime changes (ONTAP IGNORE_CTIME). */
  ignoreCtime?: boolean;
  /** Flush a file image to stable storage before renaming it into place. */
  sync?: boolean;
  /** Worker threads reading file data (default: available parallelism). */
  threads?: number;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  /** Byte offset of every inode's first header (file history, restart, direct access). */
  onInode?: (ino: number, offset: number) => void;
  /** Clock override for reproducible images in tests. */
  now?: () => Date;
}

export type BackupPhase = 'traverse' | 'directories' | 'files' | 'finish';

export interface ProgressEvent {
  type: 'progress';
  phase: BackupPhase;
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  imageBytes: number;
  elapsedMs: number;
  /** Bytes per second of file data so far. */
  rate: number;
  /** Seconds left at the current rate, null when unknown. */
  etaSeconds: number | null;
}

export type BackupEvent =
  | { type: 'phase'; phase: BackupPhase; elapsedMs: number }
  | ProgressEvent
  | ({ type: 'warning' } & Notice);

export interface BackupSummary {
  /** 0: complete; 1: complete but some entries were skipped or changed (see `skipped`). */
  exitStatus: 0 | 1;
  output: string;
  /** The dump name the history knows this backup by. */
  name: string;
  date: number;
  /** Token of this backup for date-token mode (ONTAP DUMP_DATE): give it as baseDate later. */
  dumpDate: number;
  level: number;
  /** What this image is relative to; null for a full backup (everything is in it). */
  base: { level: number | null; date: number } | null;
  label: string;
  filesys: string;
  files: number;
  directories: number;
  dataBytes: number;
  imageBytes: number;
  blocks: number;
  blockingFactor: number;
  durationMs: number;
  skipped: Notice[];
  warnings: Notice[];
}

export function validateBackupOptions(opts: BackupOptions): { level: number; ntrec: number; label: string } {
  const level = opts.level ?? 0;
  if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL) {
    throw new SnapdumpError('ERR_LEVEL', `invalid level ${String(opts.level)}: must be an integer from 0 to ${MAX_LEVEL}`, { level: opts.level });
  }
  const ntrec = opts.blockingFactor ?? DEFAULT_NTREC;
  if (!Number.isInteger(ntrec) || ntrec < MIN_NTREC || ntrec > MAX_NTREC) {
    throw new SnapdumpError('ERR_BLOCKING_FACTOR', `invalid blocking factor ${String(opts.blockingFactor)}: must be an integer from ${MIN_NTREC} to ${MAX_NTREC} (1 KiB blocks per record)`, { blockingFactor: opts.blockingFactor });
  }
  const label = opts.label ?? 'none';
  if (Buffer.byteLength(label) > 15) {
    throw new SnapdumpError('ERR_USAGE', `label "${label}" is longer than the 15 bytes a dump label holds`, { label });
  }
  return { level, ntrec, label };
}

function realSourcePath(source: string): string {
  try { return fs.realpathSync(source); } catch { return path.resolve(source); }
}

/** The base of this backup: the token given, or the latest lower level in the history. */
async function chooseBase(opts: BackupOptions, name: string, level: number, stateDir: string): Promise<{ level: number | null; date: number } | null> {
  if (opts.baseDate !== undefined) {
    if (!Number.isInteger(opts.baseDate) || opts.baseDate <= 0) throw new SnapdumpError('ERR_USAGE', `invalid base date token ${String(opts.baseDate)}`, { baseDate: opts.baseDate });
    return { level: null, date: opts.baseDate };
  }
  if (level === 0) return null;
  const found = findBase(await readDumpdates(stateDir), name, level);
  return found ? { level: found.level, date: found.date } : null;
}

export async function backup(opts: BackupOptions): Promise<BackupSummary> {
  const { level, ntrec, label } = validateBackupOptions(opts);
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const emit = (e: BackupEvent) => opts.onEvent?.(e);
  const notices: Notice[] = [];
  const notice = (n: Notice) => { notices.push(n); emit({ type: 'warning', ...n }); };

  const info = (() => {
    try { return sourceInfo(opts.source); } catch (e) {
      throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
    }
  })();
  const date = Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
  const name = opts.name ?? realSourcePath(opts.source);
  const stateDir = opts.stateDir ?? defaultStateDir();
  const base = await chooseBase(opts, name, level, stateDir);
  if (base === null && level > 0) {
    notice({ code: 'NO_BASE', path: name, skipped: false, message: `NO LOWER-LEVEL BACKUP of "${name}" is recorded in ${stateDir}: this level ${level} backup contains EVERYTHING (a full backup)` });
  }
  if (base !== null && base.date > date) {
    throw new SnapdumpError('ERR_USAGE', `the base date ${new Date(base.date * 1000).toISOString()} is after this backup's date (is the clock right?)`, { base: base.date, date });
  }
  const sink = opts.sink ?? openSink(opts.output, ntrec * 1024, { sync: opts.sync });
  const threads = Math.max(1, opts.threads ?? os.availableParallelism());
  let pool: Piscina | null = null;
  let plan: DumpPlan | null = null;
  let phase: BackupPhase = 'traverse';
  const progress = { files: 0, bytes: 0 };
  let lastProgress = 0;
  let writer: TapeWriter | null = null;
  const sendProgress = (force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < 200) return;
    lastProgress = now;
    const ms = elapsed();
    const totalBytes = plan?.totals.bytes ?? 0;
    const rate = ms > 0 ? (progress.bytes * 1000) / ms : 0;
    emit({
      type: 'progress', phase, files: progress.files, totalFiles: plan ? plan.totals.files + plan.totals.directories : 0,
      bytes: progress.bytes, totalBytes, imageBytes: writer?.bytesWritten ?? 0, elapsedMs: ms, rate,
      etaSeconds: rate > 0 && plan ? Math.max(0, (totalBytes - progress.bytes) / rate) : null,
    });
  };
  const setPhase = (p: BackupPhase) => { phase = p; emit({ type: 'phase', phase: p, elapsedMs: elapsed() }); };

  try {
    // Workers start while the walk runs, so their start-up cost overlaps it.
    pool = new Piscina({
      filename: new URL('./workers/index.js', import.meta.url).href,
      minThreads: threads, maxThreads: threads, idleTimeout: 1000,
    });
    setPhase('traverse');
    plan = await traverse({
      source: opts.source, pool, concurrency: threads * 2, since: base?.date ?? 0, ignoreCtime: opts.ignoreCtime,
      exclude: sink.identity ? [sink.identity] : [],
      signal: opts.signal,
      onProgress: (n) => { progress.files = n; sendProgress(); },
    });
    for (const n of plan.notices) notice(n);
    const p = plan;
    const vol: VolumeInfo = {
      date, ddate: base?.date ?? 0, volume: 1, level, label, filesys: info.filesys, dev: info.device,
      host: os.hostname(), ntrec, maxino: p.maxino,
    };
    progress.files = 0;
    const usedPool = pool;
    writer = new TapeWriter({
      sink, volume: vol, onInode: opts.onInode, onWritten: () => sendProgress(),
      onShortCopy: (path) => notice({ code: 'CHANGED', path: displayPath(path), message: 'file shrank as we read it; the rest is zeros', skipped: true }),
    });

    // The file phase's first reads start right after the 'directories' event, so the workers are busy while the directories
    // are encoded; its chunks are only written after them.
    const files = fileEmit(p, {
      pool: usedPool, vol, concurrency: threads * 3, taskBytes: 2 << 20, taskItems: 512, signal: opts.signal,
      copyLargeFiles: sink.copyFrom !== undefined,
      onNotes: (notes) => { for (const n of notes) notice({ code: n.code, path: n.path, message: n.message, skipped: n.skipped }); },
      onData: (bytes, objects) => { progress.bytes += bytes; progress.files += objects; sendProgress(); },
    });
    setPhase('directories');
    const firstFile = files.next();
    firstFile.catch(() => undefined);

    async function* headStage(): AsyncGenerator<TapeChunk> {
      yield* volumeHead(p, vol);
    }
    async function* directoryStage(upstream: AsyncIterable<TapeChunk>): AsyncGenerator<TapeChunk> {
      yield* upstream;
      for (const chunk of directoryEmit(p, vol, notice)) { progress.files++; yield chunk; }
      sendProgress();
    }
    async function* fileStage(upstream: AsyncIterable<TapeChunk>): AsyncGenerator<TapeChunk> {
      yield* upstream;
      setPhase('files');
      for (let next = await firstFile; !next.done; next = await files.next()) yield next.value;
      setPhase('finish');
    }
    await pipeline(Readable.from(headStage()), directoryStage, fileStage, writer, { signal: opts.signal });
    await sink.commit();
    sendProgress(true);
    // Only a complete image becomes a base for later levels.
    if (opts.update !== false) {
      try {
        await recordDump(stateDir, { name, level, date });
      } catch (e) {
        notice({ code: 'HISTORY', path: stateDir, skipped: true, message: `the image is complete, but it could not be recorded in the history: ${(e as Error).message}` });
      }
    }
  } catch (e) {
    await sink.abort();
    if (opts.signal?.aborted) throw new SnapdumpError('ERR_ABORTED', 'backup aborted; no image was written', {}, { cause: e });
    if (isSnapdumpError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new SnapdumpError('ERR_INTERNAL', `backup failed: ${err.message}`, { errno: err.code }, { cause: e });
  } finally {
    await pool?.destroy();
  }
  const skipped = notices.filter((n) => n.skipped);
  return {
    exitStatus: skipped.length ? 1 : 0,
    output: opts.output, name, date, dumpDate: date, level, base, label, filesys: info.filesys,
    files: plan.totals.files, directories: plan.totals.directories, dataBytes: progress.bytes,
    imageBytes: writer!.bytesWritten, blocks: writer!.blockCount, blockingFactor: ntrec,
    durationMs: elapsed(), skipped, warnings: notices.filter((n) => !n.skipped),
  };
}
