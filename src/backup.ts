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
import { mainThreadReader, poolReader, readsOnMainThread, type ReadRunner } from './workers/reader.js';
import { SnapdumpError, isSnapdumpError } from './errors.js';
import { DEFAULT_NTREC, MAX_LEVEL, MAX_NTREC, MIN_NTREC } from './format/constants.js';
import type { TapeChunk } from './format/object-headers.js';
import type { VolumeInfo } from './format/volume.js';
import { TapeWriter } from './pipeline/tape-writer.js';
import { directoryEmit, volumeHead } from './stages/directory-emit.js';
import { fileEmit } from './stages/file-emit.js';
import { displayPath, traverse, type DumpPlan, type JunctionMode, type Notice } from './stages/traverse.js';
import { excludeMatcher } from './select/exclude.js';
import { sourceInfo } from './source-info.js';
import { openSink, type TapeSink } from './tape/sink.js';
import { findBase, readDumpdates, recordDump } from './state/dumpdates.js';
import { defaultStateDir } from './state/state-dir.js';
import { inodeMapExists, openInodeMap } from './state/inode-map.js';
import { closeBackupSnapshot, openBackupSnapshot, releaseKeptSnapshot, type KeepSnapshot, type SnapshotInfo, type SnapshotMode } from './snapshot/index.js';
import { Checkpointer, checkpointIntervalFromEnv } from './context/checkpointer.js';
import { createContext } from './context/context-store.js';
import { filePhaseList } from './context/plan-list.js';
import { pruneContexts, type SnapshotReleaser } from './context/cleanup.js';
import { RESTART_PASS } from './context/context.js';

