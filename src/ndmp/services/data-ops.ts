/**
 * The three DATA operations with butype dump, each through the engine's library API: backup
 * (src/backup.ts), recover (src/restore/index.ts) and the table of contents (file history read
 * back from the image). Environment variables map to the options the CLI has.
 */
import type { Readable } from 'node:stream';
import { splitExcludeList } from '../../select/exclude.js';
import { backup } from '../../backup.js';
import { restore, type RenameSpec } from '../../restore/index.js';
import { openTapeSource } from '../../tape/source.js';
import { LogType, QUAD_ALL_ONES, RecoveryStatus } from '../codec/constants.js';
import type { RequestBody } from '../codec/messages.js';
import { resolveInVolume } from '../volumes.js';
import type { DataChannel } from './data-channel.js';
import { RangeReader, darImage } from './dar.js';
import { envBaseDate, envBool, envLevel, dumpDateToken, type Env } from './dump-env.js';
import { BackupFileHistory, postFileHistory, type FhPoster } from './file-history.js';
import { NdmpImageSink, type ImageTarget } from './image-sink.js';

export interface OpContext {
  volumes: ReadonlyMap<string, string>;
  stateDir?: string;
  channel: DataChannel;
  signal: AbortSignal;
  fh: FhPoster;
  log(type: number, text: string): void;
  logFile(name: Buffer, status: number): void;
  /** Ask the mover for a byte range of the image (LOCAL: directly; TCP: NOTIFY_DATA_READ). */
  requestRange(offset: bigint, length: bigint): void;
  progress(bytes: number): void;
  /** Backup: where the image lands (a restartable tape file, or why not). */
  target: ImageTarget;
  /** Backup: calls back with the image bytes on tape as the mover writes them (LOCAL only). */
  watchTape(cb: (bytes: number) => void): void;
}

/** Checks the backup environment before the operation starts; throws an Error naming the problem. */
export function planBackup(env: Env, volumes: ReadonlyMap<string, string>) {
  const fsName = env.get('FILESYSTEM');
  if (!fsName) throw new Error('FILESYSTEM is not set (ndmjob: -C DIR)');
  const source = resolveInVolume(volumes, fsName, true);
  const level = envLevel(env);
  return {
    source, level, update: envBool(env, 'UPDATE', true), hist: envBool(env, 'HIST', false),
    ignoreCtime: envBool(env, 'IGNORE_CTIME', false), baseDate: envBaseDate(env),
    // ONTAP EXCLUDE: the CLI's --exclude list syntax (checked again, with a coded error, by backup()).
    exclude: env.has('EXCLUDE') ? splitExcludeList(env.get('EXCLUDE')!) : [],
  };
}

export async function runBackup(ctx: OpContext, env: Env, plan: ReturnType<typeof planBackup>): Promise<Env> {
  const history = plan.hist ? new BackupFileHistory(ctx.fh) : null;
  const m = ctx.target.medium;
  const output = m ? `tape file ${m.tapeFile} of the virtual tape ${m.path}` : 'NDMP data connection';
  const sink = new NdmpImageSink(output, ctx.channel, history, ctx.target);
  ctx.watchTape((bytes) => sink.noteOnTape(bytes));
  ctx.log(LogType.NORMAL, `level ${plan.level} backup of ${plan.source.path} starting`);
  const summary = await backup({
    source: plan.source.path, output, sink, level: plan.level, update: plan.update,
    baseDate: plan.baseDate ?? undefined, ignoreCtime: plan.ignoreCtime, exclude: plan.exclude, stateDir: ctx.stateDir, signal: ctx.signal,
    onEvent: (e) => {
      if (e.type === 'warning') ctx.log(LogType.WARNING, `${e.code}: ${e.path}: ${e.message}`);
      else if (e.type === 'progress') ctx.progress(e.imageBytes);
    },
  });
  if (history) {
    await history.end();
    if (history.failure) ctx.log(LogType.WARNING, `file history incomplete: ${history.failure}`);
  }
  ctx.progress(sink.bytes);
  ctx.log(LogType.NORMAL, `level ${summary.level} backup done: ${summary.files} files, ${summary.directories} directories, ${summary.imageBytes} bytes`);
  // The effective backup environment: what was given plus what was computed (restore-side
  // defaults such as DIRECT are left out: the DMA passes this back at restore time).
  const out = new Map([...env].filter(([k]) => !RESTORE_ONLY.has(k)));
  out.set('TYPE', 'dump');
  out.set('LEVEL', String(summary.level));
  out.set('UPDATE', plan.update ? 'Y' : 'N');
  out.set('HIST', plan.hist ? 'Y' : 'N');
  out.set('DUMP_DATE', dumpDateToken(summary.level, summary.dumpDate));
  out.set('NDMP_VERSION', '4');
  out.set('PATHNAME_SEPARATOR', '/');
  return out;
}

