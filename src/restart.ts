/**
 * Restarting an interrupted backup (`snapdump backup --restart ID`): the context says which
 * image, from which tree, and from which object on; the walk is made again (from the same
 * snapshot, so it finds the same objects), the partial image is cut back to the checkpoint, and
 * the file phase continues from there exactly as an uninterrupted backup would have written it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { poolReader, type ReadRunner } from './workers/reader.js';
import { SnapdumpError } from './errors.js';
import { type BackupEvent, type BackupPhase, type BackupSummary, releaseSnapshotOf, stopped } from './backup.js';
import { excludeMatcher } from './select/exclude.js';
import type { SnapshotInfo } from './snapshot/index.js';
import { snapshotDirExclusion } from './snapshot/provider.js';
import { Checkpointer, checkpointIntervalFromEnv } from './context/checkpointer.js';
import { restartBlocker, type BackupContext } from './context/context.js';
import { claimContext, contextFile, writeContext } from './context/context-store.js';
import { decodeFileList, type FileListEntry } from './context/file-list.js';
import { idsBySourceInode, placeholderChunk } from './context/plan-list.js';
import { RecordType, S_IFMT, TP_BSIZE } from './format/constants.js';
import { checksumOk, decodeHeader } from './format/header.js';
import type { TapeChunk } from './format/object-headers.js';
import { TapeWriter } from './pipeline/tape-writer.js';
import { fileEmit } from './stages/file-emit.js';
import { displayPath, traverse, type DumpPlan, type Notice } from './stages/traverse.js';
import { recordDump } from './state/dumpdates.js';
import { defaultStateDir } from './state/state-dir.js';
import { resumeFileSink, type TapeSink } from './tape/sink.js';
import { readTapeFileBytes, resumeVirtualTapeSink, tapeFileBytes } from './tape/virtual-tape-resume.js';
import { Col } from './workers/read-protocol.js';
import { XCol } from './stages/entry-table.js';

export interface RestartOptions {
  id: string;
  stateDir?: string;
  threads?: number;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  onInode?: (ino: number, offset: number) => void;
  checkpointIntervalMs?: number;
}

function notRestartable(ctx: BackupContext, reason: string, code: string): SnapdumpError {
  return new SnapdumpError('ERR_NOT_RESTARTABLE', `backup context ${ctx.id} (${ctx.dumpName}, level ${ctx.level}) cannot be restarted: ${reason}`, { id: ctx.id, reason: code });
}

/** What must hold before anything is touched; throws ERR_NOT_RESTARTABLE naming the reason. */
function checkRestartable(ctx: BackupContext): void {
  const blocker = restartBlocker(ctx);
  if (blocker) throw notRestartable(ctx, blocker, ctx.partial === null && !ctx.medium ? 'stream-output' : 'state');
  if (ctx.snapshot && !fs.existsSync(ctx.snapshot.path)) {
    throw notRestartable(ctx, `its snapshot ${ctx.snapshot.name} (${ctx.snapshot.path}) is gone`, 'snapshot-gone');
  }
  if (!fs.existsSync(ctx.walkRoot)) throw notRestartable(ctx, `its source ${ctx.walkRoot} is gone`, 'source-gone');
  let size = -1;
  try { size = ctx.medium ? tapeFileBytes(ctx.medium) : fs.statSync(ctx.partial!).size; } catch { /* below */ }
  if (size < ctx.checkpoint!.offset + TP_BSIZE) {
    const what = partialName(ctx);
    throw notRestartable(ctx, size < 0 ? `its partial image ${what} is gone` : `its partial image ${what} is shorter (${size} bytes) than its checkpoint (${ctx.checkpoint!.offset})`, 'image-gone');
  }
}

function partialName(ctx: BackupContext): string {
  return ctx.medium ? `(tape file ${ctx.medium.tapeFile} of the virtual tape ${ctx.medium.path})` : ctx.partial!;
}

/** The image's bytes at [offset, offset + length): from the partial file or the tape file. */
function readPartial(ctx: BackupContext, offset: number, length: number): Buffer {
  if (ctx.medium) return readTapeFileBytes(ctx.medium, offset, length);
  const buf = Buffer.alloc(length);
  const fd = fs.openSync(ctx.partial!, 'r');
  try { fs.readSync(fd, buf, 0, length, offset); } finally { fs.closeSync(fd); }
  return buf;
}

