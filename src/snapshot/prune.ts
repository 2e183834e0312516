/**
 * Removing orphans: snapshots whose record says their owner is dead (same host, pid gone or
 * reused, or an earlier boot) and that no context keeps. A snapshot is deleted only when it is
 * still the one recorded (its UUID, or for a record written before the snapshot existed, a
 * read-only snapshot of the recorded subvolume), so a path reused by something else is left
 * alone. Runs under the `snapshots` lock of the state directory, as claims do, so a pruner
 * never deletes a snapshot that a new claimant has just made under the same name.
 */
import * as fs from 'node:fs';
import { isErrno } from '../errors.js';
import { withLock } from '../state/state-dir.js';
import { BtrfsError, SUBVOLUME_ROOT_INO, deleteSubvolume, isBtrfs, subvolumeInfo } from './btrfs.js';
import { listRecords, recordStatus, removeRecord, type SnapshotRecord } from './records.js';

export const SNAPSHOTS_LOCK = 'snapshots';

export interface PruneResult {
  id: string;
  path: string;
  /** removed: the snapshot was deleted; gone: it no longer existed; not-ours: the path holds something else (left alone); failed: deletion failed (record kept). */
  outcome: 'removed' | 'gone' | 'not-ours' | 'failed';
  message: string;
}

async function isRecordedSnapshot(r: SnapshotRecord): Promise<boolean> {
  const st = fs.lstatSync(r.path);
  if (!st.isDirectory() || st.ino !== SUBVOLUME_ROOT_INO || !isBtrfs(r.path)) return false;
  const info = await subvolumeInfo(r.path);
  if (r.uuid) return info.uuid === r.uuid;
  return info.readOnly && r.subvolumeUuid !== null && info.parentUuid === r.subvolumeUuid;
}

async function pruneOne(stateDir: string, r: SnapshotRecord): Promise<PruneResult> {
  const result = (outcome: PruneResult['outcome'], message: string): PruneResult => ({ id: r.id, path: r.path, outcome, message });
  try {
    fs.lstatSync(r.path);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) return result('failed', `cannot check ${r.path}: ${(e as Error).message}`);
    await removeRecord(stateDir, r.id);
    return result('gone', `the snapshot of dead process ${r.owner.pid} no longer exists; record removed`);
  }
  try {
    if (!(await isRecordedSnapshot(r))) {
      await removeRecord(stateDir, r.id);
      return result('not-ours', `${r.path} is not the snapshot that was recorded; left alone, record removed`);
    }
    await deleteSubvolume(r.path);
  } catch (e) {
    const why = e instanceof BtrfsError ? `${e.reason}: ${e.message}` : (e as Error).message;
    return result('failed', `cannot delete orphaned snapshot ${r.path}: ${why}`);
  }
  await removeRecord(stateDir, r.id);
  return result('removed', `deleted the orphaned snapshot of dead process ${r.owner.pid} (made ${r.created})`);
}

/** Prunes every orphan; the caller holds the snapshots lock. */
export async function pruneLocked(stateDir: string): Promise<PruneResult[]> {
  const out: PruneResult[] = [];
  for (const { record } of listRecords(stateDir)) {
    if (record && recordStatus(record) === 'orphan') out.push(await pruneOne(stateDir, record));
  }
  return out;
}

export async function pruneSnapshots(stateDir: string): Promise<PruneResult[]> {
  if (listRecords(stateDir).length === 0) return [];
  return withLock(stateDir, SNAPSHOTS_LOCK, () => pruneLocked(stateDir));
}

/**
 * Ends a kept snapshot (one a restartable-backup context held beyond its backup): deletes it
 * and its record. Null when no record has that id.
 */
export async function releaseKeptSnapshot(stateDir: string, id: string): Promise<PruneResult | null> {
  return withLock(stateDir, SNAPSHOTS_LOCK, async () => {
    const found = listRecords(stateDir).find((x) => x.record?.id === id)?.record;
    if (!found) return null;
    return pruneOne(stateDir, found);
  });
}