const RESTORE_ONLY = new Set(['DIRECT', 'EXTRACT', 'RECURSIVE', 'FORCE']);

type NameEntry = RequestBody<'DATA_START_RECOVER'>['nlist'][number];

function stripSlashes(b: Buffer): string {
  return b.toString('latin1').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Where to restore and what: the destination root (PREFIX) and the nlist as paths and renames. */
export function planRecover(env: Env, nlist: readonly NameEntry[], volumes: ReadonlyMap<string, string>) {
  const prefix = env.get('PREFIX');
  if (!prefix) throw new Error('PREFIX is not set (ndmjob: -C DIR)');
  const dest = resolveInVolume(volumes, prefix, false);
  const paths: string[] = [];
  const renames: RenameSpec[] = [];
  const destRoot = prefix.replace(/\/+$/, '');
  for (const n of nlist) {
    const from = stripSlashes(n.original_path);
    let to = n.destination_path.toString('latin1');
    if (to.startsWith(destRoot + '/')) to = to.slice(destRoot.length + 1);
    else if (to === destRoot) to = '';
    else throw new Error(`destination ${to} is not under PREFIX ${prefix}`);
    to = to.replace(/^\/+/, '').replace(/\/+$/, '');
    if (from === '' || from === '.') { if (to !== '' && to !== '.') throw new Error('the whole image can only be restored to PREFIX itself'); continue; }
    if (to === from) paths.push(from); else renames.push({ from, to });
  }
  // DAR whenever every entry has an fh_info, unless the DMA says DIRECT=N (NetApp needs DIRECT=Y;
  // ndmjob never sets it, so its absence does not disable DAR here).
  const dar = nlist.length > 0 && nlist.every((n) => n.fh_info !== QUAD_ALL_ONES) && envBool(env, 'DIRECT', true);
  return { dest, paths, renames, force: envBool(env, 'FORCE', false), dar };
}

const WHOLE_IMAGE = 1n << 62n;

export async function runRecover(ctx: OpContext, nlist: readonly NameEntry[], plan: ReturnType<typeof planRecover>): Promise<void> {
  ctx.log(LogType.NORMAL, `restore into ${plan.dest.path} starting`);
  let input: AsyncIterable<Uint8Array>;
  if (plan.dar) {
    const rr = new RangeReader(ctx.channel.input as Readable, (o, l) => ctx.requestRange(o, l));
    input = darImage(rr, nlist.map((n) => Number(n.fh_info)), (dar) => ctx.log(LogType.NORMAL, dar
      ? 'direct access recovery: reading only the directory phase and the requested files'
      : 'a directory was requested: reading the image in order after the directory phase'));
  } else {
    ctx.requestRange(0n, WHOLE_IMAGE);
    input = ctx.channel.input as Readable;
  }
  let failed: Error | null = null;
  let summary: Awaited<ReturnType<typeof restore>> | null = null;
  try {
    summary = await restore({
      files: [], inputs: [{ name: 'NDMP data connection', stream: input }], dest: plan.dest.path,
      paths: plan.paths, renames: plan.renames, force: plan.force, signal: ctx.signal,
      onEvent: (e) => {
        if (e.type === 'warning') ctx.log(e.skipped ? LogType.ERROR : LogType.WARNING, `${e.code}: ${e.path}: ${e.message}`);
        else if (e.type === 'progress') ctx.progress(e.imageBytes ?? 0);
      },
    });
  } catch (e) {
    failed = e as Error;
    ctx.log(LogType.ERROR, `restore failed: ${failed.message}`);
  }
  const notFound = new Set((summary?.skipped ?? []).filter((n) => n.code === 'NOT_FOUND').map((n) => n.path.replace(/^\/+/, '')));
  for (const n of nlist) {
    const from = stripSlashes(n.original_path);
    const status = failed ? RecoveryStatus.FAILED_UNDEFINED_ERROR
      : notFound.has(from) ? RecoveryStatus.FAILED_NOT_FOUND
        : summary && summary.skipped.some((x) => x.code !== 'NOT_FOUND') && (summary.exitStatus ?? 0) !== 0 ? RecoveryStatus.FAILED_IO_ERROR
          : RecoveryStatus.SUCCESSFUL;
    ctx.logFile(n.destination_path.length ? n.destination_path : n.original_path, status);
  }
  if (failed) throw failed;
  ctx.log(LogType.NORMAL, 'restore done');
}

export async function runToc(ctx: OpContext): Promise<void> {
  ctx.requestRange(0n, WHOLE_IMAGE);
  const src = await openTapeSource([{ name: 'NDMP data connection', stream: ctx.channel.input as Readable }], { signal: ctx.signal });
  try {
    const n = await postFileHistory(src, ctx.fh);
    ctx.log(LogType.NORMAL, `table of contents: ${n} inodes`);
  } finally {
    await src.close();
  }
}