/** Offset verify: the block at the checkpoint must be the header that starts the checkpoint's inode. */
function verifyCheckpoint(ctx: BackupContext): void {
  const { ino, offset } = ctx.checkpoint!;
  const buf = readPartial(ctx, offset, TP_BSIZE);
  const h = buf.length === TP_BSIZE && checksumOk(buf, 0, 'le') ? decodeHeader(buf, 0, 'le') : null;
  if (!h || h.type !== RecordType.INODE || h.inumber !== ino || h.tapea !== offset / TP_BSIZE) {
    throw notRestartable(ctx, `offset verify failed: byte ${offset} of ${partialName(ctx)} is not the header of inode ${ino} (the image was changed since the checkpoint)`, 'offset-verify');
  }
}

export async function restartBackup(opts: RestartOptions): Promise<BackupSummary> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const emit = (e: BackupEvent) => opts.onEvent?.(e);
  const notices: Notice[] = [];
  const notice = (n: Notice) => { notices.push(n); emit({ type: 'warning', ...n }); };
  const setPhase = (phase: BackupPhase) => emit({ type: 'phase', phase, elapsedMs: elapsed() });
  const stateDir = opts.stateDir ?? defaultStateDir();

  const ctx = await claimContext(stateDir, opts.id, checkRestartable);
  const release = async () => { ctx.owner = null; await writeContext(stateDir, ctx).catch(() => undefined); };
  let list: FileListEntry[];
  try {
    if (ctx.offsetVerify) verifyCheckpoint(ctx);
    const file = contextFile(stateDir, ctx.id, 'files');
    list = decodeFileList(fs.readFileSync(file), file);
  } catch (e) {
    await release();
    throw e;
  }
  const checkpoint = ctx.checkpoint!;
  if (!ctx.snapshot) {
    notice({ code: 'LIVE_RESTART', path: ctx.walkRoot, skipped: false, message: 'this backup reads the live tree (no snapshot): files are read as they are now, not as they were when it started' });
  }
  const vol = ctx.volume;
  let sink: TapeSink;
  try {
    sink = ctx.medium ? resumeVirtualTapeSink(ctx.output, ctx.medium, checkpoint.offset) : resumeFileSink(ctx.output, ctx.partial!, checkpoint.offset, { sync: ctx.sync });
  } catch (e) {
    await release();
    throw e;
  }
  ctx.restarts++;
  ctx.status = 'running';
  const cp = new Checkpointer(stateDir, ctx, sink, opts.checkpointIntervalMs ?? checkpointIntervalFromEnv(), checkpoint.offset,
    (c) => emit({ type: 'checkpoint', context: ctx.id, ino: c.ino, offset: c.offset }));
  const threads = Math.max(1, opts.threads ?? os.availableParallelism());
  const pool = await poolReader(threads);
  const progress = { files: 0, bytes: 0 };
  const remaining = list.filter((e) => e.ino >= checkpoint.ino);
  let writer: TapeWriter | null = null;
  try {
    setPhase('traverse');
    // Every object is looked up by source inode (selection and numbering do not matter here:
    // the saved list says what is owed, under which numbers), so the walk is a full one.
    const plan = await traverse({
      source: ctx.walkRoot, concurrency: threads * 2, since: 0,
      exclude: [...(sink.identity ? [sink.identity] : []), ...snapshotDirExclusion(ctx.walkRoot)],
      excludePatterns: excludeMatcher(ctx.exclude ?? []), junctions: ctx.junctions, signal: opts.signal,
    });
    writer = new TapeWriter({
      sink, volume: vol, startBlock: checkpoint.offset / TP_BSIZE,
      onInode: (ino, offset) => { cp.noteInode(ino, offset); opts.onInode?.(ino, offset); },
      onFlushed: (bytes) => cp.afterFlush(bytes),
      onShortCopy: (path) => notice({ code: 'CHANGED', path: displayPath(path), message: 'file shrank as we read it; the rest is zeros', skipped: true }),
    });
    setPhase('files');
    const chunks = continueFiles(plan, remaining, {
      pool, vol, signal: opts.signal, copyLargeFiles: sink.copyFrom !== undefined, notice,
      onData: (bytes, objects) => { progress.bytes += bytes; progress.files += objects; },
    });
    await pipeline(Readable.from(chunks), writer, { signal: opts.signal });
    setPhase('finish');
    await sink.commit();
    if (ctx.update) {
      try {
        await recordDump(stateDir, { name: ctx.dumpName, level: ctx.level, date: vol.date });
      } catch (e) {
        notice({ code: 'HISTORY', path: stateDir, skipped: true, message: `the image is complete, but it could not be recorded in the history: ${(e as Error).message}` });
      }
    }
    await cp.complete();
    try {
      await releaseSnapshotOf(stateDir)(ctx);
    } catch (e) {
      notice({ code: 'SNAPSHOT_DELETE', path: ctx.snapshot!.path, skipped: false, message: `the snapshot could not be deleted (${(e as Error).message}); \`snapdump snapshots prune\` removes it` });
    }
  } catch (e) {
    throw await stopped(e, sink, cp, opts.signal?.aborted ?? false, writer?.bytesWritten ?? checkpoint.offset);
  } finally {
    await pool.destroy();
  }
  const skipped = notices.filter((n) => n.skipped);
  return {
    exitStatus: skipped.length ? 1 : 0, output: ctx.output, name: ctx.dumpName, date: vol.date, dumpDate: vol.date,
    level: ctx.level, base: ctx.base, label: vol.label, filesys: vol.filesys,
    files: list.length, directories: 0, dataBytes: progress.bytes, imageBytes: writer!.bytesWritten,
    blocks: writer!.blockCount, blockingFactor: vol.ntrec, durationMs: elapsed(), skipped,
    warnings: notices.filter((n) => !n.skipped), contextId: ctx.id, restartedAt: { ino: checkpoint.ino, offset: checkpoint.offset },
    excluded: 0, snapshot: snapshotInfoOf(ctx),
  };
}

