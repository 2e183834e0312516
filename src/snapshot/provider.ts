/**
 * The snapshot provider interface. A provider turns SOURCE into a directory that does not
 * change while it is read (a snapshot it makes, or one it is given) and ends its use
 * afterwards. The btrfs provider makes snapshots; the path provider uses an existing one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Notice } from '../stages/traverse.js';

/** Directory, at the root of a subvolume, that holds the snapshots this engine makes of it. */
export const SNAPSHOT_DIR = '.snapdump-snapshots';
export const SNAPSHOT_PREFIX = 'snapshot_for_backup.';

export interface SnapshotInfo {
  /** btrfs: made by this engine; path: given with --snapshot; none: the live tree is read. */
  provider: 'btrfs' | 'path' | 'none';
  /** The snapshot (a subvolume snapshot, or the path given); null when the live tree is read. */
  path: string | null;
  /** `snapshot_for_backup.N` for a snapshot made here, else null. */
  name: string | null;
  /** What was snapshotted: the subvolume holding SOURCE (SOURCE may be any subtree of it). */
  volume: string | null;
  /** The directory read in place of SOURCE. */
  readPath: string;
  /** True when the tree read cannot change: a snapshot, or a read-only source. */
  consistent: boolean;
  /** The id of its record in the state directory (snapshots made here only). */
  recordId: string | null;
}

export interface OpenedSnapshot {
  info: SnapshotInfo;
  /** Objects the walk must leave out (the snapshot directory itself), by device and inode. */
  exclude: Array<{ dev: number; ino: number }>;
  /** Warnings found while opening (a given snapshot that is not read-only, orphans pruned). */
  notices: Notice[];
  /** Ends the use: deletes a snapshot made here unless `keep`. */
  release(keep: boolean): Promise<'deleted' | 'kept' | 'none'>;
}

export interface SnapshotRequest {
  /** SOURCE as an absolute real path. */
  source: string;
  stateDir: string;
}

export interface SnapshotProvider {
  readonly kind: 'btrfs' | 'path';
  /**
   * Throws SnapshotUnavailable when this provider cannot snapshot SOURCE (not its file
   * system, no permission), a SnapdumpError ERR_SNAPSHOT when it tried and failed.
   */
  open(req: SnapshotRequest): Promise<OpenedSnapshot>;
}

export type UnavailableReason = 'NOT_SUPPORTED' | 'NOT_SUBVOLUME' | 'NO_TOOL' | 'PERMISSION' | 'READ_ONLY' | 'STATE';

export class SnapshotUnavailable extends Error {
  constructor(readonly reason: UnavailableReason, message: string) {
    super(message);
    this.name = 'SnapshotUnavailable';
  }
}

/** True for a directory on a read-only mount or read-only btrfs subvolume (both give EROFS). */
export function isReadOnlyDir(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/**
 * The snapshot directory inside `root`, when `root` holds one: it is left out of the dump (it
 * is ours, and the snapshots of concurrent backups show in it as empty directories).
 */
export function snapshotDirExclusion(root: string): Array<{ dev: number; ino: number }> {
  try {
    const st = fs.lstatSync(path.join(root, SNAPSHOT_DIR));
    return st.isDirectory() ? [{ dev: st.dev, ino: st.ino }] : [];
  } catch {
    return [];
  }
}

/** Reading SOURCE itself: no snapshot; `consistent` when it cannot change (a read-only subvolume). */
export function liveTree(abs: string, consistent: boolean): OpenedSnapshot {
  return {
    info: { provider: 'none', path: null, name: null, volume: null, readPath: abs, consistent, recordId: null },
    exclude: snapshotDirExclusion(abs),
    notices: [],
    release: async () => 'none',
  };
}
