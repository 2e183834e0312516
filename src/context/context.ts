/**
 * A backup context: everything a later process needs to tell whether a backup can be restarted
 * and to continue its image (ONTAP's restartable dump contexts). Pure: the record, its
 * validation and the judgement of restartability; the files live in context-store.ts.
 */
import type { VolumeInfo } from '../format/volume.js';
import type { LockInfo } from '../state/lock.js';
import type { TapeFileMedium } from '../tape/virtual-tape.js';

export const CONTEXT_VERSION = 1;

/** The backup phases, as ONTAP numbers its restart passes (IV is the file phase). */
export type ContextPhase = 'traverse' | 'directories' | 'files' | 'finish';
export const RESTART_PASS: Record<ContextPhase, string> = { traverse: 'I', directories: 'III', files: 'IV', finish: 'V' };

export type ContextStatus = 'running' | 'interrupted' | 'failed' | 'completed';

export interface ContextSnapshot {
  name: string;
  /** Where the snapshot's copy of the dumped tree is (what the walk reads). */
  path: string;
  /** Made by this backup (deleted with the context) rather than given with --snapshot. */
  autoCreated: boolean;
  /** Its record in the state directory (snapshots made by snapdump). */
  recordId: string | null;
}

/** Where phase IV can continue: the first header of `ino` starts at byte `offset` of the image. */
export interface Checkpoint {
  ino: number;
  offset: number;
  /** ISO time the image was flushed up to at least `offset`. */
  at: string;
}

export interface BackupContext {
  version: number;
  id: string;
  engine: 'dump';
  dumpName: string;
  /** The source as the user named it (real path). */
  path: string;
  /** The directory the walk reads: the source, or its copy in the snapshot. */
  walkRoot: string;
  level: number;
  base: { level: number | null; date: number } | null;
  ignoreCtime: boolean;
  update: boolean;
  /** Exclude patterns and junction mode: the restart's walk must see the tree as the backup did. */
  exclude: string[];
  junctions: 'symlink' | 'dir';
  snapshot: ContextSnapshot | null;
  output: string;
  /** The image under construction (renamed to `output` when complete); null for streams. */
  partial: string | null;
  /**
   * Instead of a partial file: the tape file of a virtual tape the image is written to (an NDMP
   * backup), continued in place by a restart. Absent in contexts older than it.
   */
  medium?: TapeFileMedium | null;
  sync: boolean;
  volume: VolumeInfo;
  /** File history (the inode → byte offset map) is kept: a condition of restarting. */
  offsetMap: boolean;
  /** On restart, the header at the checkpoint is read back and must name the checkpoint's inode. */
  offsetVerify: boolean;
  restartable: boolean;
  /** Why not, when restartable is false. */
  reason: string | null;
  /** The phase the backup reached (ONTAP "restart pass"). */
  phase: ContextPhase;
  status: ContextStatus;
  /** Human-readable last state: progress, the error that stopped it, what a restart would do. */
  state: string;
  checkpoint: Checkpoint | null;
  /** The process running it; null when none does. */
  owner: LockInfo | null;
  created: string;
  lastUpdated: string;
  cleanupPending: boolean;
  restarts: number;
}

/** Why a context cannot be restarted now (null: it can), judged from the record alone. */
export function restartBlocker(ctx: BackupContext): string | null {
  if (ctx.cleanupPending) return 'it is being deleted (cleanup pending)';
  if (ctx.status === 'completed') return 'the backup completed';
  if (!ctx.restartable) return ctx.reason ?? 'it is not restartable';
  if (!ctx.offsetMap) return 'file history (the offset map) was off';
  if (ctx.phase !== 'files' || ctx.checkpoint === null) {
    return `it stopped in phase ${RESTART_PASS[ctx.phase]} (${ctx.phase}); only a backup stopped in the file phase (IV) can be restarted`;
  }
  return null;
}

const STRING_FIELDS = ['id', 'dumpName', 'path', 'walkRoot', 'output', 'state', 'created', 'lastUpdated'] as const;

/** Checks the shape of a parsed context file; returns the problem or null. */
export function contextProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'not a JSON object';
  const c = v as Partial<BackupContext>;
  if (c.version !== CONTEXT_VERSION) return `unknown version ${String(c.version)}`;
  for (const f of STRING_FIELDS) if (typeof c[f] !== 'string') return `field ${f} missing`;
  if (c.engine !== 'dump') return 'engine is not dump';
  if (!Number.isInteger(c.level)) return 'field level missing';
  if (typeof c.volume !== 'object' || c.volume === null) return 'field volume missing';
  if (!(c.phase! in RESTART_PASS)) return 'bad phase';
  if (c.checkpoint !== null && (typeof c.checkpoint !== 'object' || !Number.isInteger(c.checkpoint?.ino) || !Number.isInteger(c.checkpoint?.offset))) return 'bad checkpoint';
  return null;
}
