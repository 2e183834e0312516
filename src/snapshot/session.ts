/**
 * Chooses how a backup reads SOURCE: from the snapshot given (`--snapshot PATH`), from one a
 * provider makes (the default where the file system can), or from the live tree, with a
 * warning (or, with `require`, an ERR_SNAPSHOT error) when no snapshot could be made.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SnapdumpError, UsageError } from '../errors.js';
import type { Notice } from '../stages/traverse.js';
import { btrfsProvider } from './btrfs-provider.js';
import { pathProvider } from './path-provider.js';
import {
  SnapshotUnavailable, liveTree,
  type OpenedSnapshot, type SnapshotInfo, type SnapshotProvider,
} from './provider.js';

/** auto: snapshot where possible, else read the live tree; require: no snapshot is an error; off: read the live tree. */
export type SnapshotMode = 'auto' | 'require' | 'off';

export interface OpenSnapshotOptions {
  source: string;
  mode?: SnapshotMode;
  /** An existing snapshot holding SOURCE's content (the path provider). */
  snapshotPath?: string;
  stateDir: string;
  /** The providers tried in auto/require mode, in order (default: btrfs). */
  providers?: SnapshotProvider[];
}

export async function openBackupSnapshot(opts: OpenSnapshotOptions): Promise<OpenedSnapshot> {
  const mode = opts.mode ?? 'auto';
  if (!['auto', 'require', 'off'].includes(mode)) throw new UsageError(`invalid snapshot mode "${String(mode)}"`);
  let abs: string;
  try {
    abs = fs.realpathSync(path.resolve(opts.source));
    if (!fs.statSync(abs).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new SnapdumpError('ERR_SOURCE', `cannot back up ${opts.source}: ${(e as Error).message}`, { path: opts.source }, { cause: e });
  }
  if (opts.snapshotPath !== undefined) {
    if (mode === 'off') throw new UsageError('a snapshot path was given together with snapshots turned off');
    return pathProvider(opts.snapshotPath).open({ source: abs, stateDir: opts.stateDir });
  }
  if (mode === 'off') return liveTree(abs, false);
  const reasons: string[] = [];
  let reasonCode = 'NOT_SUPPORTED';
  for (const provider of opts.providers ?? [btrfsProvider]) {
    try {
      return await provider.open({ source: abs, stateDir: opts.stateDir });
    } catch (e) {
      if (!(e instanceof SnapshotUnavailable)) throw e;
      reasons.push(e.message);
      reasonCode = e.reason;
    }
  }
  const why = reasons.join('; ');
  if (mode === 'require') {
    throw new SnapdumpError('ERR_SNAPSHOT', `no snapshot of ${abs} can be taken and --require-snapshot was given: ${why}`, { path: abs, reason: reasonCode });
  }
  const live = liveTree(abs, false);
  live.notices.push({
    code: 'NO_SNAPSHOT', path: abs, skipped: false,
    message: `no snapshot can be taken (${why}); reading the live tree: files that change while they are read are reported`,
  });
  return live;
}

export type KeepSnapshot = (snapshot: SnapshotInfo, outcome: { ok: boolean }) => boolean | Promise<boolean>;

/**
 * Ends the backup's use of its snapshot: deletes one made for it unless `keep` says a context
 * still needs it. A failure to delete is a warning (the record stays, so the next run or
 * `snapdump snapshots prune` removes the snapshot), never a reason to fail a finished backup.
 */
export async function closeBackupSnapshot(snap: OpenedSnapshot, ok: boolean, keep?: KeepSnapshot): Promise<{ action: 'deleted' | 'kept' | 'none'; notice: Notice | null }> {
  try {
    const kept = snap.info.recordId !== null && keep ? await keep(snap.info, { ok }) : false;
    return { action: await snap.release(kept), notice: null };
  } catch (e) {
    return {
      action: 'none',
      notice: {
        code: 'SNAPSHOT_DELETE', path: snap.info.path ?? snap.info.readPath, skipped: false,
        message: `the snapshot could not be deleted (${(e as Error).message}); the next backup or \`snapdump snapshots prune\` removes it`,
      },
    };
  }
}