export type { Notice } from './stages/traverse.js';
export type { KeepSnapshot, SnapshotInfo, SnapshotMode } from './snapshot/index.js';

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
  /**
   * Number inodes through the dump name's persistent inode map even when the source's own
   * numbers would serve (it is used anyway when they cannot, and always once it exists).
   */
  inodeMap?: boolean;
  /**
   * Names (no `/`) or paths relative to the source (with `/`) to leave out, one pattern each,
   * `*` only first or last (at most 32; src/select/exclude.ts). ONTAP's EXCLUDE value becomes
   * this list through splitExcludeList.
   */
  exclude?: string[];
  /** How a mount point below the source is recorded: 'symlink' (default, ONTAP junction) or 'dir'. */
  junctions?: JunctionMode;
  /** Flush a file image to stable storage before renaming it into place. */
  sync?: boolean;
  /** Worker threads reading file data (default: available parallelism). */
  threads?: number;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  /** Byte offset of every inode's first header (file history, restart, direct access). */
  onInode?: (ino: number, offset: number) => void;
  /**
   * Keep the offset map in the backup's context (default: on for file outputs). A backup can be
   * restarted only with it (ONTAP HIST).
   */
  history?: boolean;
  /** Time between checkpoints in the file phase (default 5 s, or SNAPDUMP_CHECKPOINT_MS). */
  checkpointIntervalMs?: number;
  /** Clock override for reproducible images in tests. */
  now?: () => Date;
  /**
   * How SOURCE is read. 'auto' (default): from a snapshot made for this backup where the file
   * system can (btrfs), else from the live tree with a NO_SNAPSHOT warning; 'require': no
   * snapshot is an ERR_SNAPSHOT error; 'off': the live tree.
   */
  snapshot?: SnapshotMode;
  /** Back up from this existing snapshot of SOURCE (any file system); no snapshot is made. */
  snapshotPath?: string;
  /** Awaited once the snapshot is in place, before the image is opened. */
  onSnapshotReady?: (snapshot: SnapshotInfo) => void | Promise<void>;
  /**
   * Asked when the backup ends whether a snapshot made for it stays (a restartable context still
   * needs it). A kept snapshot is never pruned; releaseKeptSnapshot() ends it.
   */
  keepSnapshot?: KeepSnapshot;
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
  /** The image is on stable storage up to `offset`, and a restart would continue at `ino`. */
  | { type: 'checkpoint'; context: string; ino: number; offset: number }
  | ProgressEvent
  | ({ type: 'warning' } & Notice)
  | ({ type: 'snapshot'; action: 'using' | 'deleted' | 'kept' } & SnapshotInfo);

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
  /** Entries left out by the exclude patterns (an excluded directory counts once). */
  excluded: number;
  skipped: Notice[];
  warnings: Notice[];
  /** What was read: the snapshot made or given, or the live tree (provider 'none'). */
  snapshot: SnapshotInfo;
  /** The context that tracked this backup (removed once it completed). */
  contextId: string | null;
  /** Set by a restart: where the image was continued. */
  restartedAt?: { ino: number; offset: number };
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
  if (opts.junctions !== undefined && opts.junctions !== 'symlink' && opts.junctions !== 'dir') {
    throw new SnapdumpError('ERR_USAGE', `invalid junctions mode "${String(opts.junctions)}": must be symlink or dir`, { junctions: opts.junctions });
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
  const patterns = excludeMatcher(opts.exclude ?? []);
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const emit = (e: BackupEvent) => opts.onEvent?.(e);
  const notices: Notice[] = [];
  // Paths inside a snapshot are reported as the SOURCE paths they stand for.
  let shownPath = (p: string) => p;
  const notice = (n: Notice) => { n = { ...n, path: shownPath(n.path) }; notices.push(n); emit({ type: 'warning', ...n }); };

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
  // The snapshot comes before the output: if it cannot be made, no output file is created.
  const snap = await openBackupSnapshot({ source: opts.source, mode: opts.snapshot, snapshotPath: opts.snapshotPath, stateDir });
  const readPath = snap.info.readPath;
  let ok = false;
  /** A restartable context keeps the snapshot it was made from until it is restarted or deleted. */
  let contextKept = false;
  const keep: KeepSnapshot = async (s, outcome) => contextKept || (await opts.keepSnapshot?.(s, outcome) ?? false);
  const endSnapshot = async () => {
    const end = await closeBackupSnapshot(snap, ok, keep);
    if (end.notice) { notices.push(end.notice); emit({ type: 'warning', ...end.notice }); }
    if (end.action !== 'none') emit({ type: 'snapshot', action: end.action, ...snap.info });
  };
  let sink: TapeSink;
  try {
    for (const n of snap.notices) notice(n);
    if (snap.info.provider !== 'none') {
      const live = realSourcePath(opts.source);
      shownPath = (p) => (p === readPath ? live : p.startsWith(readPath + '/') ? live + p.slice(readPath.length) : p);
    }
    emit({ type: 'snapshot', action: 'using', ...snap.info });
    await opts.onSnapshotReady?.(snap.info);
    sink = opts.sink ?? openSink(opts.output, ntrec * 1024, { sync: opts.sync });
  } catch (e) {
    await endSnapshot();
    throw e;
  }
  const resumable = sink.partial !== undefined || sink.medium !== undefined;
  const history = opts.history ?? resumable;
  const notRestartable = !resumable
    ? sink.notResumable ?? `the output ${opts.output} is a stream or a tape device: it cannot be rewound to a checkpoint`
    : !history ? 'file history (the offset map) is off' : null;
  let cp: Checkpointer | null = null;
  const threads = Math.max(1, opts.threads ?? os.availableParallelism());
  let pool: ReadRunner | null = null;
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
    // A full backup reads every file: its workers start while the walk runs, so their start-up
    // overlaps it. An incremental waits for the walk to know how much it has to read.
    if (base === null) pool = await poolReader(threads);
    setPhase('traverse');
    // The context is written (and stale ones pruned) while the walk runs, so that its I/O
    // overlaps the walk; nothing needs it before the directories phase. startContext never
    // throws, and a walk that fails still finds the context here for stopped() to remove.
    const pendingContext = startContext();
    try {
      plan = await traverse({
        source: snap.info.readPath, concurrency: threads * 2, since: base?.date ?? 0, ignoreCtime: opts.ignoreCtime,
        exclude: [...(sink.identity ? [sink.identity] : []), ...snap.exclude], excludePatterns: patterns, junctions: opts.junctions,
        numbering: {
          date, forceMap: opts.inodeMap ?? false, mapExists: inodeMapExists(stateDir, name),
          openMap: () => openInodeMap(stateDir, name),
        },
        signal: opts.signal,
        onProgress: (n) => { progress.files = n; sendProgress(); },
      });
    } finally {
      cp = await pendingContext;
    }
    for (const n of plan.notices) notice(n);
    pool ??= readsOnMainThread(plan.totals.bytes, plan.totals.files) ? await mainThreadReader() : await poolReader(threads);
    void cp?.setPhase('directories');
    const p = plan;
    const vol: VolumeInfo = {
      date, ddate: base?.date ?? 0, volume: 1, level, label, filesys: info.filesys, dev: info.device,
      host: os.hostname(), ntrec, maxino: p.maxino,
    };
    progress.files = 0;
    const usedPool = pool;
    if (cp) cp.ctx.volume = vol;
    const checkpointer = cp;
    writer = new TapeWriter({
      sink, volume: vol, onWritten: () => sendProgress(),
      onInode: (ino, offset) => { checkpointer?.noteInode(ino, offset); opts.onInode?.(ino, offset); },
      onFlushed: checkpointer ? (bytes) => checkpointer.afterFlush(bytes) : undefined,
      onShortCopy: (path) => notice({ code: 'CHANGED', path: displayPath(path), message: 'file shrank as we read it; the rest is zeros', skipped: true }),
    });

    // The file phase's first reads start right after the 'directories' event, so the workers are busy while the directories
    // are encoded; its chunks are only written after them.
    const files = fileEmit(p, {
      pool: usedPool, vol, ...usedPool.tasks, signal: opts.signal,
      copyLargeFiles: sink.copyFrom !== undefined,
      onNotes: (notes) => { for (const n of notes) notice({ code: n.code, path: n.path, message: n.message, skipped: n.skipped }); },
      onData: (bytes, objects) => { progress.bytes += bytes; progress.files += objects; sendProgress(); },
    });
    setPhase('directories');
    const firstFile = files.next();
    firstFile.catch(() => undefined);
    // Written while the directories are: the file phase waits for it only if it is late.
    const fileList = checkpointer?.writeFileList(filePhaseList(p));
    fileList?.catch(() => undefined);

    async function* headStage(): AsyncGenerator<TapeChunk> {
      yield* volumeHead(p, vol);
    }
    async function* directoryStage(upstream: AsyncIterable<TapeChunk>): AsyncGenerator<TapeChunk> {
      yield* upstream;
      for (const chunk of directoryEmit(p, vol, notice)) { progress.files += chunk.objects.length; yield chunk; }
      sendProgress();
    }
    async function* fileStage(upstream: AsyncIterable<TapeChunk>): AsyncGenerator<TapeChunk> {
      yield* upstream;
      await fileList;
      checkpointer?.enterFiles();
      setPhase('files');
      for (let next = await firstFile; !next.done; next = await files.next()) yield next.value;
      setPhase('finish');
    }
    await pipeline(Readable.from(headStage()), directoryStage, fileStage, writer, { signal: opts.signal });
    void cp?.setPhase('finish');
    await sink.commit();
    sendProgress(true);
    // The numbers of a complete image are kept, whatever --no-update says: a date token may
    // make it a base. Without them stored it must not become a base through the history either.
    let numbersKept = true;
    if (p.numbering.map) {
      try {
        await p.numbering.map.handle.commit(p.numbering.map.next);
      } catch (e) {
        numbersKept = false;
        notice({ code: 'HISTORY', path: p.numbering.map.handle.file, skipped: true, message: `the image is complete, but its inode numbers could not be stored, so it is not recorded in the history and cannot be the base of an incremental: ${(e as Error).message}` });
      }
    }
    // Only a complete image becomes a base for later levels.
    if (opts.update !== false && numbersKept) {
      try {
        await recordDump(stateDir, { name, level, date });
      } catch (e) {
        notice({ code: 'HISTORY', path: stateDir, skipped: true, message: `the image is complete, but it could not be recorded in the history: ${(e as Error).message}` });
      }
    }
    await cp?.complete().catch((e: Error) => notice({ code: 'CONTEXT', path: stateDir, skipped: false, message: `the image is complete, but its context could not be removed: ${e.message}` }));
    ok = true;
  } catch (e) {
    const err = await stopped(e, sink, cp, opts.signal?.aborted ?? false, writer?.bytesWritten ?? 0);
    contextKept = err.details.context != null;
    throw err;
  } finally {
    await plan?.numbering.map?.handle.release();
    await pool?.destroy();
    await endSnapshot();
  }
  const skipped = notices.filter((n) => n.skipped);
  return {
    exitStatus: skipped.length ? 1 : 0,
    output: opts.output, name, date, dumpDate: date, level, base, label, filesys: info.filesys,
    files: plan.totals.files, directories: plan.totals.directories, dataBytes: progress.bytes,
    imageBytes: writer!.bytesWritten, blocks: writer!.blockCount, blockingFactor: ntrec,
    durationMs: elapsed(), excluded: plan.totals.excluded, skipped, warnings: notices.filter((n) => !n.skipped), snapshot: snap.info,
    contextId: cp?.ctx.id ?? null,
  };

  /** The context of this run; a backup goes on without one (not restartable) if it cannot be written. */
  async function startContext(): Promise<Checkpointer | null> {
    try {
      // Contexts of dead backups nobody can restart are cleaned up by the next backup.
      await pruneContexts(stateDir, releaseSnapshotOf(stateDir)).catch(() => undefined);
      const s = snap.info;
      const ctx = await createContext(stateDir, {
        engine: 'dump', dumpName: name, path: realSourcePath(opts.source), walkRoot: s.readPath, level, base,
        ignoreCtime: opts.ignoreCtime ?? false, update: opts.update !== false,
        exclude: opts.exclude ?? [], junctions: opts.junctions ?? 'symlink',
        snapshot: s.provider !== 'none' && s.path
          ? { name: s.name ?? s.path!, path: s.path!, autoCreated: s.provider === 'btrfs', recordId: s.recordId }
          : null,
        output: opts.output, partial: sink.partial ?? null, medium: sink.medium ?? null, sync: opts.sync ?? false,
        volume: { date, ddate: base?.date ?? 0, volume: 1, level, label, filesys: info.filesys, dev: info.device, host: os.hostname(), ntrec, maxino: 0 },
        offsetMap: history, offsetVerify: true, restartable: notRestartable === null, reason: notRestartable,
        phase: 'traverse', status: 'running', state: 'walking the source', checkpoint: null,
      });
      return new Checkpointer(stateDir, ctx, sink, opts.checkpointIntervalMs ?? checkpointIntervalFromEnv(),
        null, (c) => emit({ type: 'checkpoint', context: ctx.id, ino: c.ino, offset: c.offset }));
    } catch (e) {
      notice({ code: 'CONTEXT', path: stateDir, skipped: false, message: `no backup context (this backup cannot be restarted): ${(e as Error).message}` });
      return null;
    }
  }
}