function snapshotInfoOf(ctx: BackupContext): SnapshotInfo {
  const s = ctx.snapshot;
  return {
    provider: s ? (s.autoCreated ? 'btrfs' : 'path') : 'none', path: s?.path ?? null, name: s?.autoCreated ? s.name : null,
    volume: null, readPath: ctx.walkRoot, consistent: s !== null, recordId: s?.recordId ?? null,
  };
}

interface ContinueOptions {
  pool: ReadRunner;
  vol: BackupContext['volume'];
  signal?: AbortSignal;
  copyLargeFiles: boolean;
  notice: (n: Notice) => void;
  onData: (bytes: number, objects: number) => void;
}

/**
 * The rest of phase IV in the saved order: objects found again (same source inode, same type)
 * are read as usual under their recorded inode numbers; the others become placeholders.
 */
async function* continueFiles(plan: DumpPlan, remaining: readonly FileListEntry[], o: ContinueOptions): AsyncGenerator<TapeChunk> {
  const t = plan.table;
  const bySrc = idsBySourceInode(plan);
  // Objects without a source inode of their own (mount points) are found by their dump number.
  const byIno = new Map<number, number>();
  for (let id = 0; id < t.count; id++) if (Number.isNaN(t.get(id, XCol.srcIno))) byIno.set(t.get(id, Col.ino), id);
  const now = Math.floor(Date.now() / 1000);
  let run: number[] = [];
  const flushRun = async function* (): AsyncGenerator<TapeChunk> {
    if (run.length === 0) return;
    const others = Int32Array.from(run);
    run = [];
    yield* fileEmit({ ...plan, others }, {
      pool: o.pool, vol: o.vol, ...o.pool.tasks, signal: o.signal,
      copyLargeFiles: o.copyLargeFiles,
      onNotes: (notes) => { for (const n of notes) o.notice({ code: n.code, path: n.path, message: n.message, skipped: n.skipped }); },
      onData: o.onData,
    });
  };
  for (const entry of remaining) {
    const id = Number.isNaN(entry.srcIno) ? byIno.get(entry.ino) : bySrc.get(entry.srcIno);
    if (id !== undefined && id !== 0 && (t.get(id, Col.mode) & S_IFMT) === entry.type) {
      t.set(id, Col.ino, entry.ino);
      run.push(id);
      continue;
    }
    yield* flushRun();
    const what = id === undefined ? 'vanished' : 'changed type';
    o.notice({ code: 'VANISHED', path: id === undefined ? `inode ${entry.ino}` : displayPath(t.path(id)), skipped: true, message: `${what} since the backup was interrupted; written as an empty placeholder` });
    yield placeholderChunk(o.vol, entry, now);
  }
  yield* flushRun();
}