/** Deletes the snapshot a context kept (one made by snapdump); given ones are not ours to delete. */
export function releaseSnapshotOf(stateDir: string): SnapshotReleaser {
  return async (ctx) => {
    const id = ctx.snapshot?.autoCreated ? ctx.snapshot.recordId : null;
    if (!id) return;
    const r = await releaseKeptSnapshot(stateDir, id);
    if (r && r.outcome === 'failed') throw new Error(r.message);
  };
}

/**
 * A backup that fails or is stopped: in the file phase, with a checkpoint and a file output,
 * the partial image and the context stay for a restart; otherwise both go. Returns the error
 * to throw, which says which.
 */
function notKeptBecause(phase: BackupPhase): string {
  if (phase === 'files') return 'it stopped in phase IV (files) before its first checkpoint: no object start of the file phase was known to be on the medium yet';
  return `it stopped in phase ${RESTART_PASS[phase]} (${phase}), before the file phase`;
}

export async function stopped(e: unknown, sink: TapeSink, cp: Checkpointer | null, aborted: boolean, written: number): Promise<SnapdumpError> {
  const err = isSnapdumpError(e) ? e : new SnapdumpError('ERR_INTERNAL', `backup failed: ${(e as Error).message}`, { errno: (e as NodeJS.ErrnoException).code }, { cause: e });
  const why = aborted ? 'stopped by a signal' : `stopped by an error: ${err.message}`;
  let kept = false;
  if (cp) {
    try { kept = await cp.stop(aborted ? 'interrupted' : 'failed', why, written); } catch { kept = false; }
  }
  if (kept && sink.detach) await sink.detach(); else await sink.abort();
  const id = cp?.ctx.id;
  const tail = kept
    ? `; the backup is restartable from its checkpoint: snapdump backup --restart ${id}`
    : cp ? `; not restartable (${cp.ctx.reason ?? notKeptBecause(cp.ctx.phase)}), nothing was kept` : '';
  if (aborted) return new SnapdumpError('ERR_ABORTED', `backup aborted${kept ? '' : '; no image was written'}${tail}`, { context: kept ? id : null }, { cause: e });
  return new SnapdumpError(err.code, err.message + tail, { ...err.details, context: kept ? id : null }, { cause: e });
}
